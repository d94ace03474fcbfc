"""A small LSP client for the language server tests and benchmarks/lsp_latency.py: `python -m kvmverify lsp` in a
subprocess, JSON-RPC over its stdin/stdout (Content-Length framing), plain JSON messages."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import threading
import time
from urllib.parse import quote

ROOT = pathlib.Path(__file__).resolve().parent.parent


def uri(path) -> str:
    return "file://" + quote(os.path.realpath(path))


class ServerError(Exception):
    pass


class LspClient:
    def __init__(self, cwd=ROOT, initialization_options: dict | None = None, capabilities: dict | None = None):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-m", "kvmverify", "lsp"], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.next_id = 0
        self.responses: dict[int, dict] = {}
        self.notifications: list[dict] = []
        self.cond = threading.Condition()
        self.stderr: list[bytes] = []
        self.opened: set[str] = set()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(iter(self.proc.stderr.readline, b"")), daemon=True).start()
        self.initialized = self.request("initialize", {
            "processId": os.getpid(), "rootUri": uri(cwd), "capabilities": capabilities or {},
            "workspaceFolders": [{"uri": uri(cwd), "name": "root"}],
            "initializationOptions": initialization_options or {}})
        self.notify("initialized", {})

    # ---------------------------------------------------------------------------------------------- wire
    def _send(self, message: dict) -> None:
        body = json.dumps(message).encode("utf-8")
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            message = json.loads(out.read(length))
            if "method" in message and "id" in message:  # a request from the server: accept it
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            with self.cond:
                if "id" in message and "method" not in message:
                    self.responses[message["id"]] = message
                else:
                    self.notifications.append(message)
                self.cond.notify_all()

    def request(self, method: str, params: dict, timeout: float = 30.0):
        self.next_id += 1
        rid = self.next_id
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        with self.cond:
            if not self.cond.wait_for(lambda: rid in self.responses, timeout):
                raise TimeoutError(f"{method}: no answer in {timeout} s; server stderr:\n{self.log()}")
            message = self.responses.pop(rid)
        if "error" in message:
            raise ServerError(f"{method}: {message['error']}")
        return message["result"]

    def notify(self, method: str, params: dict) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def wait_for(self, method: str, predicate=lambda params: True, timeout: float = 30.0) -> dict:
        """The first notification `method` (not yet taken) whose params satisfy `predicate`; it is taken."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, m in enumerate(self.notifications):
                    if m.get("method") == method and predicate(m.get("params")):
                        return self.notifications.pop(i)["params"]
                left = deadline - time.monotonic()
                if left <= 0 or not self.cond.wait(left):
                    if time.monotonic() >= deadline:
                        raise TimeoutError(f"no {method} in {timeout} s; server stderr:\n{self.log()}")

    def log(self) -> str:
        return b"".join(self.stderr).decode("utf-8", "replace")

    # ---------------------------------------------------------------------------------------------- documents
    def open(self, path, text: str | None = None, version: int = 1) -> str:
        u = uri(path)
        text = pathlib.Path(path).read_text(encoding="utf-8") if text is None else text
        self.forget(u)
        self.opened.add(u)
        self.notify("textDocument/didOpen", {"textDocument": {"uri": u, "languageId": "kv", "version": version,
                                                              "text": text}})
        return u

    def change(self, u: str, version: int, text: str | None = None, edit: tuple | None = None) -> None:
        """The whole text, or one incremental edit (start line, start char, end line, end char, new text)."""
        if edit is not None:
            (sl, sc, el, ec, new) = edit
            change = {"range": {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}},
                      "text": new}
        else:
            change = {"text": text}
        self.forget(u)
        self.notify("textDocument/didChange", {"textDocument": {"uri": u, "version": version},
                                               "contentChanges": [change]})

    def forget(self, u: str) -> None:
        """Drop the diagnostics published for `u` so far: the next ones come after what the test does now."""
        with self.cond:
            self.notifications = [m for m in self.notifications if not (
                m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == u)]

    def close_documents(self) -> None:
        for u in sorted(self.opened):
            self.notify("textDocument/didClose", {"textDocument": {"uri": u}})
            self.wait_for("textDocument/publishDiagnostics", lambda p: p["uri"] == u and p["diagnostics"] == [])
        self.opened.clear()
        with self.cond:
            self.notifications.clear()

    def diagnostics(self, u: str, version: int | None = None, timeout: float = 30.0) -> list[dict]:
        """The next diagnostics published for `u` (for `version`, if given)."""
        return self.wait_for("textDocument/publishDiagnostics",
                             lambda p: p["uri"] == u and (version is None or p.get("version") == version),
                             timeout)["diagnostics"]

    def at(self, method: str, u: str, line: int, character: int, **extra):
        return self.request(method, {"textDocument": {"uri": u}, "position": {"line": line, "character": character},
                                     **extra})

    def close(self) -> None:
        try:
            self.request("shutdown", {}, timeout=10)
            self.notify("exit", {})
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - a test that failed may leave a server that no longer answers
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()


def position_of(text: str, needle: str, nth: int = 0, offset: int = 0) -> tuple[int, int]:
    """The 0-based (line, UTF-16 character) of the nth `needle` in `text`, plus `offset` characters."""
    i = -1
    for _ in range(nth + 1):
        i = text.index(needle, i + 1)
    i += offset
    line = text.count("\n", 0, i)
    start = text.rfind("\n", 0, i) + 1
    return line, len(text[start:i].encode("utf-16-le")) // 2
