"""Independent parts: the properties of a model made of parts that share nothing, checked part by part.

Two state variables are in the same part when one action instance reads or writes both, or one conjunct of an
invariant (one disjunct of a cover, one `forall` instance of a liveness property) mentions both. If that splits
the model into several parts and its initial states are every combination of the parts' initial values, then a
step of one part neither enables, disables nor changes any other, and the reachable states are exactly the
combinations of each part's reachable states. So:

- an invariant holds iff each part's conjuncts hold on that part's reachable states, and a shortest violation
  needs no step of another part: it is the shortest among the parts';
- a cover is reached iff one of its disjuncts is reached in its part, again by the shortest of the parts' traces;
- a step property (slot ownership, must-be-zero bits, type_ok, assert) is violated iff a transition of some
  part violates it.

Each part is explored alone, with the whole state vector and the other parts' actions switched off (their
variables keep their initial values), so its traces are runs of the whole model. The state count reported is
the product of the parts' counts, exact; apf_int's vCPUs are such parts: (2,3) has 5,723 x 5,723 states.
Liveness is decided per part too, with fair runs of the other parts interleaved (parts_liveness.py).
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

from ...ir import nodes as ir
from ...ir.deps import action_vars, expr_vars
from ...ir.simplify import FALSE, TRUE, conj, disj, operands
from .search import Explorer
from .parts_deadlock import deadlock_pieces, deadlock_props, deadlock_result
from ..shared.limits import Interrupt, Limits, ProgressFn
from ..shared.result import CheckResult, Coverage, PropertyResult, Stats


@dataclass(frozen=True)
class Part:
    vars: frozenset[int]
    actions: frozenset[int]  # action instance ids
    system: ir.TransitionSystem  # the whole model with only this part's actions and property pieces


def _pieces(p: ir.Property) -> list[ir.Expr]:
    """An invariant's conjuncts, a cover's disjuncts; nothing for step properties (they live in actions)."""
    if p.is_invariant:
        return operands(p.expr, "and")
    if p.is_cover:
        return operands(p.expr, "or")
    return []


def part_of(e: ir.Expr, part_of_var: dict[int, int]) -> int:
    """The part a property piece (a conjunct, a disjunct, a liveness instance) lies in: independent_parts keeps
    each in one; the first part for a piece without variables."""
    vs = expr_vars(e)
    return part_of_var[min(vs)] if vs else 0


class _UnionFind:
    def __init__(self, n: int):
        self.up = list(range(n))

    def find(self, x: int) -> int:
        while self.up[x] != x:
            self.up[x] = self.up[self.up[x]]
            x = self.up[x]
        return x

    def union(self, xs) -> None:
        xs = [self.find(x) for x in xs]
        for x in xs[1:]:
            self.up[x] = xs[0]


def independent_parts(ts: ir.TransitionSystem) -> list[Part] | None:
    """The model's independent parts (in order of their first variable), or None if it is one part, or if its
    initial states are not every combination of the parts' initial values."""
    uf = _UnionFind(len(ts.vars))
    touched = [sorted(set().union(*action_vars(a))) for a in ts.actions]
    for vs in touched:
        uf.union(vs)
    safety = [p for p in ts.properties if p.kind not in ir.LIVENESS_KINDS]
    for p in safety:
        for piece in _pieces(p) if p.kind != "deadlock" else deadlock_pieces(ts):
            uf.union(sorted(expr_vars(piece)))
    for lv in ts.liveness:  # each `forall` instance is decided in one part (parts_liveness.py)
        for inst in lv.instances:
            uf.union(sorted(expr_vars(inst.premise) | expr_vars(inst.goal)))
    roots = sorted({uf.find(v) for v in range(len(ts.vars))}, key=lambda r: min(
        v for v in range(len(ts.vars)) if uf.find(v) == r))
    if len(roots) < 2:
        return None
    part_of_var = {v: roots.index(uf.find(v)) for v in range(len(ts.vars))}
    groups = [frozenset(v for v, i in part_of_var.items() if i == k) for k in range(len(roots))]
    # initial states: exactly the product of their projections
    inits = set(ts.init)
    projections = [{tuple(s[v] for v in sorted(g)) for s in inits} for g in groups]
    if math.prod(len(x) for x in projections) != len(inits):
        return None
    # an action touching no variable (it can only stutter or fail a check) goes with the first part
    part_of_action = [part_of_var[vs[0]] if vs else 0 for vs in touched]
    parts = []
    for k, g in enumerate(groups):
        actions = [a if part_of_action[a.id] == k else dataclasses.replace(a, guard=FALSE) for a in ts.actions]
        props = []
        for p in safety:
            mine = [x for x in _pieces(p) if part_of(x, part_of_var) == k]
            if p.kind == "deadlock":  # decided from the parts' stuck states (parts_deadlock.py)
                props.append(dataclasses.replace(p, expr=TRUE))
                continue
            if p.is_invariant:
                p = dataclasses.replace(p, expr=conj(mine))
            elif p.is_cover:
                p = dataclasses.replace(p, expr=disj(mine))
            props.append(p)
        props += deadlock_props(ts, k, part_of_action, part_of_var)
        system = dataclasses.replace(ts, actions=tuple(actions), properties=tuple(props), symmetries=(),
                                     liveness=())
        parts.append(Part(g, frozenset(a.id for a in ts.actions if part_of_action[a.id] == k), system))
    return parts


