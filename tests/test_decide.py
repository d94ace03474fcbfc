"""Decision tables (`decide`) and `check` properties: z3's answers against brute-force enumeration of the inputs,
the shipped memtype table, tables inside actions, and every result surface (text, JSON, JUnit, SARIF)."""
import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_cli
from kvmverify.check.checker import check
from kvmverify.check.loader import Loaded
from kvmverify.engines import Options, run_engine
from kvmverify.engines.symbolic import decide as decide_mod
from kvmverify.engines.symbolic.decide import decide_checks, table_findings
from kvmverify.engines.symbolic.encode import type_range
from kvmverify.ir.lower import lower
from kvmverify.ir.simplify import evaluate
from kvmverify.lang.parser import parse


def system(text: str):
    f = parse(text, "t.kv")
    return lower(check(Loaded(f, (f,))))


def all_inputs(inputs):
    ranges = [range(type_range(t)[0], type_range(t)[1] + 1) for _, t in inputs]
    for values in itertools.product(*ranges):
        yield {n: v for (n, _), v in zip(inputs, values)}


# ------------------------------------------------------------------------------------------ the shipped table


def test_memtype_checks_are_decided_for_every_input_and_version():
    code, out, _ = run_cli("check", "models/memtype.kv", "-q")
    assert code == 0
    assert "  ok   holds     no_pat_aliasing_without_noncoherent_dma  all 384 inputs (z3)" in out
    assert "  ok   holds     later_kernels_force_only_wb              all 96 inputs (z3)" in out
    line = next(x for x in out.splitlines() if "every_version_forces_only_wb " in x)
    assert line.startswith("  ok   violated  every_version_forces_only_wb") and line.endswith("(expected)")
    # the explanation names the rule that forces a type other than WB, with its line in the model
    where = out[out.index("check every_version_forces_only_wb"):]
    assert "by rule mem_wc_slot (models/memtype.kv:" in where or "by rule cd (models/memtype.kv:" in where


def test_the_memtype_table_inside_the_action_keeps_the_state_count():
    ts = lower(check(_load("models/memtype.kv")))
    assert [t.name for t in ts.tables] == ["ept_mt_mask"]
    assert len(ts.tables[0].rules) == 8 and table_findings(ts) == []  # complete, and no dead rule
    result = run_engine(ts, "explicit")
    assert result.stats.states == 913


def _load(path):
    from kvmverify.check.loader import load
    from kvmverify.diagnostics import Sources
    return load(path, Sources())


@pytest.mark.parametrize("engine", ["explicit", "bmc", "pdr"])
def test_every_engine_reports_the_checks_after_its_own_results(engine):
    ts = lower(check(_load("models/memtype_versions/dec2023.kv")))
    result = run_engine(ts, engine, Options(depth=2))
    checks = [(r.prop.name, r.status) for r in result.results if r.prop.kind == "check"]
    assert checks == [("no_pat_aliasing_without_noncoherent_dma", "holds"), ("later_kernels_force_only_wb", "holds"),
                      ("every_version_forces_only_wb", "violated")]
    assert [r.prop.kind for r in result.results][-3:] == ["check"] * 3
    assert result.exit_code != 1  # the violation is expected (bmc: 4, bounded)


# ------------------------------------------------------------------------------------------ 64-bit inputs

PAT_MODEL = """
model pat
type Memtype = {UC, WC, WB}
register PAT at 0x277 : 64 { pa0 @ 0..2 ; rsvd @ 3..63 must_be 0 }
decide pat_type(p: PAT) -> Memtype {
    rule uc when p.pa0 == 0 => UC
    rule wc when p.pa0 == 1 => WC
    rule other => WB
}
check high_types_are_wb: forall p: PAT. p.pa0 >= 2 -> pat_type(p) == WB
check only_uc_is_not_wb: forall p: PAT. p.pa0 != 0 -> pat_type(p) == WB
"""


def test_checks_over_a_64_bit_register_are_decided_without_enumeration():
    ts = system(PAT_MODEL)
    holds, broken = decide_checks(ts)
    assert holds.status == "holds" and holds.coverage.describe() == "all 2^64 inputs (z3)"
    assert broken.status == "violated"
    (name, shown), = broken.witness.inputs
    value = int(shown.split()[0], 16)
    assert name == "p" and value & 7 == 1  # pa0 = 1: the WC rule
    assert broken.witness.calls == (f"pat_type(p={shown}) = WC by rule wc (t.kv:7)",)


# ------------------------------------------------------------------------------------------ z3 vs enumeration

