"""Checking of `property` declarations: liveness formulas `[forall x: T.] P leads_to Q` and `always eventually P`.

P and Q are state predicates typed by the ordinary expression checker, which rejects any temporal operator below
the top (KV330). Only `forall` may bind over a liveness formula: each value of the binders is one instance, and
the property holds when every instance does.
"""
from __future__ import annotations

from ..diagnostics import Span
from ..lang import ast
from .exprs import Local, Unresolved
from .model import LivenessInfo

LEADS_TO_TEXT = "on every fair run, each time the premise holds the goal holds then or later"
ALWAYS_EVENTUALLY_TEXT = "on every fair run, the goal holds again and again (infinitely often)"


def _has_temporal(e: ast.Expr) -> bool:
    match e:
        case ast.LeadsTo() | ast.AlwaysEventually():
            return True
        case ast.Quant(_, _, _, body):
            return _has_temporal(body)
        case ast.Unary(_, _, x):
            return _has_temporal(x)
        case ast.Binary(_, _, l, r):
            return _has_temporal(l) or _has_temporal(r)
        case ast.Ternary(_, c, t, f):
            return _has_temporal(c) or _has_temporal(t) or _has_temporal(f)
    return False


def check_liveness(checker, d: ast.LivenessDecl, seen: dict[str, Span]) -> None:
    """Type `d` with `checker` (a check.checker.Checker); on success append a LivenessInfo to its model. `seen`
    holds the liveness properties checked so far (by name)."""
    m = checker.m
    first = seen.get(d.name) or next((p.span for p in m.props if p.name == d.name), None)
    if first is not None:
        checker.error("KV202", f"property '{d.name}' is declared twice (first at {first})", d)
        return
    seen[d.name] = d.span
    binders: list[tuple[str, object]] = []
    scope: dict[str, Local] = {}
    e = d.expr
    try:
        while isinstance(e, ast.Quant):
            if e.kind != "forall":
                if _has_temporal(e.body):
                    raise checker.error("KV332", "`exists` cannot bind over a liveness formula", e,
                                        "only `forall` may: each value is one instance that must hold; move "
                                        "`exists` inside P or Q")
                break
            for b in e.binders:
                if b.name in scope:
                    raise checker.error("KV202", f"'{b.name}' is bound twice", b)
                t = checker.finite_type_name(b.type_name)
                scope[b.name] = Local(t, kind="binder")
                binders.append((b.name, t))
            e = e.body
        match e:
            case ast.LeadsTo(_, premise, goal):
                if not (_typed(checker, premise, scope) & _typed(checker, goal, scope)):
                    return
                m.liveness.append(LivenessInfo(d.name, tuple(binders), premise, goal, d.span, LEADS_TO_TEXT))
            case ast.AlwaysEventually(_, goal):
                if not _typed(checker, goal, scope):
                    return
                m.liveness.append(LivenessInfo(d.name, tuple(binders), None, goal, d.span, ALWAYS_EVENTUALLY_TEXT))
            case _:
                if _has_temporal(e):
                    checker.guard(checker.expect_bool, e, scope)  # reports each misplaced operator (KV330)
                    return
                raise checker.error("KV331", f"property '{d.name}' is not a liveness formula", e,
                                    "write `P leads_to Q` or `always eventually P`; a predicate that must hold in "
                                    "every state is an `invariant`")
    except Unresolved:
        return


def _typed(checker, e: ast.Expr, scope: dict[str, Local]) -> bool:
    """Is `e` a well-typed state predicate? (If not, its diagnostics are recorded.)"""
    try:
        checker.expect_bool(e, scope)
        return True
    except Unresolved:
        return False
