"""Bounded model checking: one incremental z3 solver, one depth at a time, so the first violation found for a
property is a shortest one. Depth K means what `--max-depth K` means for the explicit engine: every state
reachable in at most K steps is checked, and every transition leaving a state reachable in fewer than K steps."""
from __future__ import annotations

import time

import z3

from ..ir import nodes as ir
from . import encode as E
from .explicit import Explorer, Interrupt
from .replay import replay
from .result import CheckResult, Coverage, PropertyResult, Stats, Trace


def bmc_query(enc: E.Encoding, u: E.Unrolling, p: ir.Property, d: int) -> z3.BoolRef:
    """The path of length d (already asserted) ends in a state (or leaves it by a transition) that fails p."""
    s = u.state(d)
    f = u.step_formulas(d) if p.is_step else E.StepFormulas(z3.BoolVal(True), {})
    return E.bad_state(enc, p, s, f)


class OutOfTime(Exception):
    """The deadline passed inside a z3 call (its answer was `unknown`)."""


class BMC:
    """An incremental unrolling; `search(props, depth)` finds the shortest violation of each property."""

    def __init__(self, ts: ir.TransitionSystem, explorer: Explorer | None = None, engine: str = "bmc",
                 deadline: float | None = None):
        self.ts, self.engine, self.deadline = ts, engine, deadline
        self.enc = E.Encoding(ts)
        self.explorer = explorer or Explorer(ts)
        self.u = E.Unrolling(self.enc)
        self.solver = z3.Solver()
        self.solver.add(E.init(self.enc, self.u.state(0)), self.enc.valid(self.u.state(0)))
        self.depth = 0  # transitions asserted so far

    def extend(self, d: int) -> None:
        while self.depth < d:
            i = self.depth
            self.solver.add(self.u.step_formulas(i).trans, self.enc.valid(self.u.state(i + 1)))
            self.depth += 1

    def check(self, query: z3.BoolRef) -> z3.CheckSatResult:
        """sat or unsat; raises OutOfTime rather than let an `unknown` pass for 'no violation'."""
        if self.deadline is not None:
            self.solver.set(timeout=max(int((self.deadline - time.monotonic()) * 1000), 1))
        r = self.solver.check(query)
        if r == z3.unknown:
            raise OutOfTime(self.solver.reason_unknown())
        return r

    def find(self, p: ir.Property, d: int) -> Trace | None:
        """A trace violating p (reaching it, for covers) whose last state is at depth d, replayed."""
        self.extend(d)
        if self.check(bmc_query(self.enc, self.u, p, d)) != z3.sat:
            return None
        states, acts = self.u.trace(self.solver.model(), d)
        return replay(self.explorer, self.engine, p, states, acts)

    def at_depth(self, props: list[ir.Property], d: int) -> dict[int, Trace]:
        """The props violated (covers reached) by a path whose last state is at depth d, with shortest traces
        if no shallower depth has one; step properties by a transition leaving that state."""
        if not props:
            return {}
        self.extend(d)
        if self.check(z3.Or([bmc_query(self.enc, self.u, p, d) for p in props])) != z3.sat:
            return {}
        out = {}
        for p in props:
            t = self.find(p, d)
            if t is not None:
                out[p.id] = t
        return out

    def search(self, props: list[ir.Property], depth: int, interrupt: Interrupt | None = None
               ) -> tuple[dict[int, tuple[int, Trace]], int, str | None]:
        """Shortest traces (depth of the last state, trace) for the props that fail within `depth`; the depth
        fully searched; and what stopped the search early (timeout | interrupted), if anything."""
        found: dict[int, tuple[int, Trace]] = {}
        pending = list(props)
        for d in range(depth + 1):
            if interrupt is not None and interrupt.set:
                return found, d - 1, "interrupted"
            here = [p for p in pending if not (p.is_step and d >= depth)]
            try:
                for pid, t in self.at_depth(here, d).items():
                    found[pid] = (d, t)
            except OutOfTime:
                return found, d - 1, "timeout"
            pending = [p for p in pending if p.id not in found]
        return found, depth, None


def safety_and_covers(ts: ir.TransitionSystem) -> list[ir.Property]:
    """The properties the z3 engines decide: all but liveness."""
    return [p for p in ts.properties if p.kind not in ir.LIVENESS_KINDS]


def property_results(ts: ir.TransitionSystem, found: dict[int, Trace], proved: dict[int, Coverage],
                     fallback: Coverage) -> tuple[PropertyResult, ...]:
    """Violations/reached covers from `found` (shortest traces, by BMC), proofs from `proved` (covers proved unreachable are vacuous), the
    rest bounded by `fallback` (invariants and step properties hold up to it; covers are undecided)."""
    expects = {name: verdict for name, verdict, _ in ts.expects}
    out = []
    for p in ts.properties:
        exp = expects.get(p.name)
        if p.kind in ir.LIVENESS_KINDS:  # infinite runs: the z3 engines encode finite ones only
            out.append(PropertyResult(p, "unknown", Coverage("unsupported"), None, exp))
        elif p.id in found:
            status = "reached" if p.kind == "cover" else "violated"
            out.append(PropertyResult(p, status, Coverage("shortest", depth=found[p.id].length), found[p.id], exp))
        elif p.id in proved:
            out.append(PropertyResult(p, "vacuous" if p.kind == "cover" else "holds", proved[p.id], None, exp))
        elif fallback.kind == "bounded" and p.kind != "cover" and fallback.bound is None:
            out.append(PropertyResult(p, "holds", fallback, None, exp))
        else:
            out.append(PropertyResult(p, "unknown", fallback, None, exp))
    return tuple(out)


def run_bmc(ts: ir.TransitionSystem, depth: int, timeout: float | None = None,
            interrupt: Interrupt | None = None) -> CheckResult:
    started = time.monotonic()
    deadline = started + timeout if timeout is not None else None
    engine = BMC(ts, deadline=deadline)
    found, reached, bound = engine.search(safety_and_covers(ts), depth, interrupt)
    cov = Coverage("bounded", depth=max(reached, 0), bound=bound)
    results = property_results(ts, {pid: t for pid, (_, t) in found.items()}, {}, cov)
    stats = Stats(0, 0, max(reached, 0), time.monotonic() - started)
    notes = (f"BMC stopped by {bound}; no violation up to depth {max(reached, 0)}",) if bound else ()
    return CheckResult("bmc", results, stats, bound=bound, notes=notes)
