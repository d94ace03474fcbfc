"""The z3 engines (BMC, k-induction, PDR) against the explicit engine: the same verdicts and the same shortest
trace lengths on the corpus, on apf_int and its bug variants; exact depths and k; replay and certification of
everything z3 claims; z3 stays out of explicit runs."""
import os
import subprocess
import sys

import pytest
import z3

from conftest import ROOT, check_golden, run_cli
from kvmverify.diagnostics import Sources
from kvmverify.engines import Options, run_engine
from kvmverify.engines.symbolic import encode as E
from kvmverify.engines.explicit import Explorer
from kvmverify.engines.symbolic.pdr import UncheckedInvariant, certify, chc, obligations
from kvmverify.engines.shared.replay import Disagreement, replay
from kvmverify.pipeline import compile_model

BUGS = "models/apf_int_bugs"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def system(path: str, **params: int):
    return compile_model(path, params, Sources()).system


def verdicts(result) -> dict[str, tuple[str, int | None]]:
    """name -> (status, length of the trace, if any), for the properties every engine decides (not liveness:
    see test_liveness_is_left_to_the_explicit_engine)."""
    return {r.prop.name: (r.status, r.trace.length if r.trace is not None else None) for r in result.results
            if r.prop.kind not in ("liveness", "layout")}  # layout: decided by the lint, whatever the engine


def run(ts, engine: str, depth: int = 20, max_k: int = 10):
    return run_engine(ts, engine, Options(depth=depth, max_k=max_k))


# ------------------------------------------------------------------------------------------ the corpus

CORPUS = {
    "counter.kv": {"bounded": ("holds", None), "top": ("reached", 5), "beyond": ("vacuous", None),
                   "type_ok": ("holds", None), "deadlock": ("holds", None), "enabled:p.inc": ("reached", 0),
                   "enabled:p.reset": ("reached", 5)},
    "ladder.kv": {"never_three": ("holds", None), "two": ("reached", 2), "deadlock": ("holds", None),
                  "enabled:p.step": ("reached", 0)},
    "overflow.kv": {"sum_small": ("violated", 4), "both": ("reached", 4), "type_ok": ("holds", None),
                    "small_b": ("violated", 5), "deadlock": ("violated", 6), "enabled:p.inc_a": ("reached", 0),
                    "enabled:p.inc_b": ("reached", 0)},
}


@pytest.mark.parametrize("name", sorted(CORPUS))
@pytest.mark.parametrize("engine", ["explicit", "bmc", "induction", "pdr"])
def test_corpus_verdicts_agree_across_engines(name, engine):
    ts = system(f"tests/corpus/{name}")
    got = verdicts(run(ts, engine, depth=8, max_k=8))
    want = dict(CORPUS[name])
    if engine == "bmc":  # a bounded search cannot show a cover unreachable
        want = {k: ("unknown", None) if v[0] == "vacuous" else v for k, v in want.items()}
    assert got == want


# liveness: the explicit engine decides it; BMC finds the fair lassos (transitions, the loop's closing one included)
# and leaves the rest undecided; induction and PDR leave it to the others
LIVE_CORPUS = {
    "handshake.kv": {"exclusive": "holds", "served0": "holds", "served1": ("violated", 4), "deadlock": "holds",
                     "enabled:client.ask": "reached", "enabled:client.consume": "reached",
                     "enabled:server.answer0": "reached", "enabled:server.answer1": "reached"},
    "halting.kv": {"type_ok": "holds", "returns": ("violated", 2), "reaches_top": "holds", "deadlock": "holds",
                   "enabled:a.step": "reached"},
}


@pytest.mark.parametrize("name", sorted(LIVE_CORPUS))
@pytest.mark.parametrize("engine", ["explicit", "bmc", "induction", "pdr"])
def test_liveness_corpus_verdicts_per_engine(name, engine):
    ts = system(f"tests/corpus/{name}")
    got = {r.prop.name: (r.status, r.coverage.depth if r.coverage.kind == "lasso" else None)
           for r in run(ts, engine, depth=8, max_k=4).results}
    want = {}
    for prop, verdict in LIVE_CORPUS[name].items():
        status, lasso = verdict if isinstance(verdict, tuple) else (verdict, None)
        live = next(p for p in ts.properties if p.name == prop).kind == "liveness"
        if not live or engine == "explicit":
            want[prop] = (status, None)
        elif engine == "bmc" and status == "violated":
            want[prop] = ("violated", lasso)
        else:
            want[prop] = ("unknown", None)
    assert got == want


