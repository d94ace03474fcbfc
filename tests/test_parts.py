"""Independent parts (engines/parts.py): a model whose parts share nothing is explored part by part, and the
verdicts, shortest trace lengths, state and transition counts and depth are the whole model's, exactly."""
import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_cli
from kvmverify.diagnostics import Sources
from kvmverify.engines import Options, run_engine
from kvmverify.engines.explicit import Explorer
from kvmverify.engines.explicit.parts import independent_parts, run_parts
from kvmverify.engines.shared.replay import replay
from kvmverify.pipeline import compile_model
from test_engine_props import models, system_of
from test_liveness import assert_valid_lasso


def verdicts(result) -> dict[str, tuple[str, int | None]]:
    return {r.prop.name: (r.status, r.trace.length if r.trace is not None else None) for r in result.results
            if r.prop.kind not in ("liveness", "layout")}  # layout: decided by the lint, whatever the engine


def whole(ts):
    return run_engine(ts, "explicit", Options(symmetry=False))


def test_apf_int_vcpus_are_independent_parts_and_their_product_is_the_whole_state_space():
    ts = compile_model("models/apf_int.kv", {"NVCPU": 2, "NTOKEN": 1}, Sources()).system
    parts = independent_parts(ts)
    assert parts is not None and len(parts) == 2
    split, full = run_parts(ts, parts), whole(ts)
    assert (split.stats.states, split.stats.transitions, split.stats.depth) == (18_769, 98_914, 24) == \
        (full.stats.states, full.stats.transitions, full.stats.depth)
    assert verdicts(split) == verdicts(full)
    live = [(r.prop.name, r.status) for r in split.results if r.prop.kind == "liveness"]
    assert live == [(r.prop.name, r.status) for r in full.results if r.prop.kind == "liveness"]
    assert live == [("ready_follows_not_present", "holds")]


def test_apf_int_2_2_by_parts_has_the_whole_searchs_counts():
    """786,769 states, 4,775,608 transitions, depth 30: what the whole-model search without symmetry measures
    (benchmarks/run.py; its symmetric orbits are tests/test_apf_int.py's 887 * 888 / 2)."""
    ts = compile_model("models/apf_int.kv", {"NVCPU": 2, "NTOKEN": 2}, Sources()).system
    split = run_parts(ts, independent_parts(ts))
    assert (split.stats.states, split.stats.transitions, split.stats.depth) == (786_769, 4_775_608, 30)
    holds = next(r for r in split.results if r.prop.name == "no_vector_zero")
    assert holds.coverage.describe() == "exhaustive, 786769 states (887 x 887: independent parts), depth 30"


@pytest.mark.parametrize("variant", ["enable_before_vector", "host_ignores_token_slot", "inject_with_if_off",
                                     "sti_before_flags_clear"])
def test_bug_variants_fail_in_a_part_with_the_whole_models_shortest_trace(variant):
    ts = compile_model(f"models/apf_int_bugs/{variant}.kv", {"NVCPU": 2, "NTOKEN": 1}, Sources()).system
    parts = independent_parts(ts)
    assert parts is not None
    split = run_parts(ts, parts)
    assert verdicts(split) == verdicts(whole(ts))
    assert any(r.status == "violated" for r in split.results)
    ex = Explorer(ts)
    for r in split.results:  # each trace is a run of the whole model
        if r.trace is not None and r.status == "violated" and not r.prop.is_step:
            states = [s.state for s in r.trace.steps]
            replay(ex, "parts", r.prop, states, [s.action for s in r.trace.steps[1:]])


def test_correlated_initial_states_or_a_connecting_property_keep_the_model_whole():
    two = ("model m\nvar x : 0 .. 2 = 0\nvar y : 0 .. 2 = 0\n"
           "actor a { action f() when x < 2 { x := x + 1 } }\nactor b { action g() when y < 2 { y := y + 1 } }\n")
    assert [sorted(p.vars) for p in independent_parts(system_of(two))] == [[0], [1]]
    assert independent_parts(system_of(two + "invariant both: x + y < 4\n")) is None
    # conjuncts and disjuncts are split: each lies in one part
    split = independent_parts(system_of(two + "invariant each: x < 3 && y < 3\ncover one: x == 2 || y == 2\n"))
    assert split is not None and len(split) == 2
    ts = system_of(two)
    pairs = dataclasses.replace(ts, init=((0, 0), (1, 1)))  # x == y initially: not every combination
    assert independent_parts(pairs) is None
    product = dataclasses.replace(ts, init=((0, 0), (0, 1), (1, 0), (1, 1)))
    assert independent_parts(product) is not None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models())
def test_parts_agree_with_the_whole_model(text):
    try:
        ts = system_of(text)
    except Exception:  # rejected models are test_engine_props' business
        return
    parts = independent_parts(ts)
    if parts is None:
        return
    split, full = run_parts(ts, parts), whole(ts)
    assert verdicts(split) == verdicts(full), text
    assert (split.stats.states, split.stats.transitions, split.stats.depth) == \
        (full.stats.states, full.stats.transitions, full.stats.depth), text


