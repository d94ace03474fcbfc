"""Liveness on independent parts (parts.py): each `forall` instance, whose premise and goal lie in one part A, is
decided on A's state graph, and a violation is shown as a fair lasso of the whole model.

A fair run of the whole model, projected on A, either moves A infinitely often (a fair run of A: enabledness of
A's actions depends on A's variables only, so fairness carries over) or leaves A for ever in one state s_A in
which no fair action of A is enabled, while another part moves for ever. So A's graph gets a stutter edge (an
action of no fairness) at every state when some other part has an infinite fair run, and the explicit engine's
fair-lasso search (liveness.py) runs on it. Conversely, A's fair lasso and a fair run of every other part (an
infinite one where it exists, else one that ends in a deadlock: every finite graph has a fair maximal run from
any state) interleave into a fair lasso of the whole model: A's stem, each other part's stem, then A's loop and
each other part's loop, back to where the loop began. That lasso is checked by the same replay as an exported
trace (`lasso_problem`) before it is reported; a failure is an internal error.
"""
from __future__ import annotations

import math
from array import array

from ...ir import nodes as ir
from .codegen import compile_predicates
from .search import Explorer
from ..shared.limits import Interrupt, Limits
from .liveness import (Graph, LassoSearch, Stopped, explore_graph, fair_bits, first_premise, lasso_problem,
                       lasso_violation, not_goal)
from .parts import part_of
from ..shared.replay import Disagreement, path_problem
from ..shared.result import Coverage, PropertyResult, Step, Trace


class PartGraph:
    """One part's concrete state graph, with its runs as (action, part state) moves."""

    def __init__(self, part, limits: Limits, interrupt: Interrupt | None, deadline: float | None, progress=None):
        self.part = part
        self.explorer = Explorer(part.system, symmetry=False)
        self.states, self.parent, self.via, self.g, self.depth, self.bound = explore_graph(
            self.explorer, limits, interrupt, deadline, progress)
        # one pseudo-action after the real ones: the stutter (another part moves), of no fairness
        self.fair_bit, self.strong = fair_bits(part.system.actions, extra=1)
        self.stutter = len(part.system.actions)

    def with_stutter(self) -> Graph:
        """The graph with a stutter self-loop at every expanded state."""
        g, out = self.g, Graph()
        out.off = array("q", [0])
        for v in range(g.expanded):
            for e in range(g.off[v], g.off[v + 1]):
                out.tgt.append(g.tgt[e])
                out.act.append(g.act[e])
            out.tgt.append(v)
            out.act.append(self.stutter)
            out.off.append(len(out.tgt))
        return out

    def path_to(self, sid: int) -> list[tuple[int, int]]:
        """Moves (action, state id) from an initial state to `sid`, and that initial state first as (-1, id)."""
        out = []
        while self.parent[sid] != -1:
            out.append((self.via[sid], sid))
            sid = self.parent[sid]
        out.append((-1, sid))
        out.reverse()
        return out

    def fair_run(self, stop, infinite: bool):
        """(stem, loop) moves of a fair maximal run from an initial state: with `infinite`, one that never
        deadlocks (None if there is none); else any (it may end in a deadlock, with an empty loop)."""
        g = self.g
        member = bytearray(len(self.states))
        for v in range(g.expanded):
            member[v] = 1 if not infinite or g.off[v] != g.off[v + 1] else 0
        sources = [v for v in range(len(self.states)) if self.parent[v] == -1 and member[v]]
        lasso = LassoSearch(g, self.fair_bit, self.strong, stop).find(sources, member) if sources else None
        if lasso is None:
            return None
        return self.path_to(lasso.source) + lasso.stem, lasso.loop


