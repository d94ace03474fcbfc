"""The documentation tells the truth: its examples run and print what it shows, every diagnostic code the tool
can emit is listed, and the README's commands are the ones CI runs."""
import re

import pytest

from conftest import ROOT, run_cli

DOCS = ROOT / "docs"
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)


def blocks(path):
    return [(lang, body) for lang, body in FENCE.findall(path.read_text())]


def kv_examples():
    """(doc, index, model text, the output block that follows it, if it is one)."""
    out = []
    for doc in sorted(DOCS.glob("*.md")):
        found = blocks(doc)
        for i, (lang, body) in enumerate(found):
            if lang == "kv":
                following = found[i + 1][1] if i + 1 < len(found) and found[i + 1][1].startswith("model ") else None
                out.append(pytest.param(body, following, id=f"{doc.name}#{i}"))
    return out


@pytest.mark.parametrize("text, shown", kv_examples())
def test_kv_examples_check_and_print_what_the_docs_show(tmp_path, text, shown):
    path = tmp_path / "example.kv"
    path.write_text(text)
    code, out, err = run_cli("check", str(path), "-q")
    assert code == 0, err
    if shown is not None:
        assert out == shown


def test_every_emitted_diagnostic_code_is_documented():
    emitted = set()
    for src in (ROOT / "kvmverify").rglob("*.py"):
        emitted |= set(re.findall(r'"(KV\d{3})"', src.read_text()))
    documented = set(re.findall(r"^\| (KV\d{3}) \|", (DOCS / "diagnostics.md").read_text(), re.M))
    assert emitted - documented == set(), "emitted but not in docs/diagnostics.md"
    assert documented - emitted == set(), "documented but never emitted"


def test_readme_commands_are_the_ones_ci_runs():
    readme = (ROOT / "README.md").read_text()
    commands = [body.strip() for lang, body in FENCE.findall(readme) if lang == "sh"]
    assert commands[:2] == ["pip install -e . && kvmverify check models/apf_int.kv",
                            "pip install -e '.[test]' && pytest"]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_readme_example_lines_are_in_the_real_output():
    readme = (ROOT / "README.md").read_text()
    example = next(body for lang, body in FENCE.findall(readme) if body.startswith("$ kvmverify check"))
    command, *shown = example.splitlines()
    code, out, _ = run_cli(*command.split()[2:], "-q")
    assert code == 0
    real = out.splitlines()
    for line in shown:
        if line.strip() not in ("...", ""):
            assert line in real, line


def has_c_compiler() -> bool:
    from kvmverify.engines.compiled.build import NoCompiler, find_compiler
    try:
        find_compiler()
    except NoCompiler:
        return False
    return True


def test_shown_commands_in_the_docs_print_those_lines():
    """A docs block that starts with `$ kvmverify check ...`: each line it shows (but `...`) is in the output."""
    examples = [body for doc in sorted(DOCS.glob("*.md")) for _, body in blocks(doc)
                if body.startswith("$ kvmverify check")]
    assert examples
    for body in examples:
        if "--engine compiled" in body.splitlines()[0] and not has_c_compiler():
            continue  # the compiled engine's examples need cc (CI has it)
        command, *shown = body.splitlines()
        _, out, _ = run_cli(*command.split()[2:], "-q")
        real = out.splitlines()
        for line in shown:
            if line.strip() not in ("...", ""):
                assert line in real, line
