"""docs/ci.md on first use, as a new user meets it: build the sdist and the wheel with `python -m build`, check them
with `twine check`, install the wheel into a fresh virtualenv with the documented install line (a PEP 508 direct
reference, as for a release tag), then run the GitHub workflow's and the GitLab job's commands, the pre-commit
hook and the completion command with the installed tools, on small models in a directory of their own.

build and twine run in a virtualenv of their own, made here: installed into the test environment, twine's
readme-renderer would upgrade docutils under whatever else that environment holds."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile

import pytest
import yaml

from export_support import BUGGY, BUGGY_UNANNOTATED, MAILBOX, REPO, write_models

SKIP = shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", "build", "dist", ".pytest_cache", ".hypothesis",
                              "out")


def sh(argv: list[str], cwd, env=None, timeout=900) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return r


@pytest.fixture(scope="module")
def tools(tmp_path_factory) -> str:
    """A virtualenv with build and twine: its python."""
    d = tmp_path_factory.mktemp("tools")
    r = sh([sys.executable, "-m", "venv", str(d / "v")], d)
    assert r.returncode == 0, r.stderr
    python = str(d / "v" / "bin" / "python")
    r = sh([python, "-m", "pip", "install", "--quiet", "build>=1", "twine>=5"], d)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return python


@pytest.fixture(scope="module")
def dist(tools, tmp_path_factory):
    """sdist and wheel, built from a copy of this checkout (so that the tree stays clean), the wheel from the
    sdist (python -m build's default: the sdist must hold everything)."""
    d = tmp_path_factory.mktemp("build")
    src = d / "src"
    shutil.copytree(REPO, src, ignore=SKIP)
    r = sh([tools, "-m", "build", "--outdir", str(d / "dist"), str(src)], d)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    files = sorted(os.listdir(d / "dist"))
    assert [f.rsplit("-", 1)[-1] if f.endswith(".whl") else f for f in files] == [
        "kvmverify-0.1.0-py3-none-any.whl".rsplit("-", 1)[-1], "kvmverify-0.1.0.tar.gz"]
    return d / "dist"


def test_twine_check_passes(tools, dist):
    r = sh([tools, "-m", "twine", "check", "--strict", *(str(dist / f) for f in os.listdir(dist))], dist)
    assert r.returncode == 0 and r.stdout.count("PASSED") == 2, r.stdout + r.stderr


def test_the_wheel_carries_the_license_grammar_and_schemas(dist):
    wheel = next(f for f in os.listdir(dist) if f.endswith(".whl"))
    names = zipfile.ZipFile(dist / wheel).namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)
    for needed in ("kvmverify/lang/grammar.lark", "kvmverify/export/schemas/result.schema.json",
                   "kvmverify/export/schemas/sarif-schema-2.1.0.json"):
        assert needed in names
    meta = zipfile.ZipFile(dist / wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "License: GPL-2.0-only" in meta or "License-Expression: GPL-2.0-only" in meta


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory):
    """A fresh virtualenv (no system site-packages) with the wheel installed by the documented line."""
    d = tmp_path_factory.mktemp("venv")
    r = sh([sys.executable, "-m", "venv", str(d / "v")], d)
    assert r.returncode == 0, r.stderr
    wheel = next(dist / f for f in os.listdir(dist) if f.endswith(".whl"))
    bindir = d / "v" / "bin"
    line = f'pip install "kvmverify[pytest] @ {wheel.as_uri()}"'  # docs/ci.md: the release line, for this wheel
    r = sh([str(bindir / "python"), "-m", *shlex.split(line)], d)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON")) and k != "NO_COLOR"}
    env.update(PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(d / "v"), CI="true")
    return bindir, env


def run_line(command: str, cwd, env) -> subprocess.CompletedProcess:
    return sh(["bash", "-c", command], cwd, env, timeout=300)


def test_the_installed_tools_are_the_wheel(venv, tmp_path):
    bindir, env = venv
    r = run_line("kvmverify --version && python -c 'import kvmverify, sys; print(kvmverify.__file__)'", tmp_path, env)
    assert r.returncode == 0, r.stderr
    version, where = r.stdout.splitlines()
    assert version == "kvmverify 0.1.0" and where.startswith(str(bindir.parent)) and REPO not in where


def test_the_github_workflow_runs_from_the_wheel(venv, tmp_path):
    _, env = venv
    steps = yaml.safe_load(open(os.path.join(REPO, "docs", "ci", "github-workflow.yml")))["jobs"]["models"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    assert runs[0] == 'pip install "$KVMVERIFY"'  # done by the fixture, with this wheel as $KVMVERIFY
    write_models(tmp_path / "models", ok=MAILBOX, buggy=BUGGY)
    env = {**env, "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    for command in runs[1:]:
        r = run_line(command, tmp_path, env)
        assert r.returncode == 0, (command, r.stdout[-2000:], r.stderr[-2000:])
    suites = ET.parse(tmp_path / "reports" / "kvmverify.xml").getroot().findall("testsuite")
    # per model: its properties, msr:, layout:, deadlock and the enabled: and premise: findings
    assert sum(int(s.get("tests")) for s in suites) == 22
    plugin = ET.parse(tmp_path / "reports" / "pytest-models.xml").getroot()
    suite = plugin if plugin.tag == "testsuite" else plugin[0]
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("22", "0", "3")
    assert (tmp_path / "summary.md").read_text().count("```mermaid") == 3
    write_models(tmp_path / "models", broken=BUGGY_UNANNOTATED)
    gate = next(r for r in runs if r.startswith("kvmverify check"))
    assert run_line(gate, tmp_path, env).returncode == 1  # the gate closes on a violation
    r = run_line("pytest models/ -q -p no:cacheprovider", tmp_path, env)
    assert r.returncode == 1 and "slot:box.data violated -- models/broken.kv:25:1" in r.stdout


def test_the_gitlab_job_and_the_pre_commit_hook_run_from_the_wheel(venv, tmp_path):
    _, env = venv
    job = yaml.safe_load(open(os.path.join(REPO, "docs", "ci", "gitlab-ci.yml")))["kvmverify"]
    write_models(tmp_path / "models", ok=MAILBOX, buggy=BUGGY)
    for command in job["script"][1:]:
        r = run_line(command, tmp_path, env)
        assert r.returncode == 0, (command, r.stderr[-2000:])
    assert (tmp_path / job["artifacts"]["reports"]["junit"]).exists()
    (hook,) = yaml.safe_load(open(os.path.join(REPO, ".pre-commit-hooks.yaml")))
    r = run_line(" ".join([hook["entry"], *hook["args"]]), tmp_path, env)
    assert (r.returncode, r.stderr) == (0, "")


def test_shell_completion_from_the_installed_command(venv, tmp_path):
    _, env = venv
    r = run_line("kvmverify completion bash > c.bash && bash -n c.bash && source c.bash && "
                 "COMP_WORDS=(kvmverify check --engine ''); COMP_CWORD=3; COMP_LINE='kvmverify check --engine ';"
                 " COMP_POINT=${#COMP_LINE}; _shtab_kvmverify kvmverify '' --engine;"
                 " printf '%s\\n' \"${COMPREPLY[@]}\"", tmp_path, env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["auto", "explicit", "compiled", "bmc", "induction", "pdr"]
    r = run_line("kvmverify completion zsh", tmp_path, env)
    assert r.returncode == 0 and r.stdout.startswith("#compdef kvmverify")
