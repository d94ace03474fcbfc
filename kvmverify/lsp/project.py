"""The server's state: the open documents, what kvmverify made of each (its compile and its index) and the last
check of each. No pygls here: server.py feeds it the documents and asks the feature modules for answers.

Compiling is `pipeline.compile_model` on the document's file with every open document served from its buffer
(`Sources.overlay`), so that the diagnostics are those `kvmverify check` would print once the buffers are saved.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Callable

from lsprotocol import types as lsp

from ..check.loader import display_path, read_source
from ..check.model import Model
from ..diagnostics import Diagnostic, DiagnosticError, Sources, Span
from ..ir.nodes import TransitionSystem
from ..pipeline import compile_model
from .resolve import Closure, closure_of
from .syntax import FileSyntax, file_syntax
from .text import Text, path_to_uri, uri_to_path

KV_INTERNAL = "KV901"
MAX_WORKSPACE_FILES = 2000  # .kv files searched for references in the workspace folders


@dataclass
class Document:
    uri: str
    path: str
    text: str
    version: int | None = None


@dataclass
class Outcome:
    """One compile of a document: the diagnostics, and the model when there were no errors."""

    texts: dict[str, str]  # real path -> the text read, for every file the compile read
    diagnostics: tuple[Diagnostic, ...]
    model: Model | None = None
    system: TransitionSystem | None = None


@dataclass
class Verdicts:
    """The last `check` of a document: the texts it ran on, its diagnostics, and a summary per property name."""

    texts: dict[str, str]
    diagnostics: list[lsp.Diagnostic]
    summaries: dict[str, str] = field(default_factory=dict)
    engine: str = ""


def compile_outcome(path: str, overlay: dict[str, str]) -> Outcome:
    """compile_model on `path`, the open buffers read instead of their files; never raises."""
    sources = Sources(overlay=dict(overlay))
    try:
        compiled = compile_model(path, {}, sources)
        diags, model, system = tuple(compiled.warnings), compiled.model, compiled.system
    except DiagnosticError as e:
        diags, model, system = e.diagnostics, None, None
    except Exception as e:  # noqa: BLE001 - a bug in kvmverify: shown in the editor, never a dead server
        diags, model, system = (Diagnostic(KV_INTERNAL, "error", f"internal error in kvmverify: {type(e).__name__}: "
                                           f"{e}", Span(display_path(path), 1, 1, 1, 1),
                                           "this is a bug in kvmverify; please report it with the model"),), None, None
    texts = {os.path.abspath(k): v for k, v in sources.texts.items()}
    return Outcome(texts, diags, model, system)


@functools.lru_cache(maxsize=64)
def _text(text: str) -> Text:
    return Text(text)


class Project:
    def __init__(self, encoding: str = "utf-16", folders: tuple[str, ...] = ()):
        self.encoding = encoding
        self.folders = folders  # workspace folders: searched for references too
        self.docs: dict[str, Document] = {}  # real path -> open document
        self.outcomes: dict[str, Outcome] = {}  # real path -> its latest compile
        self.good_models: dict[str, Model] = {}  # real path -> the last model it compiled to
        self.verdicts: dict[str, Verdicts] = {}
        self.check_timeout = 30.0
        self.check_engine = "auto"

    # ---------------------------------------------------------------------------------------------- documents
    def open(self, uri: str, text: str, version: int | None = None) -> Document:
        doc = Document(uri, uri_to_path(uri), text, version)
        self.docs[doc.path] = doc
        return doc

    def change(self, uri: str, text: str, version: int | None = None) -> Document:
        doc = self.docs.get(uri_to_path(uri))
        if doc is None:
            return self.open(uri, text, version)
        doc.text, doc.version = text, version
        return doc

    def close(self, uri: str) -> None:
        path = uri_to_path(uri)
        for table in (self.docs, self.outcomes, self.verdicts):
            table.pop(path, None)

    def doc(self, uri: str) -> Document | None:
        return self.docs.get(uri_to_path(uri))

    def uri(self, path: str) -> str:
        doc = self.docs.get(path)
        return doc.uri if doc else path_to_uri(path)

    def dependents(self, path: str) -> list[Document]:
        """The open documents whose last compile read `path` (the document itself included), so that an edit
        of a used file updates the diagnostics of the models that use it."""
        return [d for p, d in self.docs.items() if p == path or path in self.outcomes.get(p, Outcome({}, ())).texts]

    # ---------------------------------------------------------------------------------------------- reading
    def text_of(self, path: str) -> str | None:
        """A file's text: the editor's buffer if it is open, else the file on disk (None if it cannot be read)."""
        doc = self.docs.get(path)
        if doc is not None:
            return doc.text
        try:
            return read_source(path, Sources())
        except DiagnosticError:
            return None

    def syntax(self, path: str) -> FileSyntax | None:
        text = self.text_of(path)
        return file_syntax(path, text) if text is not None else None

    def closure(self, path: str) -> Closure:
        closure = closure_of(path, self.syntax)
        model = self.model(path)
        if model is not None:
            closure.def_layouts = {n: d.result.layout.name for n, d in model.defs.items()
                                   if getattr(d.result, "layout", None) is not None}
        return closure

    def workspace_roots(self, name: str) -> list[str]:
        """The .kv files of the workspace folders that mention `name`, and every open document."""
        found = list(self.docs)
        for folder in self.folders:
            for base, dirs, files in os.walk(folder):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("node_modules", "__pycache__"))
                for f in sorted(files):
                    if len(found) >= MAX_WORKSPACE_FILES:
                        return found
                    p = os.path.realpath(os.path.join(base, f))
                    if f.endswith(".kv") and p not in found and name in (self.text_of(p) or ""):
                        found.append(p)
        return found

    # ---------------------------------------------------------------------------------------------- compiling
    def compile_job(self, path: str) -> Callable[[], Outcome]:
        """The compile of `path` on the buffers as they are now, to run in any thread (server.py runs it in its
        one worker, with the checks: z3 is not thread-safe)."""
        overlay = {p: d.text for p, d in self.docs.items()}
        return lambda: compile_outcome(path, overlay)

    def store(self, path: str, outcome: Outcome) -> None:
        if path not in self.docs:
            return
        self.outcomes[path] = outcome
        if outcome.model is not None:
            self.good_models[path] = outcome.model

    def outcome(self, path: str) -> Outcome:
        """The latest compile of an open document, compiled now if there is none or the buffers changed since."""
        got = self.outcomes.get(path)
        if got is None or self.stale(got.texts):
            got = self.compile_job(path)()
            self.store(path, got)
        return got

    def stale(self, texts: dict[str, str]) -> bool:
        return any(texts.get(p, d.text) != d.text for p, d in self.docs.items())

    def model(self, path: str) -> Model | None:
        """The model of the latest compile, or the last one that compiled (for what a name means: its positions
        may be old)."""
        got = self.outcomes.get(path)
        return got.model if got is not None and got.model is not None else self.good_models.get(path)

    def current_model(self, path: str) -> Model | None:
        """The model compiled from the buffers as they are (its spans are the text's), if it compiled."""
        got = self.outcomes.get(path)
        return got.model if got is not None and not self.stale(got.texts) else None

    # ---------------------------------------------------------------------------------------------- positions
    def text(self, path: str) -> Text | None:
        t = self.text_of(path)
        return _text(t) if t is not None else None

    def range(self, span: Span) -> lsp.Range:
        text = self.text(os.path.abspath(span.file))
        if text is None or span.line < 1:
            return lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))
        return text.range(span, self.encoding)

    def location(self, span: Span) -> lsp.Location:
        return lsp.Location(self.uri(os.path.abspath(span.file)), self.range(span))
