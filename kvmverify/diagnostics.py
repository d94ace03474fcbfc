"""Diagnostics are data: a stable code, a severity, a message, a source span and a hint.

One renderer turns them into text; nothing else in kvmverify formats an error for a person.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable, Literal

Severity = Literal["error", "warning", "note"]


@dataclass(frozen=True, order=True)
class Span:
    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NO_SPAN = Span("<command line>", 0, 0, 0, 0)


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class DiagnosticError(Exception):
    """Raised by a phase that cannot go on; carries every diagnostic the phase collected."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = tuple(diagnostics)
        super().__init__("; ".join(d.message for d in self.diagnostics))


@dataclass
class Sources:
    """The text of every file a run has read, so that diagnostics can quote the source line.

    `overlay` maps real paths to texts read instead of the files on disk: a language server's open, unsaved
    editor buffers (kvmverify/lsp/)."""

    texts: dict[str, str] = field(default_factory=dict)
    overlay: dict[str, str] = field(default_factory=dict)

    def line(self, file: str, line: int) -> str | None:
        text = self.texts.get(file)
        if text is None or line < 1:
            return None
        lines = text.splitlines()
        return lines[line - 1] if line <= len(lines) else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def sort_key(d: Diagnostic) -> tuple:
    return (d.span.file, d.span.line, d.span.col, d.code, d.message)


MAX_SHOWN_LINE = 160  # a source line longer than this is shown as a window around the caret
MAX_MESSAGE = 400  # messages quote names from the source, which may be 10,000 characters long


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"


def render(diags: Iterable[Diagnostic], sources: Sources) -> str:
    """The long form: `file:line:col: severity[CODE]: message`, the line, a caret, the hint."""
    out: list[str] = []
    for d in sorted(diags, key=sort_key):
        out.append(f"{d.span}: {d.severity}[{d.code}]: {_clip(d.message, MAX_MESSAGE)}")
        src = sources.line(d.span.file, d.span.line)
        if src is not None:
            src = src.expandtabs(4)
            width = 1
            if d.span.end_line == d.span.line and d.span.end_col > d.span.col:
                width = d.span.end_col - d.span.col
            col = max(d.span.col, 1)
            if len(src) > MAX_SHOWN_LINE:  # a window around the caret; "…" marks what was cut
                start = max(0, col - 1 - MAX_SHOWN_LINE // 4)
                src = ("…" if start else "") + src[start:start + MAX_SHOWN_LINE] + "…"
                col = col - start + (1 if start else 0)
                width = min(width, MAX_SHOWN_LINE - (col - 1))
            width = max(1, min(width, len(src) - col + 1))
            out.append(f"    {src}")
            out.append("    " + " " * (col - 1) + "^" * width)
        if d.hint:
            out.append(f"    hint: {_clip(d.hint, MAX_MESSAGE)}")
    return "\n".join(out) + ("\n" if out else "")


def render_short(d: Diagnostic) -> str:
    return f"{d.span}: {d.severity}[{d.code}]: {d.message}"