def test_exact_depths_and_k():
    cov = lambda ts, engine, prop, **kw: next(  # noqa: E731
        r.coverage.describe() for r in run(ts, engine, **kw).results if r.prop.name == prop)
    counter, ladder = system("tests/corpus/counter.kv"), system("tests/corpus/ladder.kv")
    assert cov(counter, "bmc", "bounded", depth=7) == "no violation up to depth 7"
    assert cov(counter, "induction", "bounded") == "proved (k-induction, k=1)"
    assert cov(counter, "induction", "beyond") == "proved (k-induction, k=1)"
    # 4 -> 5 -> 3 is an unreachable path of two good states into the bad one; nothing leads to 4
    assert cov(ladder, "induction", "never_three") == "proved (k-induction, k=3)"
    result = run(ladder, "induction", max_k=2)
    assert result.cti is not None and result.cti[1] == ("never_three",)
    assert [s.state for s in result.cti[0].steps] == [(4,), (5,), (3,)]
    assert cov(ladder, "induction", "never_three", max_k=2) == "counterexample to induction at k=2, stopped by max-k"
    assert cov(ladder, "pdr", "never_three") == "proved (PDR, invariant: x <= 2)"
    assert cov(counter, "pdr", "bounded") == "proved (PDR, invariant: x <= 5)"


def test_pdr_invariant_golden():
    code, out, _ = run_cli("check", "tests/corpus/counter.kv", "tests/corpus/ladder.kv", "--engine", "pdr", "-q")
    assert code == 0
    check_golden("pdr_corpus.txt", out)


# ------------------------------------------------------------------------------------------ apf_int

APF_SMALL = {"NVCPU": 1, "NTOKEN": 1}


def test_apf_int_small_bmc_to_the_diameter_agrees_with_explicit():
    ts = system("models/apf_int.kv", **APF_SMALL)
    explicit = run(ts, "explicit")
    assert explicit.stats.depth == 12  # the diameter: every reachable state is within 12 steps
    bmc = run(ts, "bmc", depth=13)
    assert verdicts(bmc) == verdicts(explicit)
    holds = [r.coverage.describe() for r in bmc.results if r.status == "holds"]
    assert holds and set(holds) == {"no violation up to depth 13"}


def test_apf_int_small_pdr_proves_every_safety_property():
    ts = system("models/apf_int.kv", **APF_SMALL)
    pdr, explicit = run(ts, "pdr"), run(ts, "explicit")
    assert verdicts(pdr) == verdicts(explicit)
    safety = [r for r in pdr.results if r.prop.kind not in ("cover", "liveness", "layout", "enabled", "premise")]
    assert len(safety) == 10 and all(r.coverage.kind == "pdr" and r.coverage.invariant for r in safety)
    assert next(r for r in safety if r.prop.name == "deadlock").status == "holds"


def test_apf_int_small_induction_reports_a_real_cti():
    """apf_int's invariants are not k-inductive on their own: k-induction must say so, never claim a proof, and
    its CTI must be made of real transitions (checked by the explicit interpreter), ending in a bad state."""
    ts = system("models/apf_int.kv", **APF_SMALL)
    result = run(ts, "induction", max_k=3)
    assert result.cti is not None
    trace, broken = result.cti
    assert trace.length == 3 and broken
    ex = Explorer(ts)
    for before, after in zip(trace.steps, trace.steps[1:]):
        assert after.state in ex.step(before.state, after.action)
    last = trace.steps[-1].state
    mask = ex.c.props(last)
    failing = {p.name for p in ts.properties if p.kind == "invariant" and mask >> p.id & 1}
    # step properties: a transition leaving the last state fails one of their checks
    failing |= {ts.properties[ex.c.checks[c].prop].name for _, c, _, _ in ex.successors(last)[1]}
    assert set(broken) <= failing
    assert not any(r.status == "holds" for r in result.results if r.prop.name in broken)


BUG_LENGTHS = {
    "enable_before_vector.kv": {"no_vector_zero": 2},
    "host_ignores_token_slot.kv": {"waiter_has_completion": 10, "slot:area.token": 6},
    "inject_with_if_off.kv": {"slot:area.flags": 4, "np_only_if_interrupts_on": 4},
    "sti_before_flags_clear.kv": {"waiter_has_completion": 10, "slot:area.flags": 5},
}


