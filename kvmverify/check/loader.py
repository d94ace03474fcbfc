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
    warnings: tuple[Diagnostic, ...] = ()


PROJECT_MARKERS = (".git", "pyproject.toml", "kvmverify.toml")


def project_root(model: str) -> str:
    """The nearest directory above the model that holds .git, pyproject.toml or kvmverify.toml; without one, the
    working directory when the model lies under it (a fresh directory of models, `kvmverify check models/`, whose
    bug variants `use "../model.kv"`), else the model's own directory. `use` paths that leave it are reported: a
    check must not depend on files outside the project."""
    start = here = os.path.dirname(model)
    while True:
        if any(os.path.exists(os.path.join(here, m)) for m in PROJECT_MARKERS):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            cwd = os.path.abspath(os.getcwd())
            return cwd if os.path.commonpath([cwd, os.path.abspath(start)]) == cwd else start
        here = parent


def use_path_warnings(decl: ast.UseDecl, target: str, root: str) -> list[Diagnostic]:
    """`use` is resolved relative to the using file; absolute paths and paths out of the project are allowed (a
    shared spec may live elsewhere) but flagged, since the check then depends on files the project does not hold."""
    if os.path.isabs(decl.path):
        return [Diagnostic("KV212", "warning", f"absolute `use` path '{decl.path}'", decl.span,
                           "write it relative to the using file, so that the project checks the same anywhere")]
    if os.path.commonpath([root, target]) != root:
        return [Diagnostic("KV212", "warning", f"`use` path '{decl.path}' leads out of the project", decl.span,
                           "the project is the nearest directory above the model with .git, pyproject.toml or "
                           "kvmverify.toml; copy the used file into it")]
    return []


def display_path(path: str) -> str:
    """Paths in diagnostics are relative to the working directory when they lie below it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def read_source(path: str, sources: Sources, at: Span | None = None) -> str:
    shown = display_path(path)
    if path in sources.overlay:  # an editor's buffer: what the author sees, saved or not
        text = sources.texts[shown] = sources.overlay[path]
        return text
    where = at or Span(shown, 1, 1, 1, 1)
    if os.path.isdir(path):
        raise DiagnosticError([Diagnostic("KV001", "error", f"'{shown}' is a directory, not a model file", where,
                                          "give a .kv file, or use `kvmverify check DIR` for every model in it")])
    if os.path.exists(path) and not os.path.isfile(path):  # a FIFO or a device would block or never end
        raise DiagnosticError([Diagnostic("KV001", "error", f"'{shown}' is not a regular file", where,
                                          "a model is a .kv text file")])
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
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        bad = Span(shown, line, col, line, col + 1) if at is None else where
        raise DiagnosticError([Diagnostic("KV002", "error", f"'{shown}' is not UTF-8 text (byte {e.start}: "
                                          f"0x{data[e.start]:02x})", bad, "is this a model file? save it as UTF-8")])
    if "\x00" in text:
        raise DiagnosticError([Diagnostic("KV002", "error", f"'{shown}' contains NUL bytes: not a text file",
                                          where, "is this a model file?")])
    sources.texts[shown] = text
    return text


def load(path: str, sources: Sources) -> Loaded:
    """Parse `path` and, depth first, every file it uses. All errors found in all files are raised together."""
    diags: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    root = os.path.realpath(project_root(os.path.realpath(path)))
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
                warnings.extend(use_path_warnings(decl, target, root))
                if target in stack or target == real:
                    chain = " -> ".join(display_path(p) for p in [*stack, real, target])
                    diags.append(Diagnostic("KV211", "error", f"`use` cycle: {chain}", decl.span,
                                            "move the shared declarations into a file that both use"))
                    continue
                if not os.path.exists(target) and target not in sources.overlay:
                    diags.append(Diagnostic("KV210", "error", f"used file not found: '{decl.path}'", decl.span,
                                            f"looked for {display_path(target)}; paths are relative to "
                                            f"{display_path(real)}"))
                    continue
                visit(target, [*stack, real], decl.span)
        order.append(tree)

    visit(os.path.realpath(path), [], None)
    if diags:
        raise DiagnosticError([*warnings, *diags])
    return Loaded(order[-1], tuple(order), tuple(warnings))
