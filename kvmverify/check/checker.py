"""Name resolution and type checking of a loaded model: AST files -> `Model` plus diagnostics.

Every error of the phase is collected; the phase fails at its end if any was an error.
"""
from __future__ import annotations

from typing import assert_never

from ..diagnostics import NO_SPAN, Diagnostic, DiagnosticError, Span, did_you_mean
from ..lang import ast
from . import layout as layout_lint
from .exprs import ExprChecker, Local, Unresolved, const_eval, fits, is_finite
from .loader import Loaded
from .liveness import check_liveness
from .observe import check_observations
from .tables import check_property, check_table
from .model import ActionInfo, DefInfo, HandlerInfo, Model, PropInfo, SlotInfo, VarInfo
from .types import (BOOL, CTYPES, MAX_DOMAIN, MAX_SET_DOMAIN, BitsT, BoolT, EnumT, IntT, QueueT, SetT,
                    Type, describe_type, domain_size)
from . import code

MAX_ARRAY_ELEMENTS = 1 << 16


def parse_param_override(text: str) -> tuple[str, int] | None:
    """`NAME=VALUE` from the command line; VALUE is an integer or true/false."""
    if "=" not in text:
        return None
    name, _, value = text.partition("=")
    name, value = name.strip(), value.strip().lower()
    if value in ("true", "false"):
        return name, value == "true"  # a bool (an int too): an integer param refuses it (KV501)
    try:
        return name, int(value, 0)
    except ValueError:
        return None


