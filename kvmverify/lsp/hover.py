"""Hover: what a name is. Its declaration as written, its type (the checker's, from the last compile), a register
or struct decoded field by field with bit ranges and the source line each field cites (its comment), a def's
body, a table's rules, an observation's tracepoint and the action it maps to, and a property's last verdict if a
check ran."""
from __future__ import annotations

import os
import re

from lsprotocol import types as lsp

from ..check.model import Model
from ..check.types import CTYPES, BitsT, EnumT, IntT, Type
from ..conform.tracepoints import LINE_FIELDS, TRACEPOINTS
from ..lang import ast
from .navigate import Target, target_at
from .project import Project
from .syntax import PROP_KINDS, Symbol
from .text import Text

BUILTINS = {
    "card": "`card(s)`: the number of elements of the set `s`",
    "bool": "`bool`: `true` or `false`",
    **{t: f"`{t}`: {'an unsigned' if t[0] == 'u' else 'a signed'} {bits}-bit value" for t, bits in CTYPES.items()},
}
MAX_SOURCE_LINES = 30
TRAILING = re.compile(r'"[^"\n]*"|(//.*)$')


def hover(project: Project, path: str, line: int, col: int) -> lsp.Hover | None:
    t = target_at(project, path, line, col)
    if t is None:
        return None
    text = project.text(path)
    if t.use_path is not None:
        body = use_hover(project, t.use_path)
    elif t.symbol is not None:
        body = symbol_hover(project, path, t.symbol)
        typed = type_here(project, path, t)
        if typed:
            body += f"\n\ntype here: `{typed}`"
    elif t.occ is not None and t.occ.name in BUILTINS:
        body = BUILTINS[t.occ.name]
    else:
        return None
    rng = text.range(t.span, project.encoding) if text is not None and t.span.file == path else None
    return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, body), rng)


# ---------------------------------------------------------------------------------------------- pieces


def code(text: str) -> str:
    return f"```kv\n{text}\n```"


def source(project: Project, sym: Symbol, limit: int = MAX_SOURCE_LINES) -> str:
    text = project.text(sym.path)
    if text is None:
        return sym.name
    lines = text.slice(sym.extent).split("\n")
    if len(lines) > limit:
        lines = lines[:limit] + [f"… ({len(lines) - limit} more lines)"]
    return "\n".join(lines)


def trailing_comment(text: Text, line: int) -> str | None:
    if not 1 <= line <= len(text.lines):
        return None
    for m in TRAILING.finditer(text.lines[line - 1]):
        if m.group(1):
            return m.group(1)[2:].strip()
    return None


def leading_comment(text: Text, line: int) -> list[str]:
    """The `//` lines right above `line`."""
    out = []
    i = line - 2
    while i >= 0 and text.lines[i].lstrip().startswith("//"):
        out.append(text.lines[i].lstrip()[2:].strip())
        i -= 1
    return out[::-1]


def where(sym: Symbol) -> str:
    return f"{os.path.relpath(sym.path)}:{sym.span.line}"


def show_type(t: Type | None) -> str | None:
    match t:
        case None:
            return None
        case IntT(lo, hi, name):
            return f"{name} = {lo}..{hi}" if name else (str(lo) if lo == hi else f"{lo}..{hi}")
        case EnumT(name, members):
            return f"{name} = {{{', '.join(members)}}}"
    return str(t)


def cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|")


# ---------------------------------------------------------------------------------------------- by kind


