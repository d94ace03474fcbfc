"""Cross-check the z3 engines against the explicit engine on every shipped model (slow: minutes).

    PYTHONPATH=. python3 benchmarks/agreement.py [--timeout 120] [--max-depth 12] [MODEL ...]

For each model the explicit engine can exhaust: BMC to min(diameter + 1, --max-depth) and PDR; prints the time
and every difference. A difference that is not `unknown` (a time limit) is a bug. Liveness is left out (the z3
engines do not decide it). Not a test: it takes too long for the suite.
"""
from __future__ import annotations

import argparse
import glob
import sys
import time

from kvmverify.diagnostics import DiagnosticError, Sources
from kvmverify.engines import Options, run_engine
from kvmverify.engines.shared.limits import Limits
from kvmverify.pipeline import compile_model


def verdicts(result) -> dict[str, tuple[str, int | None]]:
    return {r.prop.name: (r.status, r.trace.length if r.trace else None) for r in result.results
            if r.prop.kind != "liveness"}


def bounded_view(want: dict, depth: int) -> dict:
    """What BMC to `depth` must say, given the explicit verdicts (a `check` is decided for every input: it has no
    trace length and does not depend on the depth)."""
    out = {}
    for name, (status, length) in want.items():
        if status == "vacuous" or (status == "reached" and length > depth):
            out[name] = ("unknown", None)
        elif status == "violated" and length is not None and length > depth:
            out[name] = ("holds", None)
        else:
            out[name] = (status, length)
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 allow_abbrev=False)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--max-depth", type=int, default=12)
    ap.add_argument("models", nargs="*", help="the models to check (default: every shipped model)")
    args = ap.parse_args(argv)
    contradictions = 0
    for path in args.models or sorted(glob.glob("models/**/*.kv", recursive=True)):
        try:
            ts = compile_model(path, {}, Sources()).system
        except DiagnosticError:
            print(f"{path}: does not compile")
            continue
        explicit = run_engine(ts, "explicit", Options(Limits(timeout=args.timeout)))
        if explicit.bound:
            print(f"{path}: explicit search stopped by {explicit.bound}; skipped")
            continue
        want = verdicts(explicit)
        depth = min(explicit.stats.depth + 1, args.max_depth)
        started = time.monotonic()
        bmc = verdicts(run_engine(ts, "bmc", Options(Limits(timeout=args.timeout), depth=depth)))
        t_bmc, started = time.monotonic() - started, time.monotonic()
        pdr = verdicts(run_engine(ts, "pdr", Options(Limits(timeout=args.timeout))))
        t_pdr = time.monotonic() - started
        expect_bmc = bounded_view(want, depth)
        diffs = [f"bmc {k}: {bmc[k]} vs {expect_bmc[k]}" for k in want if bmc[k] != expect_bmc[k]]
        diffs += [f"pdr {k}: {pdr[k]} vs {want[k]}" for k in want if pdr[k] != want[k]]
        contradictions += sum(1 for d in diffs if "'unknown'" not in d.split(" vs ")[0])
        print(f"{path}: bmc to {depth} {t_bmc:.1f} s, pdr {t_pdr:.1f} s; " + ("; ".join(diffs) or "agree"),
              flush=True)
    print(f"{contradictions} contradiction(s)")
    return 1 if contradictions else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
