"""Liveness under fairness on the explicit state graph: fair lassos found by SCC decomposition.

`P leads_to Q` fails exactly when some reachable state satisfies P and not Q and, from it, an infinite fair run
never reaches Q. Such a run ends in a strongly connected component of the graph restricted to not-Q states; with
weak fairness a component carries a fair cycle iff every fair action instance that is enabled in all of its
states is taken on one of its inner edges (the cycle through every inner edge is then fair, and no cycle in the
component is fairer). Strong fairness (`strong fair`: taken infinitely often if enabled infinitely often) also
needs every strongly fair instance enabled somewhere in the component to be taken in it; where one is not, the
states enabling it are removed and the rest decomposed again. A state without successors is a deadlock: the run
stays there forever, and since nothing is enabled there this is fair. `always eventually G` is `true leads_to G`.

The graph is kept as three int arrays (CSR: out-edge offsets, targets, action instances) filled by the BFS in
state-id order; SCCs come from an iterative Tarjan so that depth is no limit. Only expanded states take part: a
state the BFS stored but did not expand (a bound stopped the search) has unknown successors, so a bounded search
can find a (real) lasso but never proves liveness.
"""
from __future__ import annotations

import time
from array import array
from collections import deque
from dataclasses import dataclass

from ...ir import nodes as ir
from ..shared.limits import PROGRESS_EVERY, Ticker
from .codegen import compile_predicates
from ..shared.result import Coverage, PropertyResult, Step, Trace, Violation


class Graph:
    """The explored transitions in CSR form. `off[s]..off[s+1]` index the out-edges of expanded state s."""

    def __init__(self) -> None:
        self.off = array("q", [0])
        self.tgt = array("i")
        self.act = array("i")

    @property
    def expanded(self) -> int:
        return len(self.off) - 1

    def successors(self, s: int) -> list[tuple[int, int]]:
        return [(self.act[e], self.tgt[e]) for e in range(self.off[s], self.off[s + 1])]


@dataclass(frozen=True)
class Lasso:
    """From a source state, a path to the entry of a fair component, then a cycle back to the entry."""

    source: int
    stem: list[tuple[int, int]]  # edges (action, state) from the source to the entry
    loop: list[tuple[int, int]]  # edges from the entry back to it; empty: a deadlock (the entry stays forever)


def tarjan(roots, inside, g: Graph, index, low, on_stack):
    """Yield the SCCs (lists of state ids) of the subgraph induced by the states `inside` accepts, reachable from
    `roots`. `index`, `low`, `on_stack` are scratch maps from state id, `index` reading -1 for unvisited states."""
    off, tgt = g.off, g.tgt
    stack: list[int] = []
    counter = 0
    for r in roots:
        if index[r] != -1:
            continue
        index[r] = low[r] = counter
        counter += 1
        stack.append(r)
        on_stack[r] = 1
        calls = [(r, off[r])]
        while calls:
            v, e = calls[-1]
            end = off[v + 1]
            descended = False
            while e < end:
                w = tgt[e]
                e += 1
                if not inside(w):
                    continue
                if index[w] == -1:
                    calls[-1] = (v, e)
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = 1
                    calls.append((w, off[w]))
                    descended = True
                    break
                if on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
            if descended:
                continue
            calls.pop()
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack[w] = 0
                    comp.append(w)
                    if w == v:
                        break
                yield comp
            if calls:
                u = calls[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]


class Stopped(Exception):
    """A limit (SIGINT, --timeout) ended the lasso search; `args[0]` names it."""