def symbol_hover(project: Project, path: str, sym: Symbol) -> str:
    model = project.model(path)
    text = project.text(sym.path)
    node = sym.node
    comment = leading_comment(text, sym.extent.line) if text else []
    note = trailing_comment(text, sym.span.line) if text else None
    parts: list[str] = []
    verdict = project.verdicts.get(path)
    verdicts = verdict.summaries if verdict is not None else {}
    stale = " (the buffers changed since)" if verdict is not None and project.stale(verdict.texts) else ""
    match sym.kind:
        case "register" | "struct":
            parts += [code(header(project, sym)), layout_table(project, path, sym.name, model)]
            if f"msr:{sym.name}" in verdicts:
                parts.append(f"last check{stale}, `msr:{sym.name}`: {verdicts[f'msr:{sym.name}']}")
        case "field" | "output":
            parts.append(field_hover(project, path, sym, model))
        case "var":
            parts.append(code(source(project, sym, 3)))
            info = model.vars.get(sym.name) if model else None
            if info is not None:
                index = "".join(f"[{i}]" for i in info.indices)
                parts.append(f"type: `{index}{show_type(info.type)}`" if index else f"type: `{show_type(info.type)}`")
            layout = project.closure(path).layout_of_symbol(sym)
            if layout:
                parts.append(layout_table(project, path, layout, model))
        case "param":
            parts.append(code(source(project, sym, 3)))
            if model is not None and sym.name in model.params:
                t = model.param_types.get(sym.name)
                v = model.params[sym.name]
                shown = ("true" if v else "false") if t is not None and not isinstance(t, IntT) else str(v)
                parts.append(f"value in force: `{shown}` (`--param {sym.name}=...` overrides it)")
        case "type":
            parts.append(code(source(project, sym, 5)))
            t = model.types.get(sym.name) if model else None
            if t is not None:
                parts.append(f"type: `{show_type(t)}`" + (" (symmetric)" if sym.name in model.symmetric else ""))
        case "enum":
            members = [i.id for i in node.type.expr.items if isinstance(i, ast.Name)]
            parts.append(f"`{sym.name}`: member {members.index(sym.name)} of enum `{sym.container}` = "
                         f"{{{', '.join(members)}}}")
        case "def":
            parts.append(code(source(project, sym)))
            info = model.defs.get(sym.name) if model else None
            if info is not None:
                sig = ", ".join(f"{n}: {t}" for n, t in info.params)
                parts.append(f"`{sym.name}({sig})` returns `{show_type(info.result)}`")
        case "decide" | "rule" | "check" | "invariant" | "cover" | "property" | "slot" | "assert" | "transition" | \
                "proc" | "process" | "label":
            parts.append(code(source(project, sym)))
        case "actor":
            actions = [s.name for f in project.closure(path).files for s in f.symbols
                       if s.container == sym.name and s.kind == "action"]
            handlers = [s.node.register for f in project.closure(path).files for s in f.symbols
                        if s.container == sym.name and s.kind == "handler"]
            parts.append(code(f"actor {sym.name}"))
            parts.append(f"actions: {', '.join(actions) or 'none'}" +
                         (f"; handles writes to {', '.join(handlers)}" if handlers else ""))
        case "action":
            parts.append(code(action_header(project, sym)))
        case "model":
            parts.append(code(f"model {sym.name}"))
            if model is not None:
                parts.append(f"{len(model.vars)} state variables, {len(model.actions)} actions, "
                             f"{len(model.props) + len(model.liveness) + len(model.checks)} declared properties")
        case "local":
            parts.append(local_hover(project, path, sym))
        case "observe":
            parts += observe_hover(project, path, sym, model)
    if comment and sym.kind not in ("field", "local"):
        parts.insert(1 if parts else 0, "\n".join(f"// {c}" for c in comment))
    if note and sym.kind not in ("field", "register", "struct", "local"):
        parts.append(f"// {note}")
    if sym.kind in PROP_KINDS and sym.name in verdicts:
        parts.append(f"last check{stale}: {verdicts[sym.name]}")
    elif sym.kind == "var":  # the slots over it
        parts += [f"last check{stale}, `{n}`: {v}" for n, v in verdicts.items() if n.startswith(f"slot:{sym.name}.")]
    parts.append(f"*{sym.kind}*, {where(sym)}")
    return "\n\n".join(p for p in parts if p)


def header(project: Project, sym: Symbol) -> str:
    d = sym.node
    if sym.kind == "register":
        return f"register {d.name} at {d.address:#x} : {d.width}"
    return f"struct {d.name} size {d.size}"


