"""Reads a model and every file it `use`s, in dependency order, reporting I/O and `use` problems as diagnostics."""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..diagnostics import Diagnostic, DiagnosticError, Sources, Span
from ..lang import ast
from ..lang.parser import parse

MAX_FILE_BYTES = 4 << 20


@dataclass(frozen=True)
class Loaded:
    root: ast.File
    files: tuple[ast.File, ...]  # dependencies first, the root last


def display_path(path: str) -> str:
    """Paths in diagnostics are relative to the working directory when they lie below it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def read_source(path: str, sources: Sources, at: Span | None = None) -> str:
    shown = display_path(path)
    where = at or Span(shown, 1, 1, 1, 1)
    if os.path.isdir(path):
        raise DiagnosticError([Diagnostic("KV001", "error", f"'{shown}' is a directory, not a model file", where,
                                          "give a .kv file, or use `kvmverify check DIR` for every model in it")])
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise DiagnosticError([Diagnostic("KV001", "error", f"no such file: '{shown}'", where,
                                          "check the path; `use` paths are relative to the file that uses them")])
    except OSError as e:
        raise DiagnosticError([Diagnostic("KV001", "error", f"cannot read '{shown}': {e.strerror}", where)])
    if len(data) > MAX_FILE_BYTES:
        raise DiagnosticError([Diagnostic("KV001", "error", f"'{shown}' is larger than {MAX_FILE_BYTES >> 20} MiB",
                                          where, "a model file is source text, not data")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DiagnosticError([Diagnostic("KV002", "error", f"'{shown}' is not UTF-8 text (byte {e.start})",
                                          where, "is this a model file?")])
    if "\x00" in text:
        raise DiagnosticError([Diagnostic("KV002", "error", f"'{shown}' contains NUL bytes: not a text file",
                                          where, "is this a model file?")])
    sources.texts[shown] = text
    return text


def load(path: str, sources: Sources) -> Loaded:
    """Parse `path` and, depth first, every file it uses. All errors found in all files are raised together."""
    diags: list[Diagnostic] = []
    done: dict[str, ast.File] = {}
    order: list[ast.File] = []

    def visit(real: str, stack: list[str], at: Span | None) -> None:
        if real in done:
            return
        try:
            text = read_source(real, sources, at)
            tree = parse(text, display_path(real))
        except DiagnosticError as e:
            diags.extend(e.diagnostics)
            return
        if not tree.decls and not stack:
            diags.append(Diagnostic("KV003", "error", f"'{display_path(real)}' declares nothing",
                                    Span(display_path(real), 1, 1, 1, 1),
                                    "a model starts with `model NAME` and declares variables, actors and properties"))
        done[real] = tree
        for decl in tree.decls:
            if isinstance(decl, ast.UseDecl):
                target = os.path.realpath(os.path.join(os.path.dirname(real), decl.path))
                if target in stack or target == real:
                    chain = " -> ".join(display_path(p) for p in [*stack, real, target])
                    diags.append(Diagnostic("KV211", "error", f"`use` cycle: {chain}", decl.span,
                                            "move the shared declarations into a file that both use"))
                    continue
                if not os.path.exists(target):
                    diags.append(Diagnostic("KV210", "error", f"used file not found: '{decl.path}'", decl.span,
                                            f"looked for {display_path(target)}; paths are relative to "
                                            f"{display_path(real)}"))
                    continue
                visit(target, [*stack, real], decl.span)
        order.append(tree)

    visit(os.path.realpath(path), [], None)
    if diags:
        raise DiagnosticError(diags)
    return Loaded(order[-1], tuple(order))
