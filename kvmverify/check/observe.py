"""Checking `observe` declarations: the tracepoint's fields, the action they name, and each argument.

An observation reads only the event: its fields, the line's columns (`cpu`, `pid`), params and enum members,
never the model's state (the search decides which states allow the action). An argument is one of
  - an expression over the fields: the action's parameter takes that value (it must lie in the parameter's type
    when the event is matched, or the event cannot be that action);
  - `id(expr)`: the value is an identifier in the log (KVM's token, a thread's pid) that stands for some model
    value: the first appearance binds it, later appearances must agree;
  - `_`: any value the model allows.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..conform.tracepoints import LINE_FIELDS, TRACEPOINTS
from ..diagnostics import Diagnostic, did_you_mean
from ..lang import ast
from .exprs import Local, Unresolved, fits, is_boolish
from .model import ActionInfo
from .types import BitsT, BoolT, EnumT, FiniteT, IntT

FIELD_TYPE = BitsT(64)  # tracepoint fields are u64 (or narrower): compared and masked as such


@dataclass(frozen=True)
class ObservedArg:
    param: str
    type: FiniteT
    kind: str  # value | id | any
    expr: ast.Expr | None  # value: the expression; id: the identifier's expression; any: None


@dataclass(frozen=True)
class ObservationInfo:
    decl: ast.ObserveDecl
    action: ActionInfo
    fields: tuple[str, ...]
    args: tuple[ObservedArg, ...]  # in the action's parameter order


def _is_any(e: ast.Expr) -> bool:
    return isinstance(e, ast.Name) and e.id == "_"


def _is_id(e: ast.Expr) -> bool:
    return isinstance(e, ast.Call) and e.func == "id"


def check_observations(ck, decls: list[ast.ObserveDecl]) -> None:
    """Appends an ObservationInfo to `ck.m.observations` for each correct declaration; diagnostics otherwise."""
    for d in decls:
        try:
            info = _observation(ck, d)
        except Unresolved:
            continue
        if info is not None:
            ck.m.observations.append(info)


def _observation(ck, d: ast.ObserveDecl) -> ObservationInfo | None:
    tp = TRACEPOINTS.get(d.event)
    known = (*tp.fields, *LINE_FIELDS) if tp is not None else None
    if tp is None:
        ck.diags.append(Diagnostic("KV363", "warning", f"'{d.event}' is not a tracepoint kvmverify knows; its fields "
                                   "are read from the line as `name value` pairs", d.span,
                                   did_you_mean(d.event, TRACEPOINTS) or
                                   f"known: {', '.join(TRACEPOINTS)} (docs/conform.md)"))
    scope: dict[str, Local] = {}
    for f in d.fields:
        if f.name in scope:
            ck.error("KV202", f"field '{f.name}' is listed twice", f)
        elif known is not None and f.name not in known:
            ck.error("KV360", f"{d.event} has no field '{f.name}'", f,
                     did_you_mean(f.name, known) or f"its fields: {', '.join(known)} ({tp.format!r}, {tp.source}); "
                     f"every event also has {' and '.join(LINE_FIELDS)}")
        scope[f.name] = Local(FIELD_TYPE, kind="param")
    action = next((a for a in ck.m.actions if a.actor == d.actor and a.decl.name == d.action), None)
    if action is None:
        if d.actor not in ck.m.actors:
            raise ck.error("KV201", f"unknown actor '{d.actor}'", _at(d.target_span), did_you_mean(d.actor, ck.m.actors))
        names = [a.name for f in ck.loaded.files for x in f.decls if isinstance(x, ast.ActorDecl)
                 and x.name == d.actor for a in x.actions]
        if d.action in names:
            raise Unresolved()  # declared, but its declaration had an error: reported there
        raise ck.error("KV201", f"actor {d.actor} has no action '{d.action}'", _at(d.target_span),
                       did_you_mean(d.action, names) or f"its actions: {', '.join(names) or 'none'}")
    if d.when is not None:
        _no_state(ck, d.when, scope)
        ck.guard(ck.expect_bool, d.when, scope)
    given: dict[str, ast.ObserveArg] = {}
    params = dict(action.params)
    for a in d.args:
        if a.name in given:
            ck.error("KV202", f"argument '{a.name}' is given twice", a)
        elif a.name not in params:
            ck.error("KV361", f"{d.actor}.{d.action} has no parameter '{a.name}'", a,
                     did_you_mean(a.name, params) or f"its parameters: {', '.join(params) or 'none'}")
        else:
            given[a.name] = a
    missing = [n for n in params if n not in given]
    if missing:
        ck.error("KV361", f"{d.actor}.{d.action}({', '.join(params)}): no value for {', '.join(missing)}",
                 _at(d.target_span), "give each parameter a value from the event, id(field) for a log identifier, "
                 "or `_` for any value the model allows")
    out = []
    for name, t in action.params:
        a = given.get(name)
        if a is None:
            continue
        try:
            out.append(_argument(ck, a, t, scope))
        except Unresolved:
            pass
    if len(out) != len(action.params):
        return None
    return ObservationInfo(d, action, tuple(f.name for f in d.fields), tuple(out))


@dataclass(frozen=True)
class _At:
    """A place to report at: the `actor.action` of an observation."""

    span: object


def _at(span) -> _At:
    return _At(span)


def _argument(ck, a: ast.ObserveArg, t: FiniteT, scope: dict[str, Local]) -> ObservedArg:
    e = a.value
    if _is_any(e):
        return ObservedArg(a.name, t, "any", None)
    if _is_id(e):
        if len(e.args) != 1:
            raise ck.error("KV303", f"id takes one value, found {len(e.args)}", e, "e.g. id(token)")
        inner = e.args[0]
        _no_state(ck, inner, scope)
        it = ck.expr(inner, scope)
        if not isinstance(it, (IntT, BitsT, BoolT)):
            raise ck.error("KV301", f"id() of {it}: an identifier is a number from the log", inner)
        return ObservedArg(a.name, t, "id", inner)
    _no_state(ck, e, scope)
    vt = ck.expr(e, scope, t)
    if isinstance(t, EnumT):
        if vt != t:
            raise ck.error("KV301", f"argument '{a.name}' must be {t}, found {vt}", e)
    elif isinstance(t, BoolT):
        if not is_boolish(vt) and not isinstance(vt, (IntT, BitsT)):
            raise ck.error("KV301", f"argument '{a.name}' must be bool, found {vt}", e)
    elif fits(vt, t) == "no":
        raise ck.error("KV301", f"argument '{a.name}' must be {t}, found {vt}", e,
                       "a number outside the type is checked when an event is matched (that event cannot be this "
                       "action); a value of another kind never fits")
    return ObservedArg(a.name, t, "value", e)


def _no_state(ck, e: ast.Expr, scope: dict[str, Local]) -> None:
    """Observations read the event, never the model's state; `id` and `_` stand only as a whole argument."""
    for x in ast.walk(e):
        if isinstance(x, ast.Name) and x.id not in scope:
            if x.id == "_":
                raise ck.error("KV362", "`_` stands for a whole argument (any value), not inside an expression", x)
            if x.id in ck.m.vars:
                raise ck.error("KV362", f"an observation cannot read the state variable '{x.id}'", x,
                               "it reads the event's fields; the model's guards decide which states allow the "
                               "action")
            if x.id not in ck.m.params and x.id not in ck.m.enum_members:
                raise ck.unknown(x.id, f"unknown name '{x.id}'", x,
                                 did_you_mean(x.id, [*scope, *ck.m.params, *ck.m.enum_members]) or
                                 "list the event's fields in `observe EVENT(field, ...)`")
        elif isinstance(x, ast.Call):
            what = "`id(...)` stands for a whole argument" if x.func == "id" else \
                "an observation calls no def or table"
            raise ck.error("KV362", f"{what}", x, "compute from the fields with operators: (token & 0xfff), "
                           "token == WAKE_ALL")
        elif isinstance(x, ast.Quant):
            raise ck.error("KV362", "an observation has no quantifiers: it reads one event", x)

