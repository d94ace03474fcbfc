"""What a name means: the declarations a model sees (its file and every file it `use`s), and the resolution of an
occurrence (syntax.Occ) to the symbol it names: a local, a global declaration, a field of the register, struct or
decision table the expression before the `.` has, a property named by `expect`, the file a `use` path names."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..lang import ast
from .syntax import PROP_KINDS, VALUE_KINDS, FileSyntax, Occ, Symbol, type_name

MAX_ALIASES = 16  # `type A = B`, `type B = MSR`: how far a chain of type names is followed


def use_target(fs: FileSyntax, decl: ast.UseDecl) -> str:
    """The real path a `use` names: relative to the using file, as the loader resolves it."""
    return os.path.realpath(os.path.join(os.path.dirname(fs.path), decl.path))


@dataclass
class Closure:
    """A model's files, dependencies first and the root last, and the declarations they make."""

    files: list[FileSyntax]
    values: dict[str, Symbol] = field(default_factory=dict)
    props: dict[str, Symbol] = field(default_factory=dict)
    fields: dict[str, dict[str, Symbol]] = field(default_factory=dict)  # register/struct/table -> name -> field
    def_layouts: dict[str, str] = field(default_factory=dict)  # def -> the register/struct it returns (model)
    actions: dict[tuple[str, str], Symbol] = field(default_factory=dict)  # (actor, action) -> action
    action_params: dict[tuple[str, str], Symbol] = field(default_factory=dict)  # ("actor.action", param) -> local

    def __post_init__(self) -> None:
        for fs in self.files:
            for s in fs.symbols:
                if s.kind in VALUE_KINDS:
                    self.values.setdefault(s.name, s)
                elif s.kind in PROP_KINDS:
                    self.props.setdefault(s.name, s)
                elif s.kind in ("field", "output"):
                    self.fields.setdefault(s.container, {}).setdefault(s.name, s)
                elif s.kind == "action":
                    self.actions.setdefault((s.container, s.name), s)
                elif s.kind == "local" and isinstance(s.node, ast.Param):  # an action's: container "actor.action"
                    self.action_params.setdefault((s.container, s.name), s)

    # ---------------------------------------------------------------------------------------------- types
    def layout_of(self, e, scope: dict | None, depth: int = 0) -> str | None:
        """The register, struct or tupled decision table an expression's value has, as far as the syntax tells
        (and the model, for what defs return)."""
        if depth > MAX_ALIASES:
            return None
        scope = scope or {}
        match e:
            case str():
                return self.layout_named(e)
            case ast.Name(_, name):
                sym = scope.get(name) or self.values.get(name)
                return self.layout_of_symbol(sym, depth + 1) if sym else None
            case ast.Index(_, base, _):
                return self.layout_of(base, scope, depth + 1)
            case ast.Field(_, base, name) if isinstance(base, ast.Call):
                out = self.fields.get(self.layout_of(base, scope, depth + 1) or "", {}).get(name)
                return self.layout_of_symbol(out, depth + 1) if out else None
            case ast.Call(_, func, _):
                table = self.values.get(func)
                if table is not None and table.kind == "decide":
                    d = table.node
                    return d.name if d.tupled else self.layout_named(type_name(d.outputs[0].type), depth + 1)
                return self.def_layouts.get(func)
            case ast.Ternary(_, _, then, else_):
                return self.layout_of(then, scope, depth + 1) or self.layout_of(else_, scope, depth + 1)
        return None

    def layout_named(self, name: str | None, depth: int = 0) -> str | None:
        sym = self.values.get(name or "")
        return self.layout_of_symbol(sym, depth + 1) if sym and sym.kind in ("register", "struct", "type") else None

    def layout_of_symbol(self, sym: Symbol, depth: int = 0) -> str | None:
        if depth > MAX_ALIASES:
            return None
        node = sym.node
        match sym.kind:
            case "register" | "struct":
                return sym.name
            case "type" | "var":
                return self.layout_named(type_name(node.type), depth + 1)
            case "output":
                return self.layout_named(type_name(node.type), depth + 1)
            case "local":
                if sym.register:
                    return sym.register
                if isinstance(node, ast.Let):
                    return self.layout_of(node.value, sym.scope, depth + 1)
                typ = getattr(node, "type", None)
                return self.layout_named(type_name(typ), depth + 1) if typ is not None else None
        return None

    # ---------------------------------------------------------------------------------------------- occurrences
    def resolve(self, occ: Occ) -> Symbol | None:
        match occ.role:
            case "decl" | "local":
                return occ.target
            case "global":
                return self.values.get(occ.name)
            case "field" | "record":
                layout = self.layout_of(occ.base, occ.scope) if occ.base is not None else None
                return self.fields.get(layout or "", {}).get(occ.name)
            case "prop":
                return self.props.get(occ.name)
            case "action":
                return self.actions.get((occ.base, occ.name))
            case "argument":
                return self.action_params.get((occ.base, occ.name))
        return None


def closure_of(root: str, syntax_of) -> Closure:
    """The files `root` uses, depth first (the loader's order); `syntax_of(path)` gives a file's index or None
    (a file that cannot be read). `use` cycles are cut (the compiler reports them)."""
    order: list[FileSyntax] = []
    seen: set[str] = set()

    def visit(path: str) -> None:
        if path in seen:
            return
        seen.add(path)
        fs = syntax_of(path)
        if fs is None:
            return
        for decl, _ in fs.uses:
            visit(use_target(fs, decl))
        order.append(fs)

    visit(root)
    return Closure(order)


def occ_at(fs: FileSyntax, line: int, col: int) -> Occ | None:
    """The occurrence under (line, col) (or just before it, as at the end of a word being typed); the innermost."""
    best = None
    for o in fs.occs:
        s = o.span
        if (s.line, s.col) > (line, col):
            break
        if (line, col) <= (s.end_line, s.end_col):
            if best is None or (s.line, s.col) >= (best.span.line, best.span.col):
                best = o
    return best