class LassoSearch:
    """Fair-lasso search over one graph. `fair_bit[a]` is the bit of fair action instance a (0: not fair);
    `strong` has the bits of the strongly fair ones."""

    def __init__(self, g: Graph, fair_bit: list[int], strong: int = 0, stop=None):
        self.g = g
        self.fair_bit = fair_bit
        self.strong = strong
        self.stop = stop  # stop() -> the bound that ends the search now (interrupted | timeout), or None
        # the fair action instances with a transition from each expanded state, as bits
        off, act = g.off, g.act
        self.enabled = enabled = [0] * g.expanded
        if any(fair_bit):
            for v in range(g.expanded):
                m = 0
                for a in act[off[v]:off[v + 1]]:
                    m |= fair_bit[a]
                enabled[v] = m
        self.enabled_fair = enabled.__getitem__

    def find(self, sources: list[int], member: bytearray) -> Lasso | None:
        """A fair lasso from one of `sources` (earlier ones preferred) through `member` states (expanded only)."""
        g = self.g
        n = len(member)
        # forward closure from the sources inside `member`, with a BFS tree for the path to the loop
        par = array("i", [-1]) * n
        par_act = array("i", [-1]) * n
        seen = bytearray(n)
        order: list[int] = []
        queue = deque()
        for s in sources:
            if not seen[s]:
                seen[s] = 1
                par[s] = s
                order.append(s)
                queue.append(s)
        off, tgt, act, fb = g.off, g.tgt, g.act, self.fair_bit
        taken = 0  # the fair instances on some edge inside the closure
        while queue:
            v = queue.popleft()
            for e in range(off[v], off[v + 1]):
                w = tgt[e]
                if member[w]:
                    taken |= fb[act[e]]
                    if not seen[w]:
                        seen[w] = 1
                        par[w] = v
                        par_act[w] = act[e]
                        order.append(w)
                        queue.append(w)
        # a strongly fair instance taken nowhere in the closure rules out every cycle through a state enabling it
        never = self.strong & ~taken
        if never:
            enabled = self.enabled
            for s in order:
                if enabled[s] & never:
                    seen[s] = 0
        rank = array("i", [-1]) * n
        for i, s in enumerate(order):
            rank[s] = i
        best: tuple[int, list[int]] | None = None
        maps = (array("i", [-1]) * n, array("i", [0]) * n, bytearray(n))
        # scratch for fair_part: a membership mark and Tarjan maps for re-decomposing part of a component
        self._mark = bytearray(n)
        self._sub = (array("i", [-1]) * n, array("i", [0]) * n, bytearray(n))
        for i, comp in enumerate(tarjan([s for s in order if seen[s]], seen.__getitem__, g, *maps)):
            if self.stop is not None and i & 1023 == 0 and (why := self.stop()):
                raise Stopped(why)
            fair = self.fair_part(comp)
            if fair is not None:
                first = min(fair, key=rank.__getitem__)
                if best is None or rank[first] < rank[best[0]]:
                    best = (first, fair)
        if best is None:
            return None
        entry, comp = best
        stem, v = [], entry
        while par[v] != v:
            stem.append((par_act[v], v))
            v = par[v]
        stem.reverse()
        return Lasso(v, stem, self.fair_loop(entry, comp))

    def inner_edges(self, v: int, inside):
        g = self.g
        for e in range(g.off[v], g.off[v + 1]):
            if inside(g.tgt[e]):
                yield g.act[e], g.tgt[e]

    def is_cycle(self, comp: list[int]) -> bool:
        """Does an infinite run stay in this SCC? (More than one state, a self-loop, or a deadlock.)"""
        if len(comp) > 1:
            return True
        v, g = comp[0], self.g
        return g.off[v] == g.off[v + 1] or any(g.tgt[e] == v for e in range(g.off[v], g.off[v + 1]))

    def fair_part(self, comp: list[int]) -> list[int] | None:
        """A strongly connected part of this SCC on which a cycle through every inner edge is fair, or None.

        Weak: an instance enabled in every state is taken on an inner edge; removing states cannot mend that.
        Strong: an instance enabled in some state is taken; if not, the states enabling it cannot lie on a fair
        cycle, so they are removed and the rest decomposed again (Emerson-Lei)."""
        work = [comp]
        while work:
            comp = work.pop()
            if not self.is_cycle(comp):
                continue
            mark, enabled = self._mark, self.enabled
            fb, g = self.fair_bit, self.g
            off, tgt, act = g.off, g.tgt, g.act
            for v in comp:
                mark[v] = 1
            always, anywhere, taken = -1, 0, 0
            for v in comp:
                en = enabled[v]
                always &= en
                anywhere |= en
                for e in range(off[v], off[v + 1]):
                    if mark[tgt[e]]:
                        taken |= fb[act[e]]
            for v in comp:
                mark[v] = 0
            if always & ~taken:
                continue
            bad = anywhere & self.strong & ~taken
            if not bad:
                return comp
            kept = [v for v in comp if not enabled[v] & bad]
            index, _, _ = self._sub
            for v in kept:
                mark[v] = 1
                index[v] = -1
            parts = list(tarjan(kept, mark.__getitem__, g, *self._sub))
            for v in kept:
                mark[v] = 0
            work.extend(parts)
        return None

    def fair_loop(self, entry: int, comp: list[int]) -> list[tuple[int, int]]:
        """A cycle entry -> ... -> entry through the component that is fair: each fair instance enabled in all of
        its states (strong: in any) is taken on it, each other one is disabled in one of its states. Empty for a
        deadlock."""
        g = self.g
        if len(comp) == 1 and g.off[entry] == g.off[entry + 1]:
            return []
        inside = set(comp).__contains__
        fb = self.fair_bit
        always, anywhere = -1, 0
        for v in comp:
            always &= self.enabled_fair(v)
            anywhere |= self.enabled_fair(v)
        must_take = always | (anywhere & self.strong)
        loop: list[tuple[int, int]] = []
        cur = entry
        taken = 0
        disabled_seen = ~self.enabled_fair(entry)
        for b in sorted({b for b in fb if b}):
            if taken & b or (disabled_seen & b and not must_take & b):
                continue
            if must_take & b:
                # reach a state with an inner b-edge, then take it
                hop = self._path(cur, lambda v: any(fb[a] & b for a, _ in self.inner_edges(v, inside)), inside,
                                 False)
                last = hop[-1][1] if hop else cur
                hop.append(next((a, w) for a, w in self.inner_edges(last, inside) if fb[a] & b))
            else:
                hop = self._path(cur, lambda v: not self.enabled_fair(v) & b, inside, False)
            for a, w in hop:
                taken |= fb[a]
                disabled_seen |= ~self.enabled_fair(w)
            loop.extend(hop)
            cur = loop[-1][1] if loop else cur
        loop.extend(self._path(cur, lambda v: v == entry, inside, not loop))
        return loop

    def _path(self, start: int, goal, inside, must_move: bool) -> list[tuple[int, int]]:
        """Shortest edge list from start to a state satisfying goal (at least one edge if must_move), inside."""
        if not must_move and goal(start):
            return []
        par: dict[int, tuple[int, int]] = {}
        queue = deque([start])
        seen = {start} if not must_move else set()
        while queue:
            v = queue.popleft()
            for a, w in self.inner_edges(v, inside):
                if w in seen:
                    continue
                seen.add(w)
                par[w] = (v, a)
                if goal(w):
                    return _unwind(par, start, w)
                queue.append(w)
        raise AssertionError("the component is strongly connected")


