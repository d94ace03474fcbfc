"""Independent parts (engines/parts.py): a model whose parts share nothing is explored part by part, and the
verdicts, shortest trace lengths, state and transition counts and depth are the whole model's, exactly."""
import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings

from conftest import run_cli
from kvmverify.diagnostics import Sources
from kvmverify.engines import Options, run_engine
from kvmverify.engines.explicit import Explorer
from kvmverify.engines.parts import independent_parts, run_parts
from kvmverify.engines.replay import replay
from kvmverify.pipeline import compile_model
from test_engine_props import models, system_of


def verdicts(result) -> dict[str, tuple[str, int | None]]:
    return {r.prop.name: (r.status, r.trace.length if r.trace is not None else None) for r in result.results
            if r.prop.kind != "liveness"}


def whole(ts):
    return run_engine(ts, "explicit", Options(symmetry=False))


def test_apf_int_vcpus_are_independent_parts_and_their_product_is_the_whole_state_space():
    ts = compile_model("models/apf_int.kv", {"NVCPU": 2, "NTOKEN": 2}, Sources()).system
    parts = independent_parts(ts)
    assert parts is not None and len(parts) == 2
    split, full = run_parts(ts, parts), whole(ts)
    assert (split.stats.states, split.stats.transitions, split.stats.depth) == (786_769, 4_775_608, 30)
    assert (full.stats.states, full.stats.transitions, full.stats.depth) == (786_769, 4_775_608, 30)
    assert verdicts(split) == verdicts(full)
    holds = next(r for r in split.results if r.prop.name == "no_vector_zero")
    assert holds.coverage.describe() == "exhaustive, 786769 states (887 x 887: independent parts), depth 30"
    live = next(r for r in split.results if r.prop.kind == "liveness")
    assert live.status == "unknown"


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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
    assert code == 4  # liveness is left undecided by a split run
    assert "exhaustive, 697864103 states (887 x 887 x 887: independent parts), depth 45" in out
    assert "note: 3 independent parts (no action or property connects them), explored one at a time" in out
    code, _, err = run_cli("check", "models/apf_int.kv", "--engine", "pdr", "--parts")
    assert code == 2 and "--parts does not apply to --engine pdr" in err
