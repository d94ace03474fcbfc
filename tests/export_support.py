"""Shared helpers of the export tests: a tiny model (written to a temp dir, so the kvmverify pytest plugin
never collects it in the repository's own test run) and a CLI runner."""
from __future__ import annotations

import io
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from kvmverify.cli import main  # noqa: E402

MAILBOX = """\
// A tiny doorbell/mailbox protocol for the export tests.
model mailbox

param BUG = false      // host posts without waiting for the guest to consume

register DOORBELL at 0x4b564d10 : 64 {
    enabled  @ 0
    vector   @ 15..8
    reserved @ 63..16 must_be 0
}

struct mbox size 8 {
    flags: u32 @ 0
    data:  u32 @ 4
}

type Phase = {Idle, Busy}

var db    : DOORBELL = 0
var box   : mbox = 0
var seen  : set of 1 .. 2 = {}
var phase : Phase = Idle
var sent[1 .. 2] : bool = false

slot box.data : empty 0, filled by host, emptied by guest

actor guest {
    action enable() when db.enabled == 0 {
        write DOORBELL({enabled: 1, vector: 0xf3})
    }
    action consume(x: 1 .. 2) when box.data == x {
        seen := seen + {x}
        box.data := 0
        box.flags := 0
        phase := Idle
    }
}

actor host {
    on write DOORBELL(value) {
        db := value
    }
    action post(x: 1 .. 2) when db.enabled == 1 && !sent[x] && (box.data == 0 || BUG) {
        box.data := x
        box.flags := 1
        sent[x] := true
        phase := Busy
    }
}

invariant busy_means_data: phase == Busy -> box.data != 0
invariant one_unread: !(sent[1] && sent[2]) || seen != {} || box.data == 0
cover both_seen: seen == {1, 2}
terminal seen == {1, 2}     // both messages posted and consumed: the protocol is over, not deadlocked
"""

# the broken variant: the host ignores the slot; the model says so
BUGGY = MAILBOX.replace("param BUG = false", "param BUG = true") + \
    'expect violated "slot:box.data"\nexpect violated one_unread\nexpect violated deadlock\n'
# the broken variant without its annotations: a plain failure
BUGGY_UNANNOTATED = MAILBOX.replace("param BUG = false", "param BUG = true")
# a "fixed" model that still claims to be broken: `expect violated` on a property that holds
WRONG_EXPECT = MAILBOX + 'expect violated "slot:box.data"\n'


def entry_point_site(directory) -> str:
    """A stand-in distribution declaring kvmverify's pytest11 entry point (as `pip install kvmverify` would),
    without installing anything: put the returned directory on PYTHONPATH and pytest autoloads the plugin."""
    import tomllib
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        eps = tomllib.load(f)["project"]["entry-points"]["pytest11"]
    dist = os.path.join(str(directory), "kvmverify_plugin_check-0.dist-info")
    os.makedirs(dist, exist_ok=True)
    with open(os.path.join(dist, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\nName: kvmverify-plugin-check\nVersion: 0\n")
    with open(os.path.join(dist, "entry_points.txt"), "w") as f:
        f.write("[pytest11]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    return str(directory)


def npm_package(spec: str, needed: str) -> str:
    """An npm registry package (`name@version`), unpacked into a cache directory with `npm pack` (which runs no
    install scripts); the directory holding `package/`. Skips the test where npm is missing or the pack fails."""
    import shutil
    import subprocess
    import tarfile

    import pytest
    cache = os.path.join(os.path.expanduser("~"), ".cache", "kvmverify-tests", spec.replace("@", "-"))
    if os.path.exists(os.path.join(cache, "package", needed)):
        return cache
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"no npm to fetch {spec} from the npm registry")
    os.makedirs(cache, exist_ok=True)
    r = subprocess.run([npm, "pack", spec, "--pack-destination", cache, "--silent"], capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        pytest.skip(f"npm pack {spec} failed: {(r.stderr or r.stdout).strip()[-300:]}")
    tgz = os.path.join(cache, r.stdout.strip().splitlines()[-1])
    with tarfile.open(tgz) as t:
        t.extractall(cache, filter="data")
    os.unlink(tgz)
    return cache


def write_models(directory, **models: str) -> dict[str, str]:
    """Write name=text pairs as directory/name.kv; returns name -> path."""
    os.makedirs(directory, exist_ok=True)
    out = {}
    for name, text in models.items():
        path = os.path.join(str(directory), f"{name}.kv")
        with open(path, "w") as f:
            f.write(text)
        out[name] = path
    return out


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(*argv: str, tty: bool = False) -> tuple[int, str, str]:
    out = FakeTTY() if tty else io.StringIO()
    err = FakeTTY() if tty else io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()
