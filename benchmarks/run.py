#!/usr/bin/env python3
"""The speed and memory benchmark of the explicit engine (issue 2's targets), run as a script, never as a test.

    python benchmarks/run.py                 # apf_int at (1,2), (2,2), (2,3): with and without symmetry, and by
                                             # independent parts (also (3,3) and (4,3))
    python benchmarks/run.py --timeout 120   # the per-run time budget (a run that hits it says so)

Safety only (invariants, covers, step properties); the liveness search is measured by benchmarks/liveness.py.
Each configuration runs in a fresh interpreter so that peak RSS is its own. Prints states, transitions, depth,
wall time, states/s, peak RSS and whether the search was exhaustive; then the start-up time of `kvmverify check`
on a small model and whether that start-up imported z3. Mode `sym` stores one state per symmetry orbit, `all`
every state, `parts` explores apf_int's independent parts (its vCPUs) one at a time: its states are the whole
model's (the product), "explored" the states actually visited, and states/s counts the whole model's states.
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
CONFIGS = [(1, 2, "sym"), (2, 2, "sym"), (2, 2, "all"), (2, 2, "parts"), (2, 3, "sym"), (2, 3, "all"),
           (2, 3, "parts"), (3, 3, "parts"), (4, 3, "parts")]


def one(nvcpu: int, ntoken: int, mode: str, timeout: float, max_memory: int) -> dict:
    """Runs in the child: compile and explore one configuration, report the figures as JSON."""
    import resource

    from kvmverify.diagnostics import Sources
    from kvmverify.engines.explicit import Explorer
    from kvmverify.engines.shared.limits import Limits
    from kvmverify.engines.explicit.parts import independent_parts, run_parts
    from kvmverify.pipeline import compile_model
    from kvmverify.ir.select import safety_only

    ts = compile_model(MODEL, {"NVCPU": nvcpu, "NTOKEN": ntoken}, Sources()).system
    # the safety search only: the fair-lasso search has its own benchmark (benchmarks/liveness.py)
    ts = safety_only(ts)
    started = time.monotonic()
    limits = Limits(timeout=timeout, max_memory_mb=max_memory)
    if mode == "parts":
        parts = independent_parts(ts)
        assert parts is not None, "apf_int's vCPUs are independent parts"
        result = run_parts(ts, parts, limits)
        explored = sum(next(r.coverage.parts for r in result.results if r.coverage.parts))
    else:
        result = Explorer(ts, symmetry=mode == "sym").run(limits)
        explored = result.stats.states
    elapsed = time.monotonic() - started
    s = result.stats
    return {"states": s.states, "explored": explored, "transitions": s.transitions, "depth": s.depth,
            "seconds": elapsed,
            "states_per_s": s.states / elapsed if elapsed else 0.0, "bound": result.bound,
            "reduction": result.reduction,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def startup() -> tuple[float, bool]:
    """Wall time of `kvmverify check` on the smallest apf_int, and whether z3 was imported on the way."""
    code = ("import sys, runpy; sys.argv = ['kvmverify', 'check', '-q', sys.argv[1], '--param', 'NVCPU=1', "
            "'--param', 'NTOKEN=1']\ntry:\n    runpy.run_module('kvmverify', run_name='__main__')\nexcept SystemExit:\n"
            "    pass\nprint('z3' in sys.modules, file=sys.stderr)")
    best, z3 = float("inf"), False
    for _ in range(3):
        started = time.monotonic()
        p = subprocess.run([sys.executable, "-c", code, MODEL], capture_output=True, text=True, cwd=ROOT)
        best = min(best, time.monotonic() - started)
        z3 = z3 or p.stderr.strip().endswith("True")
    return best, z3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 allow_abbrev=False)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per configuration (default 120)")
    ap.add_argument("--max-memory", type=int, default=6000, help="MB per configuration (default 6000)")
    ap.add_argument("--one", nargs=3, metavar=("NVCPU", "NTOKEN", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        nv, nt, mode = args.one
        print(json.dumps(one(int(nv), int(nt), mode, args.timeout, args.max_memory)))
        return 0
    print(f"apf_int explicit engine, python {sys.version.split()[0]}, one core, "
          f"budget {args.timeout:.0f} s / {args.max_memory} MB per run")
    header = f"{'NVCPU,NTOKEN':>12}  {'mode':>5}  {'states':>15}  {'explored':>10}  {'transitions':>17}  " \
             f"{'depth':>5}  {'time s':>7}  {'states/s':>15}  {'peak RSS MB':>11}  search"
    print(header)
    for nv, nt, mode in CONFIGS:
        p = subprocess.run([sys.executable, __file__, "--one", str(nv), str(nt), mode,
                            "--timeout", str(args.timeout), "--max-memory", str(args.max_memory)],
                           capture_output=True, text=True, cwd=ROOT)
        if p.returncode != 0:
            print(f"{f'{nv},{nt}':>12}  failed: {p.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(p.stdout)
        search = "exhaustive" if r["bound"] is None else f"stopped by {r['bound']}"
        print(f"{f'{nv},{nt}':>12}  {mode:>5}  {r['states']:>15,}  {r['explored']:>10,}  {r['transitions']:>17,}  "
              f"{r['depth']:>5}  {r['seconds']:>7.2f}  {r['states_per_s']:>15,.0f}  {r['peak_rss_mb']:>11,.0f}  "
              f"{search}")
        sys.stdout.flush()
    seconds, z3 = startup()
    print(f"start-up: `kvmverify check` on apf_int (1,1) takes {seconds:.2f} s end to end; z3 imported: {z3}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
