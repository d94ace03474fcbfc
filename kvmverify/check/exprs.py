"""Typing of expressions (with interval arithmetic on integer ranges) and evaluation of constant expressions."""
from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

from ..diagnostics import Diagnostic, did_you_mean
from ..lang import ast
from .types import (BOOL, MAX_DOMAIN, BitsT, BoolT, EmptySetT, EnumT, FiniteT, IntT, NoneT, OptionT, QueueT,
                    RecordT, SetT, SomeT, Type, c_div, c_mod, domain_size, value_range)

BUILTINS = {"card": 1}


@dataclass(frozen=True)
class Local:
    type: Type
    const: int | None = None  # known value (model params, and action parameters once grounded)
    kind: str = "local"  # local | param | binder | stale (a `let` of an earlier step of process code)


class Unresolved(Exception):
    """An expression could not be typed; its diagnostic is already recorded."""


def is_boolish(t: Type) -> bool:
    return isinstance(t, BoolT) or (isinstance(t, BitsT) and t.width == 1)


def is_finite(t: Type) -> bool:
    return isinstance(t, (BoolT, IntT, EnumT)) and domain_size(t) <= MAX_DOMAIN


def join(a: Type, b: Type) -> Type | None:
    """The least type holding values of both, or None if they do not mix."""
    if a == b:
        return a
    match a, b:
        case IntT(), IntT():
            return IntT(min(a.lo, b.lo), max(a.hi, b.hi))
        case (BitsT(), BitsT()):
            return BitsT(max(a.width, b.width))
        case (BitsT(), IntT()) | (IntT(), BitsT()):
            bits = a if isinstance(a, BitsT) else b
            other = b if bits is a else a
            if other.lo >= 0 and other.hi < 1 << bits.width:
                return bits
            return None
        case (BoolT(), BitsT()) | (BitsT(), BoolT()):
            return BOOL if is_boolish(a) and is_boolish(b) else None
        case (SetT(), EmptySetT()):
            return a
        case (EmptySetT(), SetT()):
            return b
        case (EnumT(), EnumT()):
            return a if a.name == b.name else None
        case (OptionT(), NoneT()) | (NoneT(), OptionT()):
            return a if isinstance(a, OptionT) else b
        case (OptionT(), SomeT()) | (SomeT(), OptionT()):
            opt, lit = (a, b) if isinstance(a, OptionT) else (b, a)
            return opt if fits(lit, opt) != "no" else None
        case (OptionT(), OptionT()):
            return a if same_values(a.elem, b.elem) else None
    return None


def same_values(a: Type, b: Type) -> bool:
    """Do two types store the same values the same way (a named range and the unnamed range it spans)?"""
    if isinstance(a, IntT) and isinstance(b, IntT):
        return (a.lo, a.hi) == (b.lo, b.hi)
    return a == b


def fits(value: Type, target: Type) -> str:
    """Can a value of type `value` be stored in `target`? 'ok', 'check' (at run time) or 'no'."""
    match target:
        case BoolT():
            return "ok" if is_boolish(value) else "no"
        case IntT(lo, hi):
            vr = value_range(value) if isinstance(value, (IntT, BitsT)) else None
            if vr is None:
                return "no"
            if lo <= vr[0] and vr[1] <= hi:
                return "ok"
            return "check" if vr[1] >= lo and vr[0] <= hi else "no"
        case BitsT(width):
            if isinstance(value, (BoolT, RecordT)):
                return "ok"
            vr = value_range(value) if isinstance(value, (IntT, BitsT)) else None
            if vr is None:
                return "no"
            if 0 <= vr[0] and vr[1] < 1 << width:
                return "ok"
            return "check" if vr[1] >= 0 and vr[0] < 1 << width else "no"
        case EnumT():
            return "ok" if value == target else "no"
        case SetT(elem):
            return "ok" if isinstance(value, EmptySetT) or (isinstance(value, SetT) and value.elem == elem) else "no"
        case OptionT(elem):
            if isinstance(value, NoneT):
                return "ok"
            if isinstance(value, SomeT):
                return fits(value.inner, elem)
            return "ok" if isinstance(value, OptionT) and same_values(value.elem, elem) else "no"
    return "no"