GUARD_ATOMS = ["a", "!a", "b", "!b", "x == 0", "x == 1", "x >= 1", "x <= 1", "x != 2", "a && b", "a || x == 2",
               "false"]


@st.composite
def tables(draw):
    n = draw(st.integers(1, 5))
    rules = []
    for i in range(n):
        guard = draw(st.sampled_from(GUARD_ATOMS + [None]))
        value = draw(st.sampled_from(["0", "1", "2", "x", "2 - x"]))
        rules.append((f"r{i}", guard, value))
    prop = draw(st.sampled_from(["f(a, b, x) <= 2", "f(a, b, x) != 1", "a -> f(a, b, x) == x",
                                 "f(a, b, x) == f(b, a, x)", "x == 0 -> f(a, b, x) >= 0"]))
    return rules, prop


def table_text(rules, prop):
    body = "\n".join(f"    rule {n}{'' if g is None else ' when ' + g} => {v}" for n, g, v in rules)
    return (f"model gen\ntype Small = 0 .. 2\ndecide f(a: bool, b: bool, x: Small) -> Small {{\n{body}\n}}\n"
            f"check p: forall a: bool, b: bool, x: Small. {prop}\n")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_table_lint_and_checks_agree_with_enumeration(case):
    rules, prop = case
    text = table_text(rules, prop)
    try:
        ts = system(text)
    except Exception as e:  # a rule value outside 0..2 (e.g. `2 - x` is fine, but typing is conservative)
        from kvmverify.diagnostics import DiagnosticError
        assert isinstance(e, DiagnosticError)
        return
    table = ts.tables[0]
    inputs = list(all_inputs(table.inputs))
    first = [next((i for i, r in enumerate(table.rules) if evaluate(r.when, (), v)), None) for v in inputs]
    findings = table_findings(ts)
    gap = any(f is None for f in first)
    assert any(d.code == "KV340" for d in findings) == gap, text
    dead = {table.rules[i].name for i in range(len(table.rules)) if i not in first}
    assert {d.message.split()[1] for d in findings if d.code == "KV341"} == dead, text
    if gap:
        return
    (result,) = decide_checks(ts)
    check_ = ts.checks[0]
    truth = all(evaluate(check_.expr, (), v) for v in all_inputs(check_.inputs))
    assert result.status == ("holds" if truth else "violated"), text
    if not truth:  # the witness really breaks it
        shown = dict(result.witness.inputs)
        values = next(v for v in all_inputs(check_.inputs)
                      if all(shown[n] == (("true" if v[n] else "false") if n in "ab" else str(v[n])) for n in v))
        assert not evaluate(check_.expr, (), values)


# ------------------------------------------------------------------------------------------ surfaces

BROKEN_CHECK = PAT_MODEL.replace("model pat", "model pat_broken")


def test_a_violated_check_in_json_junit_and_sarif(tmp_path):
    path = tmp_path / "pat.kv"
    path.write_text(BROKEN_CHECK)
    junit, sarif = tmp_path / "r.xml", tmp_path / "r.sarif"
    code, out, _ = run_cli("check", str(path), "--json", "-q", "--junit", str(junit), "--sarif", str(sarif))
    assert code == 1
    doc = json.loads(out)["models"][0]
    prop = next(p for p in doc["properties"] if p["name"] == "only_uc_is_not_wb")
    assert prop["kind"] == "check" and prop["status"] == "violated" and prop["trace"] is None
    assert list(prop["input"]["values"]) == ["p"] and "by rule wc" in prop["input"]["calls"][0]
    assert prop["coverage"]["text"] == "all 2^64 inputs (z3)"
    assert 'name="only_uc_is_not_wb"' in junit.read_text() and "by rule wc" in junit.read_text()
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    failing = [r for r in results if r["ruleId"] == "property/check/only_uc_is_not_wb"]
    assert len(failing) == 1 and "input p=0x" in failing[0]["message"]["text"]


def test_a_disagreement_with_the_reference_semantics_is_an_internal_error(monkeypatch, tmp_path):
    path = tmp_path / "pat.kv"
    path.write_text(BROKEN_CHECK)
    monkeypatch.setattr(decide_mod, "evaluate", lambda *a: 1)  # the reference says every input satisfies it
    code, _, err = run_cli("check", str(path), "-q")
    assert code == 3 and "does not break only_uc_is_not_wb by the reference semantics" in err


def test_check_output_is_deterministic_across_runs():
    outs = {run_cli("check", "models/memtype.kv", "-q")[1] for _ in range(2)}
    assert len(outs) == 1
