"""Size limits between the checker and the engines, so that a hostile model gets a diagnostic, not a hang.

Grounding makes one action instance per parameter value and one state variable per array element; the explicit
engine then generates code of size about (instances x state variables). Python's own compiler refuses more than
200 nested parentheses and 100 levels of indentation, so the nesting of expressions and statements is bounded too.
Every walk here is iterative: a deep model must not overflow the stack of the check that guards against it.
"""
from __future__ import annotations

from typing import assert_never

from ..check.model import Model
from ..check.types import domain_size
from ..diagnostics import Diagnostic, Span
from . import nodes as ir
from .expansion import CAP, largest_parts

MAX_EXPANDED_NODES = 400_000  # terms after inlining: memtype is 61,500, apf_int 2,850; 65,536 statements lower and compile in ~6 s
MAX_GROUND_SIZE = 1_000_000  # action instances x state variables: apf_int at NVCPU=50 is 520,000 (~2 s to compile)
MAX_EXPR_DEPTH = 60  # an IR expression level becomes up to 3 nested parentheses in generated code
MAX_BLOCK_DEPTH = 40  # `if` counts 1, `choose` 2 (a loop and a guard) levels of generated indentation


def _product(sizes) -> int:
    n = 1
    for s in sizes:
        n *= s
    return n


def ground_size(model: Model) -> tuple[int, int]:
    """(action instances, state variables) that lowering `model` would produce."""
    instances = sum(_product(domain_size(t) for _, t in a.params) for a in model.actions)
    variables = sum(_product(domain_size(t) for t in v.indices) for v in model.vars.values())
    return instances, variables


def model_limits(model: Model) -> list[Diagnostic]:
    """Checked before lowering: lowering a too large model is itself what takes too long."""
    where = Span(model.root_file, 1, 1, 1, 1)
    instances, variables = ground_size(model)
    if instances * variables > MAX_GROUND_SIZE:
        return [Diagnostic("KV317", "error", f"the model grounds to {instances} action instances over {variables} "
                           f"state variables, {instances * variables:,} pairs (limit {MAX_GROUND_SIZE:,})", where,
                           "lower the params (e.g. --param NVCPU=2): explicit search grounds every array element "
                           "and every parameter value")]
    parts = largest_parts(model)
    total = sum(n for n, _, _ in parts)
    if total > MAX_EXPANDED_NODES:
        size, what, span = max(parts, key=lambda x: x[0])
        shown = "more than 10**15" if size >= CAP else f"about {size:,}"
        return [Diagnostic("KV319", "error", f"the model expands to {'more than 10**15' if total >= CAP else f'about {total:,}'} "
                           f"terms once defs are inlined, quantifiers expanded and `for` unrolled (limit "
                           f"{MAX_EXPANDED_NODES:,}); {what} alone is {shown}", span,
                           "a def that calls another several times, nested `for`s, a quantifier over large types or "
                           "a `choose` or `await` (also inside a procedure) before many `if`s or calls multiply; use "
                           "`let` to name a value once, or smaller types")]
    return []


def expr_depth(e: ir.Expr) -> int:
    deepest = 0
    todo = [(e, 1)]
    while todo:
        e, d = todo.pop()
        deepest = max(deepest, d)
        match e:
            case ir.Const() | ir.Var() | ir.Local():
                pass
            case ir.Op(_, args, _):
                todo.extend((a, d + 1) for a in args)
            case ir.Extract(arg, _, _):
                todo.append((arg, d + 1))
            case ir.Insert(base, _, _, value):
                todo.extend([(base, d + 1), (value, d + 1)])
            case ir.Select(options, index, _):
                todo.extend((o, d + 1) for o in (*options, index))
            case _:
                assert_never(e)
    return deepest


def _stmt_exprs(s: ir.Stmt) -> list[ir.Expr]:
    match s:
        case ir.Assign(_, value, _) | ir.Let(_, value):
            return [value]
        case ir.If(cond, _, _, _):
            return [cond]
        case ir.Choose(_, _, _, where, _):
            return [where]
        case ir.Check(_, cond, _, _, _, detail):
            return [cond, *(v for _, v in detail)]
        case _:
            assert_never(s)


def body_depths(body: tuple[ir.Stmt, ...]) -> tuple[int, int]:
    """(statement nesting, expression depth) of a body."""
    block, deepest = 0, 0
    todo = [(s, 0) for s in body]
    while todo:
        s, d = todo.pop()
        block = max(block, d)
        deepest = max([deepest, *(expr_depth(e) for e in _stmt_exprs(s))])
        match s:
            case ir.If(_, then, else_, _):
                todo.extend((x, d + 1) for x in (*then, *else_))
            case ir.Choose(_, _, _, _, inner):
                todo.extend((x, d + 2) for x in inner)
            case ir.Assign() | ir.Let() | ir.Check():
                pass
            case _:
                assert_never(s)
    return block, deepest


def system_limits(ts: ir.TransitionSystem) -> list[Diagnostic]:
    """Checked after lowering: nesting the engines cannot compile. One diagnostic per action or property."""
    diags = []
    seen: set[tuple[str, str]] = set()
    hint = "split deep expressions with `let` or `def`, deep `if`s into several actions"
    for a in ts.actions:
        if (a.actor, a.action) in seen:
            continue
        block, deepest = body_depths(a.body)
        deepest = max(deepest, expr_depth(a.guard))
        if block > MAX_BLOCK_DEPTH or deepest > MAX_EXPR_DEPTH:
            seen.add((a.actor, a.action))
            what = (f"statements nested {block} deep (limit {MAX_BLOCK_DEPTH})" if block > MAX_BLOCK_DEPTH else
                    f"an expression nested {deepest} deep (limit {MAX_EXPR_DEPTH})")
            diags.append(Diagnostic("KV105", "error", f"action {a.actor}.{a.action} has {what}", a.span, hint))
    for p in ts.properties:
        if p.expr is not None and (d := expr_depth(p.expr)) > MAX_EXPR_DEPTH:
            diags.append(Diagnostic("KV105", "error", f"{p.kind} {p.name} has an expression nested {d} deep "
                                    f"(limit {MAX_EXPR_DEPTH})", p.span, hint))
    return diags