def _interval(op: str, a: IntT, b: IntT) -> IntT:
    match op:
        case "+":
            return IntT(a.lo + b.lo, a.hi + b.hi)
        case "-":
            return IntT(a.lo - b.hi, a.hi - b.lo)
        case "*":
            ps = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
            return IntT(min(ps), max(ps))
    raise AssertionError(op)


def const_eval(e: ast.Expr, consts: dict[str, int]) -> int:
    """Evaluate a constant expression (params, literals, arithmetic). Raises KeyError/ValueError otherwise."""
    match e:
        case ast.IntLit(_, v):
            return v
        case ast.BoolLit(_, v):
            return int(v)
        case ast.Name(_, name):
            return consts[name]
        case ast.Unary(_, op, x):
            v = const_eval(x, consts)
            return {"!": lambda: int(not v), "-": lambda: -v, "~": lambda: ~v}[op]()
        case ast.Binary(_, op, l, r):
            a, b = const_eval(l, consts), const_eval(r, consts)
            if op in ("/", "%") and b == 0:
                raise ValueError(f"{a} {op} 0 divides by zero")
            if op in ("<<", ">>") and not 0 <= b <= 256:
                raise ValueError(f"{a} {op} {b} shifts by {b}: a constant is shifted by 0 to 256 bits")
            ops = {"+": a + b, "-": a - b, "*": a * b, "<<": a << b if op == "<<" else 0,
                   ">>": a >> b if op == ">>" else 0, "&": a & b, "|": a | b, "^": a ^ b,
                   "==": int(a == b), "!=": int(a != b), "<": int(a < b), "<=": int(a <= b), ">": int(a > b),
                   ">=": int(a >= b), "&&": int(bool(a) and bool(b)), "||": int(bool(a) or bool(b)),
                   "->": int(not a or bool(b))}
            if op == "/":
                return c_div(a, b)
            if op == "%":
                return c_mod(a, b)
            if op == "*" and abs(a).bit_length() + abs(b).bit_length() > 1024:
                raise ValueError(f"{a} * {b} is larger than 2**1024")
            return ops[op]
        case ast.Ternary(_, c, t, f):
            return const_eval(t, consts) if const_eval(c, consts) else const_eval(f, consts)
    raise KeyError(type(e).__name__)