def layouts_of(project: Project, path: str, name: str, model: Model | None):
    """The fields of a register or struct as (name, lo bit, width, attributes, type, symbol): the checker's layout
    when the model compiled, else read off the declaration."""
    closure = project.closure(path)
    syms = closure.fields.get(name, {})
    layout = model.layouts.get(name) if model else None
    out = []
    if layout is not None:
        for f in layout.fields:
            attrs = " ".join(filter(None, [f"requires {f.requires}" if f.requires else "",
                                           f"must_be {f.must_be}" if f.must_be is not None else ""]))
            out.append((f.name, f.lo, f.width, attrs, None, syms.get(f.name)))
        return layout.kind, out
    decl = closure.values.get(name)
    if decl is None or decl.kind not in ("register", "struct"):
        return None, []
    for f in decl.node.fields:
        if decl.kind == "register":
            lo, hi = min(f.lo, f.hi), max(f.lo, f.hi)
            attrs = " ".join(filter(None, [f"requires {f.requires}" if f.requires else "",
                                           f"must_be {f.must_be}" if f.must_be is not None else ""]))
            out.append((f.name, lo, hi - lo + 1, attrs, None, syms.get(f.name)))
        else:
            width = CTYPES.get(f.ctype, 8) * (f.count or 1)
            out.append((f.name, f.offset * 8, width, "", None, syms.get(f.name)))
    return decl.kind, out


def bits(lo: int, width: int) -> str:
    return str(lo) if width == 1 else f"{lo + width - 1}..{lo}"


def layout_table(project: Project, path: str, name: str, model: Model | None) -> str:
    kind, fields = layouts_of(project, path, name, model)
    if not fields:
        return ""
    texts = {}
    rows = []
    for fname, lo, width, attrs, _, sym in sorted(fields, key=lambda f: f[1]):
        cites = None
        if sym is not None:
            t = texts.setdefault(sym.path, project.text(sym.path))
            cites = trailing_comment(t, sym.span.line) if t else None
        where_ = bits(lo, width) if kind == "register" else f"{lo // 8}..{(lo + width) // 8 - 1} | {bits(lo, width)}"
        ctype = ""
        if kind == "struct" and sym is not None:
            f = sym.node
            ctype = f"{f.ctype}[{f.count}]" if f.count else f.ctype
        rows.append(f"| {where_} | `{fname}` | {cell(ctype or attrs)} | {cell(cites)} |")
    head = ("| bits | field | | source |\n|---|---|---|---|" if kind == "register" else
            "| bytes | bits | field | type | source |\n|---|---|---|---|---|")
    return head + "\n" + "\n".join(rows)


def field_hover(project: Project, path: str, sym: Symbol, model: Model | None) -> str:
    if sym.kind == "output":
        typ = project.text(sym.path).slice(sym.node.type.span) if sym.node.type is not None else "?"
        return f"output `{sym.name}: {typ}` of decision table `{sym.container}`"
    kind, fields = layouts_of(project, path, sym.container, model)
    row = next((f for f in fields if f[0] == sym.name), None)
    text = project.text(sym.path)
    out = []
    if row is not None:
        _, lo, width, attrs, _, _ = row
        place = f"bits {bits(lo, width)}" if width > 1 else f"bit {lo}"
        if kind == "struct":
            f = sym.node
            ctype = f"{f.ctype}[{f.count}]" if f.count else f.ctype
            place = f"bytes {lo // 8}..{(lo + width) // 8 - 1} ({ctype}, {place})"
        out.append(f"`{sym.name}`: {place} of {kind} `{sym.container}`" + (f", {attrs}" if attrs else ""))
    cites = trailing_comment(text, sym.span.line) if text else None
    if cites:
        out.append(f"// {cites}")
    return "\n\n".join(out)


