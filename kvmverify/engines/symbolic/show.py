"""z3 formulas over state components, printed in model terms: `life[0][1] == Delivered`, `en[0].enabled == 1`,
`halted[1]`, `2 in waiting[0]`, `area[0].token & 0x4 != 0`; connectives as in the .kv language. A clause
`!a || !b || c` is shown as the implication `a && b -> c`, the way invariants are usually written."""
from __future__ import annotations

import z3

from ...check.types import BoolT, EnumT, OptionT, SetT, domain_lo, show_value
from ...ir import nodes as ir
from .encode import type_range

_CMP = {z3.Z3_OP_ULEQ: "<=", z3.Z3_OP_SLEQ: "<=", z3.Z3_OP_UGEQ: ">=", z3.Z3_OP_SGEQ: ">=",
        z3.Z3_OP_ULT: "<", z3.Z3_OP_SLT: "<", z3.Z3_OP_UGT: ">", z3.Z3_OP_SGT: ">",
        z3.Z3_OP_EQ: "==", z3.Z3_OP_DISTINCT: "!="}
_ARITH = {z3.Z3_OP_BADD: "+", z3.Z3_OP_BSUB: "-", z3.Z3_OP_BMUL: "*", z3.Z3_OP_BSHL: "<<", z3.Z3_OP_BLSHR: ">>",
          z3.Z3_OP_BAND: "&", z3.Z3_OP_BOR: "|", z3.Z3_OP_BXOR: "^"}


