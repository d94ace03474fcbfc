"""The pygls wiring: documents in, diagnostics out, every request answered from project.py and the feature
modules. The only module of kvmverify that imports pygls.

Compiles and checks run in one worker thread, one at a time (z3, which compiles decision tables and runs the
symbolic engines, is not thread-safe); requests are answered on the event loop from the index and the last
compile, so the server stays responsive while a check runs. A compile whose document changed again before it
started is skipped: a burst of edits costs one compile per pause, not one per keystroke. Every handler answers:
an exception inside kvmverify is logged to stderr (the editor's output channel) and the request gets an empty
answer, never a dead server.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import sys
from concurrent.futures import Future, ThreadPoolExecutor

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

from .. import __version__
from ..engines import ENGINES
from ..engines.shared.limits import Interrupt
from .check import COMMAND, check_job, store_verdicts
from .completion import completion
from .diags import document_diagnostics
from .hover import hover
from .navigate import definition, references
from .project import Outcome, Project
from .symbols import document_symbols
from .text import uri_to_path

log = logging.getLogger("kvmverify.lsp")


class KvServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("kvmverify", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.project = Project()
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kvmverify-worker")
        self.generation: dict[str, int] = {}  # path -> the number of the latest compile asked for
        self.checks: dict[str, Interrupt] = {}  # path -> the running check's interrupt
        self.memory_mb: float | None = 4096

    # ---------------------------------------------------------------------------------------------- compiles
    def schedule(self, path: str) -> None:
        """Compile `path` (in the worker) and publish its diagnostics, unless it changes again first."""
        generation = self.generation[path] = self.generation.get(path, 0) + 1
        job = self.project.compile_job(path)
        loop = asyncio.get_running_loop()

        def run() -> Outcome | None:
            return job() if self.generation.get(path) == generation else None
        future = self.worker.submit(run)
        future.add_done_callback(lambda f: loop.call_soon_threadsafe(self.compiled, path, generation, f))

    def compiled(self, path: str, generation: int, future: Future) -> None:
        if self.generation.get(path) != generation or future.cancelled():
            return
        if future.exception() is not None:  # compile_outcome never raises; this is a bug in the worker's setup
            log.error("compile of %s failed: %r", path, future.exception())
            return
        outcome = future.result()
        if outcome is None or path not in self.project.docs:
            return
        self.project.store(path, outcome)
        self.publish(path)

    def publish(self, path: str) -> None:
        doc = self.project.docs.get(path)
        if doc is None:
            return
        try:
            diagnostics = document_diagnostics(self.project, path)
        except Exception:  # noqa: BLE001 - see the module's docstring
            log.exception("diagnostics of %s", path)
            return
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(doc.uri, diagnostics, doc.version))

    def edited(self, document) -> None:
        """A document opened or changed: take its text as pygls keeps it (changes applied) and recompile."""
        doc = self.workspace.get_text_document(document.uri)
        self.refresh(self.project.change(doc.uri, doc.source, document.version).path)

    def refresh(self, path: str) -> None:
        """Recompile every open document that reads `path` (it included)."""
        for doc in self.project.dependents(path):
            self.schedule(doc.path)

    def point(self, uri: str, position: lsp.Position) -> tuple[str, int, int] | None:
        path = uri_to_path(uri)
        text = self.project.text(path)
        if text is None:
            return None
        return (path, *text.from_position(position, self.project.encoding))


def answers(default):
    """A handler that answers `default` when kvmverify raises, and logs the traceback."""
    def wrap(fn):
        @functools.wraps(fn)
        def handler(ls: KvServer, params):
            try:
                return fn(ls, params)
            except Exception:  # noqa: BLE001 - see the module's docstring
                log.exception("%s failed", fn.__name__)
                return default
        return handler
    return wrap


def build() -> KvServer:
    server = KvServer()
    project = server.project

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: KvServer, params: lsp.InitializeParams) -> None:
        project.encoding = str(getattr(ls.workspace.position_encoding, "value", ls.workspace.position_encoding)
                               or "utf-16")
        folders = [uri_to_path(f.uri) for f in params.workspace_folders or []]
        if not folders and params.root_uri:
            folders = [uri_to_path(params.root_uri)]
        project.folders = tuple(folders)
        options = params.initialization_options if isinstance(params.initialization_options, dict) else {}
        if isinstance(options.get("checkTimeout"), (int, float)) and options["checkTimeout"] > 0:
            project.check_timeout = float(options["checkTimeout"])
        if options.get("engine") in ENGINES:
            project.check_engine = options["engine"]
        if isinstance(options.get("checkMemoryMB"), (int, float)) and options["checkMemoryMB"] > 0:
            ls.memory_mb = float(options["checkMemoryMB"])

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    @answers(None)
    def did_open(ls: KvServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.edited(params.text_document)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    @answers(None)
    def did_change(ls: KvServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.edited(params.text_document)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    @answers(None)
    def did_close(ls: KvServer, params: lsp.DidCloseTextDocumentParams) -> None:
        path = uri_to_path(params.text_document.uri)
        readers = [d for d in project.dependents(path) if d.path != path]
        project.close(params.text_document.uri)
        ls.generation.pop(path, None)
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(params.text_document.uri, []))
        for doc in readers:  # they read the file on disk now
            ls.schedule(doc.path)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    @answers(None)
    def did_save(ls: KvServer, params: lsp.DidSaveTextDocumentParams) -> None:
        ls.refresh(uri_to_path(params.text_document.uri))

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    @answers(None)
    def on_hover(ls: KvServer, params: lsp.HoverParams):
        at = ls.point(params.text_document.uri, params.position)
        return hover(project, *at) if at else None

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    @answers([])
    def on_definition(ls: KvServer, params: lsp.DefinitionParams):
        at = ls.point(params.text_document.uri, params.position)
        return definition(project, *at) if at else []

    @server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
    @answers([])
    def on_references(ls: KvServer, params: lsp.ReferenceParams):
        at = ls.point(params.text_document.uri, params.position)
        return references(project, *at, params.context.include_declaration) if at else []

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @answers([])
    def on_symbols(ls: KvServer, params: lsp.DocumentSymbolParams):
        return document_symbols(project, uri_to_path(params.text_document.uri))

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["."]))
    @answers(lsp.CompletionList(False, []))
    def on_completion(ls: KvServer, params: lsp.CompletionParams):
        at = ls.point(params.text_document.uri, params.position)
        return completion(project, *at) if at else lsp.CompletionList(False, [])

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION,
                    lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.Source]))
    @answers([])
    def on_code_action(ls: KvServer, params: lsp.CodeActionParams):
        only = params.context.only
        if only and not any(lsp.CodeActionKind.Source.value.startswith(str(getattr(k, "value", k))) for k in only):
            return []
        return [lsp.CodeAction("Check this model (kvmverify check)", kind=lsp.CodeActionKind.Source,
                               command=check_command_for(params.text_document.uri))]

    @server.feature(lsp.TEXT_DOCUMENT_CODE_LENS)
    @answers([])
    def on_code_lens(ls: KvServer, params: lsp.CodeLensParams):
        path = uri_to_path(params.text_document.uri)
        fs = project.syntax(path)
        model = next((s for s in fs.symbols if s.kind == "model"), None) if fs else None
        if model is None:
            return []
        return [lsp.CodeLens(project.range(model.span), check_command_for(params.text_document.uri))]

    @server.command(COMMAND)
    async def check_command(ls: KvServer, *args):
        """`kvmverify.check URI [{"timeout": S, "engine": E}]`: check the document, publish the results."""
        uri = args[0] if args and isinstance(args[0], str) else None
        if uri is None:
            return {"exit": 2, "message": f"{COMMAND} takes the URI of a .kv document"}
        options = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
        path = uri_to_path(uri)
        timeout = options.get("timeout", project.check_timeout)
        engine = options.get("engine", project.check_engine)
        if engine not in ENGINES or not isinstance(timeout, (int, float)) or timeout <= 0:
            return {"exit": 2, "message": f"engine must be one of {', '.join(ENGINES)}, timeout a positive number"}
        previous = ls.checks.get(path)
        if previous is not None:
            previous.set = True  # a new check of the same document replaces the running one
        interrupt = ls.checks[path] = Interrupt()
        job = check_job(project, path, float(timeout), engine, ls.memory_mb, interrupt)
        run = await asyncio.get_running_loop().run_in_executor(ls.worker, job)
        if ls.checks.get(path) is interrupt:
            del ls.checks[path]
        answer = store_verdicts(project, path, run, engine)
        if project.outcomes.get(path) is None or project.stale(project.outcomes[path].texts):
            ls.schedule(path)  # the buffers changed during the check: its results wait for them
        else:
            ls.publish(path)
        ls.window_show_message(lsp.ShowMessageParams(
            lsp.MessageType.Error if answer.get("exit") not in (0, 4) else lsp.MessageType.Info, answer["message"]))
        return answer

    @server.feature(lsp.SHUTDOWN)
    def shutdown(ls: KvServer, *_) -> None:
        for interrupt in ls.checks.values():
            interrupt.set = True

    return server


def check_command_for(uri: str) -> lsp.Command:
    return lsp.Command("kvmverify check", COMMAND, arguments=[uri])


def serve() -> int:
    """Run the server on stdin/stdout until the client says exit."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="kvmverify lsp: %(levelname)s: %(message)s")
    build().start_io()
    return 0
