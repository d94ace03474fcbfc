"""One file's index: its declarations (symbols) and every name it mentions (occurrences), from its AST.

A file that does not parse is parsed declaration by declaration (the parser's own cut: each line that starts with
a declaration keyword), so that a half-typed file keeps the index of every declaration but the broken ones; those
are listed in `broken`, for the text-based fallbacks of completion and hover.

Names are resolved here as far as one file can tell: a name bound by a parameter, `let`, `choose`, `for` or a
quantifier is a local and points at its binder; every other name is "global" and is looked up later, among the
declarations of the model's files (resolve.py), as are fields (which need the type of what they select from).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from ..diagnostics import DiagnosticError, Span
from ..lang import ast
from ..lang.parser import chunks, parse
from .text import Text

# kinds of symbols whose names share the model's one namespace (checker.declare), and those of properties
VALUE_KINDS = ("param", "type", "enum", "register", "struct", "var", "actor", "def", "decide", "proc", "process")
PROP_KINDS = ("invariant", "cover", "property", "check", "assert", "slot", "msr", "transition")


@dataclass(eq=False)
class Symbol:
    name: str
    kind: str  # VALUE_KINDS, PROP_KINDS, model, field, output, action, handler, rule, local, observe (its event)
    path: str
    span: Span  # where the name is written
    extent: Span  # the whole declaration
    container: str = ""  # the register/struct of a field, the actor of an action, the table of a rule or output,
    #                      the declaration a local belongs to
    node: object = None  # the AST node declared (for hover): a Decl, RegField, StructField, Param, Let, ...
    register: str | None = None  # a write handler's value parameter: the register written
    scope: dict | None = field(default=None, repr=False)  # a `let`: the locals its value sees
    visible: Span | None = None  # a local: where its name can be used


@dataclass(eq=False)
class Occ:
    """A name written in a file. role: decl (a symbol's own name), local (target known), global (looked up by name
    among the model's declarations), field (of `base`'s register, struct or table), record (a `{name: ...}` item:
    a field of `base`, an expression or a layout name), prop (`expect`), use (a `use` path: `name` is the path),
    action (an observation's `actor.action`: `base` is the actor), argument (an observation's `param:`: `base` is
    `actor.action`)."""

    name: str
    span: Span
    role: str
    target: Symbol | None = None
    base: object = None
    scope: dict | None = field(default=None, repr=False)
    node: object = None  # the expression written here, if any (for its type)


@dataclass(eq=False)
class FileSyntax:
    path: str
    text: Text
    decls: tuple
    broken: tuple[tuple[int, int], ...]  # (first line, last line) of each declaration that does not parse
    symbols: list[Symbol]
    occs: list[Occ]
    uses: list[tuple[ast.UseDecl, Span]]  # each `use` and the span of its path string

    def in_broken(self, line: int) -> bool:
        return any(a <= line <= b for a, b in self.broken)


@functools.lru_cache(maxsize=64)  # about 0.4 MB each for apf_int
def file_syntax(path: str, text: str) -> FileSyntax:
    """The index of `text` as the file at `path` (spans carry `path`). Cached: an unchanged file is not parsed
    again (each edit of a document is a new text, so the cache also holds its recent versions)."""
    decls: list = []
    broken: list[tuple[int, int]] = []
    try:
        decls = list(parse(text, path).decls)
    except DiagnosticError:
        for chunk in chunks(text):
            try:
                decls.extend(parse(chunk, path).decls)
            except DiagnosticError:
                body = chunk.lstrip("\n")
                first = len(chunk) - len(body) + 1
                broken.append((first, first + body.count("\n")))
    fs = FileSyntax(path, Text(text), tuple(decls), tuple(broken), [], [], [])
    _Indexer(fs).run()
    fs.occs.sort(key=lambda o: (o.span.line, o.span.col))
    return fs


def type_name(t) -> str | None:
    """`T` for a type written as a plain name (a register, struct or declared type), else None."""
    if isinstance(t, ast.ExprType) and isinstance(t.expr, ast.Name):
        return t.expr.id
    return None


def slot_name(d: ast.SlotDecl) -> str:
    return "slot:" + ".".join([d.var, *(p for p in d.path if p != "*")])


class _Indexer:
    def __init__(self, fs: FileSyntax):
        self.fs = fs
        self.path = fs.path

    # ---------------------------------------------------------------------------------------------- helpers
    def find(self, within: Span, name: str, after: Span | None = None) -> Span:
        """The span of the first `name` written inside `within` (after `after`), as a whole word; `within`'s start
        if it is not there (a name the parser put together, which the text does not hold as such)."""
        text = self.fs.text
        start = text.offset(*(after and (after.end_line, after.end_col) or (within.line, within.col)))
        end = text.offset(within.end_line, within.end_col)
        m = re.compile(r"(?<![A-Za-z0-9_])" + re.escape(name) + r"(?![A-Za-z0-9_])").search(text.text, start, end)
        if m is None:
            return Span(self.path, within.line, within.col, within.line, within.col)
        (line, col), (end_line, end_col) = text.point(m.start()), text.point(m.end())
        return Span(self.path, line, col, end_line, end_col)

    def at_start(self, span: Span, name: str) -> Span:
        return Span(self.path, span.line, span.col, span.line, span.col + len(name))

    def declare(self, name: str, kind: str, extent: Span, span: Span | None = None, container: str = "",
                node: object = None, **kw) -> Symbol:
        sym = Symbol(name, kind, self.path, span or self.find(extent, name), extent, container, node, **kw)
        self.fs.symbols.append(sym)
        self.fs.occs.append(Occ(name, sym.span, "decl", sym, node=node))
        return sym

    def ref(self, name: str, span: Span, scope: dict, node=None) -> None:
        local = scope.get(name)
        self.fs.occs.append(Occ(name, span, "local" if local else "global", local, node=node))

    def local(self, name: str, extent: Span, into: dict, owner: str, node, visible: Span, span: Span | None = None,
              **kw) -> Symbol:
        sym = self.declare(name, "local", extent, span, owner, node, visible=visible, **kw)
        into[name] = sym
        return sym

    def params(self, params, scope: dict, owner: str, visible: Span, register: str | None = None) -> None:
        for i, p in enumerate(params):
            if p.type is not None:
                self.type_expr(p.type, scope)
            value_of = register if register and p.type is None and i == len(params) - 1 else None
            self.local(p.name, p.span, scope, owner, p, visible, self.at_start(p.span, p.name), register=value_of)

    # ---------------------------------------------------------------------------------------------- declarations
    def run(self) -> None:
        for d in self.fs.decls:
            self.decl(d)

    def decl(self, d) -> None:
        match d:
            case ast.ModelDecl():
                self.declare(d.name, "model", d.span, node=d)
            case ast.UseDecl():
                span = self.find(d.span, f'"{d.path}"')
                self.fs.uses.append((d, span))
                self.fs.occs.append(Occ(d.path, span, "use", node=d))
            case ast.ParamDecl():
                self.declare(d.name, "param", d.span, node=d)
                self.expr(d.value, {})
            case ast.OverrideDecl():
                self.ref(d.name, self.find(d.span, d.name), {})
                self.expr(d.value, {})
            case ast.TypeDecl():
                sym = self.declare(d.name, "type", d.span, node=d)
                if isinstance(d.type, ast.ExprType) and isinstance(d.type.expr, ast.SetLit):
                    for item in d.type.expr.items:
                        if isinstance(item, ast.Name):
                            self.declare(item.id, "enum", item.span, item.span, sym.name, d)
                else:
                    self.type_expr(d.type, {})
            case ast.RegisterDecl():
                sym = self.declare(d.name, "register", d.span, node=d)
                for f in d.fields:
                    fsym = self.declare(f.name, "field", f.span, self.at_start(f.span, f.name), sym.name, f)
                    if f.requires:
                        self.ref(f.requires, self.find(f.span, f.requires, after=fsym.span), {})
                if any(f.requires or f.must_be is not None for f in d.fields):
                    self.fs.symbols.append(Symbol(f"msr:{d.name}", "msr", self.path, sym.span, d.span, "", d))
            case ast.StructDecl():
                sym = self.declare(d.name, "struct", d.span, node=d)
                for f in d.fields:
                    self.declare(f.name, "field", f.span, self.at_start(f.span, f.name), sym.name, f)
            case ast.VarDecl():
                self.declare(d.name, "var", d.span, node=d)
                for t in (*d.indices, d.type):
                    self.type_expr(t, {})
                self.expr(d.init, {}, expected=d.type.expr if isinstance(d.type, ast.ExprType) else None)
            case ast.SlotDecl():
                var = self.find(d.span, d.var)
                self.ref(d.var, var, {})
                prev, base = var, ast.Name(var, d.var)
                for step in d.path:
                    if step != "*":
                        prev = self.find(d.span, step, after=prev)
                        self.fs.occs.append(Occ(step, prev, "field", base=base, scope={}))
                        base = ast.Field(Span(self.path, var.line, var.col, prev.end_line, prev.end_col), base, step)
                    else:
                        base = ast.Index(base.span, base, ast.IntLit(base.span, 0))
                self.fs.symbols.append(Symbol(slot_name(d), "slot", self.path, var, d.span, "", d))
                self.ref(d.filler, d.filler_span, {})
                self.ref(d.emptier, d.emptier_span, {})
            case ast.ActorDecl():
                actor = self.declare(d.name, "actor", d.span, node=d)
                for a in d.actions:
                    self.declare(a.name, "action", a.span, container=actor.name, node=a)
                    scope: dict = {}
                    owner = f"{actor.name}.{a.name}"
                    self.params(a.params, scope, owner, a.span)
                    if a.guard is not None:
                        self.expr(a.guard, scope)
                    self.body(a.body, scope, owner, a.span)
                for h in d.handlers:
                    reg = self.find(h.span, h.register)
                    self.ref(h.register, reg, {})
                    self.fs.symbols.append(Symbol(f"on write {h.register}", "handler", self.path, reg, h.span,
                                                  actor.name, h))
                    scope = {}
                    owner = f"{actor.name}: on write {h.register}"
                    self.params(h.params, scope, owner, h.span, register=h.register)
                    self.body(h.body, scope, owner, h.span)
                for p in d.processes:
                    self.code_decl(p, actor.name)
            case ast.DefDecl():
                self.declare(d.name, "def", d.span, node=d)
                scope = {}
                self.params(d.params, scope, f"def {d.name}", d.span)
                self.expr(d.body, scope)
            case ast.DecideDecl():
                self.declare(d.name, "decide", d.span, node=d)
                scope = {}
                self.params(d.params, scope, f"decide {d.name}", d.span)
                for o in d.outputs:
                    if o.type is not None:
                        self.type_expr(o.type, {})
                    if d.tupled:
                        self.declare(o.name, "output", o.span, self.at_start(o.span, o.name), d.name, o)
                for r in d.rules:
                    self.declare(r.name, "rule", r.span, container=d.name, node=r)
                    if r.when is not None:
                        self.expr(r.when, scope)
                    for v in r.values:
                        self.expr(v, scope)
            case ast.CheckDecl() | ast.InvariantDecl() | ast.CoverDecl() | ast.LivenessDecl():
                kind = {ast.CheckDecl: "check", ast.InvariantDecl: "invariant", ast.CoverDecl: "cover",
                        ast.LivenessDecl: "property"}[type(d)]
                self.declare(d.name, kind, d.span, node=d)
                self.expr(d.expr, {})
            case ast.ExpectDecl():
                self.fs.occs.append(Occ(d.prop, self.find(d.span, d.prop, after=self.find(d.span, d.verdict)),
                                        "prop", node=d))
            case ast.ProcessDecl() | ast.ProcDecl():
                self.code_decl(d, None)
            case ast.TransitionDecl():
                self.declare(d.name, "transition", d.span, node=d)
                self.expr(d.expr, {})
            case ast.TerminalDecl():
                self.expr(d.expr, {})
            case ast.ObserveDecl():
                self.observe(d)

    def observe(self, d: ast.ObserveDecl) -> None:
        """`observe EVENT(fields) when COND => actor.action(param: arg)`: the event names the declaration (several
        may observe one event); its fields are locals of the condition and the arguments; `actor.action` and each
        `param:` name the action and its parameters."""
        self.declare(d.event, "observe", d.span, node=d)
        scope: dict = {}
        owner = f"observe {d.event}"
        for f in d.fields:
            self.local(f.name, f.span, scope, owner, f, d.span, self.at_start(f.span, f.name))
        if d.when is not None:
            self.expr(d.when, scope)
        t = d.target_span
        self.ref(d.actor, self.at_start(t, d.actor), {})
        action = Span(self.path, t.end_line, t.end_col - len(d.action), t.end_line, t.end_col)
        self.fs.occs.append(Occ(d.action, action, "action", base=d.actor, node=d))
        for a in d.args:
            self.fs.occs.append(Occ(a.name, self.at_start(a.span, a.name), "argument", base=f"{d.actor}.{d.action}",
                                    node=a))
            self.expr(a.value, scope)

    def code_decl(self, d, container: str | None) -> None:
        """A process (top-level, or inside an actor) or a procedure: its symbol, parameters, labels and body."""
        kind = "process" if isinstance(d, ast.ProcessDecl) else "proc"
        sym = self.declare(d.name, kind, d.span, container=container, node=d)
        scope: dict = {}
        owner = f"{kind} {d.name}"
        self.params(d.params, scope, owner, d.span)
        self.body(d.body, scope, owner, d.span)
        del sym

    # ---------------------------------------------------------------------------------------------- statements
    def body(self, stmts, scope: dict, owner: str, block: Span) -> None:
        """`block`: the statement (or declaration) whose block this is; a `let` is visible to its end."""
        scope = dict(scope)
        for s in stmts:
            self.stmt(s, scope, owner, block)

    def stmt(self, s, scope: dict, owner: str, block: Span) -> None:
        match s:
            case ast.Assign(_, target, value):
                self.expr(target, scope)
                self.expr(value, scope, expected=target)
            case ast.If(_, cond, then, else_):
                self.expr(cond, scope)
                self.body(then, scope, owner, s.span)
                self.body(else_, scope, owner, s.span)
            case ast.Assert(_, name, cond, _):
                if name:
                    self.declare(name, "assert", s.span, container=owner, node=s)
                self.expr(cond, scope)
            case ast.Let(_, name, value):
                self.expr(value, scope)
                visible = Span(self.path, s.span.line, s.span.col, block.end_line, block.end_col)
                self.local(name, s.span, scope, owner, s, visible,
                           self.find(s.span, name, after=self.at_start(s.span, "let")), scope=dict(scope))
            case ast.Choose() | ast.For():
                self.type_expr(s.type, scope)
                inner = dict(scope)
                keyword = "choose" if isinstance(s, ast.Choose) else "for"
                self.local(s.name, s.span, inner, owner, s, s.span,
                           self.find(s.span, s.name, after=self.at_start(s.span, keyword)))
                if isinstance(s, ast.Choose) and s.where is not None:
                    self.expr(s.where, inner)
                self.body(s.body, inner, owner, s.span)
            case ast.Write(_, register, args):
                self.ref(register, self.find(s.span, register, after=self.at_start(s.span, "write")), {})
                for i, a in enumerate(args):
                    self.expr(a, scope, expected=register if i == len(args) - 1 else None)
            case ast.Skip():
                pass
            case ast.Label(_, name):
                self.declare(name, "label", s.span, container=owner, node=s)
            case ast.While(_, cond, body):
                self.expr(cond, scope)
                self.body(body, scope, owner, s.span)
            case ast.Await(_, cond):
                self.expr(cond, scope)
            case ast.Atomic(_, body):
                self.body(body, scope, owner, s.span)
            case ast.CallStmt(span, func, args):
                self.ref(func, self.at_start(span, func), {}, s)
                for a in args:
                    self.expr(a, scope)

    # ---------------------------------------------------------------------------------------------- expressions
    def type_expr(self, t, scope: dict) -> None:
        match t:
            case ast.ExprType(_, e):
                self.expr(e, scope)
            case ast.RangeType(_, lo, hi):
                self.expr(lo, scope)
                self.expr(hi, scope)
            case ast.SetType(_, elem) | ast.OptionType(_, elem):
                self.type_expr(elem, scope)
            case ast.QueueType(_, size, elem):
                self.expr(size, scope)
                self.type_expr(elem, scope)

    def expr(self, e, scope: dict, expected=None) -> None:
        match e:
            case ast.Name(span, name):
                self.ref(name, span, scope, e)
            case ast.Field(span, base, name):
                self.expr(base, scope)
                start = Span(self.path, span.end_line, span.end_col - len(name), span.end_line, span.end_col)
                self.fs.occs.append(Occ(name, start, "field", base=base, scope=dict(scope), node=e))
            case ast.Call(span, func, args):
                self.ref(func, self.at_start(span, func), {}, e)  # defs and tables: never a local
                for a in args:
                    self.expr(a, scope)
            case ast.RecordLit(_, items):
                for item in items:
                    self.fs.occs.append(Occ(item.name, self.at_start(item.span, item.name), "record", base=expected,
                                            scope=dict(scope)))
                    self.expr(item.value, scope)
            case ast.Quant(span, _, binders, body):
                inner = dict(scope)
                for b in binders:
                    self.ref(b.type_name.id, b.type_name.span, scope, b.type_name)
                    self.local(b.name, b.span, inner, "quantifier", b, span, self.at_start(b.span, b.name))
                self.expr(body, inner)
            case ast.Binary(_, op, left, right) if op in ("==", "!="):
                self.expr(left, scope, expected=right if isinstance(left, ast.RecordLit) else None)
                self.expr(right, scope, expected=left if isinstance(right, ast.RecordLit) else None)
            case _:
                for c in ast.children(e):
                    self.expr(c, scope)