def action_header(project: Project, sym: Symbol) -> str:
    a = sym.node
    text = project.text(sym.path)
    whole = text.slice(a.span)
    if a.body:
        first = a.body[0].span
        cut = text.offset(first.line, first.col) - text.offset(a.span.line, a.span.col)
        head = whole[:cut]
        head = head[:head.rfind("{")] if "{" in head else head
    else:
        head = whole[:whole.rfind("{")] if "{" in whole else whole
    return f"{sym.container}: " + " ".join(head.split())


def observe_hover(project: Project, path: str, sym: Symbol, model: Model | None) -> list[str]:
    """The declaration, the tracepoint (its format and fields, or that kvmverify does not know it), and the action
    it maps to, parameter by parameter: the value each takes from the event."""
    d = sym.node
    parts = [code(" ".join(source(project, sym).split()))]
    tp = TRACEPOINTS.get(d.event)
    lines = " and every line's " + ", ".join(f"`{f}`" for f in LINE_FIELDS)
    if tp is not None:
        fields = ", ".join(f"`{f}`" for f in tp.fields)
        parts.append(f"tracepoint `{d.event}`: `{tp.format}` ({tp.source}); fields {fields}{lines}")
    else:
        parts.append(f"`{d.event}` is not a tracepoint kvmverify knows (KV363): its fields are read from the line "
                     "as `name value` pairs")
    if d.when is not None:
        when = " ".join(project.text(sym.path).slice(d.when.span).split())
        parts.append(f"only when `{when}`; an event of which no declaration's condition holds is counted and ignored")
    closure = project.closure(path)
    action = closure.actions.get((d.actor, d.action))
    parts.append(f"maps to `{action_header(project, action) if action is not None else f'{d.actor}.{d.action}'}`")
    info = next((a for a in model.actions if a.actor == d.actor and a.decl.name == d.action), None) if model else None
    if info is not None:  # the checker's types
        types = {n: show_type(t) for n, t in info.params}
        named = {n: getattr(t, "name", None) or show_type(t) for n, t in info.params}
    elif action is not None:  # the model does not compile: the types as written
        at = project.text(action.path)
        types = named = {p.name: at.slice(p.type.span) for p in action.node.params if p.type is not None}
    else:
        types = named = {}
    given = {a.name: a for a in d.args}
    text = project.text(sym.path)
    rows = []
    for name in (n for n, _ in info.params) if info is not None else dict.fromkeys([*types, *given]):
        a = given.get(name)
        typ = types.get(name) or "?"
        if a is None:
            what = "no value (KV361)"
        elif isinstance(a.value, ast.Name) and a.value.id == "_":
            what = "`_`: any value the model allows"
        elif isinstance(a.value, ast.Call) and a.value.func == "id":
            what = (f"`{' '.join(text.slice(a.value.span).split())}`: an identifier in the log, bound to a "
                    f"`{named.get(name) or '?'}` value at its first appearance and free again after its last")
        else:
            what = f"`{' '.join(text.slice(a.value.span).split())}`"
        rows.append(f"| `{name}` | `{cell(typ)}` | {cell(what)} |")
    if rows:
        parts.append("| parameter | type | from the event |\n|---|---|---|\n" + "\n".join(rows))
    others = [s for f in closure.files for s in f.symbols
              if s.kind == "observe" and s.name == sym.name and s is not sym]
    if others:
        at = ", ".join(f"{where(s)} ({s.node.actor}.{s.node.action})" for s in others)
        parts.append(f"other declarations of `{d.event}` (alternatives): {at}")
    return parts


def local_hover(project: Project, path: str, sym: Symbol) -> str:
    node = sym.node
    text = project.text(sym.path)
    what = {ast.Param: "parameter", ast.Let: "let", ast.Choose: "choose", ast.For: "for", ast.Binder: "bound",
            ast.ObserveField: "event field"}
    kind = what.get(type(node), "local")
    typed = None
    if isinstance(node, ast.Param) and node.type is not None:
        typed = text.slice(node.type.span)
    elif isinstance(node, (ast.Choose, ast.For)):
        typed = text.slice(node.type.span)
    elif isinstance(node, ast.Binder):
        typed = node.type_name.id
    elif sym.register:
        typed = f"{sym.register} (the value written)"
    elif isinstance(node, ast.ObserveField):
        typed = "u64"  # read from the log line (check/observe.py's FIELD_TYPE)
    head = f"{kind} `{sym.name}`" + (f": `{typed}`" if typed else "")
    if isinstance(node, ast.Let):
        head += f" = `{' '.join(text.slice(node.value.span).split())}`"
        t = expr_type(project, path, node.value)
        if t:
            head += f", of type `{t}`"
    return f"{head} — in {sym.container}"


