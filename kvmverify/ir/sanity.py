"""The model's sanity findings, as derived properties every engine checks like any other (docs/language.md,
"Sanity findings"):

- `deadlock` (invariant-like): in every reachable state some action instance or process step is enabled
  (ir/enabled.py), or a `terminal` declaration holds, or every process instance has run to its end. A state
  where the only steps are stopped by a fatal check (type_ok, shift_ok, queue:...) is not a deadlock: that check
  is the finding.
- `enabled:ACTOR.ACTION`, `enabled:PROCESS@POINT` (cover-like): each action and each process step is enabled in
  some reachable state. An action whose guard is false for the params in force is not lowered at all (a `BUG_*`
  switch that is off) and gets no finding.
- `premise:INVARIANT` (cover-like): the premise of each implication at the top of an invariant (under `forall`
  and `&&`) holds in some reachable state; otherwise the invariant holds only vacuously. `premise:INV#2` for its
  second implication.

Only models with actions or processes get them (a file of layouts and decision tables has no steps).

When a step can be taken is a formula over the state before it (ir/enabled.py). A `choose` or `await` after a
loop whose rounds build on each other makes that formula exponential in the rounds; beyond MAX_ENABLED_NODES
nodes the step's `enabled:` finding and `deadlock` are left out, and a note in every result says so.
"""
from __future__ import annotations

import itertools

from ..check.types import BoolT, domain
from ..lang import ast
from . import nodes as ir
from .enabled import MAX_WORK, TooLarge, enabled, tree_size
from .simplify import FALSE, conj, const_value, disj, mk


MAX_ENABLED_NODES = 20_000  # the largest in models/ has 119


def step_name(a: ir.ActionInstance) -> str:
    return f"{a.process}@{a.point}" if a.process else f"{a.actor}.{a.action}"


def sanity_properties(low, actions: list[ir.ActionInstance]) -> tuple[ir.Deadlock | None, tuple[str, ...]]:
    """Add the sanity properties to the lowering `low` (ir/lower.py); the deadlock record for the system, and the
    notes on what could not be checked."""
    m = low.m
    if not m.actions and not m.processes:
        return None, ()
    per_instance, too_big = [], set()
    memo: dict[int, int] = {}
    for a in actions:
        try:
            e = enabled(a)
        except TooLarge:
            e = None
        if e is None or tree_size(e, memo) > MAX_ENABLED_NODES:
            too_big.add(step_name(a))
        per_instance.append((a.id, e if e is not None else FALSE))
    notes = tuple(f"deadlock and enabled:{name} are not checked: when {name} can take a step is a formula too "
                  f"large to work out (over {MAX_ENABLED_NODES} nodes, or {MAX_WORK} visited building it: a `choose` "
                  "or `await` after a loop whose rounds build on each other, or many nested `choose`s); move it "
                  "before the loop, or end the step there" for name in sorted(too_big))
    terminal = _terminal(low)
    what = "some action or process step is enabled" if m.processes else "some action is enabled"
    if m.terminals:
        what += ", or a `terminal` declaration holds"
    if m.processes:
        what += ", or every process has terminated"
    deadlock = None
    if not too_big:
        pid = low.new_prop("deadlock", "deadlock", disj([e for _, e in per_instance] + [terminal]),
                           _root(m), f"in every reachable state {what}")
        deadlock = ir.Deadlock(pid, tuple(per_instance), terminal)
    by_step: dict[str, list[ir.Expr]] = {}
    where: dict[str, tuple] = {}
    for a, (_, e) in zip(actions, per_instance):
        if step_name(a) in too_big:
            continue
        name = f"enabled:{step_name(a)}"
        by_step.setdefault(name, []).append(e)
        where.setdefault(name, (a, e))
    for name, parts in by_step.items():
        a, _ = where[name]
        if a.process:
            text = f"process {a.process} takes its step at {a.point} in some reachable state"
            span = a.span
        else:
            decl = next(x.decl for x in m.actions if x.actor == a.actor and x.decl.name == a.action)
            text = f"{a.actor}.{a.action} is enabled in some reachable state"
            span = decl.guard.span if decl.guard is not None else decl.span
        low.new_prop(name, "enabled", disj(parts), span, text)
    for p in m.props:
        if p.kind != "invariant":
            continue
        found: dict[int, tuple[ast.Expr, list[ir.Expr]]] = {}
        _premises(low, p.expr, {}, found)
        for k, (node, parts) in enumerate(found.values()):
            cover = disj(parts)
            if const_value(cover) is not None:
                continue  # always or never true whatever the state: the params decide it, not the search
            name = f"premise:{p.name}" + (f"#{k + 1}" if k else "")
            low.new_prop(name, "premise", cover, node.left.span,
                         f"the premise of an implication in invariant {p.name} holds in some reachable state "
                         "(else the invariant holds vacuously)")
    return deadlock, notes


def _terminal(low) -> ir.Expr:
    m = low.m
    parts = [low.expr(t, {}) for t in m.terminals]
    if m.processes:
        done = []
        for p in m.processes:
            end = p.point_names().index("done")
            for values in itertools.product(*(domain(t) for _, t in p.params)):
                done.append(mk("eq", ir.Var(low.slot_of(f"{p.name}#pc", values)), ir.Const(end)))
        parts.append(conj(done))
    return disj(parts) if parts else FALSE


def _premises(low, e: ast.Expr, env: dict, found: dict) -> None:
    match e:
        case ast.Quant(_, "forall", binders, body):
            types = [low.m.types.get(b.type_name.id) or BoolT() for b in binders]
            for values in itertools.product(*(domain(t) for t in types)):
                _premises(low, body, {**env, **{b.name: ir.Const(v) for b, v in zip(binders, values)}}, found)
        case ast.Binary(_, "&&", left, right):
            _premises(low, left, env, found)
            _premises(low, right, env, found)
        case ast.Binary(_, "->", left, _):
            found.setdefault(id(e), (e, []))[1].append(low.expr(left, env))


def _root(m):
    from ..diagnostics import Span
    return Span(m.root_file, 1, 1, 1, 1)


__all__ = ["sanity_properties", "step_name", "MAX_ENABLED_NODES", "FALSE"]
