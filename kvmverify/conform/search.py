"""The conformance search: the set of model states consistent with the log so far, advanced event by event.

Before each observed event the set is closed under the internal actions (those no `observe` names), which may
happen any number of times between two events; then one observed action instance that matches the event is
taken from every state that allows it. The log conforms when the set is never empty; the first event that
empties it is where it does not. Everything runs on sets of states with memo tables (a closure per set, the
successors by an instance per closed set), so a long periodic log costs a dictionary look-up per event.

Log identifiers (`id(token)`, `id(pid)`) are bound to model values by first appearance: a configuration is a set
of states together with the bindings in force, and a fresh identifier may take any value that no other live
identifier of its namespace holds (given the arguments written before it: two tokens of one vCPU are different
tokens, tokens of two vCPUs may share a value). An identifier is live from its first appearance in the log to its
last one; then its binding is dropped and its value may be reused. For a `symmetric` type, of several unbound
values that the closed set cannot tell apart only the smallest is tried.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from ..engines.explicit.codegen import Compiled, _Gen, compile_system
from ..engines.shared.limits import Interrupt
from ..ir import nodes as ir
from ..ir.observe import Observation
from ..ir.symmetry import _permutation
from .log import Event

Key = tuple  # sorted ((namespace, raw), value, prefix) bindings; prefix: ((namespace, value), ...)


class Stopped(Exception):
    def __init__(self, bound: str, at: int):
        super().__init__(bound)
        self.bound, self.at = bound, at


@dataclass(frozen=True)
class Match:
    """One way an event may be an observed action: observation `obs` with each parameter's raw value (an int
    for values and ids, None for `_`)."""

    obs: int
    raws: tuple


@dataclass
class Matched:
    """The events of the log that observations match, in log order, and what the others were."""

    events: list[Event]  # the observed ones
    matches: list[list[Match]]
    unobserved: dict[str, int]  # event name -> lines no observation names
    filtered: dict[str, int]  # event name -> lines whose `when` held for no observation of the event
    live: dict[tuple, tuple[int, int]]  # (namespace, raw) -> (first, last) index into `events`


def compile_matchers(ts: ir.TransitionSystem, observations: tuple[Observation, ...]):
    """One generated function per observation: fields -> None (its `when` is false, or a field is missing) or
    the raw argument values. Generated from the IR like the successor function: no model text reaches it."""
    g = _Gen(ts)
    lines = []
    for o in observations:
        lines.append(f"def m{o.index}(F):")
        lines.append("    try:")
        for f in o.fields:  # field names are .kv names, [A-Za-z_][A-Za-z0-9_]*
            lines.append(f"        L_{f} = F[{f!r}]")
        lines.append("    except KeyError:")
        lines.append("        return None")
        if o.when is not None:
            lines.append(f"    if not {g.expr(o.when)}:")
            lines.append("        return None")
        vals = ", ".join("None" if p.expr is None else g.expr(p.expr) for p in o.params)
        lines.append(f"    return ({vals}{',' if o.params else ''})")
    namespace: dict = {"__builtins__": {}}
    exec(compile("\n".join(lines) + "\n", f"<kvmverify:{ts.name}:observe>", "exec"), namespace)  # noqa: S102
    return [namespace[f"m{o.index}"] for o in observations]


def match_events(ts: ir.TransitionSystem, observations: tuple[Observation, ...], events: list[Event]) -> Matched:
    fns = compile_matchers(ts, observations)
    by_event: dict[str, list[int]] = defaultdict(list)
    for o in observations:
        by_event[o.event].append(o.index)
    kept: list[Event] = []
    matches: list[list[Match]] = []
    unobserved: dict[str, int] = defaultdict(int)
    filtered: dict[str, int] = defaultdict(int)
    live: dict[tuple, tuple[int, int]] = {}
    ids = {o.index: [(i, p.namespace) for i, p in enumerate(o.params) if p.kind == "id"] for o in observations}
    for ev in events:
        obs = by_event.get(ev.name)
        if not obs:
            unobserved[ev.name] += 1
            continue
        found = []
        for oi in obs:
            raws = fns[oi](ev.fields)
            if raws is not None:
                found.append(Match(oi, raws))
        if not found:
            filtered[ev.name] += 1
            continue
        k = len(kept)
        kept.append(ev)
        matches.append(found)
        for m in found:
            for i, ns in ids[m.obs]:
                key = (ns, m.raws[i])
                first = live.get(key)
                live[key] = (k if first is None else first[0], k)
    return Matched(kept, matches, dict(sorted(unobserved.items())), dict(sorted(filtered.items())), live)


@dataclass
class Edge:
    old: Key
    inst: int
    new: Key


@dataclass
class SearchOutcome:
    status: str  # conforms | not-conform | undecided
    processed: int  # observed events taken (all of them when the log conforms)
    history: list  # history[k]: {key: frozenset of states} before event k (history[n]: after the last one)
    edges: list  # edges[k]: the Edge list of event k
    bound: str | None = None
    largest: int = 0  # the largest closed set
    states_seen: int = 0  # distinct model states expanded
    seconds: float = 0.0
    notes: list = field(default_factory=list)


class ConformSearch:
    def __init__(self, ts: ir.TransitionSystem, observations: tuple[Observation, ...],
                 compiled: Compiled | None = None, symmetry: bool = True):
        self.ts = ts
        self.obs = observations
        self.c = compiled or compile_system(ts)
        observed = {(o.actor, o.action) for o in observations}
        self.internal = frozenset(a.id for a in ts.actions if (a.actor, a.action) not in observed)
        self.expanded: dict[tuple, tuple] = {}  # state -> (internal successors, {instance: successors})
        self.closures: dict[frozenset, frozenset] = {}
        self.steps: dict[frozenset, dict[int, frozenset]] = {}
        self.interned: dict[frozenset, frozenset] = {}
        self.sym = self._symmetric_namespaces() if symmetry else {}
        self.forward_memo: dict = {}

    # ------------------------------------------------------------------------------------------ model steps
    def expand(self, s: tuple) -> tuple:
        e = self.expanded.get(s)
        if e is None:
            out: list = []
            viol: list = []
            self.c.succ(s, out, viol)
            internal: dict = {}
            observed: dict[int, dict] = {}
            inside = self.internal
            for k, t in out:
                if t is None:
                    continue
                if k in inside:
                    internal[t] = None
                else:
                    observed.setdefault(k, {})[t] = None
            e = self.expanded[s] = (tuple(internal), {k: tuple(v) for k, v in observed.items()})
        return e

    def closure(self, states: frozenset, limit: int | None, at: int) -> frozenset:
        c = self.closures.get(states)
        if c is None:
            seen = set(states)
            stack = list(states)
            while stack:
                for t in self.expand(stack.pop())[0]:
                    if t not in seen:
                        seen.add(t)
                        stack.append(t)
                if limit is not None and len(seen) > limit:
                    raise Stopped("max-states", at)
            c = self.intern(frozenset(seen))
            self.closures[states] = c
        return c

    def by_instance(self, closed: frozenset) -> dict[int, frozenset]:
        d = self.steps.get(closed)
        if d is None:
            acc: dict[int, set] = defaultdict(set)
            for s in closed:
                for k, ts in self.expand(s)[1].items():
                    acc[k].update(ts)
            d = self.steps[closed] = {k: self.intern(frozenset(v)) for k, v in acc.items()}
        return d

    def intern(self, fs: frozenset) -> frozenset:
        return self.interned.setdefault(fs, fs)

    # ------------------------------------------------------------------------------------------ identifiers
    def _symmetric_namespaces(self) -> dict[str, tuple]:
        """Namespaces of `symmetric` types that every observation treats alike (as ids or `_`): their slices."""
        out = {s.type_name: s.slices for s in self.ts.symmetries}
        for o in self.obs:
            for p in o.params:
                if p.kind == "value" and p.namespace in out:
                    del out[p.namespace]  # an observation names a value: they are not interchangeable
        return out

    def assignments(self, m: Match, key: Key, closed: frozenset):
        """(argument values, bindings after) for each way `m` may be taken under the bindings `key`."""
        o = self.obs[m.obs]
        bound = {(ns, raw): (v, pre) for (ns, raw), v, pre in key}
        out = []

        def rec(i: int, values: tuple, prefix: tuple, fresh: tuple) -> None:
            if i == len(o.params):
                out.append((values, fresh))
                return
            p = o.params[i]
            r = m.raws[i]
            if p.kind == "value":
                if p.lo <= r < p.lo + p.size:
                    rec(i + 1, values + (r,), prefix + ((p.namespace, r),), fresh)
                return
            if p.kind == "any":
                for v in range(p.lo, p.lo + p.size):
                    rec(i + 1, values + (v,), prefix + ((p.namespace, v),), fresh)
                return
            b = bound.get((p.namespace, r))
            if b is None:
                b = next((((v, pre)) for (ns, raw), v, pre in fresh if (ns, raw) == (p.namespace, r)), None)
            if b is not None:
                rec(i + 1, values + (b[0],), prefix + ((p.namespace, b[0]),), fresh)
                return
            taken = {v for (ns, _), v, pre in (*key, *fresh) if ns == p.namespace and pre == prefix}
            free = [v for v in range(p.lo, p.lo + p.size) if v not in taken]
            if p.namespace in self.sym and len(free) > 1:
                free = self._representatives(p, free, key, fresh, closed)
            for v in free:
                rec(i + 1, values + (v,), prefix + ((p.namespace, v),), fresh + (((p.namespace, r), v, prefix),))

        rec(0, (), (), ())
        return out

    def _representatives(self, p, free: list[int], key: Key, fresh: tuple, closed: frozenset) -> list[int]:
        """Of the free values no binding mentions, one per class the closed set cannot tell apart."""
        mentioned = {v for (ns, _), v, _ in (*key, *fresh) if ns == p.namespace}
        mentioned |= {v for _, _, pre in (*key, *fresh) for ns, v in pre if ns == p.namespace}
        slices = self.sym[p.namespace]
        n = len(self.ts.vars)
        kept: list[int] = []
        for v in free:
            if v in mentioned:
                kept.append(v)
                continue
            same = False
            for u in kept:
                if u in mentioned:
                    continue
                order = list(range(len(slices)))
                order[u - p.lo], order[v - p.lo] = v - p.lo, u - p.lo
                perm = _permutation(slices, order, n)
                if all(_apply(perm, s) in closed for s in closed):
                    same = True
                    break
            if not same:
                kept.append(v)
        return kept

    # ------------------------------------------------------------------------------------------ the search
    def run(self, matched: Matched, max_states: int | None = None, timeout: float | None = None,
            interrupt: Interrupt | None = None) -> SearchOutcome:
        started = time.monotonic()
        deadline = started + timeout if timeout is not None else None
        live = matched.live
        current: dict[Key, frozenset] = {(): self.intern(frozenset(self.ts.init))}
        history: list = []
        edges: list = []
        largest = 0
        actions = [o.instances for o in self.obs]
        outcome = SearchOutcome("conforms", 0, history, edges)
        for k, found in enumerate(matched.matches):
            history.append(current)  # history[k]: the sets before event k
            if (k & 255) == 0:
                if interrupt is not None and interrupt.set:
                    outcome.status, outcome.bound = "undecided", "interrupted"
                    break
                if deadline is not None and time.monotonic() > deadline:
                    outcome.status, outcome.bound = "undecided", "timeout"
                    break
            nxt: dict[Key, set] = {}
            here: list[Edge] = []
            try:
                for key, states in current.items():
                    closed = self.closure(states, max_states, k)
                    largest = max(largest, len(closed))
                    by = self.by_instance(closed)
                    for m in found:
                        inst_of = actions[m.obs]
                        for values, fresh in self.assignments(m, key, closed):
                            inst = inst_of.get(values)
                            after = by.get(inst) if inst is not None else None
                            if not after:
                                continue
                            new = tuple(sorted(b for b in (*key, *fresh) if live[b[0]][1] > k))
                            here.append(Edge(key, inst, new))
                            acc = nxt.get(new)
                            if acc is None:
                                nxt[new] = set(after)
                            else:
                                acc |= after
            except Stopped as stop:
                outcome.status, outcome.bound = "undecided", stop.bound
                break
            if not nxt:
                outcome.status = "not-conform"
                break
            edges.append(here)
            current = {key: self.intern(frozenset(v)) for key, v in sorted(nxt.items())}
            outcome.processed = k + 1
        else:
            history.append(current)
        outcome.largest = largest
        outcome.states_seen = len(self.expanded)
        outcome.seconds = time.monotonic() - started
        return outcome

    # ------------------------------------------------------------------------------------------ the witness
    def witness(self, outcome: SearchOutcome) -> list[tuple[int | None, tuple, int | None]]:
        """A run explaining events 0 .. processed-1: (instance or None, state, event index or None) per step.
        Forward first (the fewest internal steps from the state reached to one the event's instance leaves into
        the next set); should that reach a state the rest of the log cannot follow, backwards (always works)."""
        forward = self._forward_witness(outcome)
        return forward if forward is not None else self._backward_witness(outcome)

    def _forward_witness(self, outcome: SearchOutcome):
        n = outcome.processed
        key, = [k for k in outcome.history[0]]
        state = min(outcome.history[0][key])
        steps: list = [(None, state, None)]
        memo = self.forward_memo
        for k in range(n):
            after = outcome.history[k + 1]
            best = None
            for e in outcome.edges[k]:
                if e.old != key:
                    continue
                targets = after[e.new]
                m = (state, e.inst, targets)
                found = memo.get(m, False)
                if found is False:
                    found = self._internal_path(frozenset((state,)),
                                                lambda p, i=e.inst, w=targets: not w.isdisjoint(self.expand(p)[1].get(i, ())))
                    memo[m] = found
                if found is not None and (best is None or len(found[1]) < len(best[1][1])):
                    best = (e, found)
            if best is None:
                return None
            e, (_, path) = best
            steps.extend((inst, s, None) for inst, s in path)
            pre = path[-1][1] if path else state
            state = min(t for t in self.expand(pre)[1][e.inst] if t in after[e.new])
            steps.append((e.inst, state, k))
            key = e.new
        return steps

    def _backward_witness(self, outcome: SearchOutcome) -> list[tuple[int | None, tuple, int | None]]:
        """A run explaining events 0 .. processed-1: (instance or None, state, event index or None) per step.
        It is rebuilt backwards through the history: for each event, the fewest internal steps from a state of
        the set before it to a state that the event's instance takes to the state already chosen."""
        n = outcome.processed
        last = outcome.history[n]
        key = min(last)
        targets = last[key]  # any state of the last set may end the run; then the one the later steps start from
        steps: list = []
        for k in range(n - 1, -1, -1):
            before = outcome.history[k]
            best = None
            for e in outcome.edges[k]:
                if e.new != key:
                    continue

                def reaches(p, inst=e.inst, want=targets):
                    return not want.isdisjoint(self.expand(p)[1].get(inst, ()))
                found = self._internal_path(before[e.old], reaches)
                if found is not None and (best is None or len(found[1]) < len(best[2])):
                    best = (e, found[0], found[1])
            assert best is not None, "the history explains every state it kept"
            e, start, path = best
            pre = path[-1][1] if path else start
            state = min(t for t in self.expand(pre)[1][e.inst] if t in targets)
            steps.append((e.inst, state, k))
            steps.extend((inst, s, None) for inst, s in reversed(path))
            targets, key = frozenset((start,)), e.old
        steps.append((None, min(targets), None))
        steps.reverse()
        return steps

    def _internal_path(self, start: frozenset, goal) -> tuple[tuple, list[tuple[int, tuple]]] | None:
        """A state of `start` and the fewest internal steps (instance, state reached) from it to a state that
        satisfies `goal`; None if no state of the closure does."""
        parent: dict[tuple, tuple] = {}
        frontier = sorted(start)
        for s in frontier:
            parent[s] = (None, None)
        while frontier:
            nxt = []
            for s in frontier:
                if goal(s):
                    path = []
                    cur = s
                    while parent[cur][0] is not None:
                        prev, inst = parent[cur]
                        path.append((inst, cur))
                        cur = prev
                    return cur, list(reversed(path))
                out: list = []
                self.c.succ(s, out, [])
                for k, t in out:
                    if t is not None and k in self.internal and t not in parent:
                        parent[t] = (s, k)
                        nxt.append(t)
            frontier = nxt
        return None


def _apply(perm: list[int], s: tuple) -> tuple:
    out = [0] * len(s)
    for i, v in enumerate(s):
        out[perm[i]] = v
    return tuple(out)
