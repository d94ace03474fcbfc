"""When an action instance can take a step, as an expression over the state before it: the basis of the derived
properties `deadlock` and `enabled:...` (ir/sanity.py), which every engine then checks like any other state
property.

An instance is enabled in a state when its guard holds and some path through its body gets through: every `choose`
it meets has a value whose `where` holds (an `await` is a `choose` of one value). A path that a fatal check stops
(type_ok, shift_ok, queue:...) counts as getting through: the step is attempted, and its failure is reported by
that property, not as a deadlock. This is exactly when the explicit engine's successor function yields an entry
for the instance (a state or a stopped path), which tests/test_reference.py checks against the reference semantics.

The body is executed symbolically: each assignment substitutes its value into what follows; an `if` without a
`choose` below it merges its branches with `?:`.
"""
from __future__ import annotations

from typing import assert_never

from . import nodes as ir
from .simplify import FALSE, TRUE, conj, disj, mk, negate


class TooLarge(Exception):
    """Working out when a step is enabled took more than its budget of expression nodes (enabled())."""


MAX_WORK = 400_000  # nodes visited while working out one instance's enabledness; models/ need at most a few hundred
_work = [0, None]  # nodes visited so far, the budget (None: unbounded); set by enabled()


def substitute(e: ir.Expr, values: dict[int, ir.Expr], local: dict[str, ir.Expr]) -> ir.Expr:
    """`e` with the state variables in `values` and the locals in `local` replaced (folding constants)."""
    if not values and not local:
        return e
    _work[0] += 1
    if _work[1] is not None and _work[0] > _work[1]:
        raise TooLarge()
    match e:
        case ir.Const():
            return e
        case ir.Var(i):
            return values.get(i, e)
        case ir.Local(name):
            return local.get(name, e)
        case ir.Op(op, args, width):
            return mk(op, *(substitute(a, values, local) for a in args), width=width)
        case ir.Extract(arg, lo, width):
            from .lower import mk_extract
            return mk_extract(substitute(arg, values, local), lo, width)
        case ir.Insert(base, lo, width, value):
            from .lower import mk_insert
            return mk_insert(substitute(base, values, local), lo, width, substitute(value, values, local))
        case ir.Select(options, index, base):
            idx = substitute(index, values, local)
            opts = tuple(substitute(o, values, local) for o in options)
            if isinstance(idx, ir.Const) and 0 <= idx.value - base < len(opts):
                return opts[idx.value - base]
            return ir.Select(opts, idx, base)
        case _:
            assert_never(e)


def _blocks(stmts) -> bool:
    """Can a path through `stmts` end without a successor (a `choose` below)?"""
    for s in stmts:
        match s:
            case ir.Choose():
                return True
            case ir.If(_, then, else_, _) if _blocks(then) or _blocks(else_):
                return True
    return False


def can_run(stmts, values: dict[int, ir.Expr], local: dict[str, ir.Expr]) -> ir.Expr:
    """Some path through `stmts` gets through (or is stopped by a fatal check), from the state described by
    `values`/`local` (expressions over the state before the step)."""
    if not _blocks(stmts):
        return TRUE
    values, local = dict(values), dict(local)
    for i, s in enumerate(stmts):
        match s:
            case ir.Assign(var, value, _):
                values[var] = substitute(value, values, local)
            case ir.Let(name, value):
                local[name] = substitute(value, values, local)
            case ir.Check(_, cond, fatal, _, _, _):
                if fatal:
                    return disj([negate(substitute(cond, values, local)), can_run(stmts[i + 1:], values, local)])
            case ir.If(cond, then, else_, tail):
                c = substitute(cond, values, local)
                if tail:
                    return mk("ite", c, can_run(then, values, local), can_run(else_, values, local))
                if _blocks(then) or _blocks(else_):  # not produced by lowering; kept exact all the same
                    return mk("ite", c, can_run((*then, *stmts[i + 1:]), values, local),
                              can_run((*else_, *stmts[i + 1:]), values, local))
                # a fatal check in a branch stops the step there (attempted: enabled); otherwise the rest runs
                stopped = mk("ite", c, _stops(then, values, local), _stops(else_, values, local))
                rest = can_run(stmts[i + 1:], _merge(c, then, else_, values, local), local)
                return disj([stopped, rest])
            case ir.Choose(name, lo, hi, where, body):
                return disj([conj([substitute(where, values, {**local, name: ir.Const(v)}),
                                   can_run(body, values, {**local, name: ir.Const(v)})]) for v in range(lo, hi + 1)])
            case _:
                assert_never(s)
    return TRUE