def use_hover(project: Project, target: str) -> str:
    text = project.text(target)
    shown = os.path.relpath(target)
    if text is None:
        return f"`{shown}`: cannot be read"
    fs = project.syntax(target)
    kinds: dict[str, int] = {}
    for s in fs.symbols:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    listed = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in kinds.items()
                       if k not in ("local", "field", "msr", "handler", "output", "rule"))
    head = [c for c in (ln.lstrip()[2:].strip() for ln in text.lines[:6] if ln.lstrip().startswith("//"))]
    return "\n\n".join(filter(None, [f"`{shown}`", "\n".join(f"// {c}" for c in head), f"declares {listed}"]))


# ---------------------------------------------------------------------------------------------- types


_TYPES: list = [None, {}]  # the model the table was built from, and the table: (file, span, node kind) -> type


def expr_types(model: Model) -> dict:
    if _TYPES[0] is not model:
        table = {}
        for e in model_exprs(model):
            for n in ast.walk(e):
                t = model.expr_types.get(id(n))
                if t is not None:
                    s = n.span
                    table[(os.path.abspath(s.file), s.line, s.col, s.end_line, s.end_col, type(n).__name__)] = t
        _TYPES[:] = [model, table]
    return _TYPES[1]


def model_exprs(model: Model):
    """Every expression the checker typed: the roots reachable from the model's declarations."""
    for v in model.vars.values():
        yield v.init
    for a in model.actions:
        if a.decl.guard is not None:
            yield a.decl.guard
        yield from stmt_exprs(a.decl.body)
    for h in model.handlers.values():
        yield from stmt_exprs(h.decl.body)
    for d in model.defs.values():
        yield d.decl.body
    for t in model.tables.values():
        for r in t.decl.rules:
            yield from ([r.when] if r.when is not None else [])
            yield from r.values
    for p in model.props:
        yield p.expr
    for lv in model.liveness:
        yield from (e for e in (lv.premise, lv.goal) if e is not None)
    for c in model.checks:
        yield c.body


def stmt_exprs(stmts):
    for s in stmts:
        match s:
            case ast.Assign(_, target, value):
                yield from (target, value)
            case ast.If(_, cond, then, else_):
                yield cond
                yield from stmt_exprs(then)
                yield from stmt_exprs(else_)
            case ast.Assert(_, _, cond, _):
                yield cond
            case ast.Let(_, _, value):
                yield value
            case ast.Choose(_, _, _, where_, body):
                yield from ([where_] if where_ is not None else [])
                yield from stmt_exprs(body)
            case ast.For(_, _, _, body):
                yield from stmt_exprs(body)
            case ast.Write(_, _, args):
                yield from args


def expr_type(project: Project, path: str, node) -> str | None:
    model = project.current_model(path)
    if model is None or node is None or not hasattr(node, "span"):
        return None
    s = node.span
    t = expr_types(model).get((os.path.abspath(s.file), s.line, s.col, s.end_line, s.end_col, type(node).__name__))
    return show_type(t) if t is not None else None


def type_here(project: Project, path: str, t: Target) -> str | None:
    """The type the checker gave the expression under the cursor, when it differs from what the hover says."""
    if t.occ is None or t.occ.role in ("decl", "use", "prop"):
        return None
    shown = expr_type(project, path, t.occ.node)
    if shown is None or (t.symbol is not None and t.symbol.kind in ("register", "struct", "type", "enum")):
        return None
    return shown if not isinstance(shown, BitsT) else str(shown)
