"""Explicit-state breadth-first search: exact state counts and the shortest counterexample for each property.

States are flat tuples of ints; the visited set maps each to its id; `parent`/`via` arrays give the BFS tree, from
which every trace is rebuilt. Because the search goes level by level, the first violation found for a property
is a shortest one.
"""
from __future__ import annotations

import time
from array import array
from dataclasses import dataclass
from typing import Callable

from ...ir import nodes as ir
from ..shared.limits import (PROGRESS_EVERY, Interrupt, Limits, Progress, ProgressFn, current_rss_mb,
                             peak_rss_mb)
from ..shared.result import CheckResult, Coverage, PropertyResult, Stats, Step, Trace, Violation, state_violation
from .codegen import Compiled, compile_system
from .liveness import check_liveness


class SuccessorsStopped(Exception):
    """Raised from inside the generated successor function when a limit is hit while one state is expanded."""

    def __init__(self, bound: str):
        super().__init__(bound)
        self.bound = bound


@dataclass
class _Found:
    """Where a property was first violated (or a cover first reached)."""

    state: int  # the state id (for step properties: the pre-state)
    action: int | None = None
    check: int | None = None
    pos: int | None = None
    detail: tuple = ()


class Explorer:
    """The engine contract: initial states, successors (enabled actions applied), property checks."""

    def __init__(self, ts: ir.TransitionSystem, compiled: Compiled | None = None, symmetry: bool = True):
        self.ts = ts
        self.c = compiled or compile_system(ts)
        # With symmetry the search stores one state per orbit; traces are mapped back to concrete runs.
        self.canon = self.c.canon if symmetry and ts.symmetries else None
        self.reduction = ("symmetry of " + ", ".join(s.type_name for s in ts.symmetries)) if self.canon else None

    def initial_states(self) -> list[tuple[int, ...]]:
        return list(self.ts.init)

    def successors(self, state: tuple[int, ...]) -> tuple[list, list]:
        out: list = []
        viol: list = []
        self.c.succ(state, out, viol)
        return out, viol

    def step(self, state: tuple[int, ...], action: int) -> list[tuple[int, ...] | None]:
        """Every state `action` can lead to from `state` (None for paths a fatal check stopped)."""
        out, _ = self.successors(state)
        return [t for k, t in out if k == action]

    # -------------------------------------------------------------------------------------------- the search
    def run(self, limits: Limits = Limits(), interrupt: Interrupt | None = None,
            progress: ProgressFn | None = None, bounded_liveness: bool = True) -> CheckResult:
        """`progress`, if given, is called with a `Progress` about every PROGRESS_EVERY expanded states.
        `bounded_liveness=False`: when a bound stops the safety search, skip the (bounded) lasso search too (the
        caller searches again with another engine)."""
        ts, succ, props = self.ts, self.c.succ, self.c.props
        started = time.monotonic()
        deadline = started + limits.timeout if limits.timeout is not None else None
        index: dict[tuple, int] = {}
        states: list[tuple] = []
        parent = array("q")
        via = array("q")
        found: dict[int, _Found] = {}
        inv_mask = self.c.state_mask
        state_props = [p for p in ts.properties if not p.is_step]
        pending_step = {p.id for p in ts.properties if p.is_step}
        check_prop = [c.prop for c in self.c.checks]

        def note_state(sid: int, r: int) -> None:
            for p in state_props:
                if r >> p.id & 1 and p.id not in found:
                    found[p.id] = _Found(sid)

        for s in self.initial_states():
            if self.canon is not None:
                s = self.canon(s)
            if s not in index:
                index[s] = len(states)
                states.append(s)
                parent.append(-1)
                via.append(-1)
                note_state(index[s], props(s))
        transitions = 0
        depth = 0
        level_start, level_end = 0, len(states)
        bound: str | None = None
        out: list = []
        viol: list = []
        canon = self.canon
        def tick(partial: list) -> None:
            hit = self._bound_hit(limits, len(states) + len(partial), deadline, interrupt)
            if hit:
                raise SuccessorsStopped(hit)
        self.c.ticker.check = tick
        while level_start < level_end:
            if limits.max_depth is not None and depth >= limits.max_depth:
                bound = "max-depth"
                break
            sid = level_start
            while sid < level_end:
                # every 64 expansions: a wide model makes thousands of successors per state, and a bound must
                # stop it close to where it was set
                if sid & 63 == 0 or (limits.max_states is not None and len(states) >= limits.max_states):
                    bound = self._bound_hit(limits, len(states), deadline, interrupt)
                    if bound:
                        break
                    if progress is not None and sid & (PROGRESS_EVERY - 1) == 0:
                        progress(Progress(len(states), depth, transitions, time.monotonic() - started))
                s = states[sid]
                out.clear()
                viol.clear()
                try:
                    succ(s, out, viol)
                except SuccessorsStopped as stop:  # one state's successors ran past a limit
                    bound = stop.bound
                    break
                for k, t in out:
                    if t is None:
                        continue
                    transitions += 1
                    if canon is not None:
                        t = canon(t)
                    if t not in index:
                        nid = len(states)
                        index[t] = nid
                        states.append(t)
                        parent.append(sid)
                        via.append(k)
                        r = props(t)
                        if r:
                            note_state(nid, r)
                if viol:
                    for k, cid, pos, detail in viol:
                        pid = check_prop[cid]
                        if pid in pending_step:
                            pending_step.discard(pid)
                            found[pid] = _Found(sid, k, cid, pos, detail)
                sid += 1
            if bound:
                break
            depth += 1
            level_start, level_end = level_end, len(states)
        self.c.ticker.check = None
        exhausted = bound is None
        # exhausted: the loop ran one level past the deepest one; stopped: every transition from levels below
        # `depth` was explored and every state up to `depth` checked
        reached = depth - 1 if exhausted else depth
        # liveness: fair lassos in the concrete graph, explored again without symmetry reduction and with its edges
        index.clear()  # traces need only states/parent/via: free the visited set before the liveness search
        skip = not ts.liveness or (bound is not None and not bounded_liveness)
        live, live_bound, live_notes = ({}, None, ()) if skip else check_liveness(self, limits, interrupt, deadline,
                                                                                  progress)
        stats = Stats(len(states), transitions, max(reached, 0), time.monotonic() - started, peak_rss_mb())
        return self.conclude("explicit", found, lambda sid: self.trace_to(sid, states, parent, via), stats, bound,
                             live, live_bound, live_notes)

    def conclude(self, engine: str, found: dict, trace_of: Callable[[int], Trace], stats: Stats, bound: str | None,
                 live: dict, live_bound: str | None, live_notes: tuple[str, ...]) -> CheckResult:
        """The result of a search that stopped with `bound` (None: exhausted): a verdict per property from where
        each was first violated (`found`: property id -> _Found; `trace_of(state id)` the path to a state), the
        liveness results, and the notes that say what a bound left undecided."""
        results = self._results(found, trace_of, stats, bound, live)
        resource_bound = bound if bound != "max-depth" else None
        notes = () if resource_bound is None else self._partial_notes(results, stats, bound)
        if resource_bound is None and live_bound not in (None, "max-depth"):
            # safety was exhaustive; the concrete liveness graph (no symmetry reduction) or its search was not
            resource_bound = live_bound
            why = "an interrupt (SIGINT)" if live_bound == "interrupted" else live_bound
            notes += (f"the liveness search was stopped by {why}; the safety results are exhaustive",)
        if any(r.status == "unknown" for r in live.values()):
            notes += ("liveness needs the whole state graph: a bounded search can show a lasso but never proves "
                      "a liveness property",)
        notes += live_notes
        return CheckResult(engine, tuple(results), stats, bound=resource_bound, notes=notes,
                           reduction=self.reduction)

    @staticmethod
    def _partial_notes(results, stats: Stats, bound: str) -> tuple[str, ...]:
        """What a stopped search still says: how far it got, and which properties nothing violated so far."""
        clean = [r.prop.name for r in results
                 if r.status == "unknown" and not r.prop.is_cover and r.prop.kind != "liveness"]  # liveness: its own note
        why = "an interrupt (SIGINT)" if bound == "interrupted" else bound
        notes = [f"search stopped by {why} after {stats.states} states; every state up to depth {stats.depth} "
                 "checked"]
        if clean:
            notes.append(f"no violation in {stats.states} states explored (bound hit: {bound}): {', '.join(clean)}")
        return tuple(notes)

    @staticmethod
    def _bound_hit(limits: Limits, nstates: int, deadline, interrupt) -> str | None:
        if interrupt is not None and interrupt.set:
            return "interrupted"
        if limits.max_states is not None and nstates >= limits.max_states:
            return "max-states"
        if deadline is not None and time.monotonic() > deadline:
            return "timeout"
        if limits.max_memory_mb is not None:
            rss = current_rss_mb()
            if rss is not None and rss > limits.max_memory_mb:
                return "max-memory"
        return None

    def _results(self, found, trace_of, stats: Stats, bound, live: dict | None = None):
        expects = {name: verdict for name, verdict, _ in self.ts.expects}
        exhausted = bound is None
        results = []
        for p in self.ts.properties:
            if p.kind in ir.LIVENESS_KINDS:  # not searched: the safety search was stopped (bounded_liveness)
                results.append(live.get(p.id) or PropertyResult(
                    p, "unknown", Coverage("bounded", states=stats.states, depth=stats.depth, bound=bound),
                    None, expects.get(p.name)))
                continue
            f = found.get(p.id)
            if exhausted:
                cov = Coverage("exhaustive", states=stats.states, depth=stats.depth, reduction=self.reduction)
            else:
                cov = Coverage("bounded", states=stats.states, depth=stats.depth, bound=bound,
                               reduction=self.reduction)
            if p.is_cover:
                if f is not None:
                    trace = self.concrete(trace_of(f.state))
                    results.append(PropertyResult(p, "reached", cov, trace, expects.get(p.name)))
                else:
                    status = "vacuous" if exhausted else "unknown"
                    results.append(PropertyResult(p, status, cov, None, expects.get(p.name)))
                continue
            if f is None:
                status = "holds" if exhausted or bound == "max-depth" else "unknown"
                results.append(PropertyResult(p, status, cov, None, expects.get(p.name)))
                continue
            trace = self.concrete(trace_of(f.state))
            if p.is_step:
                if self.canon is not None or f.check is None:
                    # the same check fails from the concrete pre-state, maybe elsewhere; or the search (the compiled
                    # one) recorded only the state: its first violation of the property, as this search records
                    f = self._step_violation(trace.steps[-1].state, p.id)
                site = self.c.checks[f.check]
                out, _ = self.successors(trace.steps[-1].state)
                post = out[f.pos][1] if f.pos < len(out) and out[f.pos][0] == f.action else None
                detail = tuple(zip(site.labels, f.detail))
                trace = Trace((*trace.steps, Step(f.action, post)), None, Violation(site.message, detail, site.span))
            else:
                trace = Trace(trace.steps, None, state_violation(p))
            results.append(PropertyResult(p, "violated", cov, trace, expects.get(p.name)))
        return results

    def concrete(self, trace: Trace) -> Trace:
        """A run of the model through the orbits `trace` visits: each step takes the first successor of the
        previous concrete state that lies in the next orbit."""
        if self.canon is None:
            return trace
        steps = [trace.steps[0]]
        for step in trace.steps[1:]:
            out, _ = self.successors(steps[-1].state)
            k, t = next((k, t) for k, t in out if t is not None and self.canon(t) == step.state)
            steps.append(Step(k, t))
        return Trace(tuple(steps), trace.loop, trace.violation)

    def _step_violation(self, state: tuple[int, ...], prop: int) -> _Found:
        _, viol = self.successors(state)
        k, cid, pos, detail = next(v for v in viol if self.c.checks[v[1]].prop == prop)
        return _Found(-1, k, cid, pos, detail)

    @staticmethod
    def trace_to(sid: int, states, parent, via) -> Trace:
        path = []
        while sid != -1:
            path.append(Step(via[sid] if via[sid] != -1 else None, states[sid]))
            sid = parent[sid]
        return Trace(tuple(reversed(path)))


def explore(ts: ir.TransitionSystem, limits: Limits = Limits(), interrupt: Interrupt | None = None,
            progress: ProgressFn | None = None, symmetry: bool = True) -> CheckResult:
    return Explorer(ts, symmetry=symmetry).run(limits, interrupt, progress)
