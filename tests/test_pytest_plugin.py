"""The pytest plugin: `pytest models/` collects each .kv file and each property; run in a subprocess on a temp
directory so that the repository's own test run never collects a model."""
from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import pytest

from export_support import BUGGY, BUGGY_UNANNOTATED, MAILBOX, REPO, WRONG_EXPECT, entry_point_site, write_models


def pytest_run(cwd, *args, autoload: bool = False, extra_path: str | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, REPO, env.get("PYTHONPATH")) if p)
    if not autoload:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        args = ("-p", "kvmverify.pytest_plugin", *args)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rxXfEs", *args]
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("plugin")
    write_models(d / "models", ok=MAILBOX, buggy=BUGGY)
    (d / "models" / "README.txt").write_text("not a model\n")
    return d


def test_collects_every_model_and_every_property(models_dir):
    code, out = pytest_run(models_dir, "--collect-only", "-q", "models")
    assert code == 0, out
    ids = [line for line in out.splitlines() if "::" in line]
    assert ids == [f"models/{m}.kv::{p}" for m in ("buggy", "ok")
                   for p in ("busy_means_data", "one_unread", "both_seen", "slot:box.data", "msr:DOORBELL", "deadlock",
                             "enabled:guest.enable", "enabled:guest.consume", "enabled:host.post",
                             "premise:busy_means_data", "layout:DOORBELL")]


def test_expected_violations_are_expected_failures(models_dir):
    code, out = pytest_run(models_dir, "models")
    assert code == 0, out
    assert "19 passed, 3 xfailed" in out  # 11 properties a model; the buggy one's message loss deadlocks too
    assert "XFAIL models/buggy.kv::slot:box.data - the model says `expect violated slot:box.data`" in out


def test_a_violation_fails_with_the_readable_trace(tmp_path):
    write_models(tmp_path / "models", broken=BUGGY_UNANNOTATED)
    code, out = pytest_run(tmp_path, "models")
    assert code == 1
    assert "3 failed, 8 passed" in out
    assert "slot:box.data violated -- models/broken.kv:25:1" in out
    assert "host.post(x=2)   <- violates slot:box.data" in out and "box.data: 1 -> 2" in out
    assert "Traceback" not in out and "kvmverify/pytest_plugin.py" not in out


def test_an_expected_violation_that_now_holds_fails(tmp_path):
    write_models(tmp_path / "models", fixed=WRONG_EXPECT)
    code, out = pytest_run(tmp_path, "models")
    assert code == 1 and "[XPASS(strict)]" in out and "1 failed, 10 passed" in out


def test_a_model_that_does_not_compile_is_a_collection_error(tmp_path):
    write_models(tmp_path / "models", bad="model x\nvar y : nope = 0\n")
    code, out = pytest_run(tmp_path, "models")
    assert code == 2 and "the model does not compile" in out and "error[KV" in out


def test_params_and_bounds_from_the_command_line(tmp_path):
    write_models(tmp_path / "models", ok=MAILBOX)
    code, out = pytest_run(tmp_path, "models", "--kv-param", "BUG=true")
    assert code == 1 and "3 failed" in out
    code, out = pytest_run(tmp_path, "models", "--kv-max-depth", "2", "--kv-param", "BUG=true")
    assert code == 0 and "10 passed, 1 skipped" in out  # the violations need 3 steps, the deadlock 4
    assert "both_seen: undecided (no violation up to depth 2" in out  # the cover needs 5 steps


def test_the_pytest11_entry_point_loads_the_plugin(tmp_path):
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        eps = tomllib.load(f)["project"]["entry-points"]["pytest11"]
    assert eps == {"kvmverify": "kvmverify.pytest_plugin"}
    site = entry_point_site(tmp_path / "site")  # a stand-in distribution declaring exactly that entry point
    write_models(tmp_path / "models", ok=MAILBOX)
    code, out = pytest_run(tmp_path, "models", autoload=True, extra_path=site)
    assert code == 0 and "11 passed" in out, out


def test_the_repository_test_run_collects_no_model():
    """With the plugin loaded, the repository's own `pytest` must not collect tests/broken/*.kv (bad inputs)."""
    broken = sorted(f for f in os.listdir(os.path.join(REPO, "tests", "broken")) if f.endswith(".kv"))
    assert broken  # the fixtures this guards against exist
    code, out = pytest_run(REPO, "--collect-only", "-q")  # testpaths = tests, as CI runs it
    assert code == 0, out
    assert ".kv" not in out and "tests/test_cli.py: " in out


TWO_PARTS = """\
model two_parts
type V = 0 .. 1
var n[V] : 0 .. 3 = 0
actor a { action up(v: V) when n[v] < 3 { n[v] := n[v] + 1 } }
invariant small: forall v: V. n[v] <= 3
terminal forall v: V. n[v] == 3
"""


def test_the_engine_is_the_clis_by_default_and_can_be_chosen(tmp_path):
    import xml.etree.ElementTree as ET
    write_models(tmp_path / "models", parts=TWO_PARTS)
    verdicts = {}
    for engine in (None, "bmc"):
        report = tmp_path / f"{engine}.xml"
        extra = ("--kv-engine", engine) if engine else ()
        code, out = pytest_run(tmp_path, "models", *extra, f"--junitxml={report}")
        assert code == 0, out
        case = ET.parse(report).getroot().find(".//testcase[@name='small']")
        verdicts[engine] = case.find("properties/property[@name='verdict']").get("value")
    assert verdicts[None] == "holds (exhaustive, 16 states (4 x 4: independent parts), depth 6)"  # auto, as the CLI
    assert verdicts["bmc"].startswith("holds (no violation up to depth 20")


def test_a_failure_quotes_the_property_source(tmp_path):
    write_models(tmp_path / "models", broken=BUGGY_UNANNOTATED)
    code, out = pytest_run(tmp_path, "models")
    assert code == 1 and "  25 | slot box.data : empty 0, filled by host, emptied by guest" in out


LAYOUT = """model lay
struct S size 4 { a : u32 @ 0; b : u8 @ 4 }
var s : S = 0
actor A { action w() { s.a := 1 } }
invariant i: true
"""


def test_a_layout_finding_is_a_failing_item_and_an_expected_one_an_expected_failure(tmp_path):
    write_models(tmp_path / "models", lay=LAYOUT, lay_expected=LAYOUT + 'expect violated "layout:S"\n')
    code, out = pytest_run(tmp_path, "models")
    assert code == 1, out
    assert "1 failed, 6 passed, 1 xfailed" in out  # i, deadlock and enabled:* in each file
    assert "FAILED models/lay.kv::layout:S" in out and "KV406" in out
    assert "XFAIL models/lay_expected.kv::layout:S" in out
