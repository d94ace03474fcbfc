"""The check action: `kvmverify check` on a document, in the server's process (pipeline.compile_model on the
buffers, then engines.run_engine with a timeout), its results shown as diagnostics on the properties: a violation
(or a vacuous cover) where it was not expected is an error carrying the trace, an undecided result a warning, the
rest information; a summary sits on the `model` line. A property declared in a used file is shown on the
`expect` that names it, else on the `use` that brings its file in."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable

from lsprotocol import types as lsp

from ..diagnostics import Diagnostic, DiagnosticError, Sources
from ..engines import Options, run_engine
from ..engines.shared.limits import Interrupt, Limits
from ..engines.shared.replay import Disagreement
from ..engines.shared.result import CheckResult, PropertyResult
from ..ir.nodes import Property, TransitionSystem
from ..pipeline import compile_model
from ..trace.text import coverage_text, render_trace, render_witness
from .diags import SOURCE, ZERO, UseSites
from .project import Project, Verdicts

CHECK_SOURCE = f"{SOURCE} check"
COMMAND = "kvmverify.check"


@dataclass
class CheckRun:
    texts: dict[str, str]
    seconds: float
    result: CheckResult | None = None
    system: TransitionSystem | None = None
    errors: tuple[Diagnostic, ...] = ()  # the model did not compile
    failure: str | None = None  # kvmverify failed: an internal error


def check_job(project: Project, path: str, timeout: float | None, engine: str, memory_mb: float | None,
              interrupt: Interrupt | None = None) -> Callable[[], CheckRun]:
    """The check of `path` on the buffers as they are now, to run in the server's worker thread."""
    overlay = {p: d.text for p, d in project.docs.items()}

    def run() -> CheckRun:
        sources = Sources(overlay=overlay)
        started = time.monotonic()

        def texts() -> dict[str, str]:
            return {os.path.abspath(k): v for k, v in sources.texts.items()}
        try:
            compiled = compile_model(path, {}, sources)
        except DiagnosticError as e:
            return CheckRun(texts(), time.monotonic() - started, errors=tuple(d for d in e.diagnostics if d.is_error))
        try:
            result = run_engine(compiled.system, engine, Options(Limits(timeout=timeout, max_memory_mb=memory_mb)),
                                interrupt)
        except Disagreement as e:
            return CheckRun(texts(), time.monotonic() - started, failure=f"internal error (KV900): {e}")
        except Exception as e:  # noqa: BLE001 - reported to the editor, never a dead server
            return CheckRun(texts(), time.monotonic() - started, failure=f"internal error: {type(e).__name__}: {e}")
        return CheckRun(texts(), time.monotonic() - started, result, compiled.system)
    return run


def summary(r: PropertyResult) -> str:
    expect = "" if r.expected is None else " (expected)" if r.as_expected else f" (expected {r.expected})"
    return f"{r.status}{expect}: {coverage_text(r)}"


def severity(r: PropertyResult) -> lsp.DiagnosticSeverity:
    if r.status == "unknown":
        return lsp.DiagnosticSeverity.Warning
    return lsp.DiagnosticSeverity.Information if r.as_expected else lsp.DiagnosticSeverity.Error


def store_verdicts(project: Project, path: str, run: CheckRun, engine: str) -> dict:
    """Turn a run into the document's verdict diagnostics (kept until its buffers change) and the command's
    answer: the exit code `kvmverify check` would give and one entry per property."""
    diags: list[lsp.Diagnostic] = []
    summaries: dict[str, str] = {}
    answer: dict = {"engine": engine, "seconds": round(run.seconds, 3), "results": []}
    model_line = _model_line(project, path)
    if run.result is None:
        why = run.failure or f"the model does not compile ({len(run.errors)} error(s)): see its diagnostics"
        diags.append(lsp.Diagnostic(model_line, f"kvmverify check: {why}", lsp.DiagnosticSeverity.Error,
                                    source=CHECK_SOURCE))
        answer.update(exit=3 if run.failure else 2, message=why)
    else:
        result, ts = run.result, run.system
        sites = UseSites(project, path)
        for r in result.results:
            text = summary(r)
            summaries[r.prop.name] = text
            answer["results"].append({"property": r.prop.name, "kind": r.prop.kind, "status": r.status,
                                      "expected": r.expected, "summary": text})
            if r.prop.kind in ("enabled", "premise") and r.status == "reached" and r.as_expected:
                continue  # a sanity finding that is fine: no mark on every guard and premise
            message = f"{r.prop.name}: {text}"
            if r.status == "violated" and r.witness is not None:
                message += "\n\n" + render_witness(r)
            if r.status == "violated" and r.trace is not None:
                message += "\n\n" + render_trace(ts, r.trace, r.prop)
            where, related = _place(project, path, r.prop, sites)
            if r.trace is not None and r.trace.violation is not None and r.trace.violation.span is not None:
                related.append(lsp.DiagnosticRelatedInformation(project.location(r.trace.violation.span),
                                                                "the check that fails"))
            diags.append(lsp.Diagnostic(where, message, severity(r), source=CHECK_SOURCE,
                                        related_information=related or None))
        counts: dict[str, int] = {}
        for r in result.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        code = 130 if result.bound == "interrupted" else result.exit_code
        head = (f"kvmverify check ({result.engine}): " + ", ".join(f"{n} {s}" for s, n in counts.items()) +
                f" in {run.seconds:.2f} s; exit {code}")
        notes = "".join(f"\nnote: {n}" for n in result.notes)
        diags.append(lsp.Diagnostic(model_line, head + notes, lsp.DiagnosticSeverity.Error if code == 1 else
                                    lsp.DiagnosticSeverity.Information, source=CHECK_SOURCE))
        answer.update(exit=code, message=head, engine=result.engine)
    project.verdicts[path] = Verdicts(run.texts, diags, summaries, answer["engine"])
    return answer


def _model_line(project: Project, path: str) -> lsp.Range:
    fs = project.syntax(path)
    model = next((s for s in fs.symbols if s.kind == "model"), None) if fs else None
    return project.range(model.span) if model is not None else ZERO


def _place(project: Project, path: str, prop: Property, sites: UseSites):
    """Where a property's result is shown in the document `path`, and the related locations."""
    closure = project.closure(path)
    sym = closure.props.get(prop.name)
    span = sym.span if sym is not None else prop.span
    if os.path.abspath(span.file) == path:
        return project.range(span), []
    related = [lsp.DiagnosticRelatedInformation(project.location(span), f"{prop.name} is declared here")]
    fs = project.syntax(path)
    expect = next((o for o in (fs.occs if fs else ()) if o.role == "prop" and o.name == prop.name), None)
    if expect is not None:
        return project.range(expect.span), related
    return sites.range_for(os.path.abspath(span.file)), related