def run_parts(ts: ir.TransitionSystem, parts: list[Part], limits: Limits = Limits(),
              interrupt: Interrupt | None = None, progress: ProgressFn | None = None) -> CheckResult:
    """Each part explored alone; verdicts, traces and counts of the whole model."""
    started = time.monotonic()
    results: list[CheckResult] = []
    for part in parts:
        left = None if limits.timeout is None else max(limits.timeout - (time.monotonic() - started), 0.001)
        r = Explorer(part.system, symmetry=False).run(dataclasses.replace(limits, timeout=left), interrupt, progress)
        results.append(r)
        if r.bound is not None:
            break
    bound = next((r.bound for r in results if r.bound is not None), None)
    live: dict[int, PropertyResult] = {}
    live_bound = None
    if ts.liveness and bound is None:
        from .parts_liveness import part_liveness
        from .liveness import limit_check
        deadline = None if limits.timeout is None else started + limits.timeout
        live, live_bound = part_liveness(ts, parts, limits, interrupt, deadline,
                                         limit_check(interrupt, deadline, progress), progress)
    counts = tuple(r.stats.states for r in results)
    if bound is None:
        states = math.prod(counts)
        transitions = sum(r.stats.transitions * states // r.stats.states for r in results if r.stats.states)
        depth = sum(r.stats.depth for r in results)
        cov = Coverage("exhaustive", states=states, depth=depth, parts=counts)
    else:
        # a whole state within depth d has every part within depth d: checked if every part got that far
        states, transitions = sum(counts), sum(r.stats.transitions for r in results)
        depth = min(r.stats.depth for r in results) if len(results) == len(parts) else 0
        cov = Coverage("bounded", depth=depth, bound=bound)
    stats = Stats(states, transitions, depth, time.monotonic() - started,
                  max((r.stats.peak_rss_mb or 0.0) for r in results) or None)
    expects = {name: verdict for name, verdict, _ in ts.expects}
    out = []
    for p in ts.properties:
        exp = expects.get(p.name)
        if p.kind in ir.LIVENESS_KINDS:  # none in `live`: a bound stopped the search
            stopped = cov if bound is not None else Coverage("bounded", states=states, depth=depth, bound=live_bound)
            out.append(live.get(p.id) or PropertyResult(p, "unknown", stopped, None, exp))
            continue
        if p.kind == "deadlock" and bound is None:
            out.append(deadlock_result(ts, p, results, cov, exp))
            continue
        mine = [next(x for x in r.results if x.prop.id == p.id) for r in results]
        hits = [x for x in mine if x.status in ("violated", "reached") and x.trace is not None]
        if hits:
            best = min(hits, key=lambda x: x.trace.length)  # the first part's among equals
            out.append(dataclasses.replace(best, prop=p, coverage=cov, expected=exp))
        elif bound is None:
            out.append(PropertyResult(p, "vacuous" if p.is_cover else "holds", cov, None, exp))
        else:
            out.append(PropertyResult(p, "unknown", cov, None, exp))
    notes = [f"{len(parts)} independent parts (no action or property connects them), explored one at a time: "
             f"{' x '.join(str(c) for c in counts)} states"]
    if bound is not None:
        notes.append(f"the search of part {len(results)} of {len(parts)} was stopped by {bound}: "
                     f"{states} states explored, every run of up to {depth} steps checked")
    elif live_bound is not None:
        notes.append(f"the liveness search was stopped by {live_bound}; the safety results are exhaustive")
    return CheckResult("explicit", tuple(out), stats, bound=bound or live_bound, notes=tuple(notes))