@pytest.mark.parametrize("name", sorted(BUG_LENGTHS))
def test_bug_variants_bmc_finds_the_explicit_shortest_traces(name):
    ts = system(f"{BUGS}/{name}")
    explicit = verdicts(run(ts, "explicit"))
    depth = max(BUG_LENGTHS[name].values())
    bmc = verdicts(run(ts, "bmc", depth=depth))
    violated = {k: n for k, (s, n) in bmc.items() if s == "violated"}
    assert violated == BUG_LENGTHS[name]
    assert violated == {k: n for k, (s, n) in explicit.items() if s == "violated"}
    # the covers too, where they are reached within the depth
    assert {k: v for k, v in bmc.items() if v[0] == "reached"} == \
        {k: v for k, v in explicit.items() if v[0] == "reached" and v[1] <= depth}


def test_bug_variant_pdr_agrees_with_explicit():
    ts = system(f"{BUGS}/enable_before_vector.kv")
    assert verdicts(run(ts, "pdr")) == verdicts(run(ts, "explicit"))


def test_z3_trace_golden():
    code, out, _ = run_cli("check", f"{BUGS}/enable_before_vector.kv", "--engine", "bmc", "--depth", "3", "-q")
    assert code == 4  # covers deeper than 3 stay undecided
    check_golden("trace_bmc_enable_before_vector.txt", out)


@pytest.mark.parametrize("engine", ["bmc", "induction", "pdr"])
def test_liveness_is_left_to_the_explicit_engine(engine):
    """apf_int's leads-to properties hold (explicit engine, fair lassos); no z3 engine proves liveness and each
    says so, never 'holds' (BMC searches for lassos: tests/test_lasso_bmc.py)."""
    ts = system("models/apf_int.kv", **APF_SMALL)
    live = [r for r in run(ts, engine, depth=3, max_k=2).results if r.prop.kind == "liveness"]
    assert live and all(r.status == "unknown" for r in live)
    if engine == "bmc":
        assert live[0].coverage.describe() == ("no fair lasso up to depth 3 (BMC); only --engine explicit proves "
                                               "liveness")
    else:
        assert live[0].coverage.describe() == ("liveness: decided by --engine explicit (--engine bmc searches for "
                                               "lassos)")
    explicit = [r for r in run(ts, "explicit").results if r.prop.kind == "liveness"]
    assert [r.status for r in explicit] == ["holds"] * len(live)


# ------------------------------------------------------------------------------------------ soundness checks


def test_a_trace_that_does_not_replay_is_an_internal_error(monkeypatch):
    """A z3 trace the explicit interpreter rejects is never shown: exit 3 with both traces on stderr."""
    original = E.Unrolling.trace

    def corrupted(self, model, n):
        states, acts = original(self, model, n)
        if n >= 1:
            acts = [1 - acts[0], *acts[1:]]  # reset instead of inc (or back): the first step cannot happen
        return states, acts

    monkeypatch.setattr(E.Unrolling, "trace", corrupted)
    code, out, err = run_cli("check", "tests/corpus/counter.kv", "--engine", "bmc", "--depth", "6")
    assert code == 3
    assert out == ""
    assert "internal error: bmc: the trace for top does not replay: step 1" in err
    assert "the z3 trace:" in err and "what the explicit interpreter replayed of it:" in err


def test_replay_rejects_a_trace_from_a_non_initial_state():
    ts = system("tests/corpus/overflow.kv")
    sum_small = next(p for p in ts.properties if p.name == "sum_small")
    with pytest.raises(Disagreement, match="first state is not an initial state"):
        replay(Explorer(ts), "bmc", sum_small, [(1, 3)], [0])
    with pytest.raises(Disagreement, match="last state does not violate sum_small"):
        replay(Explorer(ts), "bmc", sum_small, [(0, 0), (1, 0)], [0, 0])


def test_pdr_certificates_are_checked():
    ts = system("tests/corpus/counter.kv")
    enc = E.Encoding(ts)
    bounded = next(p for p in ts.properties if p.name == "bounded")
    obs = obligations(ts, bounded)
    h = chc(enc, obs, E.cone(ts, {0}))
    x = z3.Var(0, z3.BitVecSort(3))
    assert certify(h, z3.ULE(x, 5), None)  # the real invariant passes
    with pytest.raises(UncheckedInvariant, match="initiation"):
        certify(h, z3.BoolVal(False), None)
    with pytest.raises(UncheckedInvariant, match="safety"):
        certify(h, z3.BoolVal(True), None)
    with pytest.raises(UncheckedInvariant, match="consecution"):
        certify(h, z3.ULE(x, 1), None)


