"""Completion: after `expr.` the fields of the register, struct or decision table `expr` has (`area[0].` gives
flags, token, pad, enabled); elsewhere the names in scope (locals, then the model's declarations, then the
built-ins) and the language's keywords, read off the grammar so that they cannot go stale."""
from __future__ import annotations

import re

from lsprotocol import types as lsp

from .hover import BUILTINS, bits, layouts_of, trailing_comment
from .keywords import grammar_keywords
from .navigate import field_of_chain, scope_at
from .project import Project

CK = lsp.CompletionItemKind
KIND = {"param": CK.Constant, "type": CK.TypeParameter, "enum": CK.EnumMember, "register": CK.Struct,
        "struct": CK.Struct, "var": CK.Variable, "actor": CK.Class, "def": CK.Function, "decide": CK.Function,
        "local": CK.Variable, "field": CK.Field, "output": CK.Field}
STRINGS = re.compile(r'"[^"\n]*"?')


def completion(project: Project, path: str, line: int, col: int) -> lsp.CompletionList:
    fs = project.syntax(path)
    if fs is None:
        return lsp.CompletionList(False, [])
    before_cursor = fs.text.lines[line - 1][:col - 1]
    if "//" in STRINGS.sub("", before_cursor) or before_cursor.count('"') % 2:
        return lsp.CompletionList(False, [])  # in a comment or a string
    partial = re.search(r"[A-Za-z_]\w*$", before_cursor)
    before = before_cursor[:partial.start()] if partial else before_cursor
    closure = project.closure(path)
    scope = scope_at(fs, line, col)
    if before.endswith("."):
        layout, fields = field_of_chain(closure, before, scope)
        if fields:
            return lsp.CompletionList(False, field_items(project, path, layout, fields))
        if layout is not None:
            return lsp.CompletionList(False, [])  # a field of a register or struct has no fields
    items = []
    for name, sym in scope.items():
        items.append(lsp.CompletionItem(name, kind=CK.Variable, detail=f"local, in {sym.container}", sort_text="0"))
    model = project.model(path)
    for name, sym in closure.values.items():
        if name in scope:
            continue
        items.append(lsp.CompletionItem(name, kind=KIND.get(sym.kind, CK.Text), detail=detail(model, sym),
                                        sort_text="1"))
    items += [lsp.CompletionItem(n, kind=CK.Function if n == "card" else CK.TypeParameter, detail=doc,
                                 sort_text="2") for n, doc in BUILTINS.items() if n not in closure.values]
    items += [lsp.CompletionItem(k, kind=CK.Keyword, sort_text="3") for k in sorted(grammar_keywords())]
    return lsp.CompletionList(False, items)


def detail(model, sym) -> str:
    if model is not None:
        if sym.kind == "var" and sym.name in model.vars:
            v = model.vars[sym.name]
            return "var " + "".join(f"[{i}]" for i in v.indices) + f": {v.type}"
        if sym.kind == "param" and sym.name in model.params:
            return f"param = {model.params[sym.name]}"
        if sym.kind == "def" and sym.name in model.defs:
            d = model.defs[sym.name]
            return f"def ({', '.join(f'{n}: {t}' for n, t in d.params)}) -> {d.result}"
    return sym.kind + (f" of {sym.container}" if sym.container else "")


def field_items(project: Project, path: str, layout: str, fields: dict) -> list[lsp.CompletionItem]:
    kind, rows = layouts_of(project, path, layout, project.model(path))
    where = {r[0]: (r[1], r[2], r[3]) for r in rows}
    items = []
    for i, (name, sym) in enumerate(fields.items()):
        text = project.text(sym.path)
        if name in where:
            lo, width, attrs = where[name]
            shown = (f"bit{'s' if width > 1 else ''} {bits(lo, width)}" if kind == "register" else
                     f"bytes {lo // 8}..{(lo + width) // 8 - 1}")
            shown = f"{layout}: {shown}" + (f" {attrs}" if attrs else "")
        else:  # an output of a decision table
            typ = text.slice(sym.node.type.span) if text is not None and sym.node.type is not None else "?"
            shown = f"output of {layout}: {typ}"
        cites = trailing_comment(text, sym.span.line) if text else None
        items.append(lsp.CompletionItem(name, kind=CK.Field, detail=shown, documentation=cites, sort_text=f"{i:04d}"))
    return items
