"""The conformance result as text and JSON, and the witness as a trace file in any export format.

`kvmverify conform --json` prints one document (`export/schemas/conform.schema.json`, version JSON_VERSION, as
`check --json`'s): the result (`status` conforms, not-conform or undecided) or, when the model, the trace or the
command line cannot be used, `{"version", "exit_code": 2, "status": "error", "diagnostics"}`.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any

from ..diagnostics import Diagnostic, Span
from ..engines.shared.result import Coverage, PropertyResult
from ..export.files import NameAllocator, safe_name, write_atomic
from ..export.json_result import JSON_VERSION, diagnostic_json, trace_json, typed_params
from ..export.json_result import SCHEMA_FILE as RESULT_SCHEMA_FILE
from ..export.run import ModelRun
from ..ir import nodes as ir
from ..trace.text import PLAIN, Style, render_trace
from .run import ConformRun

SCHEMA_FILE = os.path.join(os.path.dirname(RESULT_SCHEMA_FILE), "conform.schema.json")
MAX_SHOWN_STEPS = 300  # a longer witness is summarised; --out DIR --trace-format text writes it whole
MAX_SHOWN_BINDINGS = 20  # likewise the identifiers (a long log has thousands of tokens); --json lists them all
_EVENT_TEXT = re.compile(r"\d+(?:\.\d+)?:\s+(.*\S)\s*$")


def event_text(run: ConformRun, line: int) -> str:
    """`kvm_async_pf_ready: token 0x1000 gva 0x7f001000`: the event part of a log line."""
    text = run.log.line(line)
    m = _EVENT_TEXT.search(text)
    return re.sub(r"\s+", " ", m.group(1) if m else text.strip())


def _counts(d: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in d.items())


def headline(run: ConformRun) -> str:
    o, m = run.outcome, run.matched
    n = len(m.events)
    if o.status == "conforms":
        return f"conforms ({n} events, {run.steps} model steps)"
    ev = m.events[o.processed] if o.processed < n else None
    where = f" ({run.log.path}:{ev.line})" if ev is not None else ""
    if o.status == "not-conform":
        return f"does not conform at event {o.processed + 1}{where}"
    why = "an interrupt (SIGINT)" if o.bound == "interrupted" else o.bound
    return f"undecided: stopped at event {o.processed + 1}{where} by {why}"


def render(run: ConformRun, style: Style = PLAIN) -> str:
    m, o, ts = run.matched, run.outcome, run.system
    total = run.log.total
    out = [style.bold(f"model {ts.name}") + f" ({run.model_path}), trace {run.log.path} ({run.log.format})"]
    params = " ".join(f"{n}={s}" for n, _, s in ts.params)
    if params:
        out.append(f"  params: {params}")
    parts = [f"{len(m.events)} observed"]
    if m.unobserved:
        parts.append(f"{sum(m.unobserved.values())} not observed by the model ({_counts(m.unobserved)})")
    if m.filtered:
        parts.append(f"{sum(m.filtered.values())} matched no `when` ({_counts(m.filtered)})")
    out.append(f"  log: {run.log.lines} lines, {total} event{'' if total == 1 else 's'}: " + "; ".join(parts))
    for line, cpu, lost in run.log.lost:
        out.append(style.warn(f"  note: the kernel lost {lost} event(s) on CPU {cpu} at line {line}: the log is "
                              "incomplete there"))
    mark = style.good if o.status == "conforms" else style.bad if o.status == "not-conform" else style.warn
    out.append("  " + mark(headline(run)))
    if not m.events:
        observed = sorted({ob.event for ob in run.observations})
        out.append(style.warn(f"  note: no event of the log is one the model observes ({', '.join(observed)}): "
                              "the verdict says nothing; was the trace recorded with those events enabled?"))
    if run.replay_problem is not None:
        out.append(style.bad(f"  internal error: the witness does not replay: {run.replay_problem}"))
    if run.failure is not None:
        out.extend(_failure_lines(run, style))
    if run.bindings:
        before = "" if o.status == "conforms" else f" (by the run that explains the events before event {o.processed + 1})"
        out.append(f"  identifiers, mapped by first appearance{before} (a model value is reused once the identifier "
                   "it stood for appears no more):")
        shown = run.bindings[:MAX_SHOWN_BINDINGS]
        names = [f"{b.source} {b.shown_raw}" for b in shown]
        width = max(len(x) for x in names)
        for b, name in zip(shown, names):
            out.append(f"    {name:<{width}} -> {b.namespace} {b.value}  (lines {b.first}-{b.last})")
        if len(run.bindings) > len(shown):
            out.append(f"    ... and {len(run.bindings) - len(shown)} more (--json lists every one)")
    if o.status == "conforms" and run.witness is not None:
        out.extend(_witness_lines(run, style))
    out.append(f"  search: {o.processed} of {len(m.events)} events, largest closed set {o.largest} states, "
               f"{o.states_seen} model states expanded"
               + (f", witness of {run.steps} steps replayed through the interpreter" if run.witness is not None
                  and run.replay_problem is None else ""))
    if o.bound == "max-states":
        out.append(f"  note: a closed set passed --max-states before event {o.processed + 1}; the events before it "
                   "conform")
    return "\n".join(out) + "\n"


def _witness_lines(run: ConformRun, style: Style) -> list[str]:
    trace = run.witness
    assert trace is not None
    if len(trace.steps) > MAX_SHOWN_STEPS:
        return [f"  witness: {trace.length} steps (write it with --out DIR --trace-format text,itf,html)"]
    out = ["  witness (each observed step with the line it explains; the others are internal):"]
    width = len(str(len(trace.steps) - 1))
    labels = [("initial state" if s.action is None else run.system.actions[s.action].label) for s in trace.steps]
    lw = max(len(x) for x in labels)
    for i, (label, ev) in enumerate(zip(labels, run.step_events)):
        if ev is None:
            out.append(f"    {i:>{width}}  {label}")
        else:
            line = run.matched.events[ev].line
            out.append(f"    {i:>{width}}  {label:<{lw}}  line {line}: {event_text(run, line)}")
    return out


def _failure_lines(run: ConformRun, style: Style) -> list[str]:
    f = run.failure
    assert f is not None
    ev = run.matched.events[f.index]
    text = run.log.line(ev.line).rstrip()
    out = [f"    {ev.line} | {text}"]
    before = f"after {f.index} event(s)" if f.index else "before any event"
    several = len(f.possible) > 1
    out.append(f"  the model states possible {before}, closed under the internal actions"
               + (f", in {len(f.possible)} ways of binding the log's identifiers:" if several else ":"))
    for p in f.possible:
        indent = "    "
        if several:
            out.append(f"    with {p.bindings}:")
            indent = "      "
        out.extend(f"{indent}{line}" for line in p.summary)
        out.append(f"{indent[:-2]}  none allows this event:" if not several else f"{indent}none allows this event:")
        for c in p.candidates:
            out.append(f"{indent}  {c.label}  ({c.observe.span}: {c.observe.text})")
            out.extend(f"{indent}    {r}" for r in c.reasons)
    return out


# ------------------------------------------------------------------------------------------------ exports
def _property(run: ConformRun) -> ir.Property:
    return ir.Property(-1, run.log.path, "conform", None, Span(run.log.path, 1, 1, 1, 1),
                       f"a run of {run.system.name} that explains the log {run.log.path}")


def _result(run: ConformRun) -> PropertyResult:
    status = {"conforms": "conforms", "not-conform": "does not conform"}.get(run.status, "undecided")
    return PropertyResult(_property(run), status, Coverage("conform", states=run.outcome.states_seen),
                          run.witness)


def witness_files(run: ConformRun, formats: tuple[str, ...], out_dir: str, exit_code: int) -> list[str]:
    """The witness (for a log that does not conform: the run explaining the events before the failing one) in
    each format, named after the trace file; the json file is the `--json` document (with the command's exit
    code)."""
    from ..export.traces import TRACE_SUFFIX, trace_text
    if run.witness is None:
        return []
    names = NameAllocator()
    stem = safe_name(os.path.splitext(os.path.basename(run.log.path))[0]) + ".witness"
    mr = ModelRun(run.model_path, run.system, sources=run.sources)
    r = _result(run)
    written = []
    for fmt in formats:
        path = os.path.join(out_dir, names.take(stem, TRACE_SUFFIX[fmt]))
        if fmt == "text":
            body = render(run) + render_trace(run.system, run.witness) + "\n"
        elif fmt == "itf":
            from ..export import itf
            doc = itf.trace_document(run.system, r, run.model_path)
            for st, ev in zip(doc["states"], run.step_events):  # a witness has a state at every step
                if ev is not None:
                    st["#meta"]["log"] = _log_ref(run, ev)
            body = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        elif fmt == "json":
            body = json.dumps(result_json(run, exit_code), indent=2) + "\n"
        else:
            body = trace_text(mr, r, fmt)
        write_atomic(path, body)
        written.append(path)
    return written


def _log_ref(run: ConformRun, ev: int) -> dict[str, Any]:
    e = run.matched.events[ev]
    return {"file": run.log.path, "line": e.line, "event": e.name, "text": event_text(run, e.line)}


def result_json(run: ConformRun, exit_code: int) -> dict[str, Any]:
    m, o, ts = run.matched, run.outcome, run.system
    doc: dict[str, Any] = {
        "version": JSON_VERSION, "exit_code": exit_code, "model": ts.name, "file": run.model_path,
        "params": typed_params(ts), "trace": run.log.path, "format": run.log.format, "status": o.status,
        "headline": headline(run),
        "log": {"lines": run.log.lines, "events": run.log.total, "observed": len(m.events),
                "not_observed": m.unobserved, "filtered": m.filtered,
                "lost": [{"line": line, "cpu": cpu, "events": n} for line, cpu, n in run.log.lost]},
        "events_explained": o.processed, "model_steps": run.steps,
        "bindings": [{"namespace": b.namespace, "source": b.source, "id": b.raw, "value": b.value,
                      "first_line": b.first, "last_line": b.last} for b in run.bindings],
        "search": {"largest_closed_set": o.largest, "states_expanded": o.states_seen, "bound": o.bound},
        "replayed": run.witness is not None and run.replay_problem is None,
        "replay_problem": run.replay_problem,
        "diagnostics": [diagnostic_json(d) for d in run.warnings],
    }
    if run.witness is not None:
        tj = trace_json(ts, run.witness)
        for step, ev in zip(tj.get("steps", []), run.step_events):
            if ev is not None:
                step["log"] = _log_ref(run, ev)
        doc["witness"] = tj
    if run.failure is not None:
        f = run.failure
        e = m.events[f.index]
        doc["failure"] = {
            "event": f.index + 1, "line": e.line, "text": run.log.line(e.line).strip(),
            "possible": [{"bindings": p.bindings, "states": p.states, "summary": list(p.summary),
                          "candidates": [{"action": c.label, "observe": str(c.observe.span),
                                          "declaration": c.observe.text, "reasons": list(c.reasons)}
                                         for c in p.candidates]} for p in f.possible]}
    return doc


def error_json(diagnostics: list[Diagnostic], exit_code: int) -> dict[str, Any]:
    """`--json` when there is no result: the model, the trace or the command line cannot be used (their errors,
    and any warnings of the same phase, as `check --json` lists them)."""
    return {"version": JSON_VERSION, "exit_code": exit_code, "status": "error",
            "diagnostics": [diagnostic_json(d) for d in diagnostics]}
