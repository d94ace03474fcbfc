"""Bounded model checking of liveness: fair lassos of up to K transitions, found by z3 and replayed.

A lasso of length k is a path s_0 .. s_k (init, k transitions, on the incremental BMC solver) whose last state
equals an earlier one, s_k = s_l: the run repeats s_l .. s_k-1 for ever. It violates `P leads_to Q` (one
`forall` instance) when P holds at some step i and Q holds at no step from min(i, l) on (the loop repeats, so
loop states before i come back after it). The loop must be fair, as in the explicit search (liveness.py):
a weakly fair action instance is taken in the loop or disabled in one of its states; a strongly fair one is
taken in the loop or disabled in all of its states. A deadlock is the other way to run for ever: s_k has no
transition at all (nothing is enabled, so fairness holds), and Q is false from step i to k.

"Enabled" is exact: the instance's guard holds and some `choose` value lets its body complete (fatal checks
pass), with choices fresh for each (instance, step); small choice domains are expanded, larger ones quantified.

BMC only ever finds violations. No lasso up to K is not a proof: a liveness property is proved only by the
explicit engine's exhaustive search (liveness.py), and this engine leaves it undecided.
"""
from __future__ import annotations

import itertools

import z3

from ...ir import nodes as ir
from . import encode as E
from ..explicit.liveness import first_premise, lasso_problem, lasso_violation
from ..shared.replay import Disagreement, path_problem
from ..shared.result import Step, Trace

EXPAND_CHOICES = 1024  # enabledness over at most this many choice values is a disjunction, else an Exists


def enabled(enc: E.Encoding, a: ir.ActionInstance, s: E.Step) -> z3.BoolRef:
    """Instance `a` has a transition from `s`."""
    shadow = E.Step(s.index, s.comps, s.act, f"{s.tag}en{a.id}.")  # own choice constants, same state
    f = z3.And(enc.cond(a.guard, s, {}, {}), enc.body(a, shadow).ok)
    choices = [shadow.chosen[n] for n in sorted(shadow.chosen)]
    if not choices:
        return f
    if 1 << sum(c.size() for c in choices) > EXPAND_CHOICES:
        return z3.Exists(choices, f)
    values = itertools.product(*[range(1 << c.size()) for c in choices])
    return z3.Or([z3.substitute(f, *[(c, z3.BitVecVal(v, c.size())) for c, v in zip(choices, vs)])
                  for vs in values])


class Enabledness:
    """`enabled(a, i)`, built once per (instance, step) and shared by every query."""

    def __init__(self, enc: E.Encoding, u: E.Unrolling):
        self.enc, self.u = enc, u
        self.cache: dict[tuple[int, int], z3.BoolRef] = {}

    def __call__(self, a: ir.ActionInstance, i: int) -> z3.BoolRef:
        key = (a.id, i)
        if key not in self.cache:
            self.cache[key] = enabled(self.enc, a, self.u.state(i))
        return self.cache[key]


def suffixes(terms: list[z3.BoolRef], join) -> list[z3.BoolRef]:
    """join(terms[i:]) for every i, sharing structure (the last entry is the empty join's unit)."""
    unit = z3.BoolVal(join is z3.And)
    out = [unit]
    for t in reversed(terms):
        out.append(t if out[-1].eq(unit) else join(t, out[-1]))
    out.reverse()
    return out


def fair_loop(enc: E.Encoding, u: E.Unrolling, en: Enabledness, k: int) -> list[z3.BoolRef]:
    """For each loop start l < k: the loop s_l .. s_k-1 is fair to every fair instance."""
    per_l: list[list[z3.BoolRef]] = [[] for _ in range(k)]
    for a in enc.ts.actions:
        if not a.fair:
            continue
        taken = [u.state(j).act == a.id for j in range(k)]
        off = [z3.Not(en(a, j)) for j in range(k)]
        if a.strong:
            some_taken, all_off = suffixes(taken, z3.Or), suffixes(off, z3.And)
            ok = [z3.Or(some_taken[l], all_off[l]) for l in range(k)]
        else:
            ok = suffixes([z3.Or(t, o) for t, o in zip(taken, off)], z3.Or)[:k]
        for l in range(k):
            per_l[l].append(ok[l])
    return [z3.And(ps) if ps else z3.BoolVal(True) for ps in per_l]


def starved(enc: E.Encoding, u: E.Unrolling, inst: ir.LivenessInstance, k: int) -> list[z3.BoolRef]:
    """For each loop start l < k: on the lasso s_0 .. s_k = s_l, the premise holds at some step i and the goal
    at no step from min(i, l) on."""
    states = [u.state(i) for i in range(k)]
    p = [enc.cond(inst.premise, s, {}, {}) for s in states]
    nq = suffixes([z3.Not(enc.cond(inst.goal, s, {}, {})) for s in states], z3.And)  # nq[i]: no goal in i..k-1
    p_in_loop = suffixes(p, z3.Or)  # a premise at or after l: the goal must stay false on the whole loop
    out, before = [], z3.BoolVal(False)  # before: a premise at i < l with no goal from i on
    for l in range(k):
        out.append(z3.Or(z3.And(p_in_loop[l], nq[l]), before))
        before = z3.Or(before, z3.And(p[l], nq[l]))
    return out