class ExprChecker:
    """Types expressions against a scope; records each node's type; collects diagnostics instead of stopping."""

    def __init__(self, model, diags: list[Diagnostic]):
        self.m = model
        self.diags = diags
        # True while typing a statement of an action body: there a shift by a possibly negative amount is checked
        # when the step runs (the derived property `shift_ok`); guards, properties, defs and `where` conditions
        # are evaluated in every state, so their shift amounts must be non-negative by their types
        self.in_statement = False

    # -- helpers
    def error(self, code: str, msg: str, node, hint: str | None = None) -> Unresolved:
        self.diags.append(Diagnostic(code, "error", msg, node.span, hint))
        return Unresolved()

    def unknown(self, name: str, msg: str, node, hint: str | None = None) -> Unresolved:
        """KV201 for an undeclared name; nothing more for a name whose declaration already had an error."""
        if name in self.m.broken:
            return Unresolved()
        return self.error("KV201", msg, node, hint)

    def record(self, e: ast.Expr, t: Type) -> Type:
        self.m.expr_types[id(e)] = t
        return t

    def visible_names(self, scope: dict[str, Local]) -> list[str]:
        return [*scope, *self.m.params, *self.m.enum_members, *self.m.vars, *self.m.defs, *self.m.tables]

    def expect_bool(self, e: ast.Expr, scope: dict[str, Local]) -> None:
        t = self.expr(e, scope)
        if not is_boolish(t):
            raise self.error("KV301", f"expected a bool, found {t}", e, "compare it, e.g. `x != 0`")

    # -- the typing function
    def expr(self, e: ast.Expr, scope: dict[str, Local], expected: Type | None = None) -> Type:
        return self.record(e, self._expr(e, scope, expected))

    def _expr(self, e: ast.Expr, scope: dict[str, Local], expected: Type | None) -> Type:
        match e:
            case ast.IntLit(_, v):
                return IntT(v, v)
            case ast.BoolLit():
                return BOOL
            case ast.Name():
                return self.name(e, scope)
            case ast.Index() | ast.Field():
                return self.place_or_field(e, scope)
            case ast.Call():
                return self.call(e, scope)
            case ast.Unary():
                return self.unary(e, scope)
            case ast.Binary():
                return self.binary(e, scope)
            case ast.Ternary(_, c, t, f):
                self.expect_bool(c, scope)
                tt, ft = self.expr(t, scope, expected), self.expr(f, scope, expected)
                j = join(tt, ft)
                if j is None:
                    raise self.error("KV301", f"the branches of ?: have different types: {tt} and {ft}", e)
                return j
            case ast.SetLit(_, items):
                return self.set_lit(e, items, scope, expected)
            case ast.RecordLit():
                return self.record_lit(e, scope, expected)
            case ast.Quant(_, _, binders, body):
                inner = dict(scope)
                for b in binders:
                    inner[b.name] = Local(self.finite_type_name(b.type_name), kind="binder")
                self.expect_bool(body, inner)
                return BOOL
            case ast.ListLit(_, items):
                from .code import list_lit
                return list_lit(self, e, scope, expected)
            case ast.LeadsTo() | ast.AlwaysEventually():
                # a state predicate is wanted here; liveness formulas are typed by Checker.liveness
                op = "leads_to" if isinstance(e, ast.LeadsTo) else "always eventually"
                raise self.error("KV330", f"`{op}` is a liveness operator; it may only appear at the top of a "
                                 "`property`", e, "write `property NAME: P leads_to Q` (or `always eventually P`), "
                                 "optionally under `forall`; invariants, covers, guards and defs are state predicates")
            case _:
                assert_never(e)

    def finite_type_name(self, n: ast.Name) -> FiniteT:
        t = self.m.types.get(n.id)
        if n.id == "bool":
            return BOOL
        if t is None:
            raise self.unknown(n.id, f"unknown type '{n.id}'", n, did_you_mean(n.id, [*self.m.types, "bool"]))
        if not is_finite(t):
            raise self.error("KV302", f"'{n.id}' ({t}) is not a finite type with at most {MAX_DOMAIN} values", n,
                             "quantifiers and parameters range over bool, enums and small integer ranges")
        return t

    def name(self, e: ast.Name, scope: dict[str, Local]) -> Type:
        n = e.id
        if n in scope:
            loc = scope[n]
            if loc.kind == "stale":
                raise self.error("KV352", f"'{n}' was bound by `let` in an earlier step of this process", e,
                                 "a `let` lasts until the step ends (at a label or loop head); keep the value in a "
                                 "`var` indexed by the process's parameters, or compute it again")
            if loc.const is not None and isinstance(loc.type, IntT):
                return IntT(loc.const, loc.const)
            return loc.type
        if n in self.m.params:
            t = self.m.param_types[n]
            return IntT(self.m.params[n], self.m.params[n]) if isinstance(t, IntT) else t
        if n in self.m.enum_members:
            return self.m.enum_members[n][0]
        if n in self.m.vars:
            v = self.m.vars[n]
            if v.indices:
                raise self.error("KV303", f"'{n}' is an array over {', '.join(map(str, v.indices))}; index it", e,
                                 f"write {n}[i]")
            return v.type
        if n in self.m.defs:
            raise self.error("KV303", f"'{n}' is a def; call it", e, f"write {n}(...)")
        if n in self.m.tables:
            raise self.error("KV303", f"'{n}' is a decision table; call it", e, f"write {n}(...)")
        if n == "none":
            return NoneT()
        raise self.unknown(n, f"unknown name '{n}'", e, did_you_mean(n, self.visible_names(scope)))

    def place_or_field(self, e: ast.Index | ast.Field, scope: dict[str, Local]) -> Type:
        if isinstance(e, ast.Field) and isinstance(e.base, ast.Call) and e.base.func in self.m.tables:
            from .tables import table_call
            return table_call(self, e.base, scope, e.name, e)
        if isinstance(e, ast.Field):
            base_t = self.expr(e.base, scope)
            layout = base_t.layout if isinstance(base_t, BitsT) else None
            if layout is None:
                raise self.error("KV305", f"{base_t} has no fields", e,
                                 "fields belong to registers and structs")
            f = layout.field(e.name)
            if f is None:
                raise self.error("KV205", f"{layout.kind} {layout.name} has no field '{e.name}'", e,
                                 did_you_mean(e.name, [x.name for x in layout.fields]))
            return BitsT(f.width)
        # Index: peel the chain down to the array variable
        chain: list[ast.Expr] = []
        base: ast.Expr = e
        while isinstance(base, ast.Index):
            chain.append(base.index)
            base = base.base
        chain.reverse()
        if isinstance(base, ast.Name) and base.id not in self.m.vars and base.id not in scope \
                and base.id not in self.m.params and base.id not in self.m.enum_members:
            raise self.unknown(base.id, f"unknown name '{base.id}'", base,
                             did_you_mean(base.id, self.visible_names(scope)))
        if not isinstance(base, ast.Name) or base.id not in self.m.vars or base.id in scope:
            raise self.error("KV303", "only state arrays can be indexed", e, "index an array declared with `var`")
        v = self.m.vars[base.id]
        if len(chain) != len(v.indices):
            raise self.error("KV303", f"'{v.name}' takes {len(v.indices)} index(es), found {len(chain)}", e)
        for idx, it in zip(chain, v.indices):
            t = self.expr(idx, scope)
            self.check_index(idx, t, it)
        return v.type

    def check_index(self, idx: ast.Expr, t: Type, it: FiniteT) -> None:
        if isinstance(it, EnumT):
            if t != it:
                raise self.error("KV301", f"index of type {t} where {it} is expected", idx)
            return
        if isinstance(it, BoolT):
            if not is_boolish(t):
                raise self.error("KV301", f"index of type {t} where bool is expected", idx)
            return
        if fits(t, it) != "ok":
            vr = value_range(t)
            shown = f"{vr[0]}..{vr[1]}" if vr else str(t)
            raise self.error("KV307", f"index may lie outside {it} ({it.lo}..{it.hi}): its values range over {shown}",
                             idx, f"bind it first: `choose i: {it} where i == ... {{ ... }}`")

    def call(self, e: ast.Call, scope: dict[str, Local]) -> Type:
        if e.func == "card":
            if len(e.args) != 1:
                raise self.error("KV303", "card takes one set", e)
            t = self.expr(e.args[0], scope)
            if not isinstance(t, (SetT, EmptySetT)):
                raise self.error("KV301", f"card of {t}; expected a set", e.args[0])
            return IntT(0, domain_size(t.elem) if isinstance(t, SetT) else 0)
        if e.func in self.m.tables:
            from .tables import table_call
            return table_call(self, e, scope, None, e)
        d = self.m.defs.get(e.func)
        if d is None:
            from .code import EXPR_BUILTINS, builtin_call
            if e.func in EXPR_BUILTINS:
                return builtin_call(self, e, scope)
            raise self.unknown(e.func, f"unknown function '{e.func}'", e,
                             did_you_mean(e.func, [*self.m.defs, *self.m.tables, *BUILTINS, *EXPR_BUILTINS]))
        self.call_args(e.func, e.args, d.params, e, scope, list_params=False)
        return d.result

    def call_args(self, what: str, args, params, node, scope: dict[str, Local], list_params: bool = True) -> None:
        """The arguments of a call (a def, a table, a procedure, a register write) against its parameters: KV303
        for their number (naming the parameters when `list_params`), KV301 for one whose type does not fit."""
        if len(args) != len(params):
            listed = f" ({', '.join(n for n, _ in params)})" if list_params else ""
            raise self.error("KV303", f"{what} takes {len(params)} argument(s){listed}, found {len(args)}", node)
        for a, (pname, pt) in zip(args, params):
            at = self.expr(a, scope, pt)
            if fits(at, pt) != "ok":
                raise self.error("KV301", f"argument '{pname}' of {what} must be {pt}, found {at}", a)

    def unary(self, e: ast.Unary, scope: dict[str, Local]) -> Type:
        t = self.expr(e.operand, scope)
        match e.op:
            case "!":
                if not is_boolish(t):
                    raise self.error("KV301", f"'!' needs a bool, found {t}", e.operand)
                return BOOL
            case "-":
                if isinstance(t, IntT):
                    return IntT(-t.hi, -t.lo)
                if isinstance(t, BitsT):
                    return BitsT(t.width)
            case "~":
                if isinstance(t, BitsT):
                    return BitsT(t.width)
        raise self.error("KV301", f"'{e.op}' cannot apply to {t}", e.operand)

    def binary(self, e: ast.Binary, scope: dict[str, Local]) -> Type:
        op = e.op
        if op in ("&&", "||", "->"):
            self.expect_bool(e.left, scope)
            self.expect_bool(e.right, scope)
            return BOOL
        if op == "in":
            lt = self.expr(e.left, scope)
            rt = self.expr(e.right, scope, SetT(lt) if is_finite(lt) else None)
            if isinstance(rt, QueueT):
                from .code import queue_place
                queue_place(self, e.right, scope)
                if join(lt, rt.elem) is None:
                    raise self.error("KV301", f"{lt} cannot be an element of {rt}", e.left)
                return BOOL
            if isinstance(rt, EmptySetT):
                return BOOL
            if not isinstance(rt, SetT):
                raise self.error("KV301", f"'in' needs a set on the right, found {rt}", e.right)
            if fits(lt, rt.elem) == "no":
                raise self.error("KV301", f"{lt} cannot be an element of {rt}", e.left)
            return BOOL
        if op in ("==", "!="):
            lt = self.expr(e.left, scope)
            rt = self.expr(e.right, scope, lt)
            if isinstance(lt, (EmptySetT, RecordT, NoneT, SomeT)) and not isinstance(rt, (EmptySetT, RecordT, NoneT,
                                                                                              SomeT)):
                lt = self.expr(e.left, scope, rt)
            if isinstance(lt, QueueT) or isinstance(rt, QueueT):
                raise self.error("KV354", "queues are not compared as values", e,
                                 "read a queue with len(q), head(q), empty(q), full(q) or `x in q`")
            if isinstance(lt, (NoneT, SomeT)) and isinstance(rt, (NoneT, SomeT)):
                raise self.error("KV355", "`none` and `some(...)` need an option to compare with", e,
                                 "compare an option variable: `holder == none`, `holder == some(v)`")
            if join(lt, rt) is None and not (isinstance(rt, RecordT) and isinstance(lt, BitsT)):
                raise self.error("KV301", f"cannot compare {lt} with {rt}", e)
            return BOOL
        lt = self.expr(e.left, scope)
        rt = self.expr(e.right, scope, lt if isinstance(lt, SetT) else None)
        if op in ("<", "<=", ">", ">="):
            if isinstance(lt, (IntT, BitsT)) and isinstance(rt, (IntT, BitsT)):
                return BOOL
            raise self.error("KV301", f"'{op}' compares numbers, found {lt} and {rt}", e)
        if isinstance(lt, (SetT, EmptySetT)) or isinstance(rt, (SetT, EmptySetT)):
            return self.set_op(e, lt, rt)
        if not (isinstance(lt, (IntT, BitsT)) and isinstance(rt, (IntT, BitsT))):
            raise self.error("KV301", f"'{op}' needs numbers, found {lt} and {rt}", e)
        if op in ("/", "%"):
            if not (isinstance(rt, IntT) and rt.lo == rt.hi and rt.lo > 0):
                raise self.error("KV306", f"'{op}' needs a positive constant on the right", e.right,
                                 "division is by constants only, so that it is total")
            c = rt.lo
            if isinstance(lt, BitsT):
                return lt
            if op == "/":  # truncating toward zero, as in C: monotone in the dividend
                return IntT(c_div(lt.lo, c), c_div(lt.hi, c))
            # the remainder takes the dividend's sign, as in C
            return IntT(0 if lt.lo >= 0 else max(lt.lo, -(c - 1)), 0 if lt.hi <= 0 else min(lt.hi, c - 1))
        bits = [t.width for t in (lt, rt) if isinstance(t, BitsT)]
        if op in ("<<", ">>"):
            if isinstance(lt, BitsT):
                lo, hi = value_range(rt)
                if hi < 0:
                    raise self.error("KV318", f"the shift amount is always negative ({rt})", e.right,
                                     "shift by 0 or more bits; `x >> n` with n >= the width gives 0")
                if lo < 0 and not self.in_statement:
                    raise self.error("KV318", f"the shift amount may be negative ({rt}) in an expression that must "
                                     "have a value in every state", e.right,
                                     "give the amount a non-negative type, or shift in an action's statements, "
                                     "where a negative amount is the derived property `shift_ok`")
                return lt
            if isinstance(rt, IntT) and lt.lo >= 0 and rt.lo >= 0 and rt.hi <= 64:
                return IntT(lt.lo << rt.lo, lt.hi << rt.hi) if op == "<<" else IntT(lt.lo >> rt.hi, lt.hi >> rt.lo)
            raise self.error("KV301", f"'{op}' on {lt} and {rt}: shift a bit vector or a non-negative range", e)
        if bits:
            for t in (lt, rt):
                if isinstance(t, IntT) and (t.lo < 0 or t.hi >= 1 << max(bits)) and t.lo != t.hi:
                    raise self.error("KV301", f"'{op}' mixes {t} with a {max(bits)}-bit value", e)
            return BitsT(max(bits))
        if op in ("&", "|", "^"):
            if lt.lo < 0 or rt.lo < 0:
                raise self.error("KV301", f"'{op}' needs non-negative operands", e)
            return IntT(0, (1 << max(lt.hi, rt.hi, 1).bit_length()) - 1)
        return _interval(op, lt, rt)

    def set_op(self, e: ast.Binary, lt: Type, rt: Type) -> Type:
        if e.op not in ("+", "-", "|", "&"):
            raise self.error("KV301", f"'{e.op}' does not apply to sets", e, "sets take + (union), - (difference), &")
        j = join(lt, rt)
        if j is None:
            raise self.error("KV301", f"'{e.op}' mixes {lt} and {rt}", e)
        return j

    def set_lit(self, e: ast.SetLit, items, scope, expected: Type | None) -> Type:
        if not items:
            return expected if isinstance(expected, SetT) else EmptySetT()
        elem = expected.elem if isinstance(expected, SetT) else None
        types = [self.expr(i, scope, elem) for i in items]
        if elem is None:
            j = types[0]
            for t in types[1:]:
                j = join(j, t) if j is not None else None
            if j is None or not is_finite(j):
                raise self.error("KV301", "cannot tell the element type of this set", e,
                                 "compare it with a set variable, e.g. `s == {1, 2}`")
            elem = j
        for i, t in zip(items, types):
            if fits(t, elem) != "ok":
                raise self.error("KV301", f"{t} is not an element of {elem}", i)
        return SetT(elem)

    def record_lit(self, e: ast.RecordLit, scope, expected: Type | None) -> Type:
        layout = expected.layout if isinstance(expected, BitsT) else None
        if layout is None:
            for item in e.items:
                self.expr(item.value, scope)
            raise self.error("KV301", "a {field: value} literal needs a register or struct type from its context", e,
                             "assign it to a register variable or pass it to `write`")
        seen = set()
        for item in e.items:
            f = layout.field(item.name)
            if f is None:
                raise self.error("KV205", f"{layout.kind} {layout.name} has no field '{item.name}'", item,
                                 did_you_mean(item.name, [x.name for x in layout.fields]))
            if item.name in seen:
                raise self.error("KV202", f"field '{item.name}' is given twice", item)
            seen.add(item.name)
            t = self.expr(item.value, scope)
            if fits(t, BitsT(f.width)) == "no" or (isinstance(t, IntT) and fits(t, BitsT(f.width)) != "ok"):
                raise self.error("KV308", f"{t} does not fit the {f.width}-bit field '{f.name}'", item.value)
        return expected
