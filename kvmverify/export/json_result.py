"""A check result as JSON (`kvmverify check --json`): the same facts as the text, for programs."""
from __future__ import annotations

from ..engines.shared.result import CheckResult, Coverage, PropertyResult, Trace
from ..ir import nodes as ir
from ..trace.text import state_dict


def coverage_json(c: Coverage) -> dict:
    out = {"kind": c.kind, "text": c.describe()}
    for key in ("states", "depth", "k", "invariant", "bound", "reduction", "parts"):
        v = getattr(c, key)
        if v is not None:
            out[key] = v
    return out


def action_json(ts: ir.TransitionSystem, action: int | None) -> dict | None:
    if action is None:
        return None
    a = ts.actions[action]
    return {"actor": a.actor, "action": a.action, "args": {n: v for n, v, _ in a.args}, "label": a.label}


def trace_json(ts: ir.TransitionSystem, trace: Trace) -> dict:
    steps = []
    for i, s in enumerate(trace.steps):
        steps.append({"index": i, "action": action_json(ts, s.action),
                      "state": state_dict(ts, s.state) if s.state is not None else None})
    out: dict = {"length": trace.length, "steps": steps, "loop": trace.loop}
    if trace.loop is not None:
        # ITF convention: steps[loop:] repeat; loop_action takes the last state back to steps[loop] (null: the
        # last state has no successor and stays forever)
        out["loop_action"] = action_json(ts, trace.loop_action)
    if trace.violation is not None:
        out["violation"] = {"message": trace.violation.message, "detail": dict(trace.violation.detail)}
    return out


def property_json(ts: ir.TransitionSystem, r: PropertyResult) -> dict:
    p = r.prop
    return {"name": p.name, "kind": p.kind, "status": r.status, "as_expected": r.as_expected,
            "expected": r.expected, "description": p.description,
            "location": {"file": p.span.file, "line": p.span.line, "column": p.span.col},
            "coverage": coverage_json(r.coverage),
            "trace": trace_json(ts, r.trace) if r.trace is not None else None,
            "input": None if r.witness is None else {"values": dict(r.witness.inputs), "calls": list(r.witness.calls)},
            "findings": [{"code": code, "message": message, "file": span.file, "line": span.line, "column": span.col}
                         for code, message, span in r.findings]}


def result_json(ts: ir.TransitionSystem, result: CheckResult, file: str) -> dict:
    s = result.stats
    return {"file": file, "model": ts.name, "params": {k: v for k, v, _ in ts.params}, "engine": result.engine,
            "exit_code": result.exit_code, "bound": result.bound, "notes": list(result.notes),
            "reduction": result.reduction,
            "stats": {"states": s.states, "transitions": s.transitions, "depth": s.depth,
                      "action_instances": len(ts.actions), "state_variables": len(ts.vars)},
            "properties": [property_json(ts, r) for r in result.results],
            "counterexample_to_induction": None if result.cti is None else {
                "breaks": list(result.cti[1]), "trace": trace_json(ts, result.cti[0])}}