class _Printer:
    def __init__(self, names: list[str], comps, ts: ir.TransitionSystem):
        self.types = {}
        self.widths = {}
        for name, c in zip(names, comps):
            sv = ts.vars[c.var]
            self.widths[name] = c.width
            if sv.layout is None:
                self.types[name] = sv.type

    def value(self, other: z3.ExprRef, v: int) -> str:
        if z3.is_const(other) and not z3.is_bv_value(other):
            t = self.types.get(str(other))
            if isinstance(t, (EnumT, BoolT, OptionT)):
                return show_value(t, v)
        return str(v) if v < 1024 else hex(v)

    def show(self, e: z3.ExprRef, top: bool = True) -> str:
        as_values = self.values(e)
        if as_values is not None:
            return as_values if top else f"({as_values})" if " && " in as_values else as_values
        if z3.is_true(e):
            return "true"
        if z3.is_false(e):
            return "false"
        if z3.is_bv_value(e):
            return str(e.as_long())
        if z3.is_const(e):
            return str(e)
        k = e.decl().kind()
        kids = e.children()
        if k == z3.Z3_OP_AND:
            parts = [self.show(c, top) for c in kids]
            return "\n".join(parts) if top else "(" + " && ".join(parts) + ")"
        if k == z3.Z3_OP_OR:
            return self.clause(kids, top)
        if k == z3.Z3_OP_BIT2BOOL:
            return self.bit(kids[0], e.params()[0], True)
        if k == z3.Z3_OP_NOT:
            (c,) = kids
            if c.decl().kind() == z3.Z3_OP_EQ:
                return self.relation("!=", *c.children())
            if c.decl().kind() == z3.Z3_OP_BIT2BOOL:
                return self.bit(c.children()[0], c.params()[0], False)
            inner = self.show(c, False)
            return "!" + (inner if inner.startswith("(") or " " not in inner else f"({inner})")
        if k == z3.Z3_OP_IMPLIES:
            return f"({self.show(kids[0], False)} -> {self.show(kids[1], False)})"
        if k in _CMP and len(kids) == 2:
            return self.relation(_CMP[k], *kids)
        if k == z3.Z3_OP_ITE:
            return f"({self.show(kids[0], False)} ? {self.show(kids[1], False)} : {self.show(kids[2], False)})"
        if k == z3.Z3_OP_EXTRACT:
            hi, lo = e.params()
            shifted = f"({self.show(kids[0], False)} >> {lo})" if lo else self.show(kids[0], False)
            return f"({shifted} & {hex((1 << (hi - lo + 1)) - 1)})"
        if k == z3.Z3_OP_ZERO_EXT:
            return self.show(kids[0], top)
        if k == z3.Z3_OP_CONCAT and len(kids) == 2 and z3.is_bv_value(kids[0]) and kids[0].as_long() == 0:
            return self.show(kids[1], top)
        if k in _ARITH:
            return "(" + f" {_ARITH[k]} ".join(self.show(c, False) for c in kids) + ")"
        return str(e).replace("\n", " ")

    def values(self, e: z3.ExprRef) -> str | None:
        """A constraint on one small integer or enum variable, as the values it allows: `x <= 5`,
        `life[0][1] in {Free, Delivered}` (bit-level formulas over a 0..7 counter say little to a reader)."""
        if not z3.is_bool(e) or z3.is_true(e) or z3.is_false(e):
            return None
        names = {str(c) for c in _consts(e)}
        if len(names) != 1:
            return None
        (name,) = names
        t = self.types.get(name)
        if t is None or isinstance(t, (BoolT, SetT)) or self.widths[name] > 6:
            return None
        x = z3.BitVec(name, self.widths[name])
        lo, hi = type_range(t)
        allowed = [v for v in range(lo, hi + 1)
                   if z3.is_true(z3.simplify(z3.substitute(e, (x, z3.BitVecVal(v, self.widths[name])))))]
        if len(allowed) == hi - lo + 1:
            return "true"
        if not allowed:
            return "false"
        if isinstance(t, (EnumT, OptionT)):
            shown = [show_value(t, v) for v in allowed]
            if len(shown) == 1:
                return f"{name} == {shown[0]}"
            return f"{name} in {{{', '.join(shown)}}}"
        a, b = allowed[0], allowed[-1]
        if allowed == list(range(a, b + 1)):
            if a == b:
                return f"{name} == {a}"
            if a == lo:
                return f"{name} <= {b}"
            if b == hi:
                return f"{name} >= {a}"
            return f"{a} <= {name} && {name} <= {b}"
        return f"{name} in {{{', '.join(map(str, allowed))}}}"

    def clause(self, kids, top: bool) -> str:
        rest = [c for c in kids if self.negated(c) is None]
        if not rest:  # all literals negative: conclude with a disequality (`x != 0`) rather than a negated flag
            neq = [c for c in kids if z3.is_not(c) and z3.is_eq(c.children()[0])
                   and not isinstance(self.types.get(str(c.children()[0].children()[0])), BoolT)]
            rest = [neq[0] if neq else kids[-1]]
        premises = [self.negated(c) for c in kids if not any(c.eq(r) for r in rest)]
        if not premises or not rest:
            text = " || ".join(self.show(c, False) for c in kids)
            return text if top else f"({text})"
        lhs = " && ".join(self.show(c, False) for c in premises)
        rhs = " || ".join(self.show(c, False) for c in rest)
        return f"{lhs} -> {rhs}" if top else f"({lhs} -> {rhs})"

    def negated(self, c: z3.ExprRef) -> z3.ExprRef | None:
        """The positive literal p if c reads as !p (so `c || rest` reads best as `p -> rest`), else None."""
        if z3.is_not(c):
            return c.children()[0]
        if z3.is_app_of(c, z3.Z3_OP_DISTINCT) and len(c.children()) == 2:
            a, b = c.children()
            return a == b
        if z3.is_eq(c):
            a, b = c.children()
            if z3.is_bv_value(a):
                a, b = b, a
            if z3.is_bv_value(b) and b.as_long() == 0 and b.size() == 1:
                # a bool variable, or one bit of a register or set, that is 0
                boolean = z3.is_const(a) and isinstance(self.types.get(str(a)), BoolT)
                if boolean or (z3.is_app_of(a, z3.Z3_OP_EXTRACT) and a.params()[0] == a.params()[1]):
                    return a == z3.BitVecVal(1, 1)
        return None

    def bit(self, x: z3.ExprRef, i: int, on: bool) -> str:
        """Bit i of x is 1 (on) or 0: set membership for sets, a mask test for everything else."""
        t = self.types.get(str(x)) if z3.is_const(x) else None
        if isinstance(t, SetT):
            elem = show_value(t.elem, domain_lo(t.elem) + i)
            return f"{elem} in {x}" if on else f"!({elem} in {x})"
        if z3.is_const(x) and self.widths.get(str(x)) == 1:
            if isinstance(t, BoolT):
                return str(x) if on else f"!{x}"
            return f"{x} == {int(on)}"
        return f"{self.show(x, False)} & {hex(1 << i)} {'!=' if on else '=='} 0"

    def relation(self, op: str, a: z3.ExprRef, b: z3.ExprRef) -> str:
        if z3.is_bv_value(a) and not z3.is_bv_value(b):
            flip = {"<=": ">=", ">=": "<=", "<": ">", ">": "<"}
            a, b, op = b, a, flip.get(op, op)
        if z3.is_bv_value(b):
            if op in ("==", "!=") and z3.is_app_of(a, z3.Z3_OP_EXTRACT) and a.params()[0] == a.params()[1] \
                    and b.as_long() in (0, 1):
                return self.bit(a.children()[0], a.params()[1], (b.as_long() == 1) == (op == "=="))
            t = self.types.get(str(a)) if z3.is_const(a) else None
            if isinstance(t, BoolT) and op in ("==", "!="):
                truth = (b.as_long() == 1) == (op == "==")
                return str(a) if truth else "!" + str(a)
            return f"{self.show(a, False)} {op} {self.value(a, b.as_long())}"
        return f"{self.show(a, False)} {op} {self.show(b, False)}"


def _consts(e: z3.ExprRef) -> list[z3.ExprRef]:
    """The uninterpreted constants (state components) in e."""
    out, todo, seen = [], [e], set()
    while todo:
        x = todo.pop()
        if x.get_id() in seen:
            continue
        seen.add(x.get_id())
        if z3.is_const(x) and x.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            out.append(x)
        todo.extend(x.children())
    return out


def show_formula(formula: z3.ExprRef, names: list[str], comps, ts: ir.TransitionSystem) -> str:
    """`formula` over de Bruijn variables 0..n-1 (the components in order), in model terms; top-level
    conjuncts one per line."""
    consts = [z3.BitVec(n, c.width) for n, c in zip(names, comps)]
    f = z3.substitute_vars(formula, *consts) if consts else formula
    return _Printer(names, comps, ts).show(f)
