"""Checked model -> transition system.

Actions are grounded over their parameters, quantifiers expanded, handlers inlined at each `write`, arrays
flattened, and the derived step properties (slot ownership, MSR validity, type bounds) placed as `Check`s at the
statements that can break them. `choose` is lowered in continuation-passing style: the rest of the body moves
inside it, so every nondeterministic branch is a complete path.
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import assert_never

from ..check.exprs import const_eval, fits
from ..check.model import ActionInfo, CheckInfo, LivenessInfo, Model, SlotInfo
from ..check.types import (BitsT, BoolT, EmptySetT, EnumT, IntT, Layout, OptionT, QueueT, SetT, Type, describe_type,
                           domain, domain_lo, domain_size, show_value, value_range)
from ..check.code import EXPR_BUILTINS, QUEUE_STMTS
from ..diagnostics import Diagnostic, DiagnosticError, Span
from ..lang import ast
from . import nodes as ir
from .simplify import FALSE, TRUE, const_value, conj, disj, mk, negate, shift_definedness, vars_read
from .symmetry import symmetries
from .lower_code import END, CodeLowering, in_type
from .sanity import sanity_properties

MAX_HANDLER_DEPTH = 8
MAX_INSTANCES = 200_000
MAX_ASSERT_DETAIL = 8  # a failed assert shows the values of at most this many of the variables it read


def _contains_choose(stmts, model: Model, depth: int = 0, points: bool = False) -> bool:
    """Does the code need the rest of its body inside it (continuation-passing): a `choose` or an `await` (a
    path may end there), or in process code (`points`) a label or loop (the step may end there)?"""
    for s in stmts:
        match s:
            case ast.Choose() | ast.Await():
                return True
            case ast.Label() | ast.While() if points:
                return True
            case ast.Write(_, reg, _):
                h = model.handlers.get(reg)
                if h and depth < MAX_HANDLER_DEPTH and _contains_choose(h.decl.body, model, depth + 1, points):
                    return True
            case ast.CallStmt(_, func) if func in model.procs:
                if depth < MAX_HANDLER_DEPTH and _contains_choose(model.procs[func].decl.body, model, depth + 1,
                                                                  points):
                    return True
        if any(_contains_choose(b, model, depth, points) for b in ast.sub_blocks(s)):
            return True
    return False


class Lowering(CodeLowering):
    def __init__(self, model: Model):
        self.m = model
        self.vars: list[ir.StateVar] = []
        self.base: dict[str, int] = {}
        self.strides: dict[str, tuple[int, ...]] = {}
        self.props: list[ir.Property] = []
        self.prop_by_name: dict[str, ir.Property] = {}
        self.assert_keys: dict[int, str] = {}  # id(assert statement) -> its property's name
        self.assert_first: dict[str, tuple[Span, str]] = {}  # name -> first site and its message
        self.assert_props: dict[str, int] = {}  # name -> property id
        self.msr_props: dict[str, int] = {}
        self.slot_props: dict[str, int] = {}
        self.type_ok: int | None = None
        self.shift_ok: int | None = None
        self.risky_amounts: set[ir.Expr] = set()  # shift amounts whose types admit negative values
        self.fresh = itertools.count()
        self.diags: list[Diagnostic] = []
        self.tables: dict[str, ir.Table] = {}
        self.recorded_calls: list[ir.TableCall] | None = None  # while lowering a `check`: the table calls in it
        self.dims: dict[str, tuple] = {}  # array (or derived array: q#len, p#pc) -> its index types
        self.queue_props: dict[str, int] = {}
        self.old_vars: set[int] = set()  # variables a `transition` reads with old(...)

    # ------------------------------------------------------------------------------------------ layout of state
    def flatten(self) -> None:
        for v in self.m.vars.values():
            self.flatten_var(v)
        self.flatten_processes()

    def slot_of(self, var: str, idx: tuple[int, ...]) -> int:
        off = sum((i - domain_lo(t)) * s for i, t, s in zip(idx, self.dims[var], self.strides[var]))
        return self.base[var] + off

    def new_prop(self, name: str, kind: str, expr, span: Span, description: str) -> int:
        clash = self.prop_by_name.get(name)
        if clash is not None:
            self.diags.append(Diagnostic("KV202", "error", f"property '{name}' is declared again (first at "
                                         f"{clash.span})", span, "give each property its own name"))
        pid = len(self.props)
        self.props.append(ir.Property(pid, name, kind, expr, span, description))
        self.prop_by_name.setdefault(name, self.props[-1])
        return pid

    def type_ok_prop(self) -> int:
        if self.type_ok is None:
            self.type_ok = self.new_prop("type_ok", "type_ok", None, Span(self.m.root_file, 1, 1, 1, 1),
                                         "every assigned value lies in its variable's declared type")
        return self.type_ok

    def shift_checks(self, exprs: list[ir.Expr], span: Span) -> list[ir.Stmt]:
        """The derived step property `shift_ok` before a statement that may shift by a negative amount (the
        checker admits such amounts in statements only): the step stops there, as `type_ok` stops it."""
        if not self.risky_amounts:
            return []
        cond = conj([shift_definedness(e, self.risky_amounts) for e in exprs])
        if const_value(cond) == 1:
            return []
        if self.shift_ok is None:
            self.shift_ok = self.new_prop("shift_ok", "shift_ok", None, Span(self.m.root_file, 1, 1, 1, 1),
                                          "no statement shifts by a negative amount")
        amounts = list(dict.fromkeys(n for e in exprs for n in _shift_amounts(e) if n in self.risky_amounts))
        detail = tuple((f"amount {k + 1}" if len(amounts) > 1 else "amount", n) for k, n in enumerate(amounts[:4]))
        return [ir.Check(self.shift_ok, cond, True, span, "a shift by a negative amount (undefined, as in C)",
                         detail)]

    # ------------------------------------------------------------------------------------------ expressions
    def expr(self, e: ast.Expr, env: dict[str, ir.Expr]) -> ir.Expr:
        t = self.m.type_of(e)
        match e:
            case ast.IntLit(_, v):
                return ir.Const(v)
            case ast.BoolLit(_, v):
                return TRUE if v else FALSE
            case ast.Name(_, n):
                if n in env:
                    return env[n]
                if n in self.m.params:
                    return ir.Const(self.m.params[n])
                if n in self.m.enum_members:
                    return ir.Const(self.m.enum_members[n][1])
                if n not in self.m.vars:
                    return self.code_name(n)
                return ir.Var(self.base[n])
            case ast.Index():
                return self.index_read(e, env)
            case ast.Field(_, ast.Call(_, func, args), name) if func in self.m.tables:
                t = self.m.tables[func]
                return self.table_call(func, [self.expr(a, env) for a in args],
                                       [n for n, _ in t.outputs].index(name))
            case ast.Field(_, base, name):
                bt = self.m.type_of(base)
                f = bt.layout.field(name)
                return mk_extract(self.expr(base, env), f.lo, f.width)
            case ast.Call(_, func, args):
                if func == "card":
                    return mk("popcount", self.expr(args[0], env))
                if func in self.m.tables:
                    return self.table_call(func, [self.expr(a, env) for a in args], 0)
                if func not in self.m.defs and func in EXPR_BUILTINS:
                    return self.code_call(e, env)
                d = self.m.defs[func]
                inner = {n: self.expr(a, env) for (n, _), a in zip(d.params, args)}
                return self.expr(d.decl.body, inner)
            case ast.Unary(_, op, x):
                a = self.expr(x, env)
                if op == "!":
                    return negate(a)
                width = t.width if isinstance(t, BitsT) else None
                return mk("neg" if op == "-" else "bnot", a, width=width)
            case ast.Binary():
                return self.binary(e, t, env)
            case ast.Ternary(_, c, a, b):
                return mk("ite", self.expr(c, env), self.expr(a, env), self.expr(b, env))
            case ast.SetLit(_, items):
                elem = t.elem if isinstance(t, SetT) else None
                out: ir.Expr = ir.Const(0)
                for item in items:
                    out = mk("bor", out, self.bit_of(elem, self.expr(item, env)))
                return out
            case ast.RecordLit(_, items):
                layout = t.layout
                out = ir.Const(0)
                for item in items:
                    f = layout.field(item.name)
                    out = mk_insert(out, f.lo, f.width, self.expr(item.value, env))
                return out
            case ast.Quant(_, kind, binders, body):
                parts = []
                types = [self.m.types.get(b.type_name.id) or BoolT() for b in binders]
                for values in itertools.product(*(domain(bt) for bt in types)):
                    inner = dict(env)
                    inner.update({b.name: ir.Const(v) for b, v in zip(binders, values)})
                    parts.append(self.expr(body, inner))
                return conj(parts) if kind == "forall" else disj(parts)
            case _:
                assert_never(e)

    # ------------------------------------------------------------------------------------------ decision tables
    def table(self, name: str) -> ir.Table:
        """The table over its own inputs, lowered once."""
        if name not in self.tables:
            t = self.m.tables[name]
            env = {n: ir.Local(n) for n, _ in t.params}
            rules = tuple(ir.TableRule(r.name, self.expr(r.when, env) if r.when is not None else TRUE,
                                       tuple(self.expr(v, env) for v in r.values), r.span) for r in t.decl.rules)
            self.tables[name] = ir.Table(name, t.params, t.outputs, rules, t.decl.span)
        return self.tables[name]

    def table_call(self, name: str, args: list[ir.Expr], output: int) -> ir.Expr:
        """First match as an if-then-else chain. The last rule's value stands for 'no rule matched': a table
        whose rules leave an input unmatched is refused (KV340) before any engine runs."""
        if self.recorded_calls is not None:
            self.recorded_calls.append(ir.TableCall(name, tuple(args)))
        t = self.m.tables[name]
        env = {n: a for (n, _), a in zip(t.params, args)}
        rules = t.decl.rules
        out = self.expr(rules[-1].values[output], env)
        for r in reversed(rules[:-1]):
            value = self.expr(r.values[output], env)
            out = value if r.when is None else mk("ite", self.expr(r.when, env), value, out)
        return out

    def input_check(self, c: CheckInfo, pid: int) -> ir.InputCheck:
        self.recorded_calls = []
        expr = self.expr(c.body, {n: ir.Local(n) for n, _ in c.inputs})
        calls = tuple(dict.fromkeys(self.recorded_calls))
        self.recorded_calls = None
        if vars_read(expr):
            self.diags.append(Diagnostic("KV342", "error", f"check {c.name} reads a state variable (through a def)",
                                         c.span, "a `check` is over its inputs only; bind the value with `forall`, "
                                         "or state it as an `invariant` over reachable states"))
        names = ", ".join(n for n, _ in c.inputs)
        prop = ir.Property(pid, c.name, "check", expr, c.span,
                           f"for every value of {names}" if names else "a closed formula")
        return ir.InputCheck(prop, c.inputs, expr, calls)

    def bit_of(self, elem: Type | None, x: ir.Expr) -> ir.Expr:
        lo = domain_lo(elem) if elem is not None else 0
        return mk("shl", ir.Const(1), mk("sub", x, ir.Const(lo)))

    def binary(self, e: ast.Binary, t: Type, env) -> ir.Expr:
        op = e.op
        a, b = self.expr(e.left, env), self.expr(e.right, env)
        lt, rt = self.m.type_of(e.left), self.m.type_of(e.right)
        if op == "in" and isinstance(rt, QueueT):
            return self.queue_member(a, e.right, env)
        if op == "in":
            elem = rt.elem if isinstance(rt, SetT) else None
            if isinstance(rt, EmptySetT):
                return FALSE
            member = mk("band", mk("shr", b, mk("sub", a, ir.Const(domain_lo(elem)))), ir.Const(1))
            in_domain = conj([mk("ge", a, ir.Const(domain_lo(elem))),
                              mk("lt", a, ir.Const(domain_lo(elem) + domain_size(elem)))])
            return conj([in_domain, mk("ne", member, ir.Const(0))]) if fits(lt, elem) != "ok" else \
                mk("ne", member, ir.Const(0))
        simple = {"&&": "and", "||": "or", "->": "implies", "==": "eq", "!=": "ne", "<": "lt", "<=": "le",
                  ">": "gt", ">=": "ge"}
        if op in simple:
            return mk(simple[op], a, b)
        if isinstance(t, (SetT, EmptySetT)):
            n = domain_size(t.elem) if isinstance(t, SetT) else 0
            full = ir.Const((1 << n) - 1)
            match op:
                case "+" | "|":
                    return mk("bor", a, b)
                case "&":
                    return mk("band", a, b)
                case "-":
                    return mk("band", a, mk("bxor", b, full))
        width = t.width if isinstance(t, BitsT) else None
        if op in ("<<", ">>") and value_range(rt)[0] < 0 and const_value(b) is None:
            self.risky_amounts.add(b)
        arith = {"+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod", "<<": "shl", ">>": "shr",
                 "&": "band", "|": "bor", "^": "bxor"}
        return mk(arith[op], a, b, width=width)

    def index_chain(self, e: ast.Expr) -> tuple[str, list[ast.Expr]]:
        chain = []
        while isinstance(e, ast.Index):
            chain.append(e.index)
            e = e.base
        return e.id, chain[::-1]

    def element(self, var: str, idx_exprs: list[ir.Expr]) -> ir.Expr:
        """The element of array `var` at the given (possibly dynamic) indices. A select ranges over the elements
        the dynamic indices can pick, with the constant ones fixed: `a[v][k[v]]` for a grounded `v` reads row v
        only, so the step stays within v's part and maps onto itself under a permutation of v's type."""
        dims = self.dims[var]
        consts = [const_value(i) for i in idx_exprs]
        if all(c is not None for c in consts):
            return ir.Var(self.slot_of(var, tuple(consts)))
        choices = [domain(t) if c is None else (c,) for t, c in zip(dims, consts)]
        linear: ir.Expr = ir.Const(0)
        stride = 1
        for i, t, c in reversed(list(zip(idx_exprs, dims, consts))):
            if c is None:
                linear = mk("add", linear, mk("mul", mk("sub", i, ir.Const(domain_lo(t))), ir.Const(stride)))
                stride *= domain_size(t)
        options = tuple(ir.Var(self.slot_of(var, combo)) for combo in itertools.product(*choices))
        return ir.Select(options, linear, 0)

    def index_read(self, e: ast.Index, env) -> ir.Expr:
        var, chain = self.index_chain(e)
        return self.element(var, [self.expr(i, env) for i in chain])

    # ------------------------------------------------------------------------------------------ statements
    def block(self, stmts, env, actor: str, k: tuple) -> list[ir.Stmt]:
        """Lower `stmts`, then the continuation frames `k` (innermost first) if a tail statement needs them. In
        process code a step ends at the next point (check/steps.py): the counter is set and the rest dropped."""
        out: list[ir.Stmt] = []
        points = "\0process" in env
        self.frame_guard(env)
        for i, s in enumerate(stmts):
            if points and self.is_point(s, env):
                out.extend(self.stop(s, env))
                return out
            if s is END or isinstance(s, ast.Label):  # a label that is not where the step ends: its start
                continue
            if points and id(s) in env["\0process"].hoisted:  # a leading `await`: already the step's guard
                env["\0process"].hoisted.discard(id(s))
                continue
            if isinstance(s, ast.While):
                cond = self.expr(s.cond, env)
                loop = self.loop_frame(stmts, i, env, actor)
                cv = const_value(cond)
                body = self.block(s.body, env, actor, (loop, (stmts[i + 1:], env, actor), *k)) if cv != 0 else []
                rest = self.block(stmts[i + 1:], env, actor, k) if cv != 1 else []
                if cv is not None:
                    return out + (body if cv else rest)
                out += [*self.shift_checks([cond], s.span), ir.If(cond, tuple(body), tuple(rest), tail=True)]
                return out
            if _contains_choose((s,), self.m, points=points):
                out.extend(self.tail(s, env, actor, ((stmts[i + 1:], env, actor), *k)))
                return out
            lowered, env = self.stmt(s, env, actor)
            out.extend(lowered)
        out.extend(self.run_k(k))
        return out

    def run_k(self, k: tuple) -> list[ir.Stmt]:
        if not k:
            return []
        (stmts, env, actor), rest = k[0], k[1:]
        return self.block(stmts, env, actor, rest)

    def tail(self, s: ast.Stmt, env, actor: str, k: tuple) -> list[ir.Stmt]:
        match s:
            case ast.Choose(_, name, _, where, body):
                t = self.choose_type(s)  # `where` shifts by non-negative amounts only (checked)
                local = f"{name}_{next(self.fresh)}"
                inner = {**env, name: ir.Local(local)}
                cond = self.expr(where, inner) if where is not None else TRUE
                dom = domain(t)
                return [ir.Choose(local, dom.start, dom.stop - 1, cond, tuple(self.block(body, inner, actor, k)))]
            case ast.Await(_, c):  # a choose of one value: no successor where c is false
                cond = self.expr(c, env)
                return [ir.Choose(f"await_{next(self.fresh)}", 0, 0, cond, tuple(self.run_k(k)))]
            case ast.If(span, c, then, else_):
                cond = self.expr(c, env)
                return [*self.shift_checks([cond], span),
                        ir.If(cond, tuple(self.block(then, env, actor, k)), tuple(self.block(else_, env, actor, k)),
                              tail=True)]
            case ast.For(_, name, typ, body):
                frames = tuple((body, {**env, name: ir.Const(v)}, actor) for v in domain(self.finite_type(typ)))
                return self.run_k((*frames, *k))
            case ast.Atomic(_, body):
                return self.block(body, env, actor, k)
            case ast.CallStmt() if s.func in self.m.procs:
                args, inner = self.proc_env(s, env)
                return [*args, *self.block(self.m.procs[s.func].decl.body, inner, actor, k)]
            case ast.Write():
                check, valid, hbody, henv, hactor = self.write_parts(s, env, actor)
                return [*check, ir.If(valid, tuple(self.block(hbody, henv, hactor, k)), tuple(self.run_k(k)),
                                      tail=True)]
        raise AssertionError(type(s).__name__)

    def choose_type(self, s: ast.Choose):
        return self.finite_type(s.type)

    def finite_type(self, typ: ast.TypeExpr):
        match typ:
            case ast.RangeType(_, lo, hi):
                return IntT(self._const(lo), self._const(hi))
            case ast.ExprType(_, ast.Name(_, "bool")):
                return BoolT()
            case ast.ExprType(_, ast.Name(_, n)):
                return self.m.types[n]
            case ast.ExprType(_, ast.SetLit(_, items)):
                return EnumT("", tuple(i.id for i in items))
        raise AssertionError("checked")

    def _const(self, e: ast.Expr) -> int:
        # Range bounds in `choose`/`for` were checked as constant expressions of params, never typed as terms.
        return const_eval(e, self.m.params)

    def stmt(self, s: ast.Stmt, env, actor: str) -> tuple[list[ir.Stmt], dict]:
        match s:
            case ast.Assign():
                return self.assign(s, env, actor), env
            case ast.If(span, c, then, else_):
                cond = self.expr(c, env)
                cv = const_value(cond)
                if cv is not None:
                    return self.block(then if cv else else_, env, actor, ()), env
                return [*self.shift_checks([cond], span),
                        ir.If(cond, tuple(self.block(then, env, actor, ())),
                              tuple(self.block(else_, env, actor, ())))], env
            case ast.Assert(span, name, cond, msg):
                pid = self.assert_prop(self.assert_keys[id(s)])
                c = self.expr(cond, env)
                read = tuple((self.vars[i].name, ir.Var(i)) for i in vars_read(c)[:MAX_ASSERT_DETAIL])
                # shows what it read
                return [*self.shift_checks([c], span), ir.Check(pid, c, False, span, self.props[pid].description, read)], env
            case ast.Let(span, name, value):
                v = self.expr(value, env)
                if isinstance(v, (ir.Const, ir.Local)):
                    return [], {**env, name: v}
                local = f"{name}_{next(self.fresh)}"
                return [*self.shift_checks([v], span), ir.Let(local, v)], {**env, name: ir.Local(local)}
            case ast.Write():
                check, valid, hbody, henv, hactor = self.write_parts(s, env, actor)
                inner = self.block(hbody, henv, hactor, ())
                vv = const_value(valid)
                if vv is not None:
                    return [*check, *(inner if vv else [])], env
                return [*check, ir.If(valid, tuple(inner), ())], env
            case ast.For(_, name, typ, body):
                out = []
                for v in domain(self.finite_type(typ)):
                    out.extend(self.block(body, {**env, name: ir.Const(v)}, actor, ()))
                return out, env
            case ast.Skip() | ast.Label():
                return [], env
            case ast.Atomic(_, body):
                return self.block(body, env, actor, ()), env
            case ast.CallStmt() if s.func in QUEUE_STMTS and s.func not in self.m.procs:
                return self.queue_stmt(s, env, actor), env
            case ast.CallStmt():
                args, inner = self.proc_env(s, env)
                return [*args, *self.block(self.m.procs[s.func].decl.body, inner, actor, ())], env
            case ast.Choose() | ast.Await() | ast.While():
                raise AssertionError(f"{type(s).__name__} is lowered by block()/tail()")
            case _:
                assert_never(s)

    def write_parts(self, s: ast.Write, env, actor: str):
        """The MSR validity check, the validity condition, and the handler body with its environment."""
        depth = env.get("\0depth", 0)
        if depth >= MAX_HANDLER_DEPTH:
            raise DiagnosticError([Diagnostic("KV312", "error", f"write {s.register} nests handlers more than "
                                              f"{MAX_HANDLER_DEPTH} deep (a handler writes a register whose "
                                              "handler writes it back?)", s.span)])
        h = self.m.handlers[s.register]
        args = [self.expr(a, env) for a in s.args]
        checks: list[ir.Stmt] = self.shift_checks(args, s.span)
        # the arguments are evaluated once, before the handler runs: a handler that writes what they read must
        # not see them change (as for the index and value of an assignment)
        for k, a in enumerate(args):
            if not isinstance(a, (ir.Const, ir.Local)):
                local = f"arg_{next(self.fresh)}"
                checks.append(ir.Let(local, a))
                args[k] = ir.Local(local)
        value = args[-1]
        valid = conj([mk("eq", mk_extract(value, f.lo, f.width), ir.Const(_required(f, self.m.params)))
                      for f in h.layout.fields if _required(f, self.m.params) is not None])
        gated = any(_required(f, self.m.params) is not None for f in h.layout.fields)
        # the property is listed even when every write is valid by construction: "holds" is the answer then
        pid = self.msr_prop(h.layout, s.span) if gated else None
        if pid is not None and const_value(valid) != 1:
            checks.append(ir.Check(pid, valid, False, s.span,
                                   f"{actor} wrote {s.register} with a reserved or unsupported bit set (#GP)",
                                   (("value", value),)))
        henv: dict = {n: a for (n, _), a in zip(h.params, args)}
        henv["\0depth"] = depth + 1
        return checks, valid, h.decl.body, henv, h.actor

    def register_asserts(self) -> None:
        """Every `assert` gets its property's name before any body is lowered: the sites of one name share one
        property, and one in a branch these params make dead still has a verdict (`finish_asserts`). An assert
        without a name is `assert:WHERE@LINE`, WHERE the actor (or process) of the body, or the procedure it is
        written in (a procedure is one text whoever calls it)."""
        written: set[str] = set()
        called: set[str] = set()

        def walk(stmts, where: str) -> None:
            for st in stmts:
                match st:
                    case ast.Assert(span, name, _, msg):
                        key = name or f"assert:{where}@{span.line}"
                        self.assert_keys[id(st)] = key
                        self.assert_first.setdefault(key, (span, msg or f"assertion at {span}"))
                    case ast.Write(_, reg, _) if reg in self.m.handlers and reg not in written:
                        written.add(reg)
                        walk(self.m.handlers[reg].decl.body, self.m.handlers[reg].actor)
                    case ast.CallStmt(_, func) if func in self.m.procs and func not in called:
                        called.add(func)
                        walk(self.m.procs[func].decl.body, func)
                for sub in ast.sub_blocks(st):
                    walk(sub, where)
        for a in self.m.actions:
            walk(a.decl.body, a.actor)
        for p in self.m.processes:
            walk(p.decl.body, p.actor)
        for reg, h in self.m.handlers.items():  # a handler no action writes: its asserts hold too
            if reg not in written:
                written.add(reg)
                walk(h.decl.body, h.actor)
        for func, info in self.m.procs.items():  # likewise a procedure nothing calls
            if func not in called:
                called.add(func)
                walk(info.decl.body, func)

    def assert_prop(self, key: str) -> int:
        """The property of an assert name, made where lowering first meets one of its sites."""
        if key not in self.assert_props:
            span, text = self.assert_first[key]
            self.assert_props[key] = self.new_prop(key, "assert", None, span, text)
        return self.assert_props[key]

    def finish_asserts(self) -> None:
        """The asserts lowering never met (dead branches, handlers no action writes): properties that hold."""
        for key in self.assert_first:
            self.assert_prop(key)

    def msr_prop(self, layout: Layout, span: Span) -> int:
        if layout.name not in self.msr_props:
            gated = [f.name for f in layout.fields if f.must_be is not None or f.requires is not None]
            self.msr_props[layout.name] = self.new_prop(
                f"msr:{layout.name}", "msr", None, layout.span or span,
                f"every write to {layout.name} keeps {', '.join(gated)} as documented (else #GP)")
        return self.msr_props[layout.name]

    def assign(self, s: ast.Assign, env, actor: str) -> list[ir.Stmt]:
        # split the target into array element and bit range
        fields: list[str] = []
        target = s.target
        while isinstance(target, ast.Field):
            fields.append(target.name)
            target = target.base
        fields.reverse()
        var, chain = (target.id, []) if isinstance(target, ast.Name) else self.index_chain(target)
        info = self.m.vars[var]
        value = self.expr(s.value, env)
        idx = [self.expr(i, env) for i in chain]
        tt, vt = self.m.type_of(s.target), self.m.type_of(s.value)
        lo, width, t = 0, None, info.type
        for f in fields:
            fl = t.layout.field(f)
            lo, width, t = lo + fl.lo, fl.width, BitsT(fl.width)
        out: list[ir.Stmt] = self.shift_checks([value, *idx], s.span)
        consts = [const_value(i) for i in idx]
        if not all(c is not None for c in consts):
            # index and value are evaluated in the state before the assignment: `a[a[0]] := 2` writes one
            # element, whichever the guarded writes below would otherwise see a[0] become
            bound = []
            for e in (value, *idx):
                if isinstance(e, (ir.Const, ir.Local)):
                    bound.append(e)
                    continue
                local = f"at_{next(self.fresh)}"
                out.append(ir.Let(local, e))
                bound.append(ir.Local(local))
            value, idx = bound[0], bound[1:]
        if fits(vt, tt) == "check":
            vlo, vhi = _bounds(tt) if not isinstance(tt, OptionT) else (0, 0)
            cond = conj([mk("ge", value, ir.Const(vlo)), mk("le", value, ir.Const(vhi))]) \
                if not isinstance(tt, OptionT) else in_type(value, tt)
            out.append(ir.Check(self.type_ok_prop(), cond, True, s.span,
                                f"value assigned to {_show_target(var, chain, fields)} lies outside {describe_type(tt)}",
                                (("value", value),)))
        if all(c is not None for c in consts):
            return out + self.assign_element(self.slot_of(var, tuple(consts)), lo, width, value, actor, s.span)
        # a dynamic index: one guarded assignment per element
        for combo in itertools.product(*(domain(t) for t in info.indices)):
            hit = conj([mk("eq", i, ir.Const(c)) for i, c in zip(idx, combo)])
            if const_value(hit) == 0:
                continue
            body = self.assign_element(self.slot_of(var, combo), lo, width, value, actor, s.span)
            out.append(ir.If(hit, tuple(body), ()))
        return out

    def assign_element(self, slot: int, lo: int, width: int | None, value: ir.Expr, actor: str,
                       span: Span) -> list[ir.Stmt]:
        sv = self.vars[slot]
        old = ir.Var(slot)
        new = value if width is None else mk_insert(old, lo, width, value)
        wlo, whi = (lo, lo + width - 1) if width is not None else (0, _width_of(sv.type) - 1)
        out: list[ir.Stmt] = []
        for slot_info in self.m.slots:
            if slot_info.var.name != sv.var or slot_info.lo > whi or slot_info.lo + slot_info.width - 1 < wlo:
                continue
            out.extend(self.slot_checks(slot_info, sv, old, new, actor, span))
        out.append(ir.Assign(slot, new, span))
        return out

    def slot_checks(self, si: SlotInfo, sv: ir.StateVar, old: ir.Expr, new: ir.Expr, actor: str,
                    span: Span) -> list[ir.Stmt]:
        pid = self.slot_props[si.name]
        where = sv.name + si.path[len(si.var.name):].replace("[*]", "")
        before, after = mk_extract(old, si.lo, si.width), mk_extract(new, si.lo, si.width)
        detail = (("held", before), ("wrote", after))
        empty = ir.Const(si.empty)
        if actor == si.filler and actor == si.emptier:
            return []
        if actor == si.filler:
            return [ir.Check(pid, mk("eq", before, empty), False, span,
                             f"{actor} wrote {where} while it held an event {si.emptier} had not consumed", detail)]
        if actor == si.emptier:
            return [ir.Check(pid, mk("eq", after, empty), False, span,
                             f"{actor} wrote a non-empty value to {where}; only {si.filler} fills it", detail)]
        return [ir.Check(pid, FALSE, False, span,
                         f"{actor} wrote {where}, which only {si.filler} fills and {si.emptier} empties", detail)]

    # ------------------------------------------------------------------------------------------ the system
    def instances(self, a: ActionInfo, next_id) -> list[ir.ActionInstance]:
        out = []
        names = [n for n, _ in a.params]
        for values in itertools.product(*(domain(t) for _, t in a.params)):
            env = {n: ir.Const(v) for n, v in zip(names, values)}
            guard = self.expr(a.decl.guard, env) if a.decl.guard is not None else TRUE
            if const_value(guard) == 0:
                continue
            body = tuple(self.block(a.decl.body, env, a.actor, ()))
            args = tuple((n, v, show_value(t, v)) for (n, t), v in zip(a.params, values))
            out.append(ir.ActionInstance(next(next_id), a.actor, a.decl.name, args, guard, body, a.decl.span,
                                         a.decl.fair, a.decl.strong))
        return out

    def initial_value(self, e: ast.Expr) -> int:
        v = const_value(self.expr(e, {}))
        assert v is not None, "the checker admits constant initial values only"
        return v

    def run(self) -> ir.TransitionSystem:
        self.flatten()
        for p in self.m.props:
            self.new_prop(p.name, p.kind, self.expr(p.expr, {}), p.span, p.kind)
        for si in self.m.slots:
            self.slot_props[si.name] = self.new_prop(
                si.name, "slot", None, si.span,
                f"{si.filler} fills {si.path} only when it is empty ({si.empty}); only {si.emptier} empties it")
        total = sum(_prod([domain_size(t) for _, t in a.params]) for a in self.m.actions)
        total += sum(_prod([domain_size(t) for _, t in p.params]) * len(p.points) for p in self.m.processes)
        if total > MAX_INSTANCES:
            raise DiagnosticError([Diagnostic("KV313", "error", f"the actions have {total} instances over their "
                                              f"parameters (limit {MAX_INSTANCES})", Span(self.m.root_file, 1, 1, 1, 1),
                                              "lower the params; explicit search grounds every parameter value")])
        self.register_asserts()
        transitions = self.transition_props()
        next_id = itertools.count()
        actions = [inst for a in self.m.actions for inst in self.instances(a, next_id)]
        actions += [inst for p in self.m.processes for inst in self.process_instances(p, next_id)]
        actions = [dataclasses.replace(a, body=self.with_transitions(a.body, transitions)) for a in actions]
        self.finish_asserts()
        notes = _dead_asserts(self.props, actions)
        init = self.initial_values()
        liveness = [self.liveness(li) for li in self.m.liveness]
        deadlock, sanity_notes = sanity_properties(self, actions)  # the sanity findings close the list
        notes += sanity_notes
        checks = [self.input_check(c, len(self.props) + i) for i, c in enumerate(self.m.checks)]
        layouts = self.layout_findings(len(self.props) + len(checks))
        tables = [self.table(name) for name in self.m.tables]
        expects = []
        names = {p.name for p in self.props} | {c.name for c in self.m.checks} | {f.prop.name for f in layouts}
        for x in self.m.expects:
            if x.prop not in names:
                self.diags.append(Diagnostic("KV207", "error", f"`expect` names no property: '{x.prop}'", x.span,
                                             _suggest(x.prop, names)))
            expects.append((x.prop, x.verdict, x.span))
        if self.diags:
            raise DiagnosticError(self.diags)
        params = tuple((n, v, _show_param(self.m.param_types[n], v)) for n, v in self.m.params.items())
        ts = ir.TransitionSystem(name=self.m.name, params=params, vars=tuple(self.vars), init=(tuple(init),),
                                 actions=tuple(actions), properties=tuple(self.props), expects=tuple(expects),
                                 actors=tuple(self.m.actors), liveness=tuple(liveness), tables=tuple(tables),
                                 checks=tuple(checks), layouts=tuple(self.m.layouts.values()), lint=layouts,
                                 notes=notes, deadlock=deadlock)
        found, diags = symmetries(ts, self.m)
        if diags:
            raise DiagnosticError(diags)
        return dataclasses.replace(ts, symmetries=found)

    def layout_findings(self, first_id: int) -> tuple[ir.LayoutFinding, ...]:
        out = []
        for k, (name, found) in enumerate(sorted(self.m.layout_findings.items())):
            layout = self.m.layouts[name]
            what = ", ".join(dict.fromkeys(d.code for d in found))
            prop = ir.Property(first_id + k, f"layout:{name}", "layout", None, layout.span or found[0].span,
                               f"the {layout.kind} {name} as declared has no overlapping, missing, misplaced or "
                               f"out-of-bounds fields ({what})")
            out.append(ir.LayoutFinding(prop, tuple((d.code, d.message, d.span) for d in found)))
        return tuple(out)

    def liveness(self, li: LivenessInfo) -> ir.Liveness:
        """One instance per value of the `forall` binders; liveness properties come after every other one."""
        pid = self.new_prop(li.name, "liveness", None, li.span, li.text)
        instances = []
        for values in itertools.product(*(domain(t) for _, t in li.binders)):
            env = {n: ir.Const(v) for (n, _), v in zip(li.binders, values)}
            premise = self.expr(li.premise, env) if li.premise is not None else TRUE
            label = ", ".join(f"{n}={show_value(t, v)}" for (n, t), v in zip(li.binders, values))
            instances.append(ir.LivenessInstance(label, premise, self.expr(li.goal, env)))
        return ir.Liveness(pid, "leads_to" if li.premise is not None else "always_eventually", tuple(instances))


def _dead_asserts(props: list[ir.Property], actions: list[ir.ActionInstance]) -> tuple[str, ...]:
    """A note for each assert that no lowered step contains (its branches are dead for these params)."""
    sites: set[int] = set()
    todo = [s for a in actions for s in a.body]
    while todo:
        s = todo.pop()
        match s:
            case ir.Check(prop, _, _, _, _, _):
                sites.add(prop)
            case ir.If(_, then, else_, _):
                todo.extend((*then, *else_))
            case ir.Choose(_, _, _, _, body):
                todo.extend(body)
    return tuple(f"assert {p.name} ({p.span}) is in no step these params allow (its branches are dead, or no "
                 "action reaches its handler): it holds vacuously" for p in props
                 if p.kind == "assert" and p.id not in sites)


def _shift_amounts(e: ir.Expr) -> list[ir.Expr]:
    """The shift amounts in `e` that are not constants, outermost first."""
    out = []
    todo = [e]
    while todo:
        x = todo.pop()
        if isinstance(x, ir.Op) and x.op in ("shl", "shr") and const_value(x.args[1]) is None:
            out.append(x.args[1])
        if isinstance(x, ir.Op):
            todo.extend(reversed(x.args))
        elif isinstance(x, ir.Extract):
            todo.append(x.arg)
        elif isinstance(x, ir.Insert):
            todo.extend([x.value, x.base])
        elif isinstance(x, ir.Select):
            todo.extend([*reversed(x.options), x.index])
    return out


def _show_param(t: Type, v: int) -> str:
    if isinstance(t, BoolT):
        return "true" if v else "false"
    return hex(v) if v >= 1024 else str(v)


def _suggest(name: str, names) -> str | None:
    from ..diagnostics import did_you_mean
    return did_you_mean(name, names) or "properties: " + ", ".join(sorted(names))


def _required(f, params: dict[str, int]) -> int | None:
    """The value a register field must hold for a write to be valid, or None if any value is fine."""
    if f.must_be is not None:
        return f.must_be
    if f.requires is not None and not params.get(f.requires, 0):
        return 0
    return None


def _bounds(t: Type) -> tuple[int, int]:
    match t:
        case IntT(lo, hi):
            return lo, hi
        case BitsT(width):
            return 0, (1 << width) - 1
        case BoolT():
            return 0, 1
    raise AssertionError(t)


def _width_of(t: Type) -> int:
    match t:
        case BitsT(width):
            return width
        case SetT(elem):
            return max(domain_size(elem), 1)
    return 64


def _show_target(var: str, chain, fields) -> str:
    return var + "[…]" * len(chain) + "".join("." + f for f in fields)


def _prod(xs) -> int:
    out = 1
    for x in xs:
        out *= x
    return out


def mk_extract(x: ir.Expr, lo: int, width: int) -> ir.Expr:
    v = const_value(x)
    if v is not None:
        return ir.Const((v >> lo) & ((1 << width) - 1))
    return ir.Extract(x, lo, width)


def mk_insert(base: ir.Expr, lo: int, width: int, value: ir.Expr) -> ir.Expr:
    b, v = const_value(base), const_value(value)
    if b is not None and v is not None:
        mask = ((1 << width) - 1) << lo
        return ir.Const((b & ~mask) | ((v << lo) & mask))
    return ir.Insert(base, lo, width, value)


def lower(model: Model) -> ir.TransitionSystem:
    return Lowering(model).run()
