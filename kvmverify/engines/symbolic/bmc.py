"""Bounded model checking: one incremental z3 solver, one depth at a time, so the first violation found for a
property is a shortest one. Depth K means what `--max-depth K` means for the explicit engine: every state
reachable in at most K steps is checked, and every transition leaving a state reachable in fewer than K steps."""
from __future__ import annotations

import time

import z3

from ...ir import nodes as ir
from . import encode as E
from .watchdog import trusted
from ..explicit.search import Explorer
from ..shared.limits import Interrupt, Ticker
from ..shared.replay import replay
from ..shared.result import CheckResult, Coverage, PropertyResult, Stats, Trace


def bmc_query(enc: E.Encoding, u: E.Unrolling, p: ir.Property, d: int) -> z3.BoolRef:
    """The path of length d (already asserted) ends in a state (or leaves it by a transition) that fails p."""
    s = u.state(d)
    f = u.step_formulas(d) if p.is_step else E.StepFormulas(z3.BoolVal(True), {})
    return E.bad_state(enc, p, s, f)


class OutOfTime(Exception):
    """The deadline passed inside a z3 call (its answer was `unknown`)."""


class BMC:
    """An incremental unrolling; `search(props, depth)` finds the shortest violation of each property.

    A query at depth d runs on a solver holding exactly the path of d transitions: one that required the path to
    go on past its last state would miss a violation (or deadlock) at d with no longer run from it, or find it
    deeper. Searches go deeper one depth at a time; a query below the depth already unrolled (PDR asking for
    one property's shortest trace after another's) starts a fresh solver. (Activation literals per transition
    would avoid the restart, but cost about a quarter of the time of every deep search.)"""

    def __init__(self, ts: ir.TransitionSystem, explorer: Explorer | None = None, engine: str = "bmc",
                 deadline: float | None = None):
        self.ts, self.engine, self.deadline = ts, engine, deadline
        self.enc = E.Encoding(ts)
        self.explorer = explorer or Explorer(ts)
        self.u = E.Unrolling(self.enc)
        self.restart()

    def restart(self) -> None:
        self.solver = z3.Solver()
        self.solver.add(E.init(self.enc, self.u.state(0)), self.enc.valid(self.u.state(0)))
        self.depth = 0  # transitions asserted so far

    def extend(self, d: int) -> None:
        if self.depth > d:
            self.restart()
        while self.depth < d:
            i = self.depth
            self.solver.add(self.u.step_formulas(i).trans, self.enc.valid(self.u.state(i + 1)))
            self.depth += 1

    def check(self, query: z3.BoolRef, d: int) -> z3.CheckSatResult:
        """Is `query` satisfiable on a path of exactly d transitions? sat or unsat; raises OutOfTime rather than
        let an `unknown` pass for 'no violation'."""
        self.extend(d)
        if self.deadline is not None:
            self.solver.set(timeout=max(int((self.deadline - time.monotonic()) * 1000), 1))
        r = self.solver.check(query)
        if r == z3.unknown or not trusted():
            raise OutOfTime(self.solver.reason_unknown())
        return r

    def find(self, p: ir.Property, d: int) -> Trace | None:
        """A trace violating p (reaching it, for covers) whose last state is at depth d, replayed."""
        if self.check(bmc_query(self.enc, self.u, p, d), d) != z3.sat:
            return None
        states, acts = self.u.trace(self.solver.model(), d)
        return replay(self.explorer, self.engine, p, states, acts)

    def at_depth(self, props: list[ir.Property], d: int) -> dict[int, Trace]:
        """The props violated (covers reached) by a path whose last state is at depth d, with shortest traces
        if no shallower depth has one; step properties by a transition leaving that state."""
        if not props:
            return {}
        if self.check(z3.Or([bmc_query(self.enc, self.u, p, d) for p in props]), d) != z3.sat:
            return {}
        out = {}
        for p in props:
            t = self.find(p, d)
            if t is not None:
                out[p.id] = t
        return out

    def search(self, props: list[ir.Property], depth: int, interrupt: Interrupt | None = None,
               each_depth=None, progress=None, settled=None) -> tuple[dict[int, tuple[int, Trace]], int, str | None]:
        """Shortest traces (depth of the last state, trace) for the props that fail within `depth`; the depth
        fully searched; and what stopped the search early (timeout | interrupted), if anything. `each_depth(d)`
        runs after the queries of depth d (the lasso search). Once every property has its trace (and
        `settled()`, if given, says the lasso search is done too), deeper unrollings cannot change a verdict: the
        search stops there (`--property` selecting only properties that fail early makes BMC return early)."""
        found: dict[int, tuple[int, Trace]] = {}
        pending = list(props)
        tick = Ticker(progress, self.engine if self.engine == "bmc" else f"{self.engine}: shortest traces")
        for d in range(depth + 1):
            if interrupt is not None and interrupt.set:
                return found, d - 1, "interrupted"
            here = [p for p in pending if not (p.is_step and d >= depth)]
            tick(f"depth {d} of {depth}, {len(here)} open", depth=d, force=True)
            try:
                for pid, t in self.at_depth(here, d).items():
                    found[pid] = (d, t)
                if each_depth is not None:
                    each_depth(d)
            except OutOfTime:
                return found, d - 1, "timeout"
            pending = [p for p in pending if p.id not in found]
            if not pending and (settled is None or settled()):
                return found, d, None
        return found, depth, None


