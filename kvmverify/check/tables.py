"""Checking of decision tables (`decide`) and of `check` properties over their inputs.

A table is first-match: a call takes the values of the first rule whose `when` holds for its arguments. Whether
some input matches no rule, or some rule can never fire, is decided later by z3 (engines/symbolic/decide.py) on the
lowered table; here the rules are only typed. A `check` is `forall a: T, ... . P` over any types (registers and
u64 too, since z3 decides it without enumerating), and may not read state variables: it is about the tables and
defs it calls, for every input, not about the states a run reaches.
"""
from __future__ import annotations

from ..diagnostics import Span, did_you_mean
from ..lang import ast
from .exprs import Local, Unresolved, fits
from .model import CheckInfo, TableInfo
from .types import BOOL, CTYPES, BitsT, Type


def check_table(checker, d: ast.DecideDecl) -> None:
    """Type `d` with `checker` (a check.checker.Checker); on success register a TableInfo in its model."""
    m = checker.m
    if not checker.declare(d.name, d.span, "decide"):
        return
    try:
        params = checker.params_of(d.params)
        outputs = []
        for o in d.outputs:
            if o.type is None:
                raise checker.error("KV301", f"output '{o.name}' of {d.name} needs a type", o,
                                    f"write ({o.name}: T, ...)")
            outputs.append((o.name, checker.type_expr(o.type)))
    except Unresolved:
        m.broken.add(d.name)
        return
    # known from here on even if a rule is wrong (the phase fails anyway): its calls are still typed
    m.tables[d.name] = TableInfo(d, params, tuple(outputs))
    scope = {n: Local(t, kind="param") for n, t in params}
    names: dict[str, Span] = {}
    for r in d.rules:
        if r.name in names:
            checker.error("KV202", f"rule '{r.name}' of {d.name} is declared twice (first at {names[r.name]})", r)
        names.setdefault(r.name, r.span)
        _rule(checker, d, r, scope, outputs)
    if not d.rules:
        checker.error("KV340", f"decision table {d.name} has no rules", d, "add `rule NAME when COND => VALUE`, "
                      "and a last rule without `when` for every other input")


def _rule(checker, d: ast.DecideDecl, r: ast.Rule, scope: dict[str, Local], outputs: list[tuple[str, Type]]) -> None:
    if r.when is not None:
        checker.guard(checker.expect_bool, r.when, scope)
    if len(r.values) != len(outputs):
        want = ", ".join(n for n, _ in outputs) if d.tupled else "one value"
        checker.error("KV303", f"rule '{r.name}' gives {len(r.values)} value(s); {d.name} returns {len(outputs)} "
                      f"({want})", r, "write `=> (" + ", ".join(n for n, _ in outputs) + ")` with one value each"
                      if d.tupled else None)
        return
    for v, (oname, ot) in zip(r.values, outputs):
        vt = checker.guard(checker.expr, v, scope, ot)
        if vt is not None and fits(vt, ot) != "ok":
            what = f"output '{oname}'" if d.tupled else "the output"
            checker.error("KV301", f"rule '{r.name}': {what} of {d.name} is {ot}; this value is {vt}", v,
                          "every value a rule gives must lie in the output's type")


def table_call(checker, e: ast.Call, scope: dict[str, Local], output: str | None, where: ast.Expr) -> Type:
    """The type of `e` (a call of a decision table), or of its output `output` (`f(...).output`)."""
    t = checker.m.tables[e.func]
    checker.call_args(e.func, e.args, t.params, e, scope)
    names = [n for n, _ in t.outputs]
    if not t.decl.tupled:
        if output is not None:
            raise checker.error("KV305", f"{e.func} has one output; it has no field '{output}'", where,
                                f"use {e.func}(...) itself")
        return t.outputs[0][1]
    if output is None:
        raise checker.error("KV343", f"{e.func} returns several outputs ({', '.join(names)}): say which one", e,
                            f"write {e.func}(...).{names[0]}")
    for n, ot in t.outputs:
        if n == output:
            return ot
    raise checker.error("KV343", f"{e.func} has no output '{output}'", where,
                        did_you_mean(output, names) or f"outputs: {', '.join(names)}")


def check_property(checker, d: ast.CheckDecl, taken: set[str]) -> None:
    """`check NAME: forall a: T, ... . P`: the leading `forall`s bind the inputs; on success append a CheckInfo."""
    m = checker.m
    if d.name in taken:
        checker.error("KV202", f"property '{d.name}' is declared twice", d)
        return
    taken.add(d.name)
    body, binders = d.expr, []
    while isinstance(body, ast.Quant) and body.kind == "forall":
        binders.extend(body.binders)
        body = body.body
    scope: dict[str, Local] = {}
    inputs: list[tuple[str, Type]] = []
    try:
        for b in binders:
            if b.name in scope:
                raise checker.error("KV202", f"'{b.name}' is bound twice", b)
            bt = _input_type(checker, b.type_name)
            scope[b.name] = Local(bt, kind="binder")
            inputs.append((b.name, bt))
        checker.expect_bool(body, scope)
        _no_state(checker, body, scope)
    except Unresolved:
        return
    m.checks.append(CheckInfo(d.name, tuple(inputs), body, d.span))


def _input_type(checker, n: ast.Name) -> Type:
    if n.id == "bool":
        return BOOL
    if n.id in CTYPES:
        return BitsT(CTYPES[n.id])
    t = checker.m.types.get(n.id)
    if t is None:
        raise checker.unknown(n.id, f"unknown type '{n.id}'", n,
                            did_you_mean(n.id, [*checker.m.types, "bool", *CTYPES]))
    return t


def _no_state(checker, e: ast.Expr, scope: dict[str, Local]) -> None:
    """A `check` is over its inputs; a state variable in it (outside a def or table) is an error."""
    match e:
        case ast.Name(_, n) if n not in scope and n in checker.m.vars:
            raise checker.error("KV342", f"'{n}' is a state variable; a `check` is over its inputs only", e,
                                "bind it with `forall`, or state it as an `invariant` over reachable states")
        case ast.Name() | ast.IntLit() | ast.BoolLit():
            return
        case ast.Quant(_, _, binders, body):
            _no_state(checker, body, {**scope, **{b.name: Local(BOOL) for b in binders}})
            return
    for child in ast.children(e):
        _no_state(checker, child, scope)
