"""k-induction with simple-path constraints.

For k = 1, 2, ... up to max-k:
  base   no property fails in a state at depth < k, nor on a transition leaving one (BMC, incremental);
  step   from any k consecutive, pairwise distinct, type-correct states s_0 .. s_k-1 in which every pending
         property holds (and no transition between them violates a step property), s_k and the transition
         leaving it cannot fail one. Unsat: every pending property is proved.
The pending safety properties are proved together (each is a hypothesis for the others), `deadlock` and each cover
on its own;
properties the base case finds violated (covers: reached) are dropped first. A satisfiable step query is a
counterexample to induction (CTI): k good states leading to a bad one, which is reported so the author can add a
strengthening invariant.
"""
from __future__ import annotations

import time

import z3

from ...ir import nodes as ir
from . import encode as E
from .watchdog import trusted
from .bmc import BMC, OutOfTime, property_results, safety_and_covers
from ..explicit.search import Explorer
from ..shared.limits import Interrupt, Ticker
from ..shared.result import CheckResult, Coverage, Stats, Step, Trace


def k_induction_step(enc: E.Encoding, props: list[ir.Property], k: int) -> tuple[list[z3.BoolRef], E.Unrolling]:
    """The step query for k: satisfiable iff there is a CTI of length k."""
    u = E.Unrolling(enc, "k")
    parts: list[z3.BoolRef] = [enc.valid(u.state(i)) for i in range(k + 1)]
    for i in range(k):
        f = u.step_formulas(i)
        parts.append(f.trans)
        parts += [z3.Not(E.bad_state(enc, p, u.state(i), f)) for p in props]
    last = E.trans(enc, u.state(k), None)
    parts.append(z3.Or([E.bad_state(enc, p, u.state(k), last) for p in props]))
    parts += [z3.Not(enc.same(u.state(i), u.state(j))) for i in range(k + 1) for j in range(i + 1, k + 1)]
    return parts, u


def run_induction(ts: ir.TransitionSystem, max_k: int, timeout: float | None = None,
                  explorer: Explorer | None = None, skip: frozenset[int] = frozenset(), engine: str = "induction",
                  interrupt: Interrupt | None = None, progress=None):
    """(traces of failing props, coverage of proved props, the CTI or None, k reached, bound).

    The safety properties (invariants, step properties) are one group, proved together; each cover is a group
    of its own (a cover is 'proved' unreachable, i.e. vacuous), so a cover reached late does not hold the
    safety proof back. The CTI reported is the safety group's, else the first cover's."""
    started = time.monotonic()
    deadline = started + timeout if timeout is not None else None
    enc = E.Encoding(ts)
    bmc = BMC(ts, explorer, engine, deadline)
    todo = [p for p in safety_and_covers(ts) if p.id not in skip]
    # the model's safety properties are proved together; `deadlock` (rarely inductive on its own: unreachable
    # stuck states abound) and each cover on its own, so that neither holds the others' proof back
    groups = [g for g in [[p for p in todo if not p.is_cover and p.kind != "deadlock"]]
              + [[p] for p in todo if p.is_cover or p.kind == "deadlock"] if g]
    found: dict[int, Trace] = {}
    proved: dict[int, Coverage] = {}
    ctis: dict[int, tuple[Trace, tuple[str, ...]]] = {}
    tick = Ticker(progress, "k-induction")
    for k in range(1, max_k + 1):
        tick(f"k={k} of {max_k}, {sum(map(len, groups))} open", depth=k, force=True)
        if deadline is not None and time.monotonic() > deadline:
            return found, proved, _first(ctis), k - 1, "timeout"
        if interrupt is not None and interrupt.set:
            return found, proved, _first(ctis), k - 1, "interrupted"
        pending = [p for g in groups for p in g]
        try:
            found.update(bmc.at_depth(pending, k - 1))
        except OutOfTime:
            return found, proved, _first(ctis), k - 1, "timeout"
        groups = [g for g in ([p for p in g if p.id not in found] for g in groups) if g]
        ctis.clear()
        still = []
        for n, group in enumerate(groups):
            status, cti = _step(enc, group, k, deadline)
            if status == "proved":
                proved.update({p.id: Coverage("k-induction", k=k) for p in group})
            elif status == "timeout":
                return found, proved, _first(ctis), k, "timeout"
            else:
                ctis[n] = cti
                still.append(group)
        groups = still
        if not groups:
            return found, proved, None, k, None
    return found, proved, _first(ctis), max_k, "max-k"


def _first(ctis: dict) -> tuple[Trace, tuple[str, ...]] | None:
    return ctis[min(ctis)] if ctis else None


def _step(enc: E.Encoding, props: list[ir.Property], k: int, deadline: float | None):
    """('proved', None) | ('cti', (trace, names of the properties its last state breaks)) | ('timeout', None)."""
    parts, u = k_induction_step(enc, props, k)
    solver = z3.Solver()
    if deadline is not None:
        solver.set(timeout=max(int((deadline - time.monotonic()) * 1000), 1))
    solver.add(*parts)
    r = solver.check()
    if r == z3.unknown or not trusted():
        return "timeout", None
    if r == z3.unsat:
        return "proved", None
    if r == z3.unknown:
        return "timeout", None
    m = solver.model()
    states, acts = u.trace(m, k)
    last = E.trans(enc, u.state(k), None)
    broken = tuple(p.name for p in props
                   if z3.is_true(m.eval(E.bad_state(enc, p, u.state(k), last), model_completion=True)))
    steps = [Step(None, states[0])] + [Step(acts[i], states[i + 1]) for i in range(k)]
    return "cti", (Trace(tuple(steps)), broken)


def check_induction(ts: ir.TransitionSystem, max_k: int, timeout: float | None = None,
                    interrupt: Interrupt | None = None, progress=None) -> CheckResult:
    started = time.monotonic()
    found, proved, cti, k, bound = run_induction(ts, max_k, timeout, interrupt=interrupt, progress=progress)
    fallback = Coverage("cti", k=k, bound=bound) if cti is not None else Coverage("bounded", depth=k - 1,
                                                                                   bound=bound or "max-k")
    results = property_results(ts, found, proved, fallback)
    stats = Stats(0, 0, k, time.monotonic() - started)
    return CheckResult("induction", results, stats, bound=bound, notes=(), cti=cti)