def safety_and_covers(ts: ir.TransitionSystem) -> list[ir.Property]:
    """The properties the z3 engines decide: all but liveness."""
    return [p for p in ts.properties if p.kind not in ir.LIVENESS_KINDS]


def property_results(ts: ir.TransitionSystem, found: dict[int, Trace], proved: dict[int, Coverage],
                     fallback: Coverage, live: dict[int, PropertyResult] | None = None
                     ) -> tuple[PropertyResult, ...]:
    """Violations/reached covers from `found` (shortest traces, by BMC), proofs from `proved` (covers proved
    unreachable are vacuous), the rest bounded by `fallback` (invariants and step properties hold up to it; covers
    are undecided). Liveness from `live` (BMC's lasso search), else undecided: no z3 engine proves it."""
    expects = {name: verdict for name, verdict, _ in ts.expects}
    out = []
    for p in ts.properties:
        exp = expects.get(p.name)
        if p.kind in ir.LIVENESS_KINDS:
            out.append(live[p.id] if live and p.id in live else
                       PropertyResult(p, "unknown", Coverage("unsupported"), None, exp))
        elif p.id in found:
            status = "reached" if p.is_cover else "violated"
            out.append(PropertyResult(p, status, Coverage("shortest", depth=found[p.id].length), found[p.id], exp))
        elif p.id in proved:
            out.append(PropertyResult(p, "vacuous" if p.is_cover else "holds", proved[p.id], None, exp))
        elif fallback.kind == "bounded" and not p.is_cover and fallback.bound is None:
            out.append(PropertyResult(p, "holds", fallback, None, exp))
        else:
            out.append(PropertyResult(p, "unknown", fallback, None, exp))
    return tuple(out)


def run_bmc(ts: ir.TransitionSystem, depth: int, timeout: float | None = None,
            interrupt: Interrupt | None = None, progress=None) -> CheckResult:
    started = time.monotonic()
    deadline = started + timeout if timeout is not None else None
    engine = BMC(ts, deadline=deadline)
    lassos = None
    if ts.liveness:
        from .lasso import LassoSearch
        lassos = LassoSearch(engine, list(ts.liveness))
    settled = (lambda: len(lassos.found) == len(ts.liveness)) if lassos else None
    found, reached, bound = engine.search(safety_and_covers(ts), depth, interrupt,
                                          lassos.at_depth if lassos else None, progress, settled)
    cov = Coverage("bounded", depth=max(reached, 0), bound=bound)
    notes: tuple[str, ...] = (f"BMC stopped by {bound}; no violation up to depth {max(reached, 0)}",) if bound else ()
    live: dict[int, PropertyResult] = {}
    if lassos is not None:
        live, live_notes = lasso_results(ts, lassos.found, max(reached, 0), bound)
        notes += live_notes
    results = property_results(ts, {pid: t for pid, (_, t) in found.items()}, {}, cov, live)
    stats = Stats(0, 0, max(reached, 0), time.monotonic() - started)
    return CheckResult("bmc", results, stats, bound=bound, notes=notes)


def lasso_results(ts: ir.TransitionSystem, lassos: dict[int, Trace], reached: int, bound: str | None
                  ) -> tuple[dict[int, PropertyResult], tuple[str, ...]]:
    """Liveness by BMC: a fair lasso (violated) or none up to the depth searched (undecided, never 'holds')."""
    expects = {name: verdict for name, verdict, _ in ts.expects}
    out = {}
    for lv in ts.liveness:
        p = ts.properties[lv.prop]
        t = lassos.get(p.id)
        if t is not None:
            out[p.id] = PropertyResult(p, "violated", Coverage("lasso", depth=t.length + (t.loop_action is not None)),
                                       t, expects.get(p.name))
        else:
            out[p.id] = PropertyResult(p, "unknown", Coverage("lasso-bounded", depth=reached, bound=bound),
                                       None, expects.get(p.name))
    notes: tuple[str, ...] = ()
    if len(lassos) < len(ts.liveness):
        notes = (f"liveness: no fair lasso of up to {reached} transitions"
                 f"{f' (stopped by {bound})' if bound else ''}; BMC only finds violations, the explicit engine's "
                 "exhaustive search is what proves a liveness property",)
    return out, notes
