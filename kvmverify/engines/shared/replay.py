"""Every counterexample a z3 engine finds is replayed through the explicit interpreter before anyone sees it.

The z3 trace is a list of states and the action instance of each transition. The replay starts from an initial
state of the system, and for each transition asks `Explorer.successors` for the successors by that instance,
which must include the next z3 state; the last state must violate the invariant (reach the cover), or, for a
step property, the last transition must fail one of that property's checks. The trace that is returned is built
from the interpreter's own states. Any mismatch raises `Disagreement` carrying both traces: an internal error.
"""
from __future__ import annotations

from ...ir import nodes as ir
from ..explicit.search import Explorer
from .result import Step, Trace, Violation, state_violation


class Disagreement(Exception):
    """A z3 engine and the explicit interpreter disagree about a trace, or z3 and the reference semantics about a
    decision-table input (no traces then): a bug in kvmverify."""

    def __init__(self, engine: str, prop: ir.Property, reason: str, z3_trace: Trace | None, replayed: Trace | None):
        super().__init__(f"{engine}: the trace for {prop.name} does not replay: {reason}")
        self.engine, self.prop, self.reason = engine, prop, reason
        self.z3_trace, self.replayed = z3_trace, replayed


def path_problem(explorer: Explorer, states: list[tuple[int, ...]], acts: list[int]) -> tuple[str, int] | None:
    """Why s_0 -acts[0]-> s_1 ... is not a run of the system, and how many of its states replayed; None if it is
    one."""
    if states[0] not in explorer.ts.init:
        return "its first state is not an initial state", 0
    for i, a in enumerate(acts):
        if not 0 <= a < len(explorer.ts.actions):
            return f"step {i + 1} names no action instance ({a})", i + 1
        nexts = explorer.step(states[i], a)
        if states[i + 1] not in nexts:
            return (f"step {i + 1}: {explorer.ts.actions[a].label} cannot lead to the z3 state "
                    f"({len(nexts)} successor(s) by that instance)"), i + 1
    return None


def replay(explorer: Explorer, engine: str, prop: ir.Property, states: list[tuple[int, ...]],
           acts: list[int]) -> Trace:
    """The z3 trace s_0 -a_0-> s_1 ... s_n (for step properties: plus the violating transition acts[n] leaving
    s_n), checked and rebuilt by the explicit interpreter."""
    n = len(states) - 1
    steps_z3 = [Step(None, states[0])] + [Step(acts[i], states[i + 1]) for i in range(n)]
    if prop.is_step:
        steps_z3.append(Step(acts[n], None))
    z3_trace = Trace(tuple(steps_z3))
    done: list[Step] = []

    def fail(reason: str):
        raise Disagreement(engine, prop, reason, z3_trace, Trace(tuple(done)))

    problem = path_problem(explorer, states, acts[:n])
    if problem is not None:
        reason, replayed = problem
        done.extend(steps_z3[:replayed])
        fail(reason)
    done.extend(steps_z3[:n + 1])
    last = states[n]
    if prop.is_step:
        out, viol = explorer.successors(last)
        site_props = [c.prop for c in explorer.c.checks]
        for k, cid, pos, detail in viol:
            if k == acts[n] and site_props[cid] == prop.id:
                site = explorer.c.checks[cid]
                post = out[pos][1] if pos < len(out) and out[pos][0] == k else None
                done.append(Step(k, post))
                return Trace(tuple(done), None, Violation(site.message, tuple(zip(site.labels, detail))))
        done.append(Step(acts[n], None))
        label = explorer.ts.actions[acts[n]].label if 0 <= acts[n] < len(explorer.ts.actions) else acts[n]
        fail(f"the last transition ({label}) does not violate {prop.name}")
    mask = explorer.c.props(last)
    if not mask >> prop.id & 1:
        fail(f"its last state does not {'reach' if prop.is_cover else 'violate'} {prop.name}")
    if prop.is_cover:
        return Trace(tuple(done))
    return Trace(tuple(done), None, state_violation(prop))