class Checker(ExprChecker):
    def __init__(self, loaded: Loaded, overrides: dict[str, int]):
        self.loaded = loaded
        self.overrides = dict(overrides)
        diags: list[Diagnostic] = []
        model_decl = next((d for d in loaded.root.decls if isinstance(d, ast.ModelDecl)), None)
        model = Model(name=model_decl.name if model_decl else loaded.root.path.rsplit("/", 1)[-1].removesuffix(".kv"),
                      root_file=loaded.root.path, params={}, param_types={}, types={}, layouts={}, vars={},
                      slots=[], actors=[], actions=[], handlers={}, defs={}, props=[], expects=[], enum_members={})
        super().__init__(model, diags)
        self.declared: dict[str, Span] = {}
        self.prop_names: set[str] = set()  # a set, not a scan: a file may declare 100,000 invariants
        self.code = code.ACTION  # where statements are being checked (check/code.py)
        self.in_transition = False  # typing a `transition` property: old(...) is allowed

    # ------------------------------------------------------------------------------------------ driver
    def run(self) -> Model:
        decls = [d for f in self.loaded.files for d in f.decls]
        by_kind: dict[type, list] = {}
        for d in decls:
            by_kind.setdefault(type(d), []).append(d)
        k = lambda cls: by_kind.get(cls, [])  # noqa: E731
        self.file_overrides = {}
        for d in k(ast.OverrideDecl):
            if d.name in self.file_overrides:
                self.error("KV202", f"param {d.name} is overridden twice", d)
            self.file_overrides[d.name] = d
        for d in k(ast.ParamDecl):
            self.param(d)
        for name, d in self.file_overrides.items():
            if name not in self.m.params:
                self.error("KV502", f"`override {name}`: no used file declares a param '{name}'", d,
                           did_you_mean(name, self.m.params))
        for name in self.overrides:
            if name not in self.m.params:
                self.diags.append(Diagnostic("KV502", "error", f"--param {name}: the model has no parameter '{name}'",
                                             NO_SPAN, did_you_mean(name, self.m.params) or
                                             f"parameters: {', '.join(self.m.params) or 'none'}"))
        for d in [*k(ast.RegisterDecl), *k(ast.WordDecl)]:
            self.declare(d.name, d.span, "word" if isinstance(d, ast.WordDecl) else "register")
            before = len(self.diags)
            self.m.layouts[d.name] = lint = layout_lint.register_layout(d, self.diags)
            self.layout_findings(d.name, before)
            self.m.types[d.name] = BitsT(lint.width, lint)
            for f in d.fields:
                if f.requires is not None and not isinstance(self.m.param_types.get(f.requires), BoolT):
                    self.error("KV201", f"'{f.requires}' (required by field '{f.name}') is not a bool param", f,
                               did_you_mean(f.requires, self.m.params) or
                               f"declare the CPUID feature: `param {f.requires} = true`")
        for d in k(ast.StructDecl):
            self.declare(d.name, d.span, "struct")
            before = len(self.diags)
            self.m.layouts[d.name] = lint = layout_lint.struct_layout(d, self.diags)
            self.layout_findings(d.name, before)
            self.m.types[d.name] = BitsT(lint.width, lint)
        for d in k(ast.TypeDecl):
            self.type_decl(d)
        for d in k(ast.ActorDecl):
            self.declare(d.name, d.span, "actor")
            self.m.actors.append(d.name)
        for d in k(ast.ProcessDecl):  # a top-level process is an actor of its own
            if self.declare(d.name, d.span, "process"):
                self.m.actors.append(d.name)
        for d in k(ast.VarDecl):
            self.var(d)
        processes = [p for d in decls for p in
                     ((d,) if isinstance(d, ast.ProcessDecl) else d.processes if isinstance(d, ast.ActorDecl) else ())]
        code.declare_code(self, k(ast.ProcDecl), processes)
        for d in decls:  # in source order: a def or table may call the ones declared before it
            if isinstance(d, ast.DefDecl):
                self.def_(d)
            elif isinstance(d, ast.DecideDecl):
                check_table(self, d)
        for d in k(ast.ActorDecl):
            for h in d.handlers:
                self.handler_sig(d.name, h)
        for d in k(ast.ActorDecl):
            for a in d.actions:
                self.action(d.name, a)
            for h in d.handlers:
                if self.m.handlers.get(h.register) and self.m.handlers[h.register].decl is h:
                    self.code = code.CodeCtx("handler")
                    self.body(h.body, {n: Local(t, kind="param") for n, t in self.m.handlers[h.register].params},
                              d.name)
                    self.code = code.ACTION
        code.check_code_bodies(self)
        for d in k(ast.SlotDecl):
            self.slot(d)
        for d in [*k(ast.InvariantDecl), *k(ast.CoverDecl)]:
            self.prop(d)
        liveness_names: dict[str, Span] = {}
        for d in k(ast.LivenessDecl):
            check_liveness(self, d, liveness_names)
        taken = {p.name for p in self.m.props} | set(liveness_names)
        for d in k(ast.TransitionDecl):
            code.check_transition(self, d, taken)
        for d in k(ast.TerminalDecl):
            code.check_terminal(self, d)
        for d in k(ast.CheckDecl):
            check_property(self, d, taken)
        self.m.expects = list(k(ast.ExpectDecl))
        check_observations(self, k(ast.ObserveDecl))
        errors = [d for d in self.diags if d.is_error]
        self.m.warnings = [d for d in self.diags if not d.is_error]
        if errors:
            raise DiagnosticError(self.diags)
        return self.m

    def layout_findings(self, name: str, since: int) -> None:
        """The lint's warnings about one layout are also the verdict of its property `layout:NAME`."""
        found = [d for d in self.diags[since:] if not d.is_error]
        if found:
            self.m.layout_findings[name] = tuple(found)

    def declare(self, name: str, span: Span, kind: str) -> bool:
        if name in self.declared or name in ("bool", *CTYPES):
            prev = self.declared.get(name)
            where = f" (first declared at {prev})" if prev else " (a built-in type)"
            self.diags.append(Diagnostic("KV202", "error", f"{kind} '{name}' is declared again{where}", span))
            return False
        self.declared[name] = span
        return True

    def guard(self, fn, *args):
        try:
            return fn(*args)
        except Unresolved:
            return None

    # ------------------------------------------------------------------------------------------ declarations
    def param(self, d: ast.ParamDecl) -> None:
        if not self.declare(d.name, d.span, "param"):
            return
        try:
            value = const_eval(d.value, self.m.params)
        except (KeyError, ValueError) as why:
            self.error("KV306", f"param {d.name} must be a constant expression of earlier params"
                       + (f": {why}" if isinstance(why, ValueError) else ""), d.value)
            self.m.broken.add(d.name)
            return
        is_bool = isinstance(d.value, ast.BoolLit)
        if d.name in self.file_overrides:
            o = self.file_overrides[d.name]
            try:
                value = const_eval(o.value, self.m.params)
            except (KeyError, ValueError):
                self.error("KV306", f"override of {d.name} must be a constant expression", o.value)
            if is_bool != isinstance(o.value, ast.BoolLit):
                self.error("KV301", f"override of {d.name} must be {'true or false' if is_bool else 'a number'}",
                           o.value)
        self.m.param_defaults[d.name] = value
        if d.name in self.overrides:
            value = self.overrides[d.name]
            if is_bool and value not in (0, 1):
                self.diags.append(Diagnostic("KV501", "error", f"--param {d.name}: expected true or false", NO_SPAN))
            elif not is_bool and isinstance(value, bool):
                self.diags.append(Diagnostic("KV501", "error", f"--param {d.name}={str(value).lower()}: {d.name} is "
                                             "an integer param, not a bool", NO_SPAN,
                                             f"give a number, e.g. --param {d.name}={self.m.param_defaults[d.name]}"))
            value = int(value)
        self.m.params[d.name] = value
        self.m.param_types[d.name] = BOOL if is_bool else IntT(value, value)

    def const(self, e: ast.Expr, what: str) -> int:
        try:
            return const_eval(e, self.m.params)
        except KeyError as k:
            if k.args and k.args[0] in self.m.broken:  # a param whose own declaration failed
                raise Unresolved()
            raise self.error("KV306", f"{what} must be a constant expression of params", e)
        except ValueError as why:
            raise self.error("KV306", f"{what} is not a value: {why}", e)

    def type_expr(self, t: ast.TypeExpr, enum_ok: bool = False, queue_ok: bool = False) -> Type:
        match t:
            case ast.QueueType():
                if not queue_ok:
                    raise self.error("KV354", "a queue is a state variable's type", t,
                                     "declare var q : queue[N] of T = []")
                return code.queue_type(self, t)
            case ast.OptionType():
                return code.option_type(self, t)
            case ast.RangeType(_, lo, hi):
                lo_v, hi_v = self.const(lo, "a range bound"), self.const(hi, "a range bound")
                if hi_v < lo_v:
                    uses_names = any(isinstance(n, ast.Name) for n in (*ast.walk(lo), *ast.walk(hi)))
                    hint = ("a range lo .. hi needs lo <= hi: are the params it uses (or a --param value) too small?"
                            if uses_names else "a range lo .. hi needs lo <= hi")
                    raise self.error("KV306", f"empty range {lo_v}..{hi_v}", t, hint)
                return IntT(lo_v, hi_v)
            case ast.SetType(_, elem):
                et = self.type_expr(elem)
                if not is_finite(et) or domain_size(et) > MAX_SET_DOMAIN:
                    raise self.error("KV302", f"set of {et}: the element type must be finite with at most "
                                     f"{MAX_SET_DOMAIN} values", elem)
                return SetT(et)
            case ast.ExprType(_, ast.Name(_, name) as n):
                if name == "bool":
                    return BOOL
                if name in CTYPES:
                    return BitsT(CTYPES[name])
                if name in self.m.types:
                    return self.m.types[name]
                raise self.unknown(name, f"unknown type '{name}'", n,
                                 did_you_mean(name, [*self.m.types, "bool", *CTYPES]))
            case ast.ExprType(_, ast.SetLit(_, items)):
                names = [i.id for i in items if isinstance(i, ast.Name)]
                if len(names) != len(items) or not names:
                    raise self.error("KV301", "an enum lists names: {A, B, C}", t)
                if not enum_ok:
                    raise self.error("KV301", "enums are declared with `type`", t,
                                     f"type Name = {{{', '.join(names)}}} and use Name here")
                return EnumT("", tuple(names))
            case ast.ExprType():
                raise self.error("KV301", "expected a type: a name, a range lo..hi, {A, B} or `set of T`", t)
            case _:
                assert_never(t)

    def type_decl(self, d: ast.TypeDecl) -> None:
        if not self.declare(d.name, d.span, "type"):
            return
        t = self.guard(self.type_expr, d.type, True)
        if t is None:
            self.m.broken.add(d.name)
            return
        if isinstance(t, EnumT):
            t = EnumT(d.name, t.members)
            for i, mname in enumerate(t.members):
                if mname in self.m.enum_members or mname in self.declared:
                    self.error("KV202", f"enum member '{mname}' is declared again", d)
                    continue
                self.m.enum_members[mname] = (t, i)
        elif isinstance(t, IntT):
            t = IntT(t.lo, t.hi, d.name)
        if d.symmetric:
            if isinstance(t, (IntT, EnumT)):
                self.m.symmetric[d.name] = d.span
            else:
                self.error("KV314", f"only a range or an enum can be symmetric; {d.name} is {t}", d,
                           "declare `symmetric type Vcpu = 0 .. NVCPU - 1` for interchangeable values")
        self.m.types[d.name] = t

    def var(self, d: ast.VarDecl) -> None:
        if not self.declare(d.name, d.span, "var"):
            return
        try:
            indices = []
            for it in d.indices:
                t = self.type_expr(it)
                if isinstance(t, (BoolT, IntT, EnumT)) and domain_size(t) > MAX_ARRAY_ELEMENTS:
                    raise self.error("KV309", f"'{d.name}' is indexed by {t}, which has {domain_size(t)} values", it,
                                     f"an array has at most {MAX_ARRAY_ELEMENTS} elements; lower the params")
                if not is_finite(t):
                    raise self.error("KV302", f"arrays are indexed by finite types; {t} is not one", it)
                indices.append(t)
            n = 1
            for t in indices:
                n *= domain_size(t)
            if n > MAX_ARRAY_ELEMENTS:
                raise self.error("KV309", f"'{d.name}' would have {n} elements", d,
                                 f"at most {MAX_ARRAY_ELEMENTS}; lower the params")
            vt = self.type_expr(d.type, queue_ok=True)
            info = VarInfo(d.name, tuple(indices), vt, d.init, d.span)
            self.m.vars[d.name] = info
            it = self.expr(d.init, {}, vt)
            if isinstance(vt, QueueT):
                if not isinstance(d.init, ast.ListLit):
                    raise self.error("KV354", "a queue starts as a list of its elements", d.init,
                                     f"write var {d.name} : {vt} = [] (or [a, b], head first)")
            elif fits(it, vt) != "ok":
                raise self.error("KV301", f"initial value of type {describe_type(it)} does not fit {describe_type(vt)}",
                                 d.init)
            self.const_or_record(d.init)
        except Unresolved:
            self.m.broken.add(d.name)

    def const_or_record(self, e: ast.Expr) -> None:
        """Initial values and slot markers are fixed: constants, set literals of constants, or record literals."""
        match e:
            case ast.RecordLit(_, items):
                for i in items:
                    self.const_or_record(i.value)
            case ast.SetLit(_, items):
                for i in items:
                    self.const_or_record(i)
            case ast.Name(_, n) if n in self.m.enum_members or n == "none":
                pass
            case ast.ListLit(_, items) | ast.Call(_, "some", items):
                for i in items:
                    self.const_or_record(i)
            case _:
                self.const(e, "an initial value")

    def params_of(self, params: tuple[ast.Param, ...], default: Type | None = None) -> tuple[tuple[str, Type], ...]:
        out, seen = [], set()
        for p in params:
            if p.name in seen:
                self.error("KV202", f"parameter '{p.name}' is declared twice", p)
            seen.add(p.name)
            if p.type is None:
                if default is None:
                    raise self.error("KV301", f"parameter '{p.name}' needs a type", p, f"write {p.name}: T")
                out.append((p.name, default))
            else:
                out.append((p.name, self.type_expr(p.type)))
        return tuple(out)

    def def_(self, d: ast.DefDecl) -> None:
        if not self.declare(d.name, d.span, "def"):
            return
        try:
            params = self.params_of(d.params)
            result = self.expr(d.body, {n: Local(t, kind="param") for n, t in params})
            self.m.defs[d.name] = DefInfo(d, params, result)
        except Unresolved:
            self.m.broken.add(d.name)

    def handler_sig(self, actor: str, h: ast.HandlerDecl) -> None:
        layout = self.m.layouts.get(h.register)
        if layout is not None and layout.kind == "word":
            self.error("KV206", f"{h.register} is a word, not a register: it has no MSR to handle writes of", h,
                       "assign its fields directly (x.field := v), or declare it with `register NAME at MSR`")
            return
        if layout is None or layout.kind != "register":
            self.error("KV201", f"unknown register '{h.register}'", h,
                       did_you_mean(h.register, [n for n, l in self.m.layouts.items() if l.kind == "register"]))
            return
        if h.register in self.m.handlers:
            self.error("KV202", f"register {h.register} already has a write handler "
                       f"(at {self.m.handlers[h.register].decl.span})", h)
            return
        try:
            params = self.params_of(h.params, BitsT(layout.width, layout))
        except Unresolved:
            return
        if not params or params[-1][1] != BitsT(layout.width, layout):
            self.error("KV301", f"the last parameter of `on write {h.register}` is the written value", h,
                       "write it without a type: on write R(v: Vcpu, value) { ... }")
            return
        self.m.handlers[h.register] = HandlerInfo(actor, h, layout, params)

    def action(self, actor: str, a: ast.ActionDecl) -> None:
        try:
            params = self.params_of(a.params)
            for (n, t), p in zip(params, a.params):
                if not is_finite(t):
                    raise self.error("KV302", f"action parameter '{n}' has type {t}: parameters range over finite "
                                     f"types with at most {MAX_DOMAIN} values", p)
            scope = {n: Local(t, kind="param") for n, t in params}
            if a.guard is not None:
                self.guard(self.expect_bool, a.guard, scope)
            self.code = code.ACTION
            self.body(a.body, scope, actor)
            self.m.actions.append(ActionInfo(actor, a, params))  # type: ignore[arg-type]
        except Unresolved:
            pass

    # ------------------------------------------------------------------------------------------ statements
    def body(self, stmts: tuple[ast.Stmt, ...], scope: dict[str, Local], actor: str) -> None:
        scope = dict(scope)
        for s in stmts:
            if id(s) in self.code.points or isinstance(s, ast.Label):  # a step starts here: its `let`s end
                code.mark_stale(scope)
            try:
                self.stmt(s, scope, actor)
            except Unresolved:
                pass
            if isinstance(s, ast.If) and code.contains_point(ast.sub_blocks(s)[0] + ast.sub_blocks(s)[1], self.code,
                                                             self.m.procs):
                code.mark_stale(scope)

    def stmt(self, s: ast.Stmt, scope: dict[str, Local], actor: str) -> None:
        outer, self.in_statement = self.in_statement, not isinstance(s, ast.Choose)
        try:
            if isinstance(s, (ast.For, ast.Choose)):
                with code.nested(self, "for" if isinstance(s, ast.For) else "choose"):
                    self.statement(s, scope, actor)
            else:
                self.statement(s, scope, actor)
        finally:
            self.in_statement = outer

    def statement(self, s: ast.Stmt, scope: dict[str, Local], actor: str) -> None:
        match s:
            case ast.Assign(_, target, value):
                tt = self.lvalue(target, scope)
                if isinstance(tt, QueueT):
                    raise self.error("KV354", "a queue is changed with push(q, x), pop(q) and clear(q)", s)
                vt = self.expr(value, scope, tt)
                if fits(vt, tt) == "no":
                    raise self.error("KV301", f"cannot assign {describe_type(vt)} to {describe_type(tt)}", value)
            case ast.If(_, cond, then, else_):
                self.guard(self.expect_bool, cond, scope)
                self.body(then, scope, actor)
                self.body(else_, scope, actor)
            case ast.Assert(_, _, cond, _):
                self.expect_bool(cond, scope)
            case ast.Let(_, name, value):
                if name in scope or name in self.m.vars or name in self.m.params:
                    raise self.error("KV202", f"'{name}' is already defined here", s, "pick another name")
                scope[name] = Local(self.expr(value, scope))
            case ast.Choose(_, name, typ, where, body):
                t = self.type_expr(typ)
                if not is_finite(t):
                    raise self.error("KV302", f"choose ranges over a finite type; {t} is not one", typ)
                inner = {**scope, name: Local(t)}
                if where is not None:
                    self.guard(self.expect_bool, where, inner)
                self.body(body, inner, actor)
            case ast.For(_, name, typ, body):
                t = self.type_expr(typ)
                if not is_finite(t):
                    raise self.error("KV302", f"for ranges over a finite type; {t} is not one", typ)
                self.body(body, {**scope, name: Local(t)}, actor)
            case ast.Write(_, reg, args):
                h = self.m.handlers.get(reg)
                if h is None and reg in self.m.layouts and self.m.layouts[reg].kind == "word":
                    raise self.error("KV206", f"{reg} is a word, not a register: `write` is for MSRs", s,
                                     "assign the word or its fields directly, e.g. x.field := 1")
                if h is None:
                    known = reg in self.m.layouts
                    raise self.error("KV206" if known else "KV201",
                                     f"no `on write {reg}` handler is declared" if known else
                                     f"unknown register '{reg}'", s,
                                     f"declare one in an actor: on write {reg}(..., value) {{ ... }}" if known else
                                     did_you_mean(reg, self.m.layouts))
                self.call_args(f"write {reg}", args, h.params, s, scope)
            case ast.Skip():
                pass
            case ast.While() | ast.Await() | ast.Atomic() | ast.Label() | ast.CallStmt():
                code.code_statement(self, s, scope, actor)
            case _:
                assert_never(s)

    def lvalue(self, target: ast.Expr, scope: dict[str, Local]) -> Type:
        root = target
        while isinstance(root, (ast.Index, ast.Field)):
            root = root.base
        if not isinstance(root, ast.Name):
            raise self.error("KV304", "cannot assign to this expression", target)
        if root.id in scope or root.id not in self.m.vars:
            what = "a parameter or local" if root.id in scope else None
            if what:
                raise self.error("KV304", f"cannot assign to '{root.id}': it is {what}", target,
                                 "only state variables (`var`) are assigned")
        return self.expr(target, scope)

    # ------------------------------------------------------------------------------------------ slots, properties
    def slot(self, d: ast.SlotDecl) -> None:
        v = self.m.vars.get(d.var)
        if v is None:
            self.unknown(d.var, f"unknown variable '{d.var}'", d, did_you_mean(d.var, self.m.vars))
            return
        stars = [p for p in d.path if p == "*"]
        fields = [p for p in d.path if p != "*"]
        if len(stars) != len(v.indices) or d.path[:len(stars)] != tuple(stars):
            self.error("KV303", f"a slot of '{d.var}' names all {len(v.indices)} index(es) as [*], then fields", d,
                       f"write slot {d.var}{'[*]' * len(v.indices)}.field")
            return
        lo, width, t = 0, None, v.type
        for f in fields:
            layout = t.layout if isinstance(t, BitsT) else None
            fl = layout.field(f) if layout else None
            if fl is None:
                self.error("KV205", f"{t} has no field '{f}'", d,
                           did_you_mean(f, [x.name for x in layout.fields]) if layout else None)
                return
            lo, width, t = lo + fl.lo, fl.width, BitsT(fl.width)
        if width is None:
            if not isinstance(t, BitsT):
                self.error("KV301", f"a slot is a bit field of memory; {t} is not", d)
                return
            width = t.width
        for who, span in ((d.filler, d.filler_span), (d.emptier, d.emptier_span)):
            if who not in self.m.actors:
                self.diags.append(Diagnostic("KV201", "error", f"unknown actor '{who}'", span,
                                             did_you_mean(who, self.m.actors)))
                return
        try:
            empty = self.const(d.empty, "the empty marker")
        except Unresolved:
            return
        if not 0 <= empty < 1 << width:
            self.error("KV308", f"empty marker {empty} does not fit the {width}-bit slot", d.empty)
            return
        name = "slot:" + ".".join([d.var, *fields])
        if any(s.name == name for s in self.m.slots):
            self.error("KV202", f"{name} is declared twice", d)
            return
        path = d.var + "".join("[*]" for _ in stars) + "".join("." + f for f in fields)
        self.m.slots.append(SlotInfo(name, v, lo, width, empty, d.filler, d.emptier, d.span, path))

    def prop(self, d: ast.InvariantDecl | ast.CoverDecl) -> None:
        if d.name in self.prop_names:
            self.error("KV202", f"property '{d.name}' is declared twice", d)
            return
        self.prop_names.add(d.name)
        try:
            self.expect_bool(d.expr, {})
        except Unresolved:
            return
        kind = "invariant" if isinstance(d, ast.InvariantDecl) else "cover"
        self.m.props.append(PropInfo(d.name, kind, d.expr, d.span))


def check(loaded: Loaded, overrides: dict[str, int] | None = None) -> Model:
    return Checker(loaded, overrides or {}).run()
