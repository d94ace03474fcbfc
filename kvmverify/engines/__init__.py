"""The engines behind `kvmverify check --engine`: `run_engine(ts, name, options) -> CheckResult`.

    explicit   breadth-first search of every reachable state (exhaustive, or bounded by the limits), in Python
    compiled   the same search as a C program generated from the IR, on all cores (engines/compiled/)
    bmc        bounded model checking with z3 up to `depth`
    induction  k-induction up to `max_k`
    pdr        Spacer (PDR/IC3) on Horn clauses
    auto       for a model that falls into independent parts (engines/explicit/parts.py), each part alone; else
               the Python search with a small budget (PROBE_STATES: what it finishes in about a second), and
               for a bigger model the compiled search when a C compiler is there (else the Python search, with
               one note), with a state budget; if the budget, and only the budget, stops the search before the
               state space is exhausted, PDR decides the properties it left open (BMC supplies shortest traces
               for the ones PDR finds failing).
               A limit the user set (--max-states, --max-depth, --timeout, --max-memory, Ctrl-C) is respected:
               the explicit result stands, with its bound.

z3 is imported only by the symbolic engines' modules, so the explicit engine starts without it.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from ..ir import nodes as ir
from .explicit.search import Explorer
from .shared.limits import Interrupt, Limits, ProgressFn, Ticker
from .shared.result import CheckResult, Coverage, PropertyResult, Stats

ENGINES = ("auto", "explicit", "compiled", "bmc", "induction", "pdr")
AUTO_MAX_STATES = 1_000_000  # some seconds of Python search: apf_int (2,2) (393,828 states up to symmetry) fits
PROBE_STATES = 50_000  # what the Python search finishes in about a second: auto compiles only bigger models
AUTO_COMPILED_MAX_STATES = 100_000_000  # a few minutes and a few GB of compiled search
DEFAULT_DEPTH = 20
DEFAULT_MAX_K = 10


@dataclass(frozen=True)
class Options:
    limits: Limits = Limits()
    depth: int = DEFAULT_DEPTH
    max_k: int = DEFAULT_MAX_K
    symmetry: bool = True  # explicit search: one state per orbit of the `symmetric` types
    parts: bool = False  # explicit search: explore independent parts one at a time (engines/explicit/parts.py)
    threads: int | None = None  # compiled search: threads (default: every core)


def run_engine(ts: ir.TransitionSystem, name: str, options: Options = Options(),
               interrupt: Interrupt | None = None, progress: ProgressFn | None = None) -> CheckResult:
    """The engine's result for the transition system, then the model's `check`s (z3, for every input)."""
    started = time.monotonic()
    result = _run(ts, name, options, interrupt, progress)
    if ts.notes:
        result = dataclasses.replace(result, notes=tuple(dict.fromkeys((*result.notes, *ts.notes))))
    if ts.lint:
        expects = {name: verdict for name, verdict, _ in ts.expects}
        lint = tuple(PropertyResult(f.prop, "violated" if f.defects else "holds",
                                    Coverage("lint", states=len(f.findings)), None, expects.get(f.prop.name),
                                    findings=f.findings) for f in ts.lint)
        result = dataclasses.replace(result, results=result.results + lint)
    if not ts.checks or result.bound == "interrupted":
        return result
    from .symbolic.decide import decide_checks
    Ticker(progress, "checks")(f"{len(ts.checks)} check(s) over their inputs (z3)", force=True)
    timeout = options.limits.timeout
    remaining = None if timeout is None else max(timeout - (time.monotonic() - started), 0.001)
    return dataclasses.replace(result, results=result.results + decide_checks(ts, remaining))


def _run(ts: ir.TransitionSystem, name: str, options: Options, interrupt: Interrupt | None,
         progress: ProgressFn | None) -> CheckResult:
    timeout = options.limits.timeout
    match name:
        case "explicit":
            if options.parts and options.limits.max_depth is None:  # a depth bound is the whole model's runs'
                from .explicit.parts import independent_parts, run_parts
                parts = independent_parts(ts)
                if parts:
                    return run_parts(ts, parts, options.limits, interrupt, progress)
            return Explorer(ts, symmetry=options.symmetry).run(options.limits, interrupt, progress)
        case "compiled":
            from .compiled import run_compiled
            return run_compiled(ts, options.limits, interrupt, progress, options.symmetry, options.threads)
        case "bmc" | "induction" | "pdr":
            return _symbolic(ts, name, options, interrupt, progress)
        case "auto":
            return _auto(ts, options, interrupt, progress)
    raise ValueError(f"unknown engine {name}")


def _symbolic(ts: ir.TransitionSystem, name: str, options: Options, interrupt: Interrupt | None,
              progress: ProgressFn | None) -> CheckResult:
    """A z3 engine under a watchdog that stops z3 itself at the deadline or on Ctrl-C (engines/symbolic/watchdog)."""
    from .symbolic.watchdog import Watchdog
    timeout = options.limits.timeout
    with Watchdog(None if timeout is None else time.monotonic() + timeout, interrupt):
        if name == "bmc":
            from .symbolic.bmc import run_bmc
            result = run_bmc(ts, options.depth, timeout, interrupt, progress)
        elif name == "induction":
            from .symbolic.induction import check_induction
            result = check_induction(ts, options.max_k, timeout, interrupt, progress)
        else:
            from .symbolic.pdr import check_pdr
            result = check_pdr(ts, timeout, interrupt, progress)
    return _interrupted(result, interrupt)


def _auto_search(ts: ir.TransitionSystem, options: Options, budget: Limits, started: float,
                 interrupt: Interrupt | None, progress: ProgressFn | None) -> CheckResult:
    """The Python search with PROBE_STATES as its budget; for a model it does not finish, the compiled search
    with the budget (or, without a C compiler or for a model the compiled engine does not handle, the Python
    search with a note saying why)."""
    limits = options.limits

    def left() -> float | None:
        return None if limits.timeout is None else max(limits.timeout - (time.monotonic() - started), 0.001)
    probe = dataclasses.replace(budget, max_states=min(budget.max_states, PROBE_STATES), timeout=left())
    first = Explorer(ts, symmetry=options.symmetry).run(probe, interrupt, progress,
                                                        bounded_liveness=probe.max_states == budget.max_states)
    if first.bound != "max-states" or probe.max_states == budget.max_states:
        return first
    from .compiled import NoCompiler, Unsupported, run_compiled
    why = None
    try:
        if limits.max_states is None:
            budget = dataclasses.replace(budget, max_states=AUTO_COMPILED_MAX_STATES)
        # the Python lasso search on the concrete graph keeps the Python budget
        return run_compiled(ts, dataclasses.replace(budget, timeout=left()), interrupt, progress,
                            options.symmetry, options.threads, engine="auto (compiled)",
                            liveness_max_states=limits.max_states or AUTO_MAX_STATES)
    except NoCompiler as e:
        why = f"{e}: the Python engine searched instead"
    except Unsupported as e:
        why = f"the compiled engine cannot check this model ({e}): the Python engine searched instead"
    result = Explorer(ts, symmetry=options.symmetry).run(dataclasses.replace(budget, timeout=left()), interrupt,
                                                          progress)
    return dataclasses.replace(result, notes=(why, *result.notes))


def _interrupted(result: CheckResult, interrupt: Interrupt | None) -> CheckResult:
    """After Ctrl-C a z3 engine's unknowns are the interrupt's, whatever z3 called them (exit 130)."""
    if interrupt is None or not interrupt.set or result.bound == "interrupted":
        return result
    return dataclasses.replace(result, bound="interrupted")


def _auto(ts: ir.TransitionSystem, options: Options, interrupt: Interrupt | None,
          progress: ProgressFn | None) -> CheckResult:
    started = time.monotonic()
    limits = options.limits
    budget = Limits(limits.max_states if limits.max_states is not None else AUTO_MAX_STATES, limits.max_depth,
                    limits.timeout, limits.max_memory_mb)
    if limits.max_states is None and limits.max_depth is None:  # a depth bound is the whole model's runs'
        # independent parts first: the same verdicts, shortest traces and exact counts as a search of the whole
        # model, for the sum of the parts' states instead of their product; each part gets the whole budget
        from .explicit.parts import independent_parts, run_parts
        parts = independent_parts(ts)
        if parts:
            split = run_parts(ts, parts, budget, interrupt, progress)
            if split.bound in (None, "interrupted", "timeout", "max-memory"):
                return dataclasses.replace(split, engine="auto (explicit, independent parts)",
                                           stats=dataclasses.replace(split.stats,
                                                                     seconds=time.monotonic() - started))
    first = _auto_search(ts, options, budget, started, interrupt, progress)
    if first.bound != "max-states" or limits.max_states is not None:
        # exhausted, or stopped by a limit the user set: that result stands, as the explicit engine's
        return first
    if all(r.status != "unknown" for r in first.results if r.prop.kind not in ir.LIVENESS_KINDS):
        # only the lasso search hit its budget: PDR decides no liveness property
        return first
    explorer = Explorer(ts, symmetry=options.symmetry)
    from .symbolic.bmc import property_results  # z3 only now: exhaustive runs never load it
    from .symbolic.pdr import run_pdr
    decided = {r.prop.id for r in first.results if r.status in ("violated", "reached")}
    remaining = None if limits.timeout is None else max(limits.timeout - (time.monotonic() - started), 0.001)
    from .symbolic.watchdog import Watchdog
    with Watchdog(None if remaining is None else time.monotonic() + remaining, interrupt):
        found, proved, notes = run_pdr(ts, remaining, explorer, frozenset(decided), engine="auto",
                                       interrupt=interrupt, progress=progress)
    by_id = {r.prop.id: r for r in first.results}
    results = []
    fresh = property_results(ts, found, proved, first.results[0].coverage) if first.results else ()
    for r in fresh:
        if r.prop.id in decided:
            results.append(by_id[r.prop.id])
        elif r.status == "unknown":
            results.append(by_id[r.prop.id])
        else:
            results.append(r)
    undecided = any(r.status == "unknown" for r in results)
    stats = Stats(first.stats.states, first.stats.transitions, first.stats.depth, time.monotonic() - started,
                  first.stats.peak_rss_mb)
    handed = [r for r in results if r.prop.id not in decided]
    by_pdr = [r.prop.name for r in handed if r.status != "unknown"]
    left = [r.prop.name for r in handed if r.status == "unknown"]
    search = "compiled" if "compiled" in first.engine else "explicit"
    head = (f"{search} search stopped at {first.stats.states} states (depth {first.stats.depth}), its budget; "
            + (f"PDR decided {', '.join(by_pdr)}" if by_pdr else "PDR decided none of the properties left open")
            + (f"; undecided: {', '.join(left)}" if left else ""),)
    return _interrupted(CheckResult(f"auto ({search} + PDR)", tuple(results), stats,
                                    first.bound if undecided else None, head + tuple(notes),
                                    reduction=first.reduction), interrupt)
