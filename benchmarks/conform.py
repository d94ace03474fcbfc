#!/usr/bin/env python3
"""The speed of `kvmverify conform` (issue 16's target: at least 50,000 events/s), run as a script, never as a test.

    python benchmarks/conform.py                  # a 100,000-event log of a random run of apf_int
    python benchmarks/conform.py --events 20000 --runs 5

The log is a random run of models/apf_int.kv printed as a host traces it (tests/conform_support.py: trace-cmd
report text, with the events the model does not observe), long enough for --events observed events. The whole
command runs as a user runs it, `kvmverify conform MODEL LOG -q` in a fresh interpreter (start-up, read, match,
search, witness, replay through the interpreter, report): its wall time and its CPU time (user + system, which
other jobs on the machine do not inflate); then each phase alone in this process. Medians of --runs runs.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))


def phases(model: str, trace: str) -> dict[str, float]:
    """Each phase alone, as `kvmverify conform` runs them (without the cyclic collector: run.py)."""
    import gc
    gc.disable()
    try:
        return _phases(model, trace)
    finally:
        gc.enable()


def _phases(model: str, trace: str) -> dict[str, float]:
    from kvmverify.conform.log import read_trace
    from kvmverify.conform.match import match_events
    from kvmverify.conform.run import _Replayer
    from kvmverify.conform.search import ConformSearch
    from kvmverify.conform.witness import witness
    from kvmverify.diagnostics import Sources
    from kvmverify.engines.shared.replay import path_problem
    from kvmverify.ir.observe import lower_observations
    from kvmverify.pipeline import compile_model
    out: dict[str, float] = {}
    t = time.perf_counter()
    c = compile_model(model, {}, Sources())
    obs = lower_observations(c.model, c.system)
    out["compile"] = time.perf_counter() - t
    t = time.perf_counter()
    log = read_trace(trace, Sources(), "auto", {o.event for o in obs})
    out["read"] = time.perf_counter() - t
    t = time.perf_counter()
    m = match_events(c.system, obs, log.events, log.others)
    out["match"] = time.perf_counter() - t
    t = time.perf_counter()
    s = ConformSearch(c.system, obs)
    o = s.run(m)
    out["search"] = time.perf_counter() - t
    assert o.status == "conforms", o.status
    t = time.perf_counter()
    steps = witness(s, o)
    out["witness"] = time.perf_counter() - t
    t = time.perf_counter()
    assert path_problem(_Replayer(c.system), [x[1] for x in steps], [x[0] for x in steps[1:]]) is None
    out["replay"] = time.perf_counter() - t
    out["events"] = len(m.events)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000, help="observed events in the log (default 100000)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    from conform_support import compile_apf, random_run, render
    model = os.path.join(ROOT, "models", "apf_int.kv")
    compiled = compile_apf()
    t = time.perf_counter()
    gen = random_run(args.seed, int(args.events * 3), compiled=compiled)
    observed = [i for i, ln in enumerate(gen.lines) if ln.action]
    lines = gen.lines[:observed[args.events - 1] + 1] if len(observed) >= args.events else gen.lines
    with tempfile.TemporaryDirectory() as tmp:
        trace = os.path.join(tmp, "apf_int-random.txt")
        with open(trace, "w") as f:
            f.write(render(lines, "trace-cmd"))
        print(f"log: {len(lines)} events ({min(len(observed), args.events)} observed), "
              f"{os.path.getsize(trace) / 1e6:.1f} MB, generated in {time.perf_counter() - t:.1f} s")
        whole, cpu, parts = [], [], []
        env = dict(os.environ, PYTHONPATH=ROOT)
        for _ in range(args.runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "kvmverify", "conform", model, trace, "-q"], env=env,
                               capture_output=True, text=True)
            whole.append(time.perf_counter() - t)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            assert r.returncode == 0, r.stderr
            parts.append(phases(model, trace))
    n = parts[0]["events"]
    med, cmed = statistics.median(whole), statistics.median(cpu)
    print(f"kvmverify conform (whole command, fresh interpreter): {med:.2f} s wall, {n / med:,.0f} events/s; "
          f"{cmed:.2f} s CPU, {n / cmed:,.0f} events/s (median of {args.runs}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for phase in ("read", "match", "search", "witness", "replay"):
        s = statistics.median(p[phase] for p in parts)
        print(f"  {phase:<8} {s:6.2f} s  {n / s:>12,.0f} events/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
