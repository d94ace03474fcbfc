"""Property test: on random small models, explicit exhaustive search, BMC to the diameter, k-induction and PDR
never contradict each other. BMC and PDR must match the explicit verdicts exactly (PDR decides these tiny
models); k-induction may stay undecided but must never prove what the explicit search refutes, and every trace
any z3 engine shows has the explicit shortest length.

KVMVERIFY_PROPERTY_EXAMPLES=500 runs a longer campaign (nightly-style); the default stays quick."""
import os

from hypothesis import HealthCheck, given, settings

from kvmverify.diagnostics import DiagnosticError
from kvmverify.engines import Options, run_engine
from kvmverify.engines.explicit import Limits
from test_engine_props import models, system_of

EXAMPLES = int(os.environ.get("KVMVERIFY_PROPERTY_EXAMPLES", "25"))


def verdicts(result) -> dict[str, tuple[str, int | None]]:
    return {r.prop.name: (r.status, r.trace.length if r.trace is not None else None) for r in result.results}


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models())
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
