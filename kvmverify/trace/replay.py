"""Replay an exported ITF trace against a model (possibly edited since the trace was written).

`kvmverify replay MODEL TRACE.itf.json` answers two questions: is the trace still a run of the model (its first
state initial, each step an enabled action instance that leads to the next state), and does it still violate
the property it was exported for. Each step is re-executed with the explicit engine's own successor function
(`Explorer.successors`), so replay and search cannot disagree on what a step does.

Malformed trace files are diagnostics (KV6xx); a trace that parses but no longer fits the model is a verdict
with the first step that fails and why.
"""
from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import Diagnostic, DiagnosticError, Span
from ..engines.explicit import Explorer
from ..engines.explicit.liveness import lasso_problem
from ..export.itf import ACTION_TAKEN, NONDET_PICKS, ItfError, action_args, decode_state, dec_int
from ..ir import nodes as ir
from .text import PLAIN, Style, action_label, state_dict

# Diagnostic codes of trace files (docs/export.md lists them).
KV_TRACE_UNREADABLE = "KV601"  # the file cannot be read
KV_TRACE_NOT_JSON = "KV602"  # not JSON
KV_TRACE_NOT_ITF = "KV603"  # JSON, but not an ITF trace
KV_TRACE_BAD_STATE = "KV604"  # a state does not fit the model's variables and types
KV_TRACE_BAD_ACTION = "KV605"  # a step names an action instance the model does not have
KV_TRACE_BAD_PARAM = "KV606"  # a trace parameter the model does not declare, or a malformed one
KV_TRACE_NO_PROPERTY = "KV607"  # the property the trace was exported for is gone (warning)
KV_TRACE_TOO_BIG = "KV608"  # JSON beyond the limits: a huge number, nesting too deep


def _file_span(path: str) -> Span:
    return Span(path, 1, 1, 1, 1)


MAX_TRACE_BYTES = 64 << 20  # a 200-step trace of apf_int is about 1 MB


def load_trace(path: str) -> dict[str, Any]:
    """Read and shape-check an ITF file. Raises DiagnosticError (KV601-KV603, KV608).

    The file type is checked before it is opened (a FIFO would block the open, /dev/zero never ends) and at most
    MAX_TRACE_BYTES are read."""
    def unreadable(why: str, hint: str | None = None) -> DiagnosticError:
        return DiagnosticError([Diagnostic(KV_TRACE_UNREADABLE, "error", f"cannot read trace file '{path}': {why}",
                                           _file_span(path), hint)])
    try:
        st = os.stat(path)
    except OSError as e:
        raise unreadable(e.strerror or str(e))
    if not stat.S_ISREG(st.st_mode):
        kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a regular file")
        raise unreadable(f"it is {kind}", "replay reads an .itf.json file written by `check --trace-format itf`")
    if st.st_size > MAX_TRACE_BYTES:
        raise unreadable(f"it has {st.st_size} bytes, more than the {MAX_TRACE_BYTES >> 20} MiB a trace may have")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(MAX_TRACE_BYTES + 1)
    except (OSError, UnicodeDecodeError) as e:
        raise unreadable(getattr(e, "strerror", None) or str(e))
    if len(text) > MAX_TRACE_BYTES:  # it grew while we read it
        raise unreadable(f"it has more than the {MAX_TRACE_BYTES >> 20} MiB a trace may have")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise DiagnosticError([Diagnostic(KV_TRACE_NOT_JSON, "error", f"the trace file is not JSON: {e.msg}",
                                          Span(path, e.lineno, e.colno, e.lineno, e.colno + 1),
                                          "export traces with `kvmverify check --trace-format itf --out DIR`")])
    except (ValueError, RecursionError) as e:  # a number of more than 4300 digits, or arrays nested too deep
        why = "it nests arrays or objects too deeply" if isinstance(e, RecursionError) else \
            "it holds an integer too long to read (more than 4300 digits)"
        raise DiagnosticError([Diagnostic(KV_TRACE_TOO_BIG, "error", f"the trace file is beyond kvmverify's limits: "
                                          f"{why}", _file_span(path),
                                          "ITF writes large integers as {\"#bigint\": \"...\"}; traces nest a few levels")])
    problems = shape_problems(doc)
    if problems:
        raise DiagnosticError([Diagnostic(KV_TRACE_NOT_ITF, "error", f"not an ITF trace: {p}", _file_span(path),
                                          "an ITF trace is {\"vars\": [...], \"states\": [{...}, ...]}")
                               for p in problems[:5]])
    return doc


