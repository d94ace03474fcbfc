"""A check result as JSON (`kvmverify check --json`): the same facts as the text, for programs.

One shape whatever was checked (`schemas/result.schema.json`, version JSON_VERSION):
`{"version": N, "exit_code": E, "models": [...], "diagnostics": [...]}`, one entry per model (a model that does
not compile has `"compiled": false` and its errors among the diagnostics). Values are typed: booleans are JSON
booleans, integers numbers, enum members strings, sets arrays; bit vectors (and register or struct fields) are
numbers, with their hex form beside them in the state's `hex` object (a u64 does not fit a double).
"""
from __future__ import annotations

import os
from typing import Any

from ..check.types import NONE_VALUE, BitsT, BoolT, EnumT, OptionT, SetT, Type, domain_lo, domain_size
from ..diagnostics import Diagnostic
from ..engines.shared.result import CheckResult, Coverage, PropertyResult, Trace
from ..ir import nodes as ir
from ..trace.explain import violation_text
from ..trace.views import queue_items, views
from .run import ModelRun

JSON_VERSION = 1
SCHEMA_FILE = os.path.join(os.path.dirname(__file__), "schemas", "result.schema.json")


def typed_value(t: Type, v: int) -> Any:
    match t:
        case OptionT(elem):
            return None if v == NONE_VALUE else typed_value(elem, v)
        case BoolT():
            return bool(v)
        case EnumT(_, members):
            return members[v] if 0 <= v < len(members) else v
        case SetT(elem):
            lo = domain_lo(elem)
            return [typed_value(elem, lo + i) for i in range(domain_size(elem)) if v >> i & 1]
    return v


def typed_state(ts: ir.TransitionSystem, state: tuple[int, ...]) -> dict[str, Any]:
    """`{"values": {name: typed value}, "hex": {name: "0x.."}}`; registers and structs by field, queues as arrays
    (head first), program counters as the name of the point (`"wait"`), options as null (`none`) or the value."""
    values: dict[str, Any] = {}
    hexes: dict[str, str] = {}
    for view in views(ts):
        if view.kind == "queue":
            elem = ts.vars[view.slots[1]].type
            values[view.name] = [typed_value(elem, x) for x in queue_items(ts, view, state)]
            continue
        sv, v = ts.vars[view.slots[0]], state[view.slots[0]]
        if view.kind == "pc":
            values[view.name] = typed_value(sv.type, v)
            continue
        layout = sv.layout
        if layout is None:
            values[sv.name] = typed_value(sv.type, v)
            if isinstance(sv.type, BitsT):
                hexes[sv.name] = hex(v)
            continue
        for f in layout.fields:
            key = f"{sv.name}.{f.name}"
            values[key] = x = (v >> f.lo) & ((1 << f.width) - 1)
            hexes[key] = hex(x)
    return {"values": values, "hex": hexes}


def typed_params(ts: ir.TransitionSystem) -> dict[str, Any]:
    return {k: (shown == "true") if shown in ("true", "false") else v for k, v, shown in ts.params}


def coverage_json(c: Coverage) -> dict:
    out = {"kind": c.kind, "text": c.describe()}
    for key in ("states", "depth", "k", "invariant", "bound", "reduction", "parts"):
        v = getattr(c, key)
        if v is not None:
            out[key] = list(v) if key == "parts" else v
    return out


def action_json(ts: ir.TransitionSystem, action: int | None) -> dict | None:
    if action is None:
        return None
    a = ts.actions[action]
    return {"actor": a.actor, "action": a.action, "args": {n: v for n, v, _ in a.args}, "label": a.label}


def trace_json(ts: ir.TransitionSystem, trace: Trace, prop: ir.Property | None = None) -> dict:
    steps = []
    for i, s in enumerate(trace.steps):
        steps.append({"index": i, "action": action_json(ts, s.action),
                      "state": typed_state(ts, s.state) if s.state is not None else None})
    out: dict = {"length": trace.length, "steps": steps, "loop": trace.loop}
    if trace.loop is not None:
        # ITF convention: steps[loop:] repeat; loop_action takes the last state back to steps[loop] (null: the
        # last state has no successor and stays forever)
        out["loop_action"] = action_json(ts, trace.loop_action)
    if trace.violation is not None:
        v = trace.violation
        out["violation"] = {"message": v.message, "text": violation_text(ts, prop, v), "detail": dict(v.detail)}
    return out


def property_json(ts: ir.TransitionSystem, r: PropertyResult) -> dict:
    p = r.prop
    return {"name": p.name, "kind": p.kind, "status": r.status, "as_expected": r.as_expected,
            "expected": r.expected, "description": p.description,
            "location": {"file": p.span.file, "line": p.span.line, "column": p.span.col},
            "coverage": coverage_json(r.coverage),
            "trace": trace_json(ts, r.trace, p) if r.trace is not None else None,
            "input": None if r.witness is None else {"values": dict(r.witness.inputs), "calls": list(r.witness.calls)},
            "findings": [{"code": code, "message": message, "file": span.file, "line": span.line, "column": span.col}
                         for code, message, span in r.findings]}


def result_json(ts: ir.TransitionSystem, result: CheckResult, file: str) -> dict:
    s = result.stats
    return {"file": file, "compiled": True, "model": ts.name, "params": typed_params(ts), "engine": result.engine,
            "exit_code": result.exit_code, "bound": result.bound, "notes": list(result.notes),
            "reduction": result.reduction,
            "stats": {"states": s.states, "transitions": s.transitions, "depth": s.depth,
                      "action_instances": len(ts.actions), "state_variables": len(ts.vars)},
            "properties": [property_json(ts, r) for r in result.results],
            "counterexample_to_induction": None if result.cti is None else {
                "breaks": list(result.cti[1]), "trace": trace_json(ts, result.cti[0])}}


def diagnostic_json(d: Diagnostic) -> dict:
    return {"code": d.code, "severity": d.severity, "message": d.message, "hint": d.hint,
            "location": {"file": d.span.file, "line": d.span.line, "column": d.span.col,
                         "end_line": d.span.end_line, "end_column": d.span.end_col}}


def run_json(run: ModelRun, exit_code: int) -> dict:
    if run.system is None or run.result is None:
        return {"file": run.path, "compiled": False, "model": None, "exit_code": exit_code, "properties": []}
    return result_json(run.system, run.result, run.path)


def document(models: list[dict], diagnostics: list[Diagnostic], exit_code: int) -> dict:
    return {"version": JSON_VERSION, "exit_code": exit_code, "models": models,
            "diagnostics": [diagnostic_json(d) for d in diagnostics]}
