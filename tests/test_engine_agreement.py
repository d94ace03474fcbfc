"""Property test: on random small models, explicit exhaustive search, BMC to the diameter, k-induction and PDR
never contradict each other. BMC and PDR must match the explicit verdicts exactly (PDR decides these tiny
models); k-induction may stay undecided but must never prove what the explicit search refutes, and every trace
any z3 engine shows has the explicit shortest length.

KVMVERIFY_PROPERTY_EXAMPLES=500 runs a longer campaign (nightly-style); the default stays quick."""
import os

from hypothesis import HealthCheck, example, given, settings

from kvmverify.diagnostics import DiagnosticError
from kvmverify.engines import Options, run_engine
from kvmverify.engines.shared.limits import Limits
from test_engine_props import models, random_model, system_of

EXAMPLES = int(os.environ.get("KVMVERIFY_PROPERTY_EXAMPLES", "25"))


def verdicts(result) -> dict[str, tuple[str, int | None]]:
    return {r.prop.name: (r.status, r.trace.length if r.trace is not None else None) for r in result.results}


# found by longer campaigns. PDR_TRACE: PDR asked BMC for type_ok's shortest trace after the cover's search had
# unrolled deeper, and the path then had to go on past the violation (4 steps instead of 1; BMC now restarts).
# SPACER_LOOP: Spacer's incremental clause solver looped to the time limit on named_0 (now turned off).
PDR_TRACE = random_model(["  action act0() when x == x { x := (b ? 1 : 2) x := x }",
                          "  action act1() when !b { x := (x - 1) }"], "x == x")
SPACER_LOOP = random_model([
    "  action act0() when b { a[1] := card(s) b := (b && b) }",
    "  action act1() when (b || true) { e := Red if ((card(s) - a[0]) <= ((a[0] - 1) % 3) || e == Green) {"
    " b := (b && (y != (a[1] % 3) || e == Green)) assert named_0: x != 3"
    " choose c: 0..2 where card(s) >= (b ? 1 : 2) { b := ((b || card(s) != (card(s) % 3)) || !b) } }"
    " else { choose c: 0..2 where (e == Green -> (b ? 1 : 2) <= ((b ? 1 : 2) % 3)) {"
    " y := (3 - 2) x := (((a[0] + 1) + (0 * y)) + (b ? 1 : 2)) } } }",
    "  action act2() when ((b ? 1 : 2) < (1 + x) || 1 in s) { x := y }"], "1 < x")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models())
@example(PDR_TRACE)
@example(SPACER_LOOP)
def test_engines_never_contradict_each_other(text):
    try:
        ts = system_of(text)
    except DiagnosticError:
        return  # rejected models are test_engine_props' business
    explicit = run_engine(ts, "explicit")
    assert explicit.bound is None
    want = verdicts(explicit)
    # a step property fails on a transition leaving a state at depth <= diameter: one more step
    bmc = verdicts(run_engine(ts, "bmc", Options(depth=explicit.stats.depth + 1)))
    assert bmc == {k: ("unknown", None) if v[0] == "vacuous" else v for k, v in want.items()}, text
    pdr = verdicts(run_engine(ts, "pdr", Options(limits=Limits(timeout=30.0))))
    assert pdr == want, text
    kind = verdicts(run_engine(ts, "induction", Options(max_k=3)))
    for name, (status, length) in kind.items():
        if status != "unknown":
            assert (status, length) == want[name], (name, text)