# ------------------------------------------------------------------------------------------ CLI and start-up


def test_explicit_check_does_not_import_z3():
    code = ("import io, sys\nfrom kvmverify.cli import main\n"
            "rc = main(['check', 'models/apf_int.kv', '--param', 'NVCPU=1', '--param', 'NTOKEN=1', '-q'], "
            "io.StringIO(), io.StringIO())\nprint(rc, 'z3' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False"]


def test_unknown_engine_is_a_usage_error():
    code, _, err = run_cli("check", "tests/corpus/counter.kv", "--engine", "magic")
    assert code == 2 and "invalid choice: 'magic'" in err


def test_pdr_output_is_deterministic_across_hash_seeds():
    outs = []
    for seed in ("0", "4242"):
        p = subprocess.run([sys.executable, "-m", "kvmverify", "check", "models/apf_int.kv", "--param", "NVCPU=1",
                            "--param", "NTOKEN=1", "--engine", "pdr", "-q"], cwd=ROOT,
                           env={**ENV, "PYTHONHASHSEED": seed}, capture_output=True, text=True)
        assert p.returncode == 4, p.stderr  # the liveness properties stay undecided
        outs.append(p.stdout)
    assert outs[0] == outs[1]
    assert "invariant 1, inductive, found by PDR (it implies no_vector_zero):" in outs[0]


def test_an_uncertified_pdr_answer_is_asked_again_with_other_seeds(monkeypatch):
    """Spacer's invariant failing certification is never reported; the query is asked again with other seeds
    (a proof then counts only if it certifies), then with the same seeds in each fallback configuration, and after
    all of them the property stays undecided."""
    from kvmverify.engines.symbolic import pdr as P
    seeds = []

    def once(enc, obs, timeout, seed, fallback=0):
        seeds.append(seed)
        return ("proved", "x <= 5") if seed == 1 else ("uncertified", "fails its consecution check")

    monkeypatch.setattr(P, "_prove_once", once)
    assert P.pdr_prove(None, [], 10) == ("proved", "x <= 5") and seeds == [0, 1]
    seeds.clear()
    def never(enc, obs, timeout, seed, fallback=0):
        seeds.append((fallback, seed))
        return "uncertified", "no"

    monkeypatch.setattr(P, "_prove_once", never)
    assert P.pdr_prove(None, [], 10) == ("uncertified", "no")
    assert seeds == [(f, s) for f in range(len(P.FALLBACKS)) for s in (0, 1, 2)]


def test_an_internal_spacer_failure_is_asked_again_in_the_fallback_configurations(monkeypatch):
    """z3 5.4.1's Spacer fails an assertion on some queries (tests/test_trust.py has one); the query is asked again
    without interpolating unsat cores, then bit-blasted; a failure in all of them leaves the property undecided."""
    from kvmverify.engines.symbolic import pdr as P
    tried = []

    def crash(enc, obs, timeout, seed, fallback=0):
        tried.append(fallback)
        return "failed", "unreachable"

    monkeypatch.setattr(P, "_prove_once", crash)
    status, why = P.pdr_prove(None, [], 10)
    assert status == "unknown" and "Spacer failed internally (unreachable)" in why
    assert tried == list(range(len(P.FALLBACKS)))


def test_an_interrupted_z3_context_is_replaced_before_the_next_run():
    """The watchdog interrupts z3 at the deadline; z3 5.4 then answered a later, unrelated query wrongly in the
    same context (sat, with a model that broke its own assertions). The next run gets a fresh context, and an
    answer that comes after the watchdog fired is no answer."""
    import time as _time
    from kvmverify.engines.symbolic.bmc import BMC, bmc_query, run_bmc
    from kvmverify.engines.symbolic.watchdog import Watchdog
    from kvmverify.pipeline import compile_model
    from kvmverify.diagnostics import Sources
    ts = compile_model("tests/regress/interrupted_bmc.kv", {}, Sources()).system
    with Watchdog(_time.monotonic() + 2.0, None) as dog:
        result = run_bmc(ts, 769, None)
    assert dog.fired and result.bound == "timeout"
    bmc = BMC(ts)
    assert bmc.check(bmc_query(bmc.enc, bmc.u, ts.prop("type_ok"), 0), 0) == z3.unsat
    from kvmverify.engines.shared.limits import Limits
    assert run_engine(ts, "pdr", Options(limits=Limits(timeout=60.0))).exit_code in (0, 1)  # replays, decides