def _merge(c: ir.Expr, then, else_, values, local) -> dict[int, ir.Expr]:
    """The values after `if c then else` (neither branch blocks): each assigned variable as `c ? a : b`."""
    t, e = _run(then, values, local), _run(else_, values, local)
    out = dict(values)
    for var in sorted(_assigned(then) | _assigned(else_)):
        before = values.get(var, ir.Var(var))
        out[var] = mk("ite", c, t.get(var, before), e.get(var, before))
    return out


def _run(stmts, values, local) -> dict[int, ir.Expr]:
    """The values after `stmts`, a body that cannot block."""
    values, local = dict(values), dict(local)
    for s in stmts:
        match s:
            case ir.Assign(var, value, _):
                values[var] = substitute(value, values, local)
            case ir.Let(name, value):
                local[name] = substitute(value, values, local)
            case ir.If(cond, then, else_, _):
                values = _merge(substitute(cond, values, local), then, else_, values, local)
    return values


def _stops(stmts, values, local) -> ir.Expr:
    """When a fatal check in `stmts` (a body that cannot block) fails, stopping the path."""
    values, local = dict(values), dict(local)
    found: list[ir.Expr] = []
    for s in stmts:
        match s:
            case ir.Assign(var, value, _):
                values[var] = substitute(value, values, local)
            case ir.Let(name, value):
                local[name] = substitute(value, values, local)
            case ir.Check(_, cond, fatal, _, _, _) if fatal:
                found.append(negate(substitute(cond, values, local)))
            case ir.If(cond, then, else_, _):
                c = substitute(cond, values, local)
                found.append(mk("ite", c, _stops(then, values, local), _stops(else_, values, local)))
                values = _merge(c, then, else_, values, local)
    return disj(found)


def _assigned(stmts) -> set[int]:
    out: set[int] = set()
    for s in stmts:
        if isinstance(s, ir.Assign):
            out.add(s.var)
        elif isinstance(s, ir.If):
            out |= _assigned(s.then) | _assigned(s.else_)
    return out


def tree_size(e: ir.Expr, memo: dict[int, int]) -> int:
    """The number of nodes of `e` written out as a tree. Substitution shares subexpressions, so `e` may be a small
    graph that no engine can print or walk: `a[i] := a[i] + a[0] + a[1]` in a loop of n rounds before an `await`
    gives a formula of about 3^n nodes."""
    key = id(e)
    if key not in memo:
        match e:
            case ir.Op(_, args, _):
                memo[key] = 1 + sum(tree_size(x, memo) for x in args)
            case ir.Extract(arg, _, _):
                memo[key] = 1 + tree_size(arg, memo)
            case ir.Insert(base, _, _, value):
                memo[key] = 1 + tree_size(base, memo) + tree_size(value, memo)
            case ir.Select(options, index, _):
                memo[key] = 1 + tree_size(index, memo) + sum(tree_size(x, memo) for x in options)
            case _:
                memo[key] = 1
    return memo[key]


def enabled(a: ir.ActionInstance, budget: int | None = MAX_WORK) -> ir.Expr:
    """The instance can take a step (or attempt one that a fatal check stops) in the current state. Raises TooLarge
    past `budget` nodes: the symbolic execution branches on every value of every `choose`, so a few nested ones
    after a loop take exponential time before any size check could look at the result (a generated model of the
    SPIN campaign spent 20 minutes and 7 GB here)."""
    if a.guard == FALSE:
        return FALSE
    _work[0], _work[1] = 0, budget
    try:
        return conj([a.guard, can_run(a.body, {}, {})])
    finally:
        _work[0], _work[1] = 0, None


__all__ = ["enabled", "can_run", "substitute", "tree_size", "TooLarge", "TRUE", "FALSE"]
