"""Which state variables an expression, a body or an action instance reads and writes, and whether a body can stop
its step (no z3 here: the explicit engine's independent parts and both code generators use it)."""
from __future__ import annotations

from typing import assert_never

from . import nodes as ir


def expr_vars(e: ir.Expr) -> set[int]:
    match e:
        case ir.Const() | ir.Local():
            return set()
        case ir.Var(i):
            return {i}
        case ir.Op(_, args, _):
            return set().union(*(expr_vars(a) for a in args))
        case ir.Extract(arg, _, _):
            return expr_vars(arg)
        case ir.Insert(base, _, _, value):
            return expr_vars(base) | expr_vars(value)
        case ir.Select(options, index, _):
            return expr_vars(index).union(*(expr_vars(o) for o in options))
        case _:
            assert_never(e)


def body_vars(stmts) -> tuple[set[int], set[int]]:
    """(variables read, variables written) anywhere in a body."""
    reads: set[int] = set()
    writes: set[int] = set()
    for st in stmts:
        match st:
            case ir.Assign(var, value, _):
                writes.add(var)
                reads |= expr_vars(value)
            case ir.Let(_, value):
                reads |= expr_vars(value)
            case ir.Check(_, c, _, _, _, detail):
                reads |= expr_vars(c)
            case ir.If(c, then, else_, _):
                reads |= expr_vars(c)
                for sub in (then, else_):
                    r, w = body_vars(sub)
                    reads |= r
                    writes |= w
            case ir.Choose(_, _, _, where, body):
                r, w = body_vars(body)
                reads |= expr_vars(where) | r
                writes |= w
            case _:
                assert_never(st)
    return reads, writes


def written_vars(stmts) -> set[int]:
    """The variables a body assigns anywhere (what the generated code of a step keeps in locals)."""
    out: set[int] = set()
    for s in stmts:
        match s:
            case ir.Assign(var, _, _):
                out.add(var)
            case ir.If(_, then, else_, _):
                out |= written_vars(then) | written_vars(else_)
            case ir.Choose(_, _, _, _, body):
                out |= written_vars(body)
            case ir.Let() | ir.Check():
                pass
            case _:
                assert_never(s)
    return out


def has_fatal_check(stmts) -> bool:
    """Does a body hold a fatal check (type_ok, shift_ok, queue:...) that can stop its step?"""
    for s in stmts:
        match s:
            case ir.Check(_, _, fatal, _, _, _) if fatal:
                return True
            case ir.If(_, then, else_, _) if has_fatal_check(then) or has_fatal_check(else_):
                return True
            case ir.Choose(_, _, _, _, body) if has_fatal_check(body):
                return True
    return False


def action_vars(a: ir.ActionInstance) -> tuple[set[int], set[int]]:
    r, w = body_vars(a.body)
    return r | expr_vars(a.guard), w
