"""Output files and replay inputs that are not what they seem: symlinks, FIFOs, device nodes, directories, files
too large or too deep to read. Every case is a coded diagnostic (exit 2), never a traceback, a hang or a
replaced device node. Device nodes are made in tmp (never /dev)."""
from __future__ import annotations

import json
import os
import stat
import threading

import pytest

from export_support import BUGGY, MAILBOX, run, write_models
from kvmverify.diagnostics import DiagnosticError
from kvmverify.export.files import write_atomic


def codes(stderr: str) -> list[str]:
    return [line.split("[", 1)[1].split("]", 1)[0] for line in stderr.splitlines() if ": error[" in line]


def test_a_symlink_stays_a_link_and_its_target_is_replaced(tmp_path):
    target = tmp_path / "real.xml"
    target.write_text("old\n")
    link = tmp_path / "link.xml"
    link.symlink_to(target)
    write_atomic(str(link), "new\n")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new\n"


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.sarif"
    link.symlink_to(tmp_path / "sub" / "made.sarif")
    write_atomic(str(link), "x\n")
    assert link.is_symlink() and (tmp_path / "sub" / "made.sarif").read_text() == "x\n"


def test_a_fifo_is_written_through_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    for _ in range(200):  # wait until the reader has the FIFO open
        try:
            write_atomic(str(fifo), "report\n")
            break
        except DiagnosticError:
            threading.Event().wait(0.01)
    reader.join(10)
    assert got == [b"report\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_fifo_nobody_reads_is_an_error_not_a_hang(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    model = write_models(tmp_path, ok=MAILBOX)["ok"]
    code, _, err = run("check", model, "-q", "--sarif", str(fifo))
    assert code == 2 and codes(err) == ["KV506"] and "no process is reading the FIFO" in err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_character_device_is_written_through_not_replaced(tmp_path):
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own, in tmp
    except (PermissionError, OSError) as e:
        pytest.skip(f"cannot make a device node here: {e}")
    model = write_models(tmp_path, buggy=BUGGY)["buggy"]
    code, _, err = run("check", model, "-q", "--junit", str(node), "--sarif", str(node))
    assert (code, err) == (0, "")
    assert stat.S_ISCHR(os.stat(node).st_mode) and os.stat(node).st_rdev == os.makedev(1, 3)


def test_report_paths_that_cannot_be_files(tmp_path):
    model = write_models(tmp_path, ok=MAILBOX)["ok"]
    (tmp_path / "a_file").write_text("x")
    cases = [
        (("--junit", str(tmp_path)), "KV505", "--junit names a directory"),
        (("--sarif", str(tmp_path)), "KV505", "--sarif names a directory"),
        (("--out", str(tmp_path / "a_file")), "KV505", "--out names an existing file"),
        (("--junit", str(tmp_path / "a_file" / "j.xml")), "KV506", "Not a directory"),
        (("--out", str(tmp_path / "a_file" / "traces")), "KV506", "cannot create the directory for --out"),
    ]
    for flags, code_, text in cases:
        code, out, err = run("check", model, "-q", *flags)
        assert (code, codes(err)) == (2, [code_]), (flags, err)
        assert text in err and out == "", flags  # refused before the search: no result printed
    assert (tmp_path / "a_file").read_text() == "x"


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    d = tmp_path_factory.mktemp("replay")
    model = write_models(d, buggy=BUGGY)["buggy"]
    code, _, _ = run("check", model, "-q", "--no-traces", "--trace-format", "itf", "--out", str(d / "t"))
    assert code == 0
    return model, str(d / "t" / "buggy.slot_box.data.itf.json")


def test_replay_refuses_fifos_devices_and_huge_or_deep_files(trace, tmp_path):
    model, _ = trace
    fifo = tmp_path / "fifo.itf.json"
    os.mkfifo(fifo)
    digits = tmp_path / "digits.itf.json"
    digits.write_text('{"vars": ["x"], "states": [{"x": ' + "9" * 100_001 + "}]}")
    deep = tmp_path / "deep.itf.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    cases = [(str(fifo), "KV601", "it is a FIFO"), ("/dev/zero", "KV601", "it is a device"),
             (str(tmp_path), "KV601", "it is a directory"),
             (str(digits), "KV608", "an integer too long"), (str(deep), "KV608", "nests arrays or objects too deeply")]
    for path, code_, text in cases:
        code, out, err = run("replay", model, path)
        assert (code, codes(err)) == (2, [code_]), (path, err)
        assert text in err and "Traceback" not in err


def test_replay_rejects_an_unknown_property_with_a_suggestion(trace):
    model, path = trace
    code, out, err = run("replay", model, path, "--property", "slot:box.dat")
    assert (code, codes(err), out) == (2, ["KV507"], "")
    assert "did you mean 'slot:box.data'?" in err


def test_replay_says_which_params_it_applied_and_which_are_not_the_defaults(trace):
    model, path = trace
    code, out, _ = run("replay", model, path, "-q")
    assert code == 0
    assert out.splitlines()[1] == "  params applied: BUG=true"
    assert "not the model's defaults" not in out  # BUGGY declares BUG = true
    doc = json.loads(open(path).read())
    doc["states"][0]["BUG"] = False
    other = os.path.join(os.path.dirname(path), "other.itf.json")
    with open(other, "w") as f:
        json.dump(doc, f)
    code, out, _ = run("replay", model, other, "-q", "--json")
    assert json.loads(out)["params"] == {"BUG": {"value": "false", "default": "true", "from": "the trace"}}
    code, out, _ = run("replay", model, path, "-q", "--param", "BUG=false")
    assert "  not the model's defaults: BUG=false (from --param; the model's default is true)" in out.splitlines()


def test_a_bool_value_for_an_integer_param_is_refused(tmp_path):
    model = write_models(tmp_path, m=MAILBOX.replace("param BUG = false", "param BUG = false\nparam N = 2"))["m"]
    code, _, err = run("check", model, "-q", "--param", "N=true")
    assert (code, codes(err)) == (2, ["KV501"]) and "N is an integer param, not a bool" in err
    assert run("check", model, "-q", "--param", "BUG=1")[0] == 1  # a bool param takes 0/1 as before


def test_abbreviated_flags_are_refused():
    code, _, err = run("check", "models/apf_int.kv", "--max-state", "3")
    assert code == 2 and "unrecognized arguments: --max-state 3" in err
