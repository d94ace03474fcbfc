"""SARIF 2.1.0 for code-scanning UIs: one result per violated property and per lint finding.

A property result is located at the property's line and column in the .kv file and carries its trace as a code
flow (one thread-flow location per step: the action's source line, its label, the values it changed). Expected
violations (`expect violated`) are reported as suppressed results (`suppressions: [{kind: inSource}]`), so the
gate stays green but the trace is still there. Diagnostics (lint warnings, and the errors of a model that does not
compile) are results with their code as the rule id. The output is deterministic (no run times, no dates).
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
from typing import Any
from urllib.parse import quote

from .. import __version__
from ..diagnostics import Diagnostic, Span
from ..engines.shared.result import PropertyResult
from ..ir import nodes as ir
from ..trace.explain import violation_text
from ..trace.text import action_label, state_dict
from .run import ModelRun, verdict_text

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SCHEMA_FILE = os.path.join(os.path.dirname(__file__), "schemas", "sarif-schema-2.1.0.json")

PROPERTY_RULES = {
    "invariant": "an invariant of the model is false in a reachable state",
    "cover": "a cover property is never reached (vacuous)",
    "slot": "a shared slot is overwritten before its consumer emptied it, or emptied by the wrong side",
    "msr": "a register write the host would reject (#GP): a reserved or unsupported bit set",
    "assert": "an assert in an action does not hold",
    "type_ok": "an assignment leaves the declared type of its variable",
    "shift_ok": "a statement shifts by a negative amount (undefined, as in C)",
    "layout": "a register or struct layout has overlapping, missing, misplaced or out-of-bounds fields",
    "liveness": "a liveness property fails on a fair infinite run (a lasso)",
    "check": "a `check` over decision-table inputs is false for some input",
    "transition": "a step changes the state in a way a `transition` property forbids (old(x) to x)",
    "queue": "a push onto a full queue or a pop of an empty one",
    "deadlock": "a reachable state in which no action or process step is enabled and no `terminal` holds",
    "enabled": "an action or a process step is never enabled (dead code: a guard that never holds)",
    "premise": "an implication in an invariant whose premise never holds (the invariant holds vacuously)",
}


# where the documentation lives (pyproject.toml's [project.urls] Documentation; tests/test_sarif_help.py keeps
# the two equal and checks that every anchor below is a heading of that page)
DOCS_URL = "https://github.com/kvmverify/kvmverify/blob/main/docs/"
KIND_DOCS = {"invariant": "language.md#declarations", "cover": "language.md#declarations",
             "slot": "language.md#derived-properties", "msr": "language.md#derived-properties",
             "type_ok": "language.md#derived-properties", "assert": "language.md#actions-and-statements",
             "liveness": "language.md#liveness", "check": "language.md#decision-tables",
             "transition": "language.md#two-state-properties", "queue": "language.md#queues-and-options",
             "deadlock": "language.md#sanity-findings", "enabled": "language.md#sanity-findings",
             "premise": "language.md#sanity-findings"}
DIAGNOSTIC_DOCS = {"0": "files-and-loading-kv0xx", "1": "syntax-kv1xx", "2": "names-declarations-and-use-kv2xx",
                   "3": "types-kv3xx", "4": "register-and-struct-layouts-kv4xx", "5": "command-line-kv5xx",
                   "6": "replaying-a-trace-kv6xx-kvmverify-replay", "9": "internal-errors-kv9xx"}
READING = ("How to read the trace: the code flow is the shortest run that fails, one location per step. Step 0 is "
           "the initial state; each later step is one action instance, at its action's source line, with the "
           "values it changed (old -> new). The last step is where the property fails (for a slot, msr, assert or "
           "type_ok property: the statement whose check failed, with the values it saw). A liveness trace ends "
           "in a loop that repeats forever. `kvmverify check --trace-format html --out DIR` draws the same run as "
           "a sequence diagram; `kvmverify replay MODEL TRACE.itf.json` re-runs an exported trace.")


def diagnostic_uri(code: str) -> str:
    return DOCS_URL + "diagnostics.md#" + DIAGNOSTIC_DOCS.get(code[2:3], "diagnostics")


def property_rule(rule_id: str, ts: ir.TransitionSystem, p, sources) -> dict[str, Any]:
    """A rule per property: what it means, its source, how to read its trace (text and Markdown)."""
    from ..trace.text import source_lines
    meaning = PROPERTY_RULES.get(p.kind, p.kind)
    desc = p.description if p.kind not in ("invariant", "cover") else f"{p.kind} {p.name}"
    quoted = [line.strip("\n") for line in source_lines(sources, p.span, indent="")]
    text = (f"{desc}. Meaning: {meaning}. Declared at {p.span} in model {ts.name}"
            + (":\n" + "\n".join(quoted) if quoted else ".") + "\n\n" + READING)
    md = (f"**{p.name}** ({p.kind}): {desc}.\n\n{meaning[0].upper() + meaning[1:]}.\n\nDeclared at `{p.span}` in "
          f"model `{ts.name}`" + (":\n\n```\n" + "\n".join(quoted) + "\n```" if quoted else ".") + "\n\n" + READING)
    return {"id": rule_id, "name": p.kind, "shortDescription": {"text": meaning},
            "fullDescription": {"text": f"{p.name}: {desc} ({meaning})"}, "help": {"text": text, "markdown": md},
            "helpUri": DOCS_URL + KIND_DOCS.get(p.kind, "language.md"),
            "defaultConfiguration": {"level": "error"}}


def artifact_uri(path: str) -> str:
    """Relative paths stay relative (resolved against the repository root by code-scanning UIs)."""
    p = pathlib.PurePath(path)
    if p.is_absolute():
        return pathlib.Path(path).as_uri()
    return quote(p.as_posix())


def _region(span: Span) -> dict[str, int] | None:
    if span.line < 1:
        return None
    region = {"startLine": span.line, "startColumn": max(span.col, 1)}
    if span.end_line > span.line or (span.end_line == span.line and span.end_col > span.col):
        region["endLine"] = span.end_line
        region["endColumn"] = max(span.end_col, 1)
    return region


def _location(span: Span | None, message: str | None = None) -> dict[str, Any]:
    loc: dict[str, Any] = {}
    if span is not None and span.line >= 1:
        phys: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(span.file)}}
        region = _region(span)
        if region:
            phys["region"] = region
        loc["physicalLocation"] = phys
    if message:
        loc["message"] = {"text": message}
    return loc


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def _code_flow(ts: ir.TransitionSystem, r: PropertyResult) -> dict[str, Any]:
    assert r.trace is not None
    locations = []
    prev: dict[str, str] | None = None
    steps = r.trace.steps
    for i, step in enumerate(steps):
        label = action_label(ts, step.action)
        span = ts.actions[step.action].span if step.action is not None else None
        last = i == len(steps) - 1
        text = f"step {i}: {label}"
        if last and r.trace.violation is not None and r.prop.is_step:
            text += f" -- {violation_text(ts, r.prop, r.trace.violation)}"
            span = r.trace.violation.span or span
        state: dict[str, Any] = {}
        if step.state is not None:
            now = state_dict(ts, step.state)
            if prev is None:
                state = {k: {"text": v} for k, v in now.items()}
            else:
                state = {k: {"text": f"{prev[k]} -> {v}"} for k, v in now.items() if prev.get(k) != v}
            prev = now
        tfl: dict[str, Any] = {"location": _location(span, text), "executionOrder": i, "nestingLevel": 0}
        if state:
            tfl["state"] = state
        if last and r.status == "violated":
            tfl["importance"] = "essential"
        locations.append(tfl)
    return {"message": {"text": f"{r.prop.name}: {r.trace.length} step(s)"},
            "threadFlows": [{"locations": locations}]}


def _level(severity: str) -> str:
    return {"error": "error", "warning": "warning", "note": "note"}.get(severity, "warning")


def sarif_document(runs: list[ModelRun]) -> dict[str, Any]:
    rules: dict[str, dict[str, Any]] = {}
    rule_of: dict[tuple, str] = {}  # (kind, name, file, line) of a property -> its rule id
    results: list[dict[str, Any]] = []

    def diag_result(d: Diagnostic) -> dict[str, Any]:
        if d.code not in rules:
            help_text = d.message + (f" (hint: {d.hint})" if d.hint else "")
            rules[d.code] = {"id": d.code, "shortDescription": {"text": f"kvmverify diagnostic {d.code} ({d.severity})"},
                             "fullDescription": {"text": f"{d.code}: {d.message}"},
                             "help": {"text": help_text, "markdown": f"`{d.code}`: {help_text}"},
                             "helpUri": diagnostic_uri(d.code), "defaultConfiguration": {"level": _level(d.severity)}}
        msg = d.message + (f" (hint: {d.hint})" if d.hint else "")
        res: dict[str, Any] = {"ruleId": d.code, "level": _level(d.severity), "message": {"text": msg}}
        loc = _location(d.span)
        if loc:
            res["locations"] = [loc]
        res["partialFingerprints"] = {"kvmverify/v1": _fingerprint(d.code, d.span.file, str(d.span.line),
                                                                   d.message)}
        return res

    def prop_rule(run: ModelRun, p) -> str:
        key = (p.kind, p.name, p.span.file, p.span.line)
        if key not in rule_of:
            rule_id = f"property/{p.kind}/{p.name}"
            if rule_id in rules:  # another property of that name, declared elsewhere
                rule_id += f"@{p.span.file}:{p.span.line}"
            rule_of[key] = rule_id
            rules[rule_id] = property_rule(rule_id, run.system, p, run.sources)
        return rule_of[key]

    seen: set[tuple] = set()
    for run in runs:
        for d in (*run.errors, *run.warnings):
            key = (d.code, d.span.file, d.span.line, d.span.col, d.message)
            if key in seen:
                continue  # the same finding in a file several models use (a spec/ file): report it once
            seen.add(key)
            results.append(diag_result(d))
        if run.system is None or run.result is None:
            continue
        ts = run.system
        for r in run.result.results:
            p = r.prop
            if p.kind == "layout":
                continue  # its findings are results above, each at its field, once for a file several models use
            failing = r.status == "violated" or (r.status == "vacuous" and not r.as_expected)
            if not failing and r.as_expected:
                continue
            rule_id = prop_rule(run, p)
            verdict = verdict_text(r)
            text = f"{p.name} {'undecided' if r.status == 'unknown' else r.status} in model {ts.name}: {verdict}"
            if r.trace is not None and r.trace.violation is not None:
                text += f" -- {violation_text(ts, p, r.trace.violation)}"
            res: dict[str, Any] = {
                "ruleId": rule_id,
                # undecided (a bound hit): neither a failure nor a pass, shown as a note that says how far it got
                "level": "note" if r.status == "unknown" else "error",
                "message": {"text": text},
                "locations": [_location(p.span)],
                "partialFingerprints": {"kvmverify/v1": _fingerprint(run.path, ts.name, p.name)},
                "properties": {"model": ts.name, "property": p.name, "status": r.status,
                               "expected": r.expected, "params": {k: v for k, v, _ in ts.params}},
            }
            if r.trace is not None and r.status == "violated":
                res["codeFlows"] = [_code_flow(ts, r)]
            if r.expected is not None and r.as_expected:
                res["suppressions"] = [{"kind": "inSource", "status": "accepted",
                                        "justification": f"the model says `expect {r.expected} {p.name}`"}]
            results.append(res)
    ordered = sorted(rules)
    index = {rid: i for i, rid in enumerate(ordered)}
    for res in results:
        res["ruleIndex"] = index[res["ruleId"]]
    driver = {"name": "kvmverify", "version": __version__, "semanticVersion": __version__,
              "informationUri": DOCS_URL + "ci.md", "rules": [rules[rid] for rid in ordered]}
    return {"$schema": SCHEMA_URI, "version": "2.1.0",
            "runs": [{"tool": {"driver": driver}, "columnKind": "unicodeCodePoints", "results": results}]}


def sarif_json(runs: list[ModelRun]) -> str:
    return json.dumps(sarif_document(runs), indent=2, ensure_ascii=False) + "\n"
