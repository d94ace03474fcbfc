#!/usr/bin/env python3
"""kvmverify's compiled engine against SPIN and rumur, on the same protocols with exactly the same reachable states
(benchmarks/ports/: each model written in kvmverify's language, Promela and Murphi, state for state), whole graph,
safety only. A script, never a test: the biggest rows take SPIN and rumur many minutes each.

    python benchmarks/peers.py                       # every row
    python benchmarks/peers.py --quick               # the rows up to 2 M states
    python benchmarks/peers.py --rows sq-3-6-6 --tools compiled-1,compiled-2
    python benchmarks/peers.py --markdown            # the table as docs/benchmarks.md shows it

Models: `sq` is benchmarks/ports/shared_queue.kv (vCPUs that share a token namespace and one host completion
queue: they interact, no independent parts) at (NVCPU, NTOKEN, QLEN); `apf` is models/apf_int.kv at (NVCPU,
NTOKEN) without its liveness property (the ports check safety). No symmetry reduction anywhere (SPIN has none;
a state count is only comparable without it). Tools:

    spin        SPIN 6.5 breadth-first: spin -a, gcc -O2 -DBFS -DSAFETY -DNOCLAIM -DNOREDUCE -DNOFAIR, pan
    rumur-2     rumur (Debian package), 2 threads: rumur, gcc -std=c11 -O2 -pthread -mcx16, the verifier
    compiled-N  kvmverify check --engine compiled --threads N (the checker's own run measured separately)
    python      kvmverify check --engine explicit (rows up to 2 M states)

Per run: states (each tool's own count, which must be the same), generate/compile time, run time (wall),
CPU seconds of the run, states/s per core (states / CPU seconds of the run), peak RSS of the run and bytes per
state (peak RSS / states), end-to-end time (for kvmverify: `kvmverify check` with an empty cache: Python start-up,
lowering, C generation, compiling, the search, replaying traces; for SPIN and rumur: generate + compile + run).
SPIN and rumur are installed with apt-get when missing (as root).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.ports.apf_int_murphi import murphi as apf_murphi  # noqa: E402
from benchmarks.ports.apf_int_pml import promela as apf_promela  # noqa: E402
from benchmarks.ports.shared_queue_murphi import murphi as sq_murphi  # noqa: E402
from benchmarks.ports.shared_queue_pml import promela as sq_promela  # noqa: E402


@dataclass(frozen=True)
class Row:
    key: str
    model: str  # sq | apf
    params: tuple[int, ...]
    states: int  # expected, every tool

    @property
    def label(self) -> str:
        name = "shared_queue" if self.model == "sq" else "apf_int"
        return f"{name} ({','.join(map(str, self.params))})"


ROWS = [
    Row("sq-3-4-3", "sq", (3, 4, 3), 202_432),
    Row("apf-2-2", "apf", (2, 2), 786_769),
    Row("sq-3-5-3", "sq", (3, 5, 3), 1_908_880),
    Row("sq-4-5-3", "sq", (4, 5, 3), 22_875_648),
    Row("apf-2-3", "apf", (2, 3), 32_752_729),
    Row("sq-3-6-6", "sq", (3, 6, 6), 48_976_624),
]
TOOLS = ("spin", "rumur-2", "compiled-1", "compiled-2", "python")
PYTHON_MAX = 2_000_000


@dataclass
class Run:
    row: Row
    tool: str
    states: int | None = None
    transitions: int | None = None
    generate: float = 0.0
    compile: float = 0.0
    run: float = 0.0
    cpu: float = 0.0
    rss_mb: float = 0.0
    end_to_end: float = 0.0
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def per_core(self) -> float:
        return self.states / self.cpu if self.states and self.cpu else 0.0

    @property
    def bytes_per_state(self) -> float:
        return self.rss_mb * (1 << 20) / self.states if self.states else 0.0


BUDGET = [1800.0]  # seconds a run may take (--budget); a run that passes it is stopped and says so
REPEAT = [1]  # runs of each compiled checker, the fastest kept (--repeat)


class OverBudget(Exception):
    pass


TIME = shutil.which("time") if os.path.exists("/usr/bin/time") else None


def measured(cmd: list[str], cwd: str, env=None) -> tuple[str, float, float, float, int]:
    """Run cmd: (output, wall s, CPU s, peak RSS MB, exit code). CPU from wait4's rusage (children included);
    the peak RSS from GNU time where it is installed: a child forked from this Python process counts the
    parent's tens of megabytes in its own peak until it execs, which would swamp a small run's figure."""
    if TIME is not None:
        cmd = ["/usr/bin/time", "-f", "KVPEAK %M", *cmd]
    started = time.monotonic()
    with tempfile.TemporaryFile() as sink:
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > BUDGET[0]:
                os.killpg(p.pid, 9)
                os.wait4(p.pid, 0)
                p.returncode = -9
                raise OverBudget(f"stopped after {BUDGET[0]:.0f} s")
            time.sleep(0.05)
        p.returncode = os.waitstatus_to_exitcode(status)
        sink.seek(0)
        out = sink.read().decode(errors="replace")
    wall = time.monotonic() - started
    peak = usage.ru_maxrss / 1024.0
    found = re.findall(r"^KVPEAK (\d+)$", out, re.M)
    if found:
        peak = int(found[-1]) / 1024.0
        out = re.sub(r"^KVPEAK \d+\n?", "", out, flags=re.M)
    return out, wall, usage.ru_utime + usage.ru_stime, peak, p.returncode


def need(program: str, package: str) -> None:
    if shutil.which(program):
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "-qq", "update"], env=env, check=False)
        subprocess.run(["apt-get", "-qq", "install", "-y", package], env=env, check=False)
    if not shutil.which(program):
        raise SystemExit(f"{program} is not installed (apt-get install {package})")


# ---------------------------------------------------------------------------------------------------- SPIN
def run_spin(row: Row, work: str) -> Run:
    r = Run(row, "spin")
    text = sq_promela(*row.params) if row.model == "sq" else apf_promela(*row.params)
    with open(os.path.join(work, "m.pml"), "w") as f:
        f.write(text)
    _, r.generate, _, _, code = measured(["spin", "-a", "m.pml"], work)
    assert code == 0
    flags = ["-O2", "-DBFS", "-DSAFETY", "-DNOCLAIM", "-DNOREDUCE", "-DNOFAIR", "-DMEMLIM=20000", "-w"]
    out, r.compile, _, _, code = measured(["gcc", *flags, "-o", "pan", "pan.c"], work)
    assert code == 0, out
    w = max(18, min(30, (2 * row.states).bit_length()))
    out, r.run, r.cpu, r.rss_mb, code = measured(["./pan", "-m100000000", f"-w{w}"], work)
    found = re.search(r"(\d+) states, stored", out)
    if found is None:
        r.note = "pan: " + out.strip().splitlines()[-1][:80]
        return r
    r.states = int(found.group(1))
    # SPIN counts the initial state as a transition; past 10**7 it prints the count as 2.9608896e+08 (8 digits)
    count = re.search(r"([\d.e+]+) transitions \(= stored\+matched\)", out).group(1)
    r.transitions = int(count) - 1 if count.isdigit() else round(float(count)) - 1
    r.extra["approx_transitions"] = not count.isdigit()
    r.end_to_end = r.generate + r.compile + r.run
    return r


# ---------------------------------------------------------------------------------------------------- rumur
def run_rumur(row: Row, work: str, threads: int = 2) -> Run:
    r = Run(row, f"rumur-{threads}")
    text = sq_murphi(*row.params) if row.model == "sq" else apf_murphi(*row.params)
    with open(os.path.join(work, "m.m"), "w") as f:
        f.write(text)
    out, r.generate, _, _, code = measured(["rumur", "--deadlock-detection", "off", "--threads", str(threads),
                                            "--output", "m.c", "m.m"], work)
    assert code == 0, out
    out, r.compile, _, _, code = measured(["gcc", "-std=c11", "-O2", "-pthread", "-mcx16", "-o", "m", "m.c"], work)
    assert code == 0, out
    out, r.run, r.cpu, r.rss_mb, code = measured(["./m"], work)
    found = re.search(r"(\d+) states, (\d+) rules fired", out)
    if found is None:
        r.note = "rumur: " + out.strip().splitlines()[-1][:80]
        return r
    r.states, r.transitions = int(found.group(1)), int(found.group(2))
    r.end_to_end = r.generate + r.compile + r.run
    return r


# ---------------------------------------------------------------------------------------------------- kvmverify
def model_file(row: Row, work: str) -> tuple[str, list[str]]:
    """The kvmverify model and its --param flags; apf_int without its liveness property (a copy, with spec/)."""
    if row.model == "sq":
        params = dict(zip(("NVCPU", "NTOKEN", "QLEN"), row.params))
        path = os.path.join(ROOT, "benchmarks", "ports", "shared_queue.kv")
    else:
        params = dict(zip(("NVCPU", "NTOKEN"), row.params))
        os.makedirs(os.path.join(work, "models"), exist_ok=True)
        shutil.copytree(os.path.join(ROOT, "spec"), os.path.join(work, "spec"), dirs_exist_ok=True)
        text = open(os.path.join(ROOT, "models", "apf_int.kv")).read()
        text = text[:text.index("property ready_follows_not_present")]
        path = os.path.join(work, "models", "apf_int_safety.kv")
        with open(path, "w") as f:
            f.write(text)
    return path, [x for k, v in params.items() for x in ("--param", f"{k}={v}")]


def run_compiled(row: Row, work: str, threads: int) -> Run:
    from kvmverify.diagnostics import Sources
    from kvmverify.engines.compiled.build import build, find_compiler
    from kvmverify.engines.compiled.driver import program
    from kvmverify.pipeline import compile_model
    r = Run(row, f"compiled-{threads}")
    path, flags = model_file(row, work)
    env = {**os.environ, "XDG_CACHE_HOME": os.path.join(work, "cache"), "PYTHONPATH": ROOT}
    out, r.end_to_end, _, _, code = measured(
        [sys.executable, "-m", "kvmverify", "check", path, *flags, "--engine", "compiled", "--threads", str(threads),
         "--no-symmetry", "-q", "--no-traces"], work, env)
    if code not in (0, 1):
        r.note = f"kvmverify check exited {code}: {out.strip().splitlines()[-1][:80]}"
        return r
    # the parts: generating the C, compiling it (a fresh cache), the checker's own run
    params = {a.split("=")[0]: int(a.split("=")[1]) for a in flags[1::2]}
    started = time.monotonic()
    ts = compile_model(path, params, Sources()).system
    prog = program(ts)
    r.generate = time.monotonic() - started
    cache = os.path.join(work, "cache2")
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = cache
    try:
        built = build(prog.generated.source, find_compiler())
    finally:
        if old is None:
            del os.environ["XDG_CACHE_HOME"]
        else:
            os.environ["XDG_CACHE_HOME"] = old
    r.compile = built.seconds
    best = None
    for _ in range(REPEAT[0]):  # the machine is shared: the fastest of a few runs of the checker
        got = measured([str(built.path), "--threads", str(threads), "--no-symmetry"], work)
        if best is None or got[1] < best[1]:
            best = got
    out, r.run, r.cpu, r.rss_mb, code = best
    found = re.search(r"^R (\S+) (\d+) (\d+) (\d+)", out, re.M)
    r.states, r.transitions = int(found.group(2)), int(found.group(3))
    r.extra["state_bytes"] = prog.packing.nbytes
    return r


def run_python(row: Row, work: str) -> Run:
    r = Run(row, "python")
    if row.states > PYTHON_MAX:
        r.note = f"not run (over {PYTHON_MAX:,} states)"
        return r
    path, flags = model_file(row, work)
    env = {**os.environ, "PYTHONPATH": ROOT}
    out, r.run, r.cpu, r.rss_mb, code = measured(
        [sys.executable, "-m", "kvmverify", "check", path, *flags, "--engine", "explicit", "--no-symmetry",
         "--no-traces", "--no-color"], work, env)
    found = re.search(r"^  (\d+) states, (\d+) transitions", out, re.M)
    r.states, r.transitions = int(found.group(1)), int(found.group(2))
    r.end_to_end = r.run
    return r


# ---------------------------------------------------------------------------------------------------- table
def fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}" if x else ""


def table(runs: list[Run]) -> str:
    head = ("| model (whole graph) | tool | states | transitions | generate (s) | compile (s) | run (s) | CPU (s) | "
            "states/s per core | peak RSS (MB) | bytes/state | end to end (s) | load |")
    lines = [head, "|---|---|" + "---:|" * 11]
    for r in sorted(runs, key=lambda r: (ROWS.index(r.row), TOOLS.index(r.tool))):
        load = f"{r.extra.get('load', 0):.1f}"
        if r.states is None:
            lines.append(f"| {r.row.label} | {r.tool} | {r.note.split(' (load')[0]} |" + " |" * 9 + f" {load} |")
            continue
        transitions = ("~" if r.extra.get("approx_transitions") else "") + f"{r.transitions:,}"
        lines.append(f"| {r.row.label} | {r.tool} | {r.states:,} | {transitions} | {fmt(r.generate, 2)} | "
                     f"{fmt(r.compile, 2)} | {fmt(r.run, 2)} | {fmt(r.cpu, 2)} | {r.per_core:,.0f} | "
                     f"{r.rss_mb:,.0f} | {r.bytes_per_state:.1f} | {fmt(r.end_to_end, 2)} | {load} |")
    return "\n".join(lines)


def targets(runs: list[Run]) -> list[str]:
    """The issue's targets, row by row, from the runs."""
    out = []
    by = {(r.row.key, r.tool): r for r in runs}
    for row in {r.row.key: r.row for r in runs}.values():
        spin = by.get((row.key, "spin"))
        for tool in ("compiled-1", "compiled-2"):
            c = by.get((row.key, tool))
            if c is None or c.states is None:
                continue
            bits = [f"{row.label} {tool}:"]
            if spin is not None and spin.states is not None:
                if spin.states != c.states:
                    bits.append(f"STATES DIFFER (SPIN {spin.states})")
                bits.append(f"per core {c.per_core / spin.per_core:.1f}x SPIN's")
                bits.append(f"end to end {c.end_to_end:.1f} s vs SPIN's {spin.end_to_end:.1f} s")
            bits.append(f"{c.bytes_per_state:.1f} bytes/state")
            if tool == "compiled-2":
                one = by.get((row.key, "compiled-1"))
                if one is not None and one.run and c.run:
                    bits.append(f"2 threads {one.run / c.run:.2f}x faster than 1")
            out.append(" ".join(bits))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="only the rows up to 2 M states")
    ap.add_argument("--rows", help="comma-separated row keys: " + ", ".join(r.key for r in ROWS))
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma-separated: " + ", ".join(TOOLS))
    ap.add_argument("--markdown", action="store_true", help="print only the markdown table and the targets")
    ap.add_argument("--budget", type=float, default=BUDGET[0], help="seconds one run may take (default 1800)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each compiled checker; the fastest is shown")
    args = ap.parse_args(argv)
    rows = [r for r in ROWS if not args.quick or r.states <= PYTHON_MAX]
    if args.rows:
        keys = args.rows.split(",")
        rows = [r for r in ROWS if r.key in keys]
    tools = args.tools.split(",")
    BUDGET[0] = args.budget
    REPEAT[0] = max(args.repeat, 1)
    if "spin" in tools:
        need("spin", "spin")
    if "rumur-2" in tools:
        need("rumur", "rumur")
    start_load = os.getloadavg()
    runs: list[Run] = []
    for tool_group in (("compiled-1", "compiled-2", "python", "spin"), ("rumur-2",)):
        for row in rows:
            for tool in [t for t in tools if t in tool_group]:
                load = os.getloadavg()[0]
                with tempfile.TemporaryDirectory(prefix="kvpeers-") as work:
                    try:
                        if tool == "spin":
                            r = run_spin(row, work)
                        elif tool.startswith("rumur"):
                            r = run_rumur(row, work, int(tool.split("-")[1]))
                        elif tool.startswith("compiled"):
                            r = run_compiled(row, work, int(tool.split("-")[1]))
                        else:
                            r = run_python(row, work)
                    except OverBudget as e:
                        r = Run(row, tool, note=str(e))
                r.extra["load"] = load
                runs.append(r)
                if r.states is not None and r.states != row.states:
                    r.note = f"expected {row.states:,} states"
                r.note = (r.note + " " if r.note else "") + f"(load {load:.1f})"
                if not args.markdown:
                    print(f"{row.label:28s} {tool:11s} states {r.states or 0:>12,} run {r.run:8.2f} s CPU {r.cpu:8.2f} s "
                          f"{r.per_core:>12,.0f} st/s/core {r.rss_mb:8.0f} MB {r.bytes_per_state:6.1f} B/st "
                          f"end-to-end {r.end_to_end:8.2f} s {r.note}", flush=True)
    print()
    print(f"machine: {os.cpu_count()} cores; load average {start_load[0]:.2f} at the start, "
          f"{os.getloadavg()[0]:.2f} at the end; {time.strftime('%Y-%m-%d')}")
    print(table(runs))
    print()
    print("\n".join(targets(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
