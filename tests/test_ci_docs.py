"""docs/ci.md: the GitHub Actions workflow, the pre-commit hook and the replay example are run here as far as
they can be (every `kvmverify` and `pytest` command, on small models in a temp directory); the GitHub-hosted
actions (`uses:`) cannot run here, so only the paths they are given are checked against the commands."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import yaml

from export_support import BUGGY, BUGGY_UNANNOTATED, MAILBOX, REPO, entry_point_site, write_models

DOC = os.path.join(REPO, "docs", "ci.md")


def blocks(lang: str) -> list[str]:
    text = open(DOC, encoding="utf-8").read()
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def shell(command: str, cwd, site: str) -> subprocess.CompletedProcess:
    """Run a documented `kvmverify ...` or `pytest ...` command with this checkout's interpreter."""
    argv = shlex.split(command)
    tool, rest = argv[0], argv[1:]
    assert tool in ("kvmverify", "pytest"), command
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "NO_COLOR"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (site, REPO, env.get("PYTHONPATH")) if p)
    env["CI"] = "true"
    prefix = [sys.executable, "-m", tool] + (["-p", "no:cacheprovider"] if tool == "pytest" else [])
    return subprocess.run(prefix + rest, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return entry_point_site(tmp_path_factory.mktemp("site"))  # as if kvmverify were pip-installed


def test_the_workflow_runs(tmp_path, site):
    workflow = yaml.safe_load(blocks("yaml")[0])
    steps = workflow["jobs"]["models"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    assert [r for r in runs if r.split()[0] not in ("kvmverify", "pytest")] == ["pip install kvmverify"]
    write_models(tmp_path / "models", ok=MAILBOX, buggy=BUGGY)  # one clean model, one expected violation
    for command in runs[1:]:
        r = shell(command, tmp_path, site)
        assert r.returncode == 0, (command, r.stdout[-2000:], r.stderr[-2000:])
    reports = tmp_path / "reports"
    suites = ET.parse(reports / "kvmverify.xml").getroot().findall("testsuite")
    assert [sum(int(s.get(k)) for s in suites) for k in ("tests", "failures")] == [10, 0]  # incl. msr: properties
    sarif = json.loads((reports / "kvmverify.sarif").read_text())
    rules = sorted(res["ruleId"] for res in sarif["runs"][0]["results"])
    assert rules == ["KV405", "KV405", "property/invariant/one_unread", "property/slot/slot:box.data"]  # lint per model, 2 expected
    assert sorted(os.listdir(reports / "traces")) == [
        "buggy.one_unread.html", "buggy.one_unread.itf.json", "buggy.slot_box.data.html",
        "buggy.slot_box.data.itf.json"]
    plugin = ET.parse(reports / "pytest-models.xml").getroot()
    suite = plugin if plugin.tag == "testsuite" else plugin[0]
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("10", "0", "2")  # 2 xfail
    # the hosted actions are handed what the commands wrote
    uses = {s["uses"].split("@")[0]: s.get("with", {}) for s in steps if "uses" in s}
    assert uses["actions/upload-artifact"]["path"] == "reports/"
    assert uses["github/codeql-action/upload-sarif"]["sarif_file"] == "reports/kvmverify.sarif"


def test_the_workflow_step_fails_on_a_violation(tmp_path, site):
    command = next(s["run"] for s in yaml.safe_load(blocks("yaml")[0])["jobs"]["models"]["steps"]
                   if s.get("run", "").startswith("kvmverify check"))
    write_models(tmp_path / "models", ok=MAILBOX, broken=BUGGY_UNANNOTATED)
    r = shell(command, tmp_path, site)
    assert r.returncode == 1
    assert "FAIL  models/broken.kv" in r.stdout


def test_the_pre_commit_hook_runs_and_matches_the_shipped_definition(tmp_path, site):
    config = yaml.safe_load(blocks("yaml")[1])
    hook = config["repos"][0]["hooks"][0]
    assert config["repos"][0]["repo"] == "local" and hook["id"] == "kvmverify"
    assert re.search(hook["files"], "models/apf_int.kv") and not re.search(hook["files"], "README.md")
    shipped = yaml.safe_load(open(os.path.join(REPO, ".pre-commit-hooks.yaml")))
    assert [(h["id"], h["entry"], h["args"], h["files"], h["pass_filenames"]) for h in shipped] == [
        (hook["id"], hook["entry"], hook["args"], hook["files"], hook["pass_filenames"])]
    command = " ".join([hook["entry"], *hook["args"]])  # what pre-commit runs (pass_filenames: false)
    write_models(tmp_path / "models", ok=MAILBOX, buggy=BUGGY)
    r = shell(command, tmp_path, site)
    assert (r.returncode, r.stderr) == (0, "")
    write_models(tmp_path / "models", buggy=BUGGY_UNANNOTATED)
    assert shell(command, tmp_path, site).returncode == 1  # the commit is refused


def test_the_replay_example(tmp_path, site):
    (example,) = [line for block in blocks("sh") for line in block.splitlines() if line.startswith("kvmverify")]
    for d in ("models", "spec"):
        os.symlink(os.path.join(REPO, d), tmp_path / d)
    found = shell("kvmverify check models/apf_int_bugs/host_ignores_token_slot.kv -q --no-traces "
                  "--trace-format itf --out traces", tmp_path, site)
    assert found.returncode == 0, found.stderr
    r = shell(example, tmp_path, site)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == "slot:area.token: still violated by this trace"
