"""Document symbols: the outline of a file (params, types and their members, registers and structs with their
fields, vars, slots, actors with their actions and handlers, defs, tables with their rules, properties,
observations)."""
from __future__ import annotations

from lsprotocol import types as lsp

from .project import Project
from .syntax import Symbol

K = lsp.SymbolKind
KIND = {"model": K.Module, "param": K.Constant, "type": K.TypeParameter, "enum": K.EnumMember, "register": K.Struct,
        "struct": K.Struct, "field": K.Field, "var": K.Variable, "slot": K.Key, "actor": K.Class, "action": K.Method,
        "handler": K.Event, "def": K.Function, "decide": K.Function, "output": K.Field, "rule": K.EnumMember,
        "invariant": K.Property, "cover": K.Property, "property": K.Property, "check": K.Property,
        "assert": K.Property, "process": K.Class, "proc": K.Function, "label": K.Key, "transition": K.Property,
        "observe": K.Event}
CHILDREN = {"type": ("enum",), "register": ("field",), "struct": ("field",), "actor": ("action", "handler", "process"),
            "decide": ("output", "rule")}
CHILDREN_OF = {child: tuple(p for p, cs in CHILDREN.items() if child in cs) for cs in CHILDREN.values()
               for child in cs}
DETAIL = {"invariant": "invariant", "cover": "cover", "property": "liveness", "check": "check (z3, every input)",
          "assert": "assert", "slot": "slot", "handler": "on write", "transition": "transition (every step)",
          "label": "step"}


def document_symbols(project: Project, path: str) -> list[lsp.DocumentSymbol]:
    fs = project.syntax(path)
    if fs is None:
        return []
    mine = [s for s in fs.symbols if s.kind in KIND]
    out: list[lsp.DocumentSymbol] = []
    parents: dict[tuple[str, str], lsp.DocumentSymbol] = {}
    for s in mine:
        item = _symbol(project, s)
        parent = next((parents[(k, s.container)] for k in CHILDREN_OF.get(s.kind, ()) if (k, s.container) in parents),
                      None)
        if s.kind == "assert":  # in its action: the container is "actor.action"
            parent = parents.get(("action", s.container))
        if s.kind in ("label", "assert") and s.container.split(" ", 1)[0] in ("process", "proc"):
            parent = parents.get(tuple(s.container.split(" ", 1)))  # in its process or procedure
        if parent is not None:
            parent.children = [*(parent.children or []), item]
        else:
            out.append(item)
        if s.kind in CHILDREN:
            parents[(s.kind, s.name)] = item
        if s.kind == "action":
            parents[("action", f"{s.container}.{s.name}")] = item
        if s.kind in ("process", "proc"):
            parents[(s.kind, s.name)] = item
    return out


def _symbol(project: Project, s: Symbol) -> lsp.DocumentSymbol:
    extent = project.range(s.extent)
    name = project.range(s.span)
    if (name.start.line, name.start.character) < (extent.start.line, extent.start.character) or \
            (name.end.line, name.end.character) > (extent.end.line, extent.end.character):
        extent = name  # the selection must lie inside the range
    detail = f"observe => {s.node.actor}.{s.node.action}" if s.kind == "observe" else DETAIL.get(s.kind, s.kind)
    return lsp.DocumentSymbol(s.name, KIND.get(s.kind, K.Key), extent, name, detail=detail)