def _unwind(par: dict[int, tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    out = []
    w = end
    while True:
        v, a = par[w]
        out.append((a, w))
        if v == start:
            break
        w = v
    out.reverse()
    return out


def explore_graph(explorer, limits, interrupt, deadline, progress=None):
    """BFS over the concrete states (no symmetry reduction: a lasso must close on the very same state), keeping
    every transition. Returns states, BFS-tree arrays, the graph, the depth reached and the bound hit, if any.
    `progress` hears about it every 16,384 states (phase "liveness graph")."""
    tick = Ticker(progress, "liveness graph", every=0.0)
    succ = explorer.c.succ
    index: dict[tuple, int] = {}
    states: list[tuple] = []
    parent, via = array("q"), array("q")
    for s in explorer.initial_states():
        if s not in index:
            index[s] = len(states)
            states.append(s)
            parent.append(-1)
            via.append(-1)
    g = Graph()
    add_target, add_action, end_state = g.tgt.append, g.act.append, g.off.append
    out: list = []
    viol: list = []
    depth, bound = 0, None
    level_start, level_end = 0, len(states)
    while level_start < level_end:
        if limits.max_depth is not None and depth >= limits.max_depth:
            bound = "max-depth"
            break
        for sid in range(level_start, level_end):
            if sid & 1023 == 0:
                bound = explorer._bound_hit(limits, len(states), deadline, interrupt)
                if bound:
                    break
                if sid & (PROGRESS_EVERY - 1) == 0:
                    tick(states=len(states), depth=depth, transitions=len(g.tgt))
            out.clear()
            viol.clear()
            succ(states[sid], out, viol)
            for k, t in out:
                if t is None:
                    continue
                tid = index.get(t)
                if tid is None:
                    tid = index[t] = len(states)
                    states.append(t)
                    parent.append(sid)
                    via.append(k)
                add_target(tid)
                add_action(k)
            end_state(len(g.tgt))
        if bound:
            break
        depth += 1
        level_start, level_end = level_end, len(states)
    return states, parent, via, g, (depth - 1 if bound is None else depth), bound


def fair_bits(actions, extra: int = 0) -> tuple[list[int], int]:
    """A bit per fair action instance (0 for the others, and for `extra` pseudo-actions after them), and the
    bits of the strongly fair ones: LassoSearch's fair_bit and strong."""
    fair_bit, strong = [0] * (len(actions) + extra), 0
    for i, a in enumerate(a for a in actions if a.fair or a.strong):
        fair_bit[a.id] = 1 << i
        strong |= (1 << i) if a.strong else 0
    return fair_bit, strong


class LimitCheck:
    """stop() for LassoSearch: 'interrupted' after SIGINT, 'timeout' past the deadline, else None. It is called
    all through the lasso search, so it also reports progress (phase "fair lassos", about once a second, with
    what `doing` names)."""

    def __init__(self, interrupt, deadline: float | None, progress=None):
        self.interrupt, self.deadline = interrupt, deadline
        self.tick = Ticker(progress, "fair lassos")
        self.doing = ""

    def __call__(self) -> str | None:
        self.tick(self.doing)
        if self.interrupt is not None and self.interrupt.set:
            return "interrupted"
        return "timeout" if self.deadline is not None and time.monotonic() > self.deadline else None


limit_check = LimitCheck
def not_goal(masks, n: int, pbit: int, gbit: int) -> tuple[bytearray, list[int]]:
    """From the predicate masks of the expanded states: the states where the goal is false (member), and those
    of them where the premise holds (the sources of a violating lasso)."""
    member = bytearray(n)
    sources = []
    for s, m in enumerate(masks):
        if not m & gbit:
            member[s] = 1
            if m & pbit:
                sources.append(s)
    return member, sources


def check_liveness(explorer, limits, interrupt, deadline, progress=None
                   ) -> tuple[dict[int, PropertyResult], str | None, tuple[str, ...]]:
    """A result per liveness property (by property id): violated with a lasso, holds (exhaustive search only), or
    unknown (a bound stopped the search before the graph was complete, or stopped the lasso search); the bound
    that stopped it, if any; notes (a premise that never holds makes a property hold vacuously)."""
    ts = explorer.ts
    expects = {name: verdict for name, verdict, _ in ts.expects}
    states, parent, via, g, depth, bound = explore_graph(explorer, limits, interrupt, deadline, progress)
    exhaustive = bound is None
    preds = [e for lv in ts.liveness for inst in lv.instances for e in (inst.premise, inst.goal)]
    evaluate = compile_predicates(ts, preds)
    n, expanded = len(states), g.expanded
    masks = [evaluate(states[s]) for s in range(expanded)]
    fair_bit, strong = fair_bits(ts.actions)
    stop = LimitCheck(interrupt, deadline, progress)
    search = LassoSearch(g, fair_bit, strong, stop)
    out: dict[int, PropertyResult] = {}
    notes: list[str] = []
    bit = 1
    for lv in ts.liveness:
        prop = ts.properties[lv.prop]
        found: Trace | None = None
        premise_seen = False
        stop.doing = prop.name
        stopped = bound is None and stop()
        for inst in lv.instances:
            pbit, gbit = bit, bit << 1
            bit <<= 2
            if found is not None or stopped:
                continue
            stop.doing = prop.name + (f" for {inst.label}" if inst.label else "")
            member, sources = not_goal(masks, n, pbit, gbit)
            premise_seen = premise_seen or any(m & pbit for m in masks)
            try:
                lasso = search.find(sources, member) if sources else None
            except Stopped as e:
                stopped = e.args[0]
                continue
            if lasso is not None:
                found = lasso_trace(ts, lv, inst, lasso, states, parent, via)
        if stopped and found is None:
            bound = stopped
            out[prop.id] = PropertyResult(prop, "unknown", Coverage("bounded", states=n, depth=depth, bound=bound),
                                          None, expects.get(prop.name))
            continue
        if exhaustive and found is None and not premise_seen:
            notes.append(f"{prop.name} holds vacuously: its premise holds in none of the {n} reachable states")
        cov = (Coverage("fair-lassos", states=n, depth=depth) if exhaustive else
               Coverage("bounded", states=n, depth=depth, bound=bound))
        status = "violated" if found is not None else "holds" if exhaustive else "unknown"
        out[prop.id] = PropertyResult(prop, status, cov, found, expects.get(prop.name))
    return out, bound, tuple(notes)


def lasso_trace(ts: ir.TransitionSystem, lv: ir.Liveness, inst: ir.LivenessInstance, lasso: Lasso, states,
                parent, via) -> Trace:
    prefix = []
    sid = lasso.source
    while sid != -1:
        prefix.append(Step(via[sid] if via[sid] != -1 else None, states[sid]))
        sid = parent[sid]
    prefix.reverse()
    premise_at = len(prefix) - 1
    steps = prefix + [Step(a, states[w]) for a, w in lasso.stem]
    loop_at = len(steps) - 1
    steps += [Step(a, states[w]) for a, w in lasso.loop[:-1]]
    loop_action = lasso.loop[-1][0] if lasso.loop else None
    return Trace(tuple(steps), loop_at, lasso_violation(lv, inst, premise_at, loop_at, len(steps) - 1, loop_action),
                 loop_action)


def lasso_violation(lv: ir.Liveness, inst: ir.LivenessInstance, premise_at: int, loop_at: int, last: int,
                    loop_action: int | None) -> Violation:
    """What a lasso whose steps loop_at..last repeat (a deadlock at last, with no loop action) shows."""
    who = f"for {inst.label}: " if inst.label else ""
    if lv.kind == "leads_to":
        what = f"{who}the premise holds at step {premise_at} and the goal never holds from there on"
    else:
        what = f"{who}the goal is false from step {premise_at} on, forever"
    if loop_action is None:
        how = f"no action is enabled in step {loop_at}: the run stays there forever"
    else:
        how = f"steps {loop_at}..{last} repeat forever, and that loop is fair"
    return Violation(f"{what}; {how}", (("premise_step", premise_at),))


def first_premise(lv: ir.Liveness, states: list, loop: int) -> tuple[ir.LivenessInstance, int] | None:
    """The first instance (in order) and the first step at which its premise holds and its goal stays false
    for ever after on the lasso states[0..] looping back to `loop`; None if there is none."""
    from ...ir.simplify import evaluate
    for inst in lv.instances:
        for k in range(len(states)):
            if evaluate(inst.premise, states[k]) and not any(evaluate(inst.goal, s) for s in states[min(k, loop):]):
                return inst, k
    return None


def lasso_problem(explorer, lv: ir.Liveness, states: list, actions: list, loop: int | None,
                  loop_action: int | None) -> str | None:
    """Why the run states[0..] (states[i] reached by actions[i]) with its loop is not a fair lasso violating `lv`;
    None if it is one. For replaying exported traces: the loop must close, the goal must stay false after the
    premise, and every fair instance must be taken on the loop or disabled on it (strong: disabled throughout)."""
    if loop is None or not 0 <= loop < len(states):
        return "the trace has no loop: a liveness violation is a lasso"
    ex, ts = explorer, explorer.ts
    if loop_action is None:
        if any(t is not None for _, t in ex.successors(states[-1])[0]):
            return "the trace ends without a loop action, but its last state has successors"
        taken: set[int] = set()
    else:
        if states[loop] not in ex.step(states[-1], loop_action):
            return f"{ts.actions[loop_action].label} does not take the last state back to step {loop}"
        taken = set(actions[loop + 1:]) | {loop_action}
    if first_premise(lv, states, loop) is None:
        return "no instance has its premise hold and its goal stay false from there on"
    cycle = states[loop:]
    for a in ts.actions:
        if not a.fair or a.id in taken:
            continue
        on = [any(t is not None for t in ex.step(s, a.id)) for s in cycle]
        if (a.strong and any(on)) or all(on):
            return f"the loop is unfair to {a.label}: it is {'enabled in' if a.strong else 'enabled throughout'} " \
                   "the loop and never taken"
    return None
