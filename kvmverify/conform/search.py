"""The conformance search: the set of model states consistent with the log so far, advanced event by event.

Before each observed event the set is closed under the internal actions (those no `observe` names), which may
happen any number of times between two events; then one observed action instance that matches the event is
taken from every state that allows it. The log conforms when the set is never empty; the first event that
empties it is where it does not.

Sets are kept per independent part (engines/explicit/parts.py: apf_int's vCPUs share nothing): the states
consistent with the log are the combinations of each part's, an internal step of one part changes no other, and
an event is a step of the one part its action instance lies in. So a configuration is one set per part, and an
event replaces one of them. Everything runs on sets with memo tables (a closure per set, the successors by an
instance per closed set): a part's sets recur, so a long log costs a few dictionary look-ups per event.

Log identifiers (`id(token)`, `id(pid)`) are bound to model values by first appearance: a configuration holds
the bindings in force, and a fresh identifier may take any value that no other live identifier of its namespace
holds (given the arguments written before it: two tokens of one vCPU are different tokens, tokens of two vCPUs
may share a value). An identifier is live from its first appearance in the log to its last one; then its
binding is dropped and its value may be reused. For a `symmetric` type, of several unbound values that the
configuration cannot tell apart only the smallest is tried.
"""
from __future__ import annotations

import dataclasses
import gc
import time
from dataclasses import dataclass, field
from operator import itemgetter
from typing import NamedTuple

from ..engines.explicit.codegen import compile_system
from ..engines.explicit.parts import independent_parts
from ..engines.shared.limits import Interrupt
from ..ir import nodes as ir
from ..ir.observe import Observation
from .match import Match, Matched

Key = tuple  # sorted ((namespace, raw), value, prefix) bindings; prefix: ((namespace, value), ...)


class Config(NamedTuple):
    """Bindings, and per part the set of states (whole state vectors whose other parts hold their initial
    values) before closing it under the internal actions."""

    key: Key
    parts: tuple[frozenset, ...]


class Edge(NamedTuple):
    old: int  # index of the configuration before the event
    inst: int
    new: int  # index of the configuration after it


@dataclass
class SearchOutcome:
    status: str  # conforms | not-conform | undecided
    processed: int  # observed events taken (all of them when the log conforms)
    history: list  # history[k]: the configurations before event k (history[processed]: after the last taken)
    edges: list  # edges[k]: the Edges of event k (a sequence, not to be changed: the common one is shared)
    bound: str | None = None
    largest: int = 0  # the largest closed set of one part
    states_seen: int = 0  # distinct (part) states expanded
    seconds: float = 0.0
    notes: list = field(default_factory=list)


class Stopped(Exception):
    def __init__(self, bound: str):
        super().__init__(bound)
        self.bound = bound


class PartSearch:
    """One part: its successor function, its internal actions, its memo tables."""

    def __init__(self, system: ir.TransitionSystem, internal: frozenset, vars_: frozenset, init: tuple):
        self.c = compile_system(system)
        self.internal = internal
        self.vars = vars_
        self.init = init
        self.expanded: dict[tuple, tuple] = {}  # state -> (internal successors, {instance: successors})
        # one object per distinct state: the successor function makes a new tuple on every call, and sets and memo
        # tables compare equal tuples element by element but the same object at once
        self.canon: dict[tuple, tuple] = {}
        self.closures: dict[frozenset, frozenset] = {}
        self.steps: dict[frozenset, dict[int, frozenset]] = {}
        self.largest = 0  # the largest closed set
        # put(whole, s) picks each variable from `whole + s`: from `s` (offset by the state's length) for this
        # part's variables, from `whole` for the others; one itemgetter call per state of a long witness
        n = len(init)
        self.pick = itemgetter(*(n + i if i in vars_ else i for i in range(n))) if n > 1 else None

    def project(self, s: tuple) -> tuple:
        """`s` with every other part's variables at their initial values."""
        return self.put(self.init, s)

    def put(self, whole: tuple, s: tuple) -> tuple:
        """`whole` with this part's variables taken from `s`."""
        if self.pick is None:  # a state of one variable or none: the part is the whole
            return s
        return self.pick(whole + s)

    def expand(self, s: tuple) -> tuple:
        e = self.expanded.get(s)
        if e is None:
            out: list = []
            self.c.succ(s, out, [])
            internal: dict = {}
            observed: dict[int, dict] = {}
            inside = self.internal
            canon = self.canon
            for k, t in out:
                if t is None:
                    continue
                t = canon.setdefault(t, t)
                if k in inside:
                    internal[t] = None
                else:
                    observed.setdefault(k, {})[t] = None
            e = self.expanded[s] = (tuple(internal), {k: tuple(v) for k, v in observed.items()})
        return e

    def closure(self, states: frozenset, limit: int | None, intern) -> frozenset:
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
                    raise Stopped("max-states")
            c = self.closures[states] = intern(frozenset(seen))
            self.largest = max(self.largest, len(c))
        return c

    def by_instance(self, closed: frozenset, intern) -> dict[int, frozenset]:
        d = self.steps.get(closed)
        if d is None:
            acc: dict[int, set] = {}
            for s in closed:
                for k, ts in self.expand(s)[1].items():
                    acc.setdefault(k, set()).update(ts)
            d = self.steps[closed] = {k: intern(frozenset(v)) for k, v in acc.items()}
        return d