def test_the_cli_flag_and_what_it_does_not_apply_to():
    code, out, _ = run_cli("check", "models/apf_int.kv", "--engine", "explicit", "--parts", "--no-color",
                           "--param", "NVCPU=3", "--param", "NTOKEN=2")
    assert code == 0
    assert "exhaustive, 697864103 states (887 x 887 x 887: independent parts), depth 45" in out
    assert "exhaustive, fair lassos searched in 697864103 states (887 x 887 x 887: independent parts)" in out
    assert "note: 3 independent parts (no action or property connects them), explored one at a time" in out
    code, _, err = run_cli("check", "models/apf_int.kv", "--engine", "pdr", "--parts")
    assert code == 2 and "--parts does not apply to --engine pdr" in err


# ------------------------------------------------------------------------------------------ liveness on parts

@st.composite
def two_part_live_models(draw):
    """Two independent parts, (x, y) and (u, w), each with actions of random guards, updates and fairness; the
    property lies in one of them."""
    fairness = st.sampled_from(["", "fair ", "strong fair "])

    def actions(x: str, y: str, prefix: str) -> list[str]:
        upd = st.sampled_from([f"{x} := ({x} + 1) % 3", f"{x} := 0", f"{y} := !{y}", f"{x} := 2", f"{y} := false",
                               f"choose c: 0..2 where c != {x} {{ {x} := c }}"])
        guards = st.sampled_from(["true", f"{x} == 0", f"{x} != 2", y, f"!{y}", f"{x} == 1 || {y}"])
        return [f"    {draw(fairness)}action {prefix}{i}() when {draw(guards)} {{ {draw(upd)} }}"
                for i in range(draw(st.integers(1, 3)))]

    x, y = draw(st.sampled_from([("x", "y"), ("u", "w")]))
    preds = st.sampled_from([f"{x} == 0", f"{x} == 1", f"{x} == 2", y, f"!{y}", f"{x} != 1 && {y}"])
    prop = draw(st.one_of(st.tuples(preds, preds).map(lambda t: f"{t[0]} leads_to {t[1]}"),
                          preds.map(lambda p: f"always eventually {p}")))
    return ("model r\nvar x : 0 .. 2 = 0\nvar y : bool = false\nvar u : 0 .. 2 = 0\nvar w : bool = false\n"
            "actor p {\n" + "\n".join(actions("x", "y", "a")) + "\n}\nactor q {\n" + "\n".join(actions("u", "w", "b"))
            + f"\n}}\nproperty live: {prop}\n")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(two_part_live_models())
def test_liveness_on_parts_agrees_with_the_whole_graph(text):
    ts = system_of(text)
    parts = independent_parts(ts)
    assert parts is not None and len(parts) >= 2, text  # variables no action touches are parts of their own
    split, full = run_parts(ts, parts), whole(ts)
    got = next(r for r in split.results if r.prop.name == "live")
    want = next(r for r in full.results if r.prop.name == "live")
    assert got.status == want.status, text
    if got.trace is not None:
        assert_valid_lasso(ts, got.trace, "live")


def test_the_apf_int_completion_property_on_parts():
    """The fixed model holds at (2,3) (32.7 M states, never searched as a whole); the guest that never ACKs gives
    a fair lasso of the whole model, with both vCPUs' runs interleaved."""
    ts = compile_model("models/apf_int.kv", {"NVCPU": 2, "NTOKEN": 3}, Sources()).system
    r = next(x for x in run_parts(ts, independent_parts(ts)).results if x.prop.name == "ready_follows_not_present")
    assert r.status == "holds"
    assert r.coverage.describe() == ("exhaustive, fair lassos searched in 32752729 states (5723 x 5723: "
                                     "independent parts)")
    ts = compile_model("models/apf_int_bugs/guest_never_acks.kv", {"NVCPU": 2, "NTOKEN": 1}, Sources()).system
    r = next(x for x in run_parts(ts, independent_parts(ts)).results if x.prop.name == "ready_follows_not_present")
    assert r.status == "violated" and r.as_expected
    assert_valid_lasso(ts, r.trace, "ready_follows_not_present")
    full = next(x for x in whole(ts).results if x.prop.name == "ready_follows_not_present")
    assert full.status == "violated"


def test_auto_splits_unless_a_bound_is_about_the_whole_model():
    code, out, _ = run_cli("check", "models/apf_int.kv", "-q", "--no-color")
    assert code == 0 and out.startswith("model apf_int: auto (explicit, independent parts) engine")
    code, out, _ = run_cli("check", "models/apf_int.kv", "-q", "--no-color", "--max-states", "5000")
    assert code == 4 and out.startswith("model apf_int: explicit engine")
    assert "note: search stopped by max-states after" in out
    code, out, _ = run_cli("check", "models/apf_int.kv", "-q", "--no-color", "--max-depth", "3")
    assert out.startswith("model apf_int: explicit engine") and "no violation up to depth 3" in out


def test_a_bounded_part_search_claims_only_what_it_checked():
    ts = compile_model("models/apf_int.kv", {"NVCPU": 2, "NTOKEN": 2}, Sources()).system
    from kvmverify.engines.shared.limits import Limits
    r = run_parts(ts, independent_parts(ts), Limits(max_states=300))
    assert r.bound == "max-states"
    inv = next(x for x in r.results if x.prop.name == "no_vector_zero")
    assert inv.status == "unknown" and inv.coverage.describe() == "no violation up to depth 0, stopped by max-states"
    assert r.notes[-1].startswith("the search of part 1 of 2 was stopped by max-states: ")
