"""k-induction with simple-path constraints.

For k = 1, 2, ... up to max-k:
  base   no property fails in a state at depth < k, nor on a transition leaving one (BMC, incremental);
  step   from any k consecutive, pairwise distinct, type-correct states s_0 .. s_k-1 in which every pending
         property holds (and no transition between them violates a step property), s_k and the transition
         leaving it cannot fail one. Unsat: every pending property is proved.
All pending properties are proved together (each is a hypothesis for the others); properties the base case finds
violated are dropped from the set first. A satisfiable step query is a counterexample to induction (CTI): k good
states leading to a bad one, which is reported so the author can add a strengthening invariant.
"""
from __future__ import annotations

import time

import z3

from ..ir import nodes as ir
from . import encode as E
from .bmc import BMC, property_results
from .explicit import Explorer
from .result import CheckResult, Coverage, Stats, Step, Trace


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
                  explorer: Explorer | None = None, skip: frozenset[int] = frozenset(), engine: str = "induction"):
    """(traces of failing props, coverage of proved props, the CTI trace or None, k reached, bound)."""
    started = time.monotonic()
    deadline = started + timeout if timeout is not None else None
    enc = E.Encoding(ts)
    bmc = BMC(ts, explorer, engine)
    pending = [p for p in ts.properties if p.id not in skip]
    found: dict[int, Trace] = {}
    cti: tuple[Trace, tuple[str, ...]] | None = None
    for k in range(1, max_k + 1):
        if deadline is not None and time.monotonic() > deadline:
            return found, {}, cti, k - 1, "timeout"
        base = bmc.at_depth(pending, k - 1)
        found.update(base)
        pending = [p for p in pending if p.id not in found]
        if not pending:
            return found, {}, None, k, None
        parts, u = k_induction_step(enc, pending, k)
        solver = z3.Solver()
        if deadline is not None:
            solver.set(timeout=max(int((deadline - time.monotonic()) * 1000), 1))
        solver.add(*parts)
        r = solver.check()
        if r == z3.unsat:
            return found, {p.id: Coverage("k-induction", k=k) for p in pending}, None, k, None
        if r == z3.unknown:
            return found, {}, cti, k, "timeout"
        m = solver.model()
        states, acts = u.trace(m, k)
        last = E.trans(enc, u.state(k), None)
        broken = tuple(p.name for p in pending
                       if z3.is_true(m.eval(E.bad_state(enc, p, u.state(k), last), model_completion=True)))
        steps = [Step(None, states[0])] + [Step(acts[i], states[i + 1]) for i in range(k)]
        cti = (Trace(tuple(steps)), broken)
    return found, {}, cti, max_k, "max-k"


def check_induction(ts: ir.TransitionSystem, max_k: int, timeout: float | None = None) -> CheckResult:
    started = time.monotonic()
    found, proved, cti, k, bound = run_induction(ts, max_k, timeout)
    fallback = Coverage("cti", k=k, bound=bound) if cti is not None else Coverage("bounded", depth=k - 1,
                                                                                   bound=bound or "max-k")
    results = property_results(ts, found, proved, fallback)
    stats = Stats(0, 0, k, time.monotonic() - started)
    return CheckResult("induction", results, stats, bound=bound, notes=(), cti=cti)
