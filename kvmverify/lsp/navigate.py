"""Go to definition and find references, across the files a model `use`s (and, for references, every open document
and .kv file of the workspace folders whose model sees the declaration)."""
from __future__ import annotations

from dataclasses import dataclass

from lsprotocol import types as lsp

from ..diagnostics import Span
from .fallback import chain_before, parse_expr, text_locals
from .project import Project
from .resolve import Closure, occ_at, use_target
from .syntax import FileSyntax, Occ, Symbol
from .text import contains


@dataclass
class Target:
    """What the name under the cursor means: a symbol, or the file a `use` path names."""

    span: Span  # the name (or path) under the cursor
    symbol: Symbol | None = None
    use_path: str | None = None
    occ: Occ | None = None


def locals_at(fs: FileSyntax, line: int, col: int) -> dict[str, Symbol]:
    """The locals visible at (line, col) in a declaration that parses: inner binders hide outer ones."""
    visible = [s for s in fs.symbols if s.kind == "local" and s.visible and contains(s.visible, line, col)]
    visible.sort(key=lambda s: (s.visible.line, s.visible.col))
    return {s.name: s for s in visible}


def scope_at(fs: FileSyntax, line: int, col: int) -> dict[str, Symbol]:
    return text_locals(fs, line, col) if fs.in_broken(line) else locals_at(fs, line, col)


def field_of_chain(closure: Closure, prefix: str, scope: dict[str, Symbol]) -> tuple[str | None, dict[str, Symbol]]:
    """For a line that ends with `expr.`: the layout `expr` has, and its fields ({} if it has none)."""
    chain = chain_before(prefix)
    e = parse_expr(chain) if chain else None
    layout = closure.layout_of(e, scope) if e is not None else None
    return layout, closure.fields.get(layout or "", {})


def target_at(project: Project, path: str, line: int, col: int) -> Target | None:
    fs = project.syntax(path)
    if fs is None:
        return None
    closure = project.closure(path)
    occ = occ_at(fs, line, col)
    if occ is not None:
        if occ.role == "use":
            return Target(occ.span, use_path=use_target(fs, occ.node), occ=occ)
        return Target(occ.span, closure.resolve(occ), occ=occ)
    word = fs.text.word_at(line, col)  # the text itself: a declaration being typed
    if word is None:
        return None
    name, first, after = word
    span = Span(path, line, first, line, after)
    scope = scope_at(fs, line, first)
    prefix = fs.text.lines[line - 1][:first - 1]
    if prefix.endswith("."):
        layout, fields = field_of_chain(closure, prefix, scope)
        if layout is not None:
            return Target(span, fields.get(name))
    sym = scope.get(name) or closure.values.get(name) or closure.props.get(name)
    return Target(span, sym) if sym is not None else None


def definition(project: Project, path: str, line: int, col: int) -> list[lsp.Location]:
    t = target_at(project, path, line, col)
    if t is None:
        return []
    if t.use_path is not None:
        if project.text_of(t.use_path) is None:
            return []
        return [lsp.Location(project.uri(t.use_path), lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)))]
    return [project.location(t.symbol.span)] if t.symbol is not None else []


def same(a: Symbol, b: Symbol) -> bool:
    return a.path == b.path and a.span == b.span and a.name == b.name and a.kind == b.kind


def references(project: Project, path: str, line: int, col: int, include_declaration: bool) -> list[lsp.Location]:
    t = target_at(project, path, line, col)
    sym = t.symbol if t is not None else None
    if sym is None:
        return []
    roots = [path] if sym.kind == "local" else [path, *project.workspace_roots(sym.name)]
    found: dict[tuple, Span] = {}
    for root in dict.fromkeys(roots):
        closure = project.closure(root)
        if not any(f.path == sym.path for f in closure.files):
            continue
        for fs in closure.files:
            if sym.kind == "local" and fs.path != sym.path:
                continue
            for o in fs.occs:
                if o.role == "use" or o.name != sym.name:
                    continue
                target = closure.resolve(o)
                if target is None or o.role == "decl" and not include_declaration and same(target, sym):
                    continue
                # an observed event's references: every declaration that observes it
                if not same(target, sym) and not (sym.kind == target.kind == "observe"):
                    continue
                found[(o.span.file, o.span.line, o.span.col)] = o.span
    if include_declaration and sym.kind in ("slot", "msr"):  # derived properties: their declaration
        found.setdefault((sym.span.file, sym.span.line, sym.span.col), sym.span)
    return [project.location(s) for _, s in sorted(found.items())]