def lasso_query(enc: E.Encoding, u: E.Unrolling, en: Enabledness, inst: ir.LivenessInstance,
                k: int) -> tuple[z3.BoolRef, list[z3.BoolRef]]:
    """A fair lasso of length k violating `inst`: the query, and per loop start l the case that l is the loop."""
    last = u.state(k)
    fair, bad = fair_loop(enc, u, en, k), starved(enc, u, inst, k)
    cases = [z3.And(enc.same(last, u.state(l)), fair[l], bad[l]) for l in range(k)]
    return z3.Or(cases), cases


def deadlock_query(enc: E.Encoding, u: E.Unrolling, en: Enabledness, inst: ir.LivenessInstance,
                   k: int) -> z3.BoolRef:
    """s_k has no transition, and the premise holds at some step i <= k with the goal false from i to k."""
    states = [u.state(i) for i in range(k + 1)]
    nq = suffixes([z3.Not(enc.cond(inst.goal, s, {}, {})) for s in states], z3.And)
    starts = z3.Or([z3.And(enc.cond(inst.premise, s, {}, {}), nq[i]) for i, s in enumerate(states)])
    stuck = z3.And([z3.Not(en(a, k)) for a in enc.ts.actions]) if enc.ts.actions else z3.BoolVal(True)
    return z3.And(stuck, starts)


class LassoSearch:
    """Fair lassos on a BMC unrolling (which owns the solver and the path formula), one depth at a time."""

    def __init__(self, bmc, props: list[ir.Liveness]):
        self.bmc, self.props = bmc, props
        self.en = Enabledness(bmc.enc, bmc.u)
        self.found: dict[int, Trace] = {}  # by property id: the shortest lasso

    def at_depth(self, k: int) -> None:
        for lv in self.props:
            if lv.prop not in self.found:
                t = self.find(lv, k)
                if t is not None:
                    self.found[lv.prop] = t

    def find(self, lv: ir.Liveness, k: int) -> Trace | None:
        """A replayed fair lasso of length k (k transitions; a deadlock: k transitions, then for ever in s_k)."""
        bmc, enc, u = self.bmc, self.bmc.enc, self.bmc.u
        queries = []
        for inst in lv.instances:
            if k > 0:
                q, cases = lasso_query(enc, u, self.en, inst, k)
                queries.append((q, cases))
            queries.append((deadlock_query(enc, u, self.en, inst, k), None))
        if bmc.check(z3.Or([q for q, _ in queries]), k) != z3.sat:
            return None
        for q, cases in queries:
            if bmc.check(q, k) != z3.sat:
                continue
            m = bmc.solver.model()
            states, acts = u.trace(m, k)
            if cases is None:
                return self.replayed(lv, states, acts[:k], k, None)
            loop = next(l for l, c in enumerate(cases) if z3.is_true(m.eval(c, model_completion=True)))
            return self.replayed(lv, states[:k], acts[:k - 1], loop, acts[k - 1])
        raise AssertionError("one of the queries of a satisfiable disjunction is satisfiable")

    def replayed(self, lv: ir.Liveness, states: list, acts: list[int], loop: int, loop_action: int | None) -> Trace:
        """The z3 lasso (states[i+1] reached by acts[i]; the loop action takes the last state back to
        states[loop]) checked by the explicit interpreter: every step, the loop, the premise, fairness."""
        bmc = self.bmc
        ts, ex = bmc.ts, bmc.explorer
        prop = ts.properties[lv.prop]
        steps = (Step(None, states[0]),) + tuple(Step(a, t) for a, t in zip(acts, states[1:]))
        z3_trace = Trace(steps, loop, None, loop_action)
        problem = path_problem(ex, list(states), list(acts))
        if problem is not None:
            raise Disagreement(bmc.engine, prop, problem[0], z3_trace, Trace(steps[:problem[1]]))
        if loop_action is not None and not 0 <= loop_action < len(ts.actions):
            raise Disagreement(bmc.engine, prop, f"the loop names no action instance ({loop_action})", z3_trace,
                               Trace(steps))
        why = lasso_problem(ex, lv, list(states), [None, *acts], loop, loop_action)
        if why is not None:
            raise Disagreement(bmc.engine, prop, why, z3_trace, Trace(steps))
        found = first_premise(lv, list(states), loop)
        assert found is not None  # lasso_problem checked it
        inst, premise_at = found
        return Trace(steps, loop, lasso_violation(lv, inst, premise_at, loop, len(steps) - 1, loop_action),
                     loop_action)
