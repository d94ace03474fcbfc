"""BMC for liveness: fair lassos (loop-back to an earlier state, or a deadlock) up to a depth, replayed through
the explicit interpreter, never a proof. Checked against the explicit engine's SCC search on random models."""
import os

import pytest
from hypothesis import HealthCheck, given, settings

from conftest import run_cli
from kvmverify.engines import Options, run_engine
from kvmverify.engines.symbolic import lasso as L
from kvmverify.engines.shared.replay import Disagreement
from test_liveness import assert_valid_lasso, live_models, starve, system_of
from test_z3_engines import system


def bmc(ts, depth: int):
    return run_engine(ts, "bmc", Options(depth=depth))


def live_result(result, name: str):
    return next(r for r in result.results if r.prop.name == name)


def completeness_depth(ts, states: int) -> int:
    """A depth at which every fair lasso of a graph with `states` states has a representative: a stem of at most
    2n transitions, and a loop that reaches and takes each fair instance (n + 1 each) and returns (n)."""
    fair = sum(1 for a in ts.actions if a.fair)
    return 2 * states + (fair + 1) * (states + 1)


def test_an_unfair_loop_is_found_and_replays():
    ts = system_of(starve(""))
    r = live_result(bmc(ts, 4), "done")
    assert r.status == "violated" and r.coverage.describe() == "fair lasso of 2 transition(s) (BMC, no shorter one)"
    assert (r.trace.loop, ts.actions[r.trace.loop_action].action) == (0, "toggle")
    assert_valid_lasso(ts, r.trace, "done")


def test_a_loop_that_only_starves_a_fair_action_is_no_counterexample():
    for fairness in ("fair", "strong fair"):
        r = live_result(bmc(system_of(starve(fairness)), 8), "done")
        assert r.status == "unknown" and r.trace is None
        assert r.coverage.describe() == "no fair lasso up to depth 8 (BMC); only --engine explicit proves liveness"


def test_weak_fairness_and_an_action_disabled_again_and_again():
    ts = system_of(starve("fair", " && y"))
    r = live_result(bmc(ts, 6), "done")
    assert r.status == "violated"
    assert_valid_lasso(ts, r.trace, "done")
    assert live_result(bmc(system_of(starve("strong fair", " && y")), 8), "done").status == "unknown"


def test_a_deadlock_is_a_lasso_without_a_loop_action():
    ts = system_of("model d\nvar x : 0 .. 2 = 0\nactor a { fair action go() when x < 2 { x := x + 1 } }\n"
                   "property back: x == 2 leads_to x == 0\n")
    r = live_result(bmc(ts, 5), "back")
    assert r.status == "violated" and r.trace.loop == 2 and r.trace.loop_action is None
    assert r.coverage.depth == 2
    assert_valid_lasso(ts, r.trace, "back")
    assert live_result(bmc(ts, 1), "back").status == "unknown"  # the deadlock is two steps away


def test_choose_values_are_part_of_enabledness(monkeypatch):
    """`fair action pick` is enabled only while some `choose` value passes its where-clause: the verdicts are the
    same whether the choice domain is expanded or quantified."""
    text = """model c
var x : 0 .. 3 = 0
var y : bool = false
actor a {
    fair action pick() { choose c: 0 .. 3 where c > x && c != 2 { x := c } }
    action spin() { y := !y }
}
property top: x == 0 leads_to x == 3
property stuck: always eventually x == 1
"""
    ts = system_of(text)
    want = {r.prop.name: r.status for r in run_engine(ts, "explicit").results if r.prop.kind == "liveness"}
    assert want == {"top": "holds", "stuck": "violated"}
    for expand in (L.EXPAND_CHOICES, 0):
        monkeypatch.setattr(L, "EXPAND_CHOICES", expand)
        got = {r.prop.name: r.status for r in bmc(ts, 10).results if r.prop.kind == "liveness"}
        assert got == {"top": "unknown", "stuck": "violated"}


@settings(max_examples=int(os.environ.get("KVMVERIFY_PROPERTY_EXAMPLES", "40")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(live_models())
def test_bmc_lassos_agree_with_the_explicit_search(text):
    ts = system_of(text)
    explicit = run_engine(ts, "explicit")
    want = live_result(explicit, "live")
    got = live_result(bmc(ts, completeness_depth(ts, explicit.stats.states)), "live")
    assert got.status == {"holds": "unknown", "violated": "violated"}[want.status], text
    if got.trace is not None:
        assert_valid_lasso(ts, got.trace, "live")
        # shortest: a lasso of fewer transitions than the explicit one's (a loop needs its closing transition)
        explicit_len = want.trace.length + (want.trace.loop_action is not None)
        assert got.coverage.depth <= explicit_len


def test_guest_that_never_acks_gives_a_bmc_lasso():
    ts = system("models/apf_int_bugs/guest_never_acks.kv", NVCPU=1, NTOKEN=1)
    r = live_result(bmc(ts, 10), "ready_follows_not_present")
    assert r.status == "violated" and r.as_expected
    assert_valid_lasso(ts, r.trace, "ready_follows_not_present")
    explicit = live_result(run_engine(ts, "explicit"), "ready_follows_not_present")
    assert r.coverage.depth <= explicit.trace.length + 1
    fixed = live_result(bmc(system("models/apf_int.kv", NVCPU=1, NTOKEN=1), 10), "ready_follows_not_present")
    assert fixed.status == "unknown"


def test_the_cli_says_bmc_never_proves_liveness():
    code, out, _ = run_cli("check", "models/apf_int.kv", "--engine", "bmc", "--depth", "4", "--param", "NVCPU=1",
                           "--param", "NTOKEN=1", "--no-color")
    assert code == 4
    assert "unknown   ready_follows_not_present    undecided; no fair lasso up to depth 4 (BMC)" in out
    assert "the explicit engine's exhaustive search is what proves a liveness property" in out


def test_a_lasso_that_does_not_replay_is_an_internal_error(monkeypatch):
    ts = system_of(starve(""))
    monkeypatch.setattr(L, "lasso_problem", lambda *a: "the loop is unfair to a.finish()")
    with pytest.raises(Disagreement, match="does not replay: the loop is unfair"):
        bmc(ts, 3)
