#!/usr/bin/env python3
"""The cost of the liveness check (fair-lasso search) against the safety check, run as a script, never as a test.

    python benchmarks/liveness.py                # apf_int at (2,2); add --params 1,2 2,1 for more
    python benchmarks/liveness.py --params 2,2 --no-symmetry
    python benchmarks/liveness.py --bmc 6 8 10       # also BMC's fair-lasso search at these depths

For each configuration two fresh interpreters run the explicit engine on apf_int: once with the model's liveness
property removed (safety only: invariants, covers, step properties) and once as `kvmverify check` runs it (safety
plus `ready_follows_not_present`). Prints wall time and peak RSS of each, and the liveness search's own share:
its concrete re-exploration with edges (liveness ignores symmetry reduction) and the SCC/lasso search.

With --bmc, BMC runs to each depth on apf_int (2,2) and on the guest_never_acks variant (a lasso exists), once
for safety only and once with the lasso search at every depth; the difference is the lasso search's cost.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "models", "apf_int.kv")


def one(nvcpu: int, ntoken: int, liveness: bool, symmetry: bool) -> dict:
    """Runs in the child: compile and explore one configuration, report the figures as JSON."""
    import resource

    from kvmverify.diagnostics import Sources
    from kvmverify.engines.explicit import liveness as live
    from kvmverify.engines.explicit import Explorer
    from kvmverify.pipeline import compile_model
    from kvmverify.ir.select import safety_only

    ts = compile_model(MODEL, {"NVCPU": nvcpu, "NTOKEN": ntoken}, Sources()).system
    if not liveness:  # liveness properties come last, so the others keep their ids
        ts = safety_only(ts)
    phases: dict[str, float] = {}
    explore_graph = live.explore_graph

    def timed_explore_graph(*args):
        started = time.monotonic()
        out = explore_graph(*args)
        phases["liveness_graph_s"] = time.monotonic() - started
        return out

    live.explore_graph = timed_explore_graph
    started = time.monotonic()
    result = Explorer(ts, symmetry=symmetry).run()
    elapsed = time.monotonic() - started
    verdicts = {r.prop.name: r.status for r in result.results if r.prop.kind == "liveness"}
    return {"states": result.stats.states, "seconds": elapsed, "verdicts": verdicts, **phases,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def one_bmc(model: str, depth: int, liveness: bool) -> dict:
    """Runs in the child: BMC to `depth`, with or without the liveness property (and so its lasso search)."""
    import resource

    from kvmverify.diagnostics import Sources
    from kvmverify.engines.symbolic.bmc import run_bmc
    from kvmverify.pipeline import compile_model
    from kvmverify.ir.select import safety_only

    ts = compile_model(os.path.join(ROOT, model), {}, Sources()).system
    if not liveness:
        ts = safety_only(ts)
    started = time.monotonic()
    result = run_bmc(ts, depth)
    elapsed = time.monotonic() - started
    verdicts = {r.prop.name: f"{r.status} ({r.coverage.describe()})" for r in result.results
                if r.prop.kind == "liveness"}
    return {"seconds": elapsed, "verdicts": verdicts,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def child(*args, fn: str = "one") -> dict:
    code = (f"import json, sys; sys.path.insert(0, {ROOT!r}); sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
            f"from liveness import {fn}\nprint(json.dumps({fn}{args!r}))")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    if p.returncode != 0:
        raise SystemExit(p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 allow_abbrev=False)
    ap.add_argument("--params", nargs="+", default=["2,2"], help="NVCPU,NTOKEN pairs (default 2,2)")
    ap.add_argument("--no-symmetry", action="store_true", help="safety without symmetry reduction as well")
    ap.add_argument("--bmc", nargs="*", type=int, default=[], metavar="DEPTH",
                    help="also time BMC's lasso search to these depths")
    args = ap.parse_args()
    print(f"{'NVCPU,NTOKEN':<13} {'check':<18} {'states':>8} {'time s':>8} {'peak RSS MB':>12}  liveness")
    for pair in args.params:
        nvcpu, ntoken = (int(x) for x in pair.split(","))
        for liveness in (False, True):
            r = child(nvcpu, ntoken, liveness, not args.no_symmetry)
            what = "safety+liveness" if liveness else "safety only"
            extra = ""
            if liveness:
                search = r["seconds"] - base["seconds"] - r.get("liveness_graph_s", 0.0)
                extra = (f"{r['verdicts']}; concrete graph {r.get('liveness_graph_s', 0.0):.1f} s, "
                         f"SCC/lasso search ~{max(search, 0.0):.1f} s")
            else:
                base = r
            print(f"{pair:<13} {what:<18} {r['states']:>8} {r['seconds']:>8.1f} {r['peak_rss_mb']:>12.0f}  {extra}")
    if args.bmc:
        print(f"\n{'model (BMC)':<38} {'depth':>5} {'safety s':>9} {'+lassos s':>10} {'peak RSS MB':>12}  liveness")
        for model in ("models/apf_int.kv", "models/apf_int_bugs/guest_never_acks.kv"):
            for depth in args.bmc:
                safety = child(model, depth, False, fn="one_bmc")
                live = child(model, depth, True, fn="one_bmc")
                print(f"{model:<38} {depth:>5} {safety['seconds']:>9.1f} {live['seconds']:>10.1f} "
                      f"{live['peak_rss_mb']:>12.0f}  {live['verdicts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