def shape_problems(doc: Any) -> list[str]:
    if not isinstance(doc, dict):
        return [f"the top level is a JSON {type(doc).__name__}, not an object"]
    out = []
    if not isinstance(doc.get("vars"), list) or not all(isinstance(v, str) for v in doc.get("vars", [])):
        out.append("'vars' must be a list of variable names")
    if "params" in doc and (not isinstance(doc["params"], list) or
                            not all(isinstance(v, str) for v in doc["params"])):
        out.append("'params' must be a list of parameter names")
    states = doc.get("states")
    if not isinstance(states, list) or not states:
        out.append("'states' must be a non-empty list of states")
    else:
        for i, s in enumerate(states):
            if not isinstance(s, dict):
                out.append(f"states[{i}] is not an object")
            elif "#meta" in s and not isinstance(s["#meta"], dict):
                out.append(f"states[{i}].#meta is not an object")
    if "loop" in doc and (not isinstance(doc["loop"], int) or isinstance(doc["loop"], bool)):
        out.append("'loop' must be a state index")
    if "#meta" in doc and not isinstance(doc["#meta"], dict):
        out.append("'#meta' must be an object")
    return out


def kv_meta(doc: dict[str, Any]) -> dict[str, Any]:
    meta = doc.get("#meta") or {}
    kv = meta.get("kvmverify") if isinstance(meta, dict) else None
    return kv if isinstance(kv, dict) else {}


def trace_params(doc: dict[str, Any], path: str) -> dict[str, int]:
    """The parameter values the trace was found with (from the first state, as ITF says)."""
    out: dict[str, int] = {}
    first = doc["states"][0]
    for name in doc.get("params", []):
        if name not in first:
            raise DiagnosticError([Diagnostic(KV_TRACE_BAD_PARAM, "error", f"parameter '{name}' is listed in "
                                              "'params' but has no value in states[0]", _file_span(path))])
        x = first[name]
        try:
            out[name] = int(x) if isinstance(x, bool) else dec_int(x, f"states[0].{name}")
        except ItfError as e:
            raise DiagnosticError([Diagnostic(KV_TRACE_BAD_PARAM, "error", str(e), _file_span(path))])
    return out


def trace_property(doc: dict[str, Any]) -> str | None:
    prop = kv_meta(doc).get("property")
    if isinstance(prop, dict) and isinstance(prop.get("name"), str):
        return prop["name"]
    return None


# ------------------------------------------------------------------------------------------------ the replay
@dataclass
class StepReport:
    index: int
    label: str
    problem: str | None = None  # why this step is not a step of the model
    violated: list[str] = field(default_factory=list)  # properties this step (or its state) violates


@dataclass(frozen=True)
class ParamUse:
    """A parameter value the replay applied, where it came from, and the model's own default."""

    name: str
    shown: str
    default: str
    source: str  # the trace | --param | the model


def show_param(model, name: str, value: int) -> str:
    """A param value as the transition system shows it (true/false, hex from 1024 on)."""
    from ..ir.lower import _show_param
    return _show_param(model.param_types[name], value)


@dataclass
class ReplayReport:
    model: str
    property: str | None
    steps: list[StepReport]
    valid: bool  # the whole trace is a run of the model
    violates: bool  # ... and its last step (or state) violates `property`
    first_problem: StepReport | None
    notes: list[str] = field(default_factory=list)
    params: list[ParamUse] = field(default_factory=list)  # set by the caller, which knows where each came from

    @property
    def reproduced(self) -> bool:
        return self.valid and self.violates


