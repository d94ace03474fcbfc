"""`--property NAME` / `--exclude NAME`: the transition system restricted to the selected properties, so that
every engine checks (and reports) only those, unchanged.

Properties are renumbered and the checks in the action bodies follow them. A check of a property left out goes,
but for a fatal one (type_ok, shift_ok, queue:...), which still stops its step, now unreported (`prop` None):
leaving a property out must not change which steps happen. Names are matched as shell globs (fnmatch), against
every property: the model's own, derived ones (`slot:*`, `msr:*`, `queue:*`, `type_ok`), sanity findings
(`deadlock`, `enabled:*`, `premise:*`), liveness, `check` and `layout:` properties.
"""
from __future__ import annotations

import dataclasses
import fnmatch
from typing import assert_never

from . import nodes as ir


def all_names(ts: ir.TransitionSystem) -> list[str]:
    return [p.name for p in ts.properties] + [c.prop.name for c in ts.checks] + [f.prop.name for f in ts.lint]


def matches(name: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def unmatched(ts: ir.TransitionSystem, patterns) -> list[str]:
    """The patterns that match no property."""
    names = all_names(ts)
    return [p for p in patterns if not any(fnmatch.fnmatchcase(n, p) for n in names)]


def select(ts: ir.TransitionSystem, include=(), exclude=()) -> ir.TransitionSystem:
    """`ts` with only the properties whose names match `include` (all when empty) and none of `exclude`."""
    return restrict(ts, lambda p: (not include or matches(p.name, include)) and not matches(p.name, exclude))


def safety_only(ts: ir.TransitionSystem) -> ir.TransitionSystem:
    """`ts` without its liveness properties (the benchmarks' and the ports' whole-graph safety searches)."""
    return restrict(ts, lambda p: p.kind not in ir.LIVENESS_KINDS)


def restrict(ts: ir.TransitionSystem, wanted) -> ir.TransitionSystem:
    """`ts` with only the properties (of every sort: state, step, liveness, check, layout) `wanted` accepts."""
    kept = [p for p in ts.properties if wanted(p)]
    if len(kept) == len(ts.properties) and all(wanted(c.prop) for c in ts.checks) and \
            all(wanted(f.prop) for f in ts.lint):
        return ts
    new_id = {p.id: k for k, p in enumerate(kept)}
    props = tuple(dataclasses.replace(p, id=new_id[p.id]) for p in kept)
    actions = tuple(dataclasses.replace(a, body=_body(a.body, new_id)) for a in ts.actions)
    liveness = tuple(dataclasses.replace(lv, prop=new_id[lv.prop]) for lv in ts.liveness if lv.prop in new_id)
    base = len(props)
    checks = []
    for c in ts.checks:
        if wanted(c.prop):
            checks.append(dataclasses.replace(c, prop=dataclasses.replace(c.prop, id=base + len(checks))))
    base += len(checks)
    lint = []
    for f in ts.lint:
        if wanted(f.prop):
            lint.append(dataclasses.replace(f, prop=dataclasses.replace(f.prop, id=base + len(lint))))
    names = {p.name for p in props} | {c.prop.name for c in checks} | {f.prop.name for f in lint}
    expects = tuple(x for x in ts.expects if x[0] in names)
    deadlock = ts.deadlock
    if deadlock is not None:
        deadlock = dataclasses.replace(deadlock, prop=new_id[deadlock.prop]) if deadlock.prop in new_id else None
    notes = tuple(n for n in ts.notes if not n.startswith("assert ") or any(f"assert {x} (" in n for x in names))
    return dataclasses.replace(ts, properties=props, actions=actions, liveness=liveness, checks=tuple(checks),
                               lint=tuple(lint), expects=expects, deadlock=deadlock, notes=notes)


def _body(stmts, new_id: dict[int, int]) -> tuple:
    out = []
    for s in stmts:
        match s:
            case ir.Check(prop, _, fatal, _, _, _):
                if prop in new_id:
                    out.append(dataclasses.replace(s, prop=new_id[prop]))
                elif fatal:
                    out.append(dataclasses.replace(s, prop=None))
            case ir.If(cond, then, else_, tail):
                out.append(ir.If(cond, _body(then, new_id), _body(else_, new_id), tail))
            case ir.Choose(name, lo, hi, where, body):
                out.append(ir.Choose(name, lo, hi, where, _body(body, new_id)))
            case ir.Assign() | ir.Let():
                out.append(s)
            case _:
                assert_never(s)
    return tuple(out)
