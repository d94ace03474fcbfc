"""The compiled engine: the transition system as a C program (cgen.py), built once (build.py), run as a child
process; its report turned into the usual CheckResult, every counterexample replayed by the Python interpreter
first.

The checker reports counts, the bound that stopped it, and for each property the first state (in its canonical
breadth-first numbering, the Python engine's) that violates or reaches it, with the path to that state: its
initial state, then at each step the position of the next state among the successors of the previous one, and
each state packed. Here every path is rebuilt by the Python interpreter (engines/explicit: the successor at that
position, canonicalised under symmetry) and must meet the checker's state at every step; the result is then
built exactly as the Python search builds its own (traces mapped to concrete runs under symmetry), and each
trace is replayed once more (engines/shared/replay.py) before anyone sees it. A path that does not replay, a
crash, or a report that does not parse is an internal error (exit 3), never a shown verdict.

Liveness properties are decided by the Python fair-lasso search (engines/explicit/liveness.py) on the concrete
graph after the compiled safety search, exactly as the explicit engine decides them.
"""
from __future__ import annotations

import dataclasses
import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass, field

from ...ir import nodes as ir
from ..explicit.liveness import check_liveness
from ..explicit.search import Explorer, _Found
from ..shared.limits import Interrupt, Limits, Progress, ProgressFn, current_rss_mb, peak_rss_mb
from ..shared.replay import Disagreement, replay
from ..shared.result import CheckResult, Stats, Step, Trace
from .build import BuildError, Compiler, build, find_compiler
from .cgen import Generated, generate
from .packing import Packing, pack

ENGINE = "compiled"
GRACE = 5.0  # seconds the checker may overrun --timeout before it is interrupted from outside
BOUNDS = {"none": None, "max-states": "max-states", "timeout": "timeout", "max-memory": "max-memory",
          "interrupted": "interrupted", "max-depth": "max-depth"}


class CheckerCrash(Exception):
    """The compiled checker failed: it crashed, or wrote a report that does not parse. A bug in kvmverify."""


@dataclass
class Program:
    packing: Packing
    generated: Generated


def program(ts: ir.TransitionSystem) -> Program:
    """The model as C; raises packing.Unsupported for a construct the compiled engine does not handle."""
    packing = pack(ts)
    return Program(packing, generate(ts, packing, f"model {ts.name}"))


@dataclass
class Report:
    bound: str | None = None
    states: int = 0
    transitions: int = 0
    depth: int = 0
    peak_rss_mb: float = 0.0
    found_state: dict[int, int] = field(default_factory=dict)  # C state property -> state index
    found_step: dict[int, int] = field(default_factory=dict)
    paths: dict[int, tuple[int, list[int], list[list[int]]]] = field(default_factory=dict)  # root, positions, words


def parse_report(lines: list[str]) -> Report:
    r = Report()
    ended = False
    k = 0
    try:
        while k < len(lines):
            words = lines[k].split()
            k += 1
            if not words:
                continue
            match words[0]:
                case "R":
                    r.bound = BOUNDS[words[1]]
                    r.states, r.transitions, r.depth = int(words[2]), int(words[3]), int(words[4])
                    r.peak_rss_mb = int(words[5]) / 1024.0
                case "F":
                    (r.found_state if words[1] == "s" else r.found_step)[int(words[2])] = int(words[3])
                case "T":
                    sid, root, n = int(words[1]), int(words[2]), int(words[3])
                    positions = [int(x) for x in words[4:4 + n]]
                    states = []
                    for _ in range(n + 1):
                        w = lines[k].split()
                        k += 1
                        if w[0] != "W":
                            raise ValueError("a path without its states")
                        states.append([int(x, 16) for x in w[1:]])
                    r.paths[sid] = (root, positions, states)
                case "E":
                    ended = True
                case _:
                    raise ValueError(f"an unknown line {lines[k - 1]!r}")
    except (ValueError, IndexError, KeyError) as e:
        raise CheckerCrash(f"the checker's report does not parse ({e})") from None
    if not ended:
        raise CheckerCrash("the checker's report ends early")
    return r