class ConformSearch:
    def __init__(self, ts: ir.TransitionSystem, observations: tuple[Observation, ...], symmetry: bool = True,
                 parts: bool = True):
        self.ts = ts
        self.obs = observations
        observed = {(o.actor, o.action) for o in observations}
        self.internal = frozenset(a.id for a in ts.actions if (a.actor, a.action) not in observed)
        init = ts.init[0] if len(ts.init) == 1 else None
        found = independent_parts(ts) if parts and init is not None else None
        if found:
            self.parts = [PartSearch(dataclasses.replace(p.system, properties=()), self.internal, p.vars, init)
                          for p in found]
            self.part_of = {a: k for k, p in enumerate(found) for a in p.actions}
        else:
            whole = frozenset(range(len(ts.vars)))
            self.parts = [PartSearch(ts, self.internal, whole, init or ())]
            self.part_of = {a.id: 0 for a in ts.actions}
        self.interned: dict[frozenset, frozenset] = {}
        self.sym = self._symmetric_namespaces() if symmetry else {}
        self.bound_of: dict[Key, dict] = {}
        self.afters: dict[tuple, frozenset | None] = {}
        # per observation, per parameter: (kind, namespace, lo, hi), read for every event
        self.specs = [tuple((p.kind, p.namespace, p.lo, p.lo + p.size) for p in o.params) for o in observations]

    def intern(self, fs: frozenset) -> frozenset:
        return self.interned.setdefault(fs, fs)

    def initial(self) -> list[Config]:
        if len(self.parts) == 1:
            return [Config((), (self.intern(frozenset(self.ts.init)),))]
        return [Config((), tuple(self.intern(frozenset((p.init,))) for p in self.parts))]

    def closed(self, cfg: Config, limit: int | None = None) -> tuple[frozenset, ...]:
        return tuple(p.closure(s, limit, self.intern) for p, s in zip(self.parts, cfg.parts))

    def join(self, parts: tuple[tuple, ...]) -> tuple:
        """One whole state from one state of each part."""
        if len(parts) == 1:
            return parts[0]
        out = list(parts[0])
        for p, s in zip(self.parts[1:], parts[1:]):
            for i in p.vars:
                out[i] = s[i]
        return tuple(out)

    # ------------------------------------------------------------------------------------------ identifiers
    def _symmetric_namespaces(self) -> dict[str, tuple]:
        """Namespaces of `symmetric` types that every observation treats alike (as ids or `_`): their slices."""
        out = {s.type_name: s.slices for s in self.ts.symmetries}
        for o in self.obs:
            for p in o.params:
                if p.kind == "value" and p.namespace in out:
                    del out[p.namespace]  # an observation names a value: they are not interchangeable
        return out

    def _bound(self, key: Key) -> dict:
        """The bindings `key` as a dict: (namespace, raw) -> (value, prefix)."""
        bound = self.bound_of.get(key)
        if bound is None:
            bound = self.bound_of[key] = {b[0]: (b[1], b[2]) for b in key}
        return bound

    def _bound_values(self, m: Match, bound: dict) -> tuple | None:
        """The argument values of `m` when each is a value in its type's range or an identifier already bound;
        None otherwise (assignments' general case)."""
        values = []
        for (kind, ns, lo, hi), r in zip(self.specs[m.obs], m.raws):
            if kind == "id":
                b = bound.get((ns, r))
                if b is None:
                    return None
                values.append(b[0])
            elif kind == "value" and lo <= r < hi:
                values.append(r)
            else:
                return None
        return tuple(values)

    def assignments(self, m: Match, key: Key, cfg: Config | None = None):
        """(argument values, bindings made) for each way `m` may be taken under the bindings `key`."""
        o = self.obs[m.obs]
        bound = self._bound(key)
        fast = self._bound_values(m, bound)  # the common case: every argument a value or an identifier bound
        if fast is not None:
            return [(fast, ())]
        out: list = []
        self._assign(o, m, key, bound, cfg, 0, (), (), (), out)
        return out

    def _assign(self, o: Observation, m: Match, key: Key, bound: dict, cfg: Config | None, i: int, values: tuple,
                prefix: tuple, fresh: tuple, out: list) -> None:
        """assignments' general case, argument i onwards. A method, not a recursive closure: a closure that calls
        itself is a reference cycle, and with the cyclic collector off (run) every call's cycle, and all it
        holds, would stay alive until the collector came back (0.45 s at the end of a 100,000-event log)."""
        if i == len(o.params):
            out.append((values, fresh))
            return
        p = o.params[i]
        r = m.raws[i]
        if p.kind == "value":
            if p.lo <= r < p.lo + p.size:
                self._assign(o, m, key, bound, cfg, i + 1, values + (r,), prefix + ((p.namespace, r),), fresh, out)
            return
        if p.kind == "any":
            for v in range(p.lo, p.lo + p.size):
                self._assign(o, m, key, bound, cfg, i + 1, values + (v,), prefix + ((p.namespace, v),), fresh, out)
            return
        b = bound.get((p.namespace, r))
        if b is None:
            b = next(((v, pre) for (ns, raw), v, pre in fresh if (ns, raw) == (p.namespace, r)), None)
        if b is not None:
            self._assign(o, m, key, bound, cfg, i + 1, values + (b[0],), prefix + ((p.namespace, b[0]),), fresh, out)
            return
        taken = {v for (ns, _), v, pre in (*key, *fresh) if ns == p.namespace and pre == prefix}
        free = [v for v in range(p.lo, p.lo + p.size) if v not in taken]
        if p.namespace in self.sym and len(free) > 1 and cfg is not None:
            free = self._representatives(p, free, key, fresh, cfg)
        for v in free:
            self._assign(o, m, key, bound, cfg, i + 1, values + (v,), prefix + ((p.namespace, v),),
                         fresh + (((p.namespace, r), v, prefix),), out)

    def _representatives(self, p, free: list[int], key: Key, fresh: tuple, cfg: Config) -> list[int]:
        """Of the free values no binding mentions, one per class that the configuration cannot tell apart (the
        permutation swapping them maps its closed sets onto each other)."""
        mentioned = {v for (ns, _), v, _ in (*key, *fresh) if ns == p.namespace}
        mentioned |= {v for _, _, pre in (*key, *fresh) for ns, v in pre if ns == p.namespace}
        slices = self.sym[p.namespace]
        closed = self.closed(cfg)
        kept: list[int] = []
        for v in free:
            if v not in mentioned and any(u not in mentioned and self._swappable(slices, u - p.lo, v - p.lo, closed)
                                          for u in kept):
                continue
            kept.append(v)
        return kept

    def _swappable(self, slices, a: int, b: int, closed: tuple[frozenset, ...]) -> bool:
        perm = list(range(len(self.ts.vars)))  # perm[i]: where state variable i goes when values a and b swap
        for x, y in ((a, b), (b, a)):
            for i, j in zip(slices[x], slices[y]):
                perm[i] = j
        if len(closed) == 1:
            return all(_apply(perm, s) in closed[0] for s in closed[0])
        images = set()
        for part in closed:
            images.update(_apply(perm, s) for s in part)
        return images == set().union(*closed)  # parts map onto parts: their states (others at init) likewise

    # ------------------------------------------------------------------------------------------ the search
    def _single(self, cfg: Config, m: Match, dying: frozenset, limit: int | None):
        """One configuration and one match whose identifiers are all bound: ([the configuration after], the
        instance), False when no state allows it, None when the general way is needed (a Stopped may escape)."""
        key = cfg.key
        values = self._bound_values(m, self._bound(key))
        if values is None:
            return None
        inst = self.obs[m.obs].instances.get(values)
        if inst is None:
            return False
        p = self.part_of[inst]
        parts = cfg.parts
        after = self.afters.get((parts[p], inst), False)
        if after is False:
            after = self.after(p, parts[p], inst, limit)
        if not after:
            return False
        new = self.rekey(key, (), dying) if dying else key
        return [Config(new, parts[:p] + (after,) + parts[p + 1:])], inst

    def rekey(self, key: Key, fresh: tuple, dying: frozenset) -> Key:
        """The bindings after an event: those it made, less those of identifiers it was the last appearance of."""
        # not memoized: an identifier dies once, so (key, fresh, dying) never recurs. `key` is sorted already
        kept = [b for b in key if b[0] not in dying]
        if fresh:
            kept.extend(b for b in fresh if b[0] not in dying)
            kept.sort()
        return tuple(kept)

    def after(self, p: int, states: frozenset, inst: int, limit: int | None) -> frozenset | None:
        """The states of part p that `inst` leads to from the closure of `states` (None: none)."""
        m = (states, inst)
        got = self.afters.get(m, False)
        if got is False:
            ps = self.parts[p]
            got = self.afters[m] = ps.by_instance(ps.closure(states, limit, self.intern), self.intern).get(inst)
        return got

    def run(self, matched: Matched, max_states: int | None = None, timeout: float | None = None,
            interrupt: Interrupt | None = None) -> SearchOutcome:
        # The history keeps every configuration (millions of small objects for a long log) and makes no cycles:
        # without the cyclic collector, which would scan all of them again and again, the search is 2-3x faster.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._run(matched, max_states, timeout, interrupt)
        finally:
            if enabled:
                gc.enable()

    def _run(self, matched: Matched, max_states: int | None, timeout: float | None,
             interrupt: Interrupt | None) -> SearchOutcome:
        started = time.monotonic()
        deadline = started + timeout if timeout is not None else None
        live = matched.live
        current = self.initial()
        history: list = []
        edges: list = []
        actions = [o.instances for o in self.obs]
        part_of = self.part_of
        intern = self.intern
        outcome = SearchOutcome("conforms", 0, history, edges)
        # dying[k]: the identifiers whose last appearance is event k (their bindings go after it), found in one
        # pass over `live` rather than by looking every identifier of every event up
        by_last: dict[int, list] = {}
        for ident, (_, last) in live.items():
            by_last.setdefault(last, []).append(ident)
        none: frozenset = frozenset()
        dying_at = {k: frozenset(idents) for k, idents in by_last.items()}
        single_edges: dict[int, tuple] = {}  # inst -> (Edge(0, inst, 0),): the common case's edges, shared
        for k, found in enumerate(matched.matches):
            history.append(current)  # history[k]: the configurations before event k
            dying = dying_at.get(k, none)
            if (k & 255) == 0:
                if interrupt is not None and interrupt.set:
                    outcome.status, outcome.bound = "undecided", "interrupted"
                    break
                if deadline is not None and time.monotonic() > deadline:
                    outcome.status, outcome.bound = "undecided", "timeout"
                    break
            if len(current) == 1 and len(found) == 1:  # the common case, without the bookkeeping below
                try:
                    step = self._single(current[0], found[0], dying, max_states)
                except Stopped as stop:
                    outcome.status, outcome.bound = "undecided", stop.bound
                    break
                if step is not None:
                    if step is False:
                        outcome.status = "not-conform"
                        break
                    current, inst = step
                    one = single_edges.get(inst)
                    if one is None:
                        one = single_edges[inst] = (Edge(0, inst, 0),)
                    edges.append(one)
                    outcome.processed = k + 1
                    continue
            merged: dict[tuple, set] = {}  # (new key, part, other parts) -> states of that part
            order: list[tuple] = []
            here: list[tuple] = []
            try:
                for ci, cfg in enumerate(current):
                    key = cfg.key
                    for m in found:
                        inst_of = actions[m.obs]
                        for values, fresh in self.assignments(m, key, cfg):
                            inst = inst_of.get(values)
                            if inst is None:
                                continue
                            p = part_of[inst]
                            after = self.after(p, cfg.parts[p], inst, max_states)
                            if not after:
                                continue
                            if fresh or dying:
                                new = self.rekey(key, fresh, dying)
                            else:
                                new = key
                            slot = (new, p, cfg.parts[:p] + (None,) + cfg.parts[p + 1:])
                            acc = merged.get(slot)
                            if acc is None:
                                merged[slot] = after
                                order.append(slot)
                            elif acc is not after:
                                merged[slot] = acc | after
                            here.append((ci, inst, slot))
            except Stopped as stop:
                outcome.status, outcome.bound = "undecided", stop.bound
                break
            if not merged:
                outcome.status = "not-conform"
                break
            nxt: list[Config] = []
            index: dict[tuple, int] = {}
            where: dict[tuple, int] = {}
            for slot in order:
                new, p, others = slot
                cfg = Config(new, others[:p] + (intern(merged[slot]),) + others[p + 1:])
                if cfg not in index:
                    index[cfg] = len(nxt)
                    nxt.append(cfg)
                where[slot] = index[cfg]
            edges.append([Edge(ci, inst, where[slot]) for ci, inst, slot in here])
            current = nxt
            outcome.processed = k + 1
        else:
            history.append(current)
        outcome.largest = max(p.largest for p in self.parts)
        outcome.states_seen = sum(len(p.expanded) for p in self.parts)
        outcome.seconds = time.monotonic() - started
        return outcome


def _apply(perm: list[int], s: tuple) -> tuple:
    out = [0] * len(s)
    for i, v in enumerate(s):
        out[perm[i]] = v
    return tuple(out)
