"""kvmverify diagnostics as LSP diagnostics: the KV code, the severity, the range (converted to the client's
columns), the hint as a last line of the message, and related locations: every `file:line:col` the message cites
(the first declaration of a duplicate, the other write handler, ...) and, for a problem inside a used file, its
real site (the diagnostic itself sits on the `use` that brings that file in, since a client shows a document's
diagnostics only on that document)."""
from __future__ import annotations

import os
import re

from lsprotocol import types as lsp

from ..diagnostics import Diagnostic, Span, sort_key
from .project import Project
from .resolve import closure_of, use_target

SEVERITY = {"error": lsp.DiagnosticSeverity.Error, "warning": lsp.DiagnosticSeverity.Warning,
            "note": lsp.DiagnosticSeverity.Information}
SOURCE = "kvmverify"
CITED = re.compile(r"(?<![\w./-])(/?(?:[\w.-]+/)*[\w.-]+\.kv):(\d+):(\d+)")
ZERO = lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))


def document_diagnostics(project: Project, path: str) -> list[lsp.Diagnostic]:
    """What the client shows for an open document: its compile's diagnostics, then its last check's results if
    the buffers are still those it checked."""
    outcome = project.outcome(path)
    sites = UseSites(project, path)
    out = [convert(project, path, d, sites) for d in sorted(outcome.diagnostics, key=sort_key)]
    verdicts = project.verdicts.get(path)
    if verdicts is not None and not project.stale(verdicts.texts):
        out.extend(verdicts.diagnostics)
    return out


def convert(project: Project, root: str, d: Diagnostic, sites: "UseSites") -> lsp.Diagnostic:
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    related = [lsp.DiagnosticRelatedInformation(project.location(span), f"{span} (cited)")
               for span in cited(project, f"{d.message} {d.hint or ''}")]
    file = os.path.abspath(d.span.file) if d.span.line > 0 else None
    if file == root:
        where = project.range(d.span)
        used = sites.used_at(d.span)
        if used is not None:  # a problem with a `use`: the file it names
            related.append(lsp.DiagnosticRelatedInformation(lsp.Location(project.uri(used), ZERO), "the used file"))
    elif file is not None:
        where = sites.range_for(file)
        related.insert(0, lsp.DiagnosticRelatedInformation(project.location(d.span),
                                                           f"{d.severity}[{d.code}] here, in a used file"))
        message = f"{d.span}: {message}"
    else:  # a diagnostic about no place in a file (the command line's): the top of the document
        where = ZERO
    return lsp.Diagnostic(where, message, SEVERITY.get(d.severity, lsp.DiagnosticSeverity.Error), code=d.code,
                          source=SOURCE, related_information=related or None)


def cited(project: Project, text: str) -> list[Span]:
    """The `file:line:col` places a message names, as spans over the word there."""
    out = []
    for m in CITED.finditer(text):
        path, line, col = os.path.abspath(m.group(1)), int(m.group(2)), int(m.group(3))
        t = project.text(path)
        if t is None:
            continue
        word = t.word_at(line, col)
        end = word[2] if word and word[1] == col else col
        out.append(Span(path, line, col, line, end))
    return out


class UseSites:
    """Where a root document brings each used file in: the `use` whose closure holds it."""

    def __init__(self, project: Project, root: str):
        self.project, self.root = project, root
        self._reach: list[tuple[lsp.Range, object, str, set[str]]] | None = None

    def range_for(self, file: str) -> lsp.Range:
        return next((r for r, _, _, files in self.reach() if file in files), ZERO)

    def used_at(self, span: Span) -> str | None:
        """The file named by the root's `use` declared at `span`, if it exists."""
        return next((target for _, decl, target, files in self.reach() if (decl.span.line, decl.span.col) ==
                     (span.line, span.col) and self.project.text_of(target) is not None), None)

    def reach(self) -> list[tuple[lsp.Range, object, str, set[str]]]:
        """For each `use` of the root: the range of its path, the declaration, the file and all it brings in."""
        if self._reach is None:
            fs = self.project.syntax(self.root)
            self._reach = []
            for decl, span in (fs.uses if fs else ()):
                target = use_target(fs, decl)
                files = {f.path for f in closure_of(target, self.project.syntax).files} | {target}
                self._reach.append((self.project.range(span), decl, target, files))
        return self._reach
