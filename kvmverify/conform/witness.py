"""The witness: one run of the model that explains the log, rebuilt from the search's history of sets.

Forward first: from the state reached, the fewest internal steps of the event's part to a state that the event's
instance takes into the next set. A state of a set is consistent with the log so far but may have no future, so
should the forward run reach one, the run is rebuilt backwards instead (each set's states are reached from the
set before, which always works), with possibly more internal steps than needed.
"""
from __future__ import annotations

from .search import ConformSearch, SearchOutcome

Step = tuple  # (instance or None, whole state, event index or None)


def witness(search: ConformSearch, outcome: SearchOutcome) -> list[Step]:
    steps = _forward(search, outcome)
    return steps if steps is not None else _backward(search, outcome)


def _path(part, start, goal):
    """A state of `start` and the fewest internal steps [(instance, state)] of `part` from it to a state that
    satisfies `goal`; None if no such state is reachable."""
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
            for t in part.expand(s)[0]:
                if t not in parent:
                    parent[t] = (s, _internal_instance(part, s, t))
                    nxt.append(t)
        frontier = nxt
    return None


def _internal_instance(part, s: tuple, t: tuple) -> int:
    out: list = []
    part.c.succ(s, out, [])
    return min(k for k, x in out if x == t and k in part.internal)


def _lift(search: ConformSearch, whole: tuple, p: int, s: tuple) -> tuple:
    """`whole` with part p's variables taken from `s`."""
    return s if len(search.parts) == 1 else search.parts[p].put(whole, s)


def _forward(search: ConformSearch, outcome: SearchOutcome) -> list[Step] | None:
    n = outcome.processed
    nparts = len(search.parts)
    # Part states are numbered (per part) and the run is followed in numbers: the memo and the whole states are
    # keyed by small ints instead of by state vectors, hashed anew at every step. Each whole state is made once
    # (10,175 distinct ones in a 120,675-step witness), so the replay's look-ups mostly find the very object.
    number: list[dict[tuple, int]] = [{} for _ in range(nparts)]
    state_of: list[list[tuple]] = [[] for _ in range(nparts)]
    wholes: dict[tuple, tuple] = {}
    memo: dict[tuple, tuple | None] = {}  # (part, state number, instance, target set) -> _shortest's answer

    def num(p: int, s: tuple) -> int:
        i = number[p].get(s)
        if i is None:
            i = number[p][s] = len(state_of[p])
            state_of[p].append(s)
        return i

    def whole(ids: tuple) -> tuple:
        w = wholes.get(ids)
        if w is None:
            w = wholes[ids] = search.join(tuple(state_of[q][i] for q, i in enumerate(ids)))
        return w

    ci = 0
    first = outcome.history[0][0]
    cur = [num(q, min(s)) for q, s in enumerate(first.parts)]  # each part's state, numbered
    steps: list[Step] = [(None, whole(tuple(cur)), None)]
    for k in range(n):
        after = outcome.history[k + 1]
        best = None
        for e in outcome.edges[k]:
            if e.old != ci:
                continue
            p = search.part_of[e.inst]
            target = after[e.new].parts[p]
            m = (p, cur[p], e.inst, target)
            found = memo.get(m, False)
            if found is False:
                found = memo[m] = _shortest(search, p, state_of[p][cur[p]], e.inst, target, num)
            if found is not None and (best is None or len(found[0]) < len(best[2][0])):
                best = (e, p, found)
        if best is None:
            return None
        e, p, (path, post) = best
        for inst, i in path:
            cur[p] = i
            steps.append((inst, whole(tuple(cur)), None))
        cur[p] = post
        steps.append((e.inst, whole(tuple(cur)), k))
        ci = e.new
        if nparts > 1:  # the other parts' states must lie in their sets after the event (a plain loop: hot)
            others = after[ci].parts
            for q in range(nparts):
                if q != p and state_of[q][cur[q]] not in others[q]:
                    return None
    return steps


def _shortest(search: ConformSearch, p: int, start: tuple, inst: int, target: frozenset, num):
    """The fewest internal steps of part p from `start` to a state where `inst` leads into `target`, and the
    state it leads to: ([(instance, state number)], state number), or None."""
    part = search.parts[p]
    found = _path(part, (start,), lambda s: not target.isdisjoint(part.expand(s)[1].get(inst, ())))
    if found is None:
        return None
    _, path = found
    pre = path[-1][1] if path else start
    post = min(t for t in part.expand(pre)[1][inst] if t in target)
    return [(i, num(p, s)) for i, s in path], num(p, post)


def _proj(search: ConformSearch, q: int, state: tuple) -> tuple:
    return search.parts[q].project(state) if len(search.parts) > 1 else state


def _backward(search: ConformSearch, outcome: SearchOutcome) -> list[Step]:
    n = outcome.processed
    last = outcome.history[n]
    ci = 0
    state = search.join(tuple(min(s) for s in last[ci].parts))
    steps: list[Step] = []
    for k in range(n - 1, -1, -1):
        before = outcome.history[k]
        best = None
        for e in outcome.edges[k]:
            if e.new != ci:
                continue
            p = search.part_of[e.inst]
            old = before[e.old]
            if any(_proj(search, q, state) not in old.parts[q] for q in range(len(search.parts)) if q != p):
                continue
            part = search.parts[p]
            want = _proj(search, p, state)
            closed = part.closure(old.parts[p], None, search.intern)
            found = _path(part, old.parts[p], lambda s, i=e.inst, w=want: w in part.expand(s)[1].get(i, ()))
            if found is not None and closed and (best is None or len(found[1]) < len(best[2][1])):
                best = (e, p, found)
        assert best is not None, "the history explains every state it kept"
        e, p, (start, path) = best
        steps.append((e.inst, state, k))
        for inst, s in reversed(path):
            steps.append((inst, _lift(search, state, p, s), None))
        state = _lift(search, state, p, start)
        ci = e.old
    steps.append((None, state, None))
    steps.reverse()
    # the internal steps were lifted into the state after them: recompute each one from its predecessor
    return _relift(search, steps)


def _relift(search: ConformSearch, steps: list[Step]) -> list[Step]:
    """Whole states along the run: each step changes only its own part's variables, from the state before it."""
    out = [steps[0]]
    for inst, s, ev in steps[1:]:
        prev = out[-1][1]
        p = search.part_of[inst]
        out.append((inst, _lift(search, prev, p, _proj(search, p, s)), ev))
    return out