def part_liveness(ts: ir.TransitionSystem, parts, limits: Limits, interrupt: Interrupt | None,
                  deadline: float | None, stop, progress=None) -> tuple[dict[int, PropertyResult], str | None]:
    """A result for each liveness property; the bound that stopped the search, if one did (the properties then
    stay out of the result)."""
    part_of_var = {v: k for k, p in enumerate(parts) for v in p.vars}
    graphs = [PartGraph(p, limits, interrupt, deadline, progress) for p in parts]
    bound = next((pg.bound for pg in graphs if pg.bound is not None), None)
    if bound is not None:
        return {}, bound
    try:
        infinite = [pg.fair_run(stop, True) for pg in graphs]
        runs = [inf or pg.fair_run(stop, False) for inf, pg in zip(infinite, graphs)]
        out = {lv.prop: _decide(ts, lv, parts, graphs, infinite, runs, part_of_var, stop) for lv in ts.liveness}
    except Stopped as e:
        return {}, e.args[0]
    return out, None


def _decide(ts, lv: ir.Liveness, parts, graphs, infinite, runs, part_of_var, stop) -> PropertyResult:
    expects = {name: verdict for name, verdict, _ in ts.expects}
    prop = ts.properties[lv.prop]
    counts = tuple(len(pg.states) for pg in graphs)
    cov = Coverage("fair-lassos", states=math.prod(counts), depth=sum(pg.depth for pg in graphs), parts=counts)
    for inst in lv.instances:
        k = part_of(ir.Op("and", (inst.premise, inst.goal)), part_of_var)
        pg = graphs[k]
        stutter = any(infinite[j] is not None for j in range(len(parts)) if j != k)
        g = pg.with_stutter() if stutter else pg.g
        evaluate = compile_predicates(pg.part.system, [inst.premise, inst.goal])
        member, sources = not_goal([evaluate(pg.states[s]) for s in range(pg.g.expanded)], len(pg.states), 1, 2)
        lasso = LassoSearch(g, pg.fair_bit, pg.strong, stop).find(sources, member) if sources else None
        if lasso is None:
            continue
        own = (pg.path_to(lasso.source) + lasso.stem, lasso.loop)
        trace = _whole_lasso(ts, lv, parts, graphs, k, own, runs)
        return PropertyResult(prop, "violated", cov, trace, expects.get(prop.name))
    return PropertyResult(prop, "holds", cov, None, expects.get(prop.name))


def _whole_lasso(ts, lv: ir.Liveness, parts, graphs, k: int, own, runs) -> Trace:
    """Part k's lasso interleaved with every other part's fair run, checked like an exported trace."""
    order = [k] + [j for j in range(len(parts)) if j != k]
    moves = {j: own if j == k else runs[j] for j in order}
    cur = list(ts.init[0])
    for j in order:  # the initial state: each part's own (the initial states are every combination)
        first = graphs[j].states[moves[j][0][0][1]]
        for v in parts[j].vars:
            cur[v] = first[v]
    steps = [Step(None, tuple(cur))]

    def play(j: int, seq) -> None:
        for act, sid in seq:
            if act in (-1, graphs[j].stutter):
                continue
            state = graphs[j].states[sid]
            for v in parts[j].vars:
                cur[v] = state[v]
            steps.append(Step(act, tuple(cur)))

    for j in order:
        play(j, moves[j][0])
    loop = len(steps) - 1
    for j in order:
        play(j, moves[j][1])
    loop_action = None
    if len(steps) - 1 > loop:
        assert steps[-1].state == steps[loop].state, "every part's loop returns to where it began"
        loop_action = steps.pop().action
    states, acts = [s.state for s in steps], [s.action for s in steps]
    explorer = Explorer(ts, symmetry=False)
    problem = path_problem(explorer, states, acts[1:])
    why = problem[0] if problem else lasso_problem(explorer, lv, states, acts, loop, loop_action)
    prop = ts.properties[lv.prop]
    trace = Trace(tuple(steps), loop, None, loop_action)
    if why is not None:
        raise Disagreement("explicit (independent parts)", prop, why, trace, None)
    inst, premise_at = first_premise(lv, states, loop)
    return Trace(tuple(steps), loop, lasso_violation(lv, inst, premise_at, loop, len(steps) - 1, loop_action),
                 loop_action)
