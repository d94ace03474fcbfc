"""Mermaid sequence diagrams (`--trace-format mermaid`) and the GitHub job summary ($GITHUB_STEP_SUMMARY): the
lanes and notes are checked as text, and every diagram is rendered by Mermaid itself (its npm package's bundle,
in the headless Chromium of the HTML tests), which must produce an SVG and no parse error."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from export_support import BUGGY, BUGGY_UNANNOTATED, MAILBOX, npm_package, run, write_models
from test_export_html import chromium  # noqa: F401 - the session fixture (installs Chromium where allowed)

MERMAID = "mermaid@11.17.2"


@pytest.fixture(scope="session")
def mermaid_js() -> str:
    """Mermaid's browser bundle, from the npm registry."""
    return os.path.join(npm_package(MERMAID, "dist/mermaid.min.js"), "package", "dist", "mermaid.min.js")


def render_all(browser: str, bundle: str, diagrams: list[str], tmp_path) -> list[str]:
    """Each diagram rendered by mermaid.render(): 'svg' or the parse error."""
    page = tmp_path / "render.html"
    shutil.copy(bundle, tmp_path / "mermaid.min.js")
    page.write_text("<!DOCTYPE html><html><body><script src=\"mermaid.min.js\"></script><script>\n"
                    "mermaid.initialize({startOnLoad: false});\n"
                    f"const texts = {json.dumps(diagrams)};\n"
                    "(async () => { const out = [];\n"
                    "  for (const [i, t] of texts.entries()) {\n"
                    "    try { const r = await mermaid.render('d' + i, t); out.push(r.svg.startsWith('<svg') ? 'svg' : 'no svg'); }\n"
                    "    catch (e) { out.push('error: ' + String(e && e.message || e).slice(0, 300)); } }\n"
                    "  const p = document.createElement('pre'); p.id = 'results'; p.textContent = JSON.stringify(out);\n"
                    "  document.body.appendChild(p); })();\n"
                    "</script></body></html>\n")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
           f"--user-data-dir={tmp_path}/profile", "--virtual-time-budget=20000", "--dump-dom",
           "file://" + str(page)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    m = re.search(r'<pre id="results">(.*?)</pre>', r.stdout, re.S)
    assert m, r.stderr[-2000:]
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))


@pytest.fixture(scope="module")
def diagrams(tmp_path_factory):
    d = tmp_path_factory.mktemp("mmd")
    models = write_models(d, buggy=BUGGY)
    code, _, _ = run("check", models["buggy"], "tests/corpus/handshake.kv", "models/apf_int_bugs/guest_never_acks.kv",
                     "-q", "--trace-format", "mermaid", "--out", str(d / "out"))
    assert code == 1  # handshake's served1 fails: it has no `expect`
    return {f: (d / "out" / f).read_text() for f in sorted(os.listdir(d / "out"))}


def test_lanes_steps_notes_and_the_violation(diagrams):
    text = diagrams["buggy.slot_box.data.mmd"]
    lines = text.splitlines()
    assert lines[:4] == ["sequenceDiagram", "    participant guest", "    participant host",
                         "    participant mem as shared memory & registers"]
    assert "    host->>mem: 3 post(x=2)" in lines
    assert "    Note right of mem: box.data: 1 → 2" in lines and "    Note over host: sent[2]: false → true" in lines
    assert lines[-1] == ("    Note over host,mem: violates slot:box.data: host wrote box.data while it held an event "
                         "guest had not consumed (held=1, wrote=2)")


def test_a_lasso_is_a_loop_box(diagrams):
    (name,) = [n for n in diagrams if n.startswith("handshake.")]
    lines = diagrams[name].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("    loop steps "))
    end = lines.index("    end")
    assert start < end and all(line.startswith("        ") for line in lines[start + 1:end])
    assert ", back to step " in lines[end - 1]


def test_mermaid_renders_every_diagram(diagrams, chromium, mermaid_js, tmp_path):  # noqa: F811
    texts = list(diagrams.values())
    assert len(texts) >= 3
    assert render_all(chromium, mermaid_js, texts, tmp_path) == ["svg"] * len(texts)


def test_the_job_summary(tmp_path, monkeypatch, chromium, mermaid_js):  # noqa: F811
    models = write_models(tmp_path / "models", a_ok=MAILBOX, b_buggy=BUGGY, c_broken=BUGGY_UNANNOTATED)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, _, _ = run("check", str(tmp_path / "models"), "-q")
    assert code == 1
    text = summary.read_text()
    assert text.startswith("earlier step\n## kvmverify: 3 model(s), 27 result(s), 3 failed (exit code 1)\n")
    assert "| ❌ | `" + models["c_broken"] + "` | `slot:box.data` | violated | shortest trace: 3 step(s) |" in text
    assert "| ✅ | `" + models["b_buggy"] + "` | `slot:box.data` | violated (expected) |" in text
    assert "### ❌ `slot:box.data` violated — `" + models["c_broken"] + ":25:1`" in text
    assert "<details><summary>✅ `slot:box.data` violated (expected)" in text
    blocks = re.findall(r"```mermaid\n(.*?)```", text, re.S)
    assert len(blocks) == 6  # three violations in each of the two buggy models (the lost message deadlocks)
    results = render_all(chromium, mermaid_js, blocks + ["sequenceDiagram\n    a->>: oops\n"], tmp_path)
    assert results[:-1] == ["svg"] * 6
    assert results[-1].startswith("error: ")  # the harness does see a broken diagram