def _find_action(ts: ir.TransitionSystem, meta: dict, st: dict | None, where: str, path: str) -> int:
    actor = name = None
    args: Any = None
    if isinstance(meta.get("actor"), str) and isinstance(meta.get("name"), str):
        actor, name, args = meta["actor"], meta["name"], meta.get("args", {})
    elif st is not None and isinstance(st.get(ACTION_TAKEN), str) and "." in st[ACTION_TAKEN]:
        actor, _, name = st[ACTION_TAKEN].partition(".")
        picks = st.get(NONDET_PICKS, {})
        args = {k: v.get("value") for k, v in picks.items()
                if isinstance(v, dict) and v.get("tag") == "Some"} if isinstance(picks, dict) else None
    if actor is None or not isinstance(args, dict):
        raise DiagnosticError([Diagnostic(KV_TRACE_BAD_ACTION, "error", f"{where}: the step does not say which "
                                          "action it took (#meta.actor/name/args or mbt::actionTaken)",
                                          _file_span(path))])
    label = f"{actor}.{name}(" + ", ".join(f"{k}={json.dumps(v)}" for k, v in args.items()) + ")"
    same_name = [a for a in ts.actions if a.actor == actor and a.action == name]
    for a in same_name:
        if action_args(a) == args:
            return a.id
    if same_name:
        hint = "instances: " + ", ".join(a.label for a in same_name[:4]) + (" ..." if len(same_name) > 4 else "")
    else:
        names = sorted({f"{a.actor}.{a.action}" for a in ts.actions})
        hint = "actions: " + ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
    raise DiagnosticError([Diagnostic(KV_TRACE_BAD_ACTION, "error", f"{where}: the model has no action instance "
                                      f"{label}", _file_span(path), hint)])


def _diff(ts: ir.TransitionSystem, want: tuple[int, ...], got: tuple[int, ...]) -> str:
    a, b = state_dict(ts, want), state_dict(ts, got)
    diffs = [f"{k} is {b[k]} in the model, {a[k]} in the trace" for k in a if a[k] != b.get(k)]
    return "; ".join(diffs[:4]) + (f"; and {len(diffs) - 4} more" if len(diffs) > 4 else "")


def replay(ts: ir.TransitionSystem, doc: dict[str, Any], path: str, prop_name: str | None = None,
           explorer: Explorer | None = None) -> ReplayReport:
    """Re-execute `doc` on `ts`. Raises DiagnosticError for traces that do not fit the model's shape."""
    ex = explorer or Explorer(ts)
    prop_name = prop_name or trace_property(doc)
    notes: list[str] = []
    prop = ts.prop(prop_name) if prop_name else None
    if prop_name and prop is None:
        notes.append(f"the model no longer has a property '{prop_name}'; only the run is checked")
    check_prop = [c.prop for c in ex.c.checks]
    state_props = [p for p in ts.properties if p.is_invariant]
    steps: list[StepReport] = []
    states_json = doc["states"]
    kv = kv_meta(doc)
    stopped = kv.get("stopped_step") if isinstance(kv.get("stopped_step"), dict) else None

    def state_violations(s: tuple[int, ...]) -> list[str]:
        r = ex.c.props(s)
        return [p.name for p in state_props if r >> p.id & 1]

    prev: tuple[int, ...] | None = None
    problem: StepReport | None = None
    run: list[tuple[tuple[int, ...], int | None]] = []  # (state, action), for lasso traces
    for i, st in enumerate(states_json):
        where = f"states[{i}]"
        meta = st.get("#meta") if isinstance(st.get("#meta"), dict) else {}
        try:
            state = decode_state(ts, st, where)
        except ItfError as e:
            raise DiagnosticError([Diagnostic(KV_TRACE_BAD_STATE, "error", f"{e.reason}", _file_span(path),
                                              f"at {e.path}; the model's variables: "
                                              + ", ".join(dict.fromkeys(v.var for v in ts.vars)))])
        if i == 0:
            rep = StepReport(0, "initial state")
            if state not in ts.init:
                near = _diff(ts, state, ts.init[0]) if ts.init else "the model has no initial state"
                rep.problem = f"not an initial state of the model: {near}"
        else:
            aid = _find_action(ts, meta, st, where, path)
            rep = StepReport(i, ts.actions[aid].label)
            assert prev is not None
            rep.problem, rep.violated = _check_step(ts, ex, check_prop, prev, aid, state)
        rep.violated += state_violations(state)
        run.append((state, aid if i else None))
        steps.append(rep)
        if rep.problem:
            problem = rep
            break
        prev = state
    if problem is None and stopped is not None and prev is not None:
        aid = _find_action(ts, stopped, None, "#meta.kvmverify.stopped_step", path)
        rep = StepReport(len(steps), ts.actions[aid].label)
        rep.problem, rep.violated = _check_step(ts, ex, check_prop, prev, aid, None)
        steps.append(rep)
        if rep.problem:
            problem = rep
    valid = problem is None
    violates = valid and prop is not None and prop.name in steps[-1].violated
    if valid and prop is not None and prop.kind in ir.LIVENESS_KINDS:
        why = _lasso_problem(ts, ex, prop, doc, kv, run, path)
        violates = why is None
        if why is not None:
            notes.append(why)
    if valid and prop is not None and not violates:
        earlier = next((s for s in steps if prop.name in s.violated), None)
        if earlier is not None:
            notes.append(f"{prop.name} is violated earlier, at step {earlier.index}")
    return ReplayReport(ts.name, prop_name, steps, valid, violates, problem, notes)


