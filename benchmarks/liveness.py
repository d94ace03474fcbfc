#!/usr/bin/env python3
"""The cost of the liveness check (fair-lasso search) against the safety check, run as a script, never as a test.

    python benchmarks/liveness.py                # apf_int at (2,2); add --params 1,2 2,1 for more
    python benchmarks/liveness.py --params 2,2 --no-symmetry

For each configuration two fresh interpreters run the explicit engine on apf_int: once with the model's liveness
property removed (safety only: invariants, covers, step properties) and once as `kvmverify check` runs it (safety
plus `ready_follows_not_present`). Prints wall time and peak RSS of each, and the liveness search's own share:
its concrete re-exploration with edges (liveness ignores symmetry reduction) and the SCC/lasso search.
"""
from __future__ import annotations

import argparse
import dataclasses
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
    from kvmverify.engines import liveness as live
    from kvmverify.engines.explicit import Explorer
    from kvmverify.pipeline import compile_model

    ts = compile_model(MODEL, {"NVCPU": nvcpu, "NTOKEN": ntoken}, Sources()).system
    if not liveness:  # liveness properties come last, so the others keep their ids
        ts = dataclasses.replace(ts, liveness=(), properties=tuple(p for p in ts.properties if p.kind != "liveness"))
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


def child(nvcpu: int, ntoken: int, liveness: bool, symmetry: bool) -> dict:
    code = (f"import json, sys; sys.path.insert(0, {ROOT!r}); sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
            f"from liveness import one\nprint(json.dumps(one({nvcpu}, {ntoken}, {liveness}, {symmetry})))")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    if p.returncode != 0:
        raise SystemExit(p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", nargs="+", default=["2,2"], help="NVCPU,NTOKEN pairs (default 2,2)")
    ap.add_argument("--no-symmetry", action="store_true", help="safety without symmetry reduction as well")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