def run_checker(exe: str, args: list[str], interrupt: Interrupt | None, progress: ProgressFn | None,
                deadline: float | None) -> list[str] | None:
    """The checker's report lines; progress lines go to `progress`. Ctrl-C (the interrupt flag) is passed on to
    the checker, which stops and reports; None if it came before the checker could (at its very start). The
    checker is killed if anything goes wrong here."""
    proc = subprocess.Popen([exe, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: list[str] = []
    errors = b""
    buf = b""
    forwarded = False
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    sel.register(proc.stdout, selectors.EVENT_READ)
    sel.register(proc.stderr, selectors.EVENT_READ)
    open_streams = 2
    try:
        while open_streams:
            late = deadline is not None and time.monotonic() > deadline + GRACE
            if not forwarded and ((interrupt is not None and interrupt.set) or late):
                proc.send_signal(signal.SIGINT)
                forwarded = True
            for key, _ in sel.select(timeout=0.1):
                chunk = os.read(key.fileobj.fileno(), 1 << 16)
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                if key.fileobj is proc.stderr:
                    errors = (errors + chunk)[-8000:]
                    continue
                buf += chunk
                *done, buf = buf.split(b"\n")
                for raw in done:
                    line = raw.decode()
                    if line.startswith("P "):
                        if progress is not None:
                            _, states, depth, transitions, ms, rss = line.split()
                            progress(Progress(int(states), int(depth), int(transitions), int(ms) / 1000.0,
                                              memory_mb=int(rss) / 1024.0))
                    else:
                        lines.append(line)
        code = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sel.close()
    if code == -signal.SIGINT and (forwarded or (interrupt is not None and interrupt.set)):
        return None  # Ctrl-C came before the checker was ready to report: nothing explored
    if code != 0:
        how = f"was killed by signal {-code} ({signal.Signals(-code).name})" if code < 0 else f"exited with {code}"
        text = errors.decode(errors="replace").strip()
        raise CheckerCrash(f"the compiled checker {how}" + (f": {text}" if text else ""))
    return lines


def checker_args(limits: Limits, deadline: float | None, symmetry: bool, threads: int) -> list[str]:
    args = ["--threads", str(threads), "--progress-ms", "1000"]
    if limits.max_states is not None:
        args += ["--max-states", str(limits.max_states)]
    if limits.max_depth is not None:
        args += ["--max-depth", str(limits.max_depth)]
    if deadline is not None:
        args += ["--timeout-ms", str(max(int((deadline - time.monotonic()) * 1000), 1))]
    if limits.max_memory_mb is not None:
        # the limit is kvmverify's: this process's memory counts too
        args += ["--max-memory-mb", str(max(int(limits.max_memory_mb - (current_rss_mb() or 0.0)), 1))]
    if not symmetry:
        args.append("--no-symmetry")
    return args


def run_compiled(ts: ir.TransitionSystem, limits: Limits = Limits(), interrupt: Interrupt | None = None,
                 progress: ProgressFn | None = None, symmetry: bool = True, threads: int | None = None,
                 compiler: Compiler | None = None, engine: str = ENGINE,
                 liveness_max_states: int | None = None) -> CheckResult:
    """Raises packing.Unsupported, build.NoCompiler, build.BuildError, CheckerCrash or Disagreement.
    `liveness_max_states`: a budget for the Python lasso search's graph (auto's), below the search's own."""
    started = time.monotonic()
    deadline = started + limits.timeout if limits.timeout is not None else None
    prog = program(ts)
    compiler = compiler or find_compiler()
    left = None if deadline is None else max(deadline - time.monotonic(), 0.1)
    if progress is not None:
        progress(Progress(0, 0, 0, time.monotonic() - started, "compiling C", compiler.name))
    try:
        built = build(prog.generated.source, compiler, timeout=left)
    except BuildError:
        # Ctrl-C reaches the compiler too, and --timeout bounds compiling: a stopped search, not a failure
        stopped = "interrupted" if interrupt is not None and interrupt.set else \
            "timeout" if deadline is not None and time.monotonic() >= deadline else None
        if stopped is None:
            raise
        return _not_started(ts, symmetry, engine, stopped, started, "while compiling the checker")
    nthreads = threads or os.cpu_count() or 1
    if not compiler.threads:
        nthreads = 1
    if interrupt is not None and interrupt.set:  # Ctrl-C while compiling: the checker is not started at all
        return _not_started(ts, symmetry, engine, "interrupted", started, "before the checker started")
    lines = run_checker(str(built.path), checker_args(limits, deadline, symmetry, nthreads), interrupt, progress,
                        deadline)
    if lines is None:
        return _not_started(ts, symmetry, engine, "interrupted", started, "before the checker started")
    report = parse_report(lines)
    explorer = Explorer(ts, symmetry=symmetry)
    found, trace_of = _found(ts, prog, report, explorer)
    live, live_bound, live_notes = {}, None, ()
    if ts.liveness:
        live_limits = limits
        if liveness_max_states is not None and (limits.max_states is None or liveness_max_states < limits.max_states):
            live_limits = dataclasses.replace(limits, max_states=liveness_max_states)
        live, live_bound, live_notes = check_liveness(explorer, live_limits, interrupt, deadline, progress)
    stats = Stats(report.states, report.transitions, report.depth, time.monotonic() - started,
                  max(report.peak_rss_mb, peak_rss_mb() or 0.0))
    try:
        result = explorer.conclude(engine, found, trace_of, stats, report.bound, live, live_bound, live_notes)
    except StopIteration:  # the interpreter sees no violation of a step property the checker reported
        prop = next(p for p in ts.properties if p.is_step and p.id in found)
        raise Disagreement(engine, prop, "no transition from the state it reports violates the property", None,
                           None) from None
    _replay_all(explorer, engine, result)
    return result


def _not_started(ts: ir.TransitionSystem, symmetry: bool, engine: str, bound: str, started: float,
                 when: str) -> CheckResult:
    """The result of a search a limit stopped before the checker ran: nothing explored, nothing decided."""
    explorer = Explorer(ts, symmetry=symmetry)
    stats = Stats(0, 0, 0, time.monotonic() - started, peak_rss_mb())
    result = explorer.conclude(engine, {}, lambda sid: Trace(()), stats, bound, {}, None, ())
    why = "an interrupt (SIGINT)" if bound == "interrupted" else bound
    return dataclasses.replace(result, notes=(f"stopped by {why} {when}: no state explored",))


def _found(ts: ir.TransitionSystem, prog: Program, report: Report, explorer: Explorer):
    """Where each property was first violated (state ids in the checker's numbering), and the path to each of
    those states rebuilt by the Python interpreter, checked against the checker's states at every step."""
    gen, packing = prog.generated, prog.packing
    found: dict[int, _Found] = {}
    for k, sid in report.found_state.items():
        found[gen.state_props[k].id] = _Found(sid)
    for k, sid in report.found_step.items():
        found[gen.step_props[k].id] = _Found(sid)
    inits: list[tuple[int, ...]] = []
    for s in ts.init:
        s = explorer.canon(s) if explorer.canon is not None else s
        if s not in inits:
            inits.append(s)
    by_state = {f.state: pid for pid, f in found.items()}

    def trace_of(sid: int) -> Trace:
        prop = ts.properties[by_state[sid]]
        if sid not in report.paths:
            raise Disagreement(ENGINE, prop, f"the checker gave no path to state {sid}", None, None)
        root, positions, words = report.paths[sid]
        if not 0 <= root < len(inits):
            raise Disagreement(ENGINE, prop, f"the path starts at initial state {root} of {len(inits)}", None, None)
        state = inits[root]
        steps = [Step(None, state)]

        def check(k: int, got: tuple[int, ...]) -> None:
            if packing.decode(words[k]) != got:
                raise Disagreement(ENGINE, prop, f"step {k}: the checker's state is not the interpreter's",
                                   Trace((*steps, Step(None, packing.decode(words[k])))), Trace(tuple(steps)))
        check(0, state)
        for k, pos in enumerate(positions, 1):
            out, _ = explorer.successors(state)
            if not 0 <= pos < len(out) or out[pos][1] is None:
                raise Disagreement(ENGINE, prop, f"step {k}: the interpreter has no successor at position {pos}",
                                   None, Trace(tuple(steps)))
            action, state = out[pos]
            if explorer.canon is not None:
                state = explorer.canon(state)
            steps.append(Step(action, state))
            check(k, state)
        return Trace(tuple(steps))
    return found, trace_of


def _replay_all(explorer: Explorer, engine: str, result: CheckResult) -> None:
    """Every trace of the result replayed as a run of the model by the interpreter (replay.py)."""
    for r in result.results:
        t = r.trace
        if t is None or r.prop.kind in ir.LIVENESS_KINDS or r.status not in ("violated", "reached"):
            continue
        if r.prop.is_step:
            states = [s.state for s in t.steps[:-1]]
        else:
            states = [s.state for s in t.steps]
        acts = [s.action for s in t.steps[1:]]
        replay(explorer, engine, r.prop, states, acts)
