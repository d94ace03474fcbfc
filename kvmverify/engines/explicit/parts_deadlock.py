"""The derived property `deadlock` over independent parts (parts.py).

A state of the whole model is a deadlock when no action instance of any part is enabled and the terminal
condition T does not hold. T is split into conjuncts, each of which lies in one part (independent_parts keeps each
conjunct's variables in one part), so T = T_1 && ... && T_n with T_k over part k (true where a part has none;
`false`, when no state is terminal, is the first part's). Parts change independently, so a deadlock is reachable
iff every part k can reach a state where it is stuck (none of its instances enabled) and some part j can reach one
where it is stuck and T_j is false. Each part's search decides two covers, `stuck` and `stuck && !T_k`; the
shortest deadlock takes part j's second trace and every other part's first, run one part after the other (a run
of one part is a run of the whole model, the others standing still).
"""
from __future__ import annotations

import dataclasses

from ...ir import nodes as ir
from ...ir.deps import expr_vars
from ...ir.simplify import TRUE, conj, disj, negate, operands
from ..shared.result import DEADLOCK_MESSAGE, Coverage, PropertyResult, Step, Trace, Violation


def deadlock_pieces(ts: ir.TransitionSystem) -> list[ir.Expr]:
    """What must lie within one part: each conjunct of the terminal condition (instances go with their part)."""
    if ts.deadlock is None:
        return []
    return operands(ts.deadlock.terminal, "and")


def _part(e: ir.Expr, part_of_var: dict[int, int]) -> int:
    vs = expr_vars(e)
    return part_of_var[min(vs)] if vs else 0


def deadlock_props(ts: ir.TransitionSystem, k: int, part_of_action: list[int], part_of_var: dict[int, int]
                   ) -> list[ir.Property]:
    """Part k's two covers: stuck (no instance of the part enabled), and stuck with its terminal conjuncts false."""
    d = ts.deadlock
    if d is None:
        return []
    stuck = negate(disj([e for aid, e in d.enabled if part_of_action[aid] == k]))
    mine = [c for c in operands(d.terminal, "and") if _part(c, part_of_var) == k]
    terminal = conj(mine) if mine else TRUE
    base = len(ts.properties)
    span = ts.properties[d.prop].span
    return [ir.Property(base, "stuck", "cover", stuck, span, "the part has no enabled step"),
            ir.Property(base + 1, "stuck_not_terminal", "cover", conj([stuck, negate(terminal)]), span,
                        "the part has no enabled step and its terminal conjuncts are false")]


def deadlock_result(ts: ir.TransitionSystem, p: ir.Property, results, cov: Coverage, expected: str | None
                    ) -> PropertyResult:
    """`deadlock` of the whole model from the parts' explorations (`results`, one per part, in order)."""
    base = len(ts.properties)
    stuck = [_trace(r, base) for r in results]
    bad = [_trace(r, base + 1) for r in results]
    if any(t is None for t in stuck) or all(t is None for t in bad):
        return PropertyResult(p, "holds", cov, None, expected)
    total = [sum(t.length for t in stuck) - stuck[j].length + bad[j].length if bad[j] is not None else None
             for j in range(len(results))]
    j = min((n, j) for j, n in enumerate(total) if n is not None)[1]
    pieces = [bad[k] if k == j else stuck[k] for k in range(len(results))]
    return PropertyResult(p, "violated", cov, _concatenate(ts, pieces), expected)


def _trace(r, pid: int) -> Trace | None:
    found = next((x for x in r.results if x.prop.id == pid), None)
    return found.trace if found is not None and found.status == "reached" else None


def _concatenate(ts: ir.TransitionSystem, pieces: list[Trace]) -> Trace:
    """The parts' runs one after the other: each step takes its part's variables from its own trace."""
    state = list(ts.init[0])
    steps = [Step(None, tuple(state))]
    for t in pieces:
        prev = t.steps[0].state
        for step in t.steps[1:]:
            for i, (a, b) in enumerate(zip(prev, step.state)):
                if a != b:
                    state[i] = b
            prev = step.state
            steps.append(Step(step.action, tuple(state)))
    return Trace(tuple(steps), None, Violation(DEADLOCK_MESSAGE))


__all__ = ["deadlock_pieces", "deadlock_props", "deadlock_result", "dataclasses"]