def _lasso_problem(ts, ex: Explorer, prop, doc, kv, run, path: str) -> str | None:
    """A liveness trace violates its property when it is a fair lasso whose goal stays false (engines/explicit/liveness.py)."""
    lv = next(lv for lv in ts.liveness if lv.prop == prop.id)
    meta = kv.get("loop_action")
    loop_action = _find_action(ts, meta, None, "#meta.kvmverify.loop_action", path) if isinstance(meta, dict) \
        else None
    loop = doc.get("loop")
    return lasso_problem(ex, lv, [s for s, _ in run], [a for _, a in run], loop, loop_action)


def _check_step(ts, ex: Explorer, check_prop, prev, aid: int, state) -> tuple[str | None, list[str]]:
    """Is `aid` from `prev` a step of the model leading to `state` (None: a step a failed check stopped)?"""
    out, viol = ex.successors(prev)
    label = ts.actions[aid].label
    mine = [(pos, t) for pos, (k, t) in enumerate(out) if k == aid]
    broken = [(pos, check_prop[cid]) for k, cid, pos, _ in viol if k == aid]
    if not mine and not broken:
        return f"{label} is not enabled in the state before it", []
    if state is None:
        stopped = [pos for pos, t in mine if t is None]
        names = sorted({ts.properties[p].name for pos, p in broken if pos in stopped or not stopped})
        if not stopped:
            return f"{label} no longer stops on a failed check here", names
        return None, names
    hits = [pos for pos, t in mine if t == state]
    if not hits:
        alive = [t for _, t in mine if t is not None]
        if not alive:
            return f"{label} now stops on a failed check instead of reaching the trace's next state", []
        return f"{label} leads elsewhere: {_diff(ts, state, alive[0])}", []
    names = sorted({ts.properties[p].name for pos, p in broken if pos in hits})
    return None, names


def render_report(r: ReplayReport, trace_path: str, style: Style = PLAIN) -> str:
    lines = [f"replay {trace_path} on model {r.model}" + (f", property {r.property}" if r.property else "")]
    if r.params:
        lines.append("  params applied: " + " ".join(f"{p.name}={p.shown}" for p in r.params))
        differ = [f"{p.name}={p.shown} (from {p.source}; the model's default is {p.default})"
                  for p in r.params if p.shown != p.default]
        if differ:
            lines.append("  not the model's defaults: " + ", ".join(differ))
    for s in r.steps:
        mark = "FAIL" if s.problem else "ok"
        extra = style.bad(f"   violates {', '.join(s.violated)}") if s.violated else ""
        lines.append(f"  {style.mark(f'{mark:<4}')} {s.index:>3}  {s.label}{extra}")
        if s.problem:
            lines.append(f"            {s.problem}")
    total = len(r.steps)
    if not r.valid:
        assert r.first_problem is not None
        lines.append(style.bad(f"not a valid run of the model: step {r.first_problem.index} fails "
                               f"({r.first_problem.problem})"))
    else:
        lines.append(f"valid run of the model: all {total} step(s) replayed")
        if r.property is not None:
            lines.append(style.bold(f"{r.property}: {'still violated' if r.violates else 'no longer violated'} "
                                    "by this trace"))
    lines.extend(f"note: {n}" for n in r.notes)
    return "\n".join(lines) + "\n"


def report_json(r: ReplayReport, trace_path: str) -> dict[str, Any]:
    return {"trace": trace_path, "model": r.model, "property": r.property, "valid": r.valid,
            "violates": r.violates, "reproduced": r.reproduced,
            "steps": [{"index": s.index, "action": s.label, "ok": s.problem is None, "problem": s.problem,
                       "violates": s.violated} for s in r.steps],
            "notes": r.notes,
            "params": {p.name: {"value": p.shown, "default": p.default, "from": p.source} for p in r.params}}


__all__ = ["load_trace", "replay", "render_report", "report_json", "ReplayReport", "action_label"]
