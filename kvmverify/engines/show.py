"""z3 formulas over state components, printed in model terms: `life[0][1] == Delivered`, `en[0].enabled == 1`,
`halted[1]`; connectives as in the .kv language."""
from __future__ import annotations

import z3

from ..check.types import BoolT, EnumT, show_value
from ..ir import nodes as ir

_CMP = {z3.Z3_OP_ULEQ: "<=", z3.Z3_OP_SLEQ: "<=", z3.Z3_OP_UGEQ: ">=", z3.Z3_OP_SGEQ: ">=",
        z3.Z3_OP_ULT: "<", z3.Z3_OP_SLT: "<", z3.Z3_OP_UGT: ">", z3.Z3_OP_SGT: ">",
        z3.Z3_OP_EQ: "==", z3.Z3_OP_DISTINCT: "!="}


class _Printer:
    def __init__(self, names: list[str], comps, ts: ir.TransitionSystem):
        self.types = {}
        for name, c in zip(names, comps):
            sv = ts.vars[c.var]
            if sv.layout is None:
                self.types[name] = sv.type

    def value(self, other: z3.ExprRef, v: int) -> str:
        if z3.is_const(other) and not z3.is_bv_value(other):
            t = self.types.get(str(other))
            if isinstance(t, (EnumT, BoolT)):
                return show_value(t, v)
        return str(v) if v < 1024 else hex(v)

    def show(self, e: z3.ExprRef, top: bool = True) -> str:
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
        if k in (z3.Z3_OP_AND, z3.Z3_OP_OR):
            sep = " && " if k == z3.Z3_OP_AND else " || "
            parts = [self.show(c, False) for c in kids]
            if top and k == z3.Z3_OP_AND:
                return "\n".join(parts)
            return "(" + sep.join(parts) + ")"
        if k == z3.Z3_OP_NOT:
            (c,) = kids
            if c.decl().kind() == z3.Z3_OP_EQ:
                return self.relation("!=", *c.children())
            return "!" + self.show(c, False)
        if k == z3.Z3_OP_IMPLIES:
            return f"({self.show(kids[0], False)} -> {self.show(kids[1], False)})"
        if k in _CMP and len(kids) == 2:
            return self.relation(_CMP[k], *kids)
        if k == z3.Z3_OP_ITE:
            return f"({self.show(kids[0], False)} ? {self.show(kids[1], False)} : {self.show(kids[2], False)})"
        if k == z3.Z3_OP_EXTRACT:
            hi, lo = e.params()
            return f"{self.show(kids[0], False)}[{hi}:{lo}]"
        if k == z3.Z3_OP_BADD:
            return "(" + " + ".join(self.show(c, False) for c in kids) + ")"
        return str(e).replace("\n", " ")

    def relation(self, op: str, a: z3.ExprRef, b: z3.ExprRef) -> str:
        if z3.is_bv_value(a) and not z3.is_bv_value(b):
            flip = {"<=": ">=", ">=": "<=", "<": ">", ">": "<"}
            a, b, op = b, a, flip.get(op, op)
        if z3.is_bv_value(b):
            t = self.types.get(str(a)) if z3.is_const(a) else None
            if isinstance(t, BoolT) and op in ("==", "!="):
                truth = (b.as_long() == 1) == (op == "==")
                return str(a) if truth else "!" + str(a)
            return f"{self.show(a, False)} {op} {self.value(a, b.as_long())}"
        return f"{self.show(a, False)} {op} {self.show(b, False)}"


def show_formula(formula: z3.ExprRef, names: list[str], comps, ts: ir.TransitionSystem) -> str:
    """`formula` over de Bruijn variables 0..n-1 (the components in order), in model terms; top-level
    conjuncts one per line."""
    consts = [z3.BitVec(n, c.width) for n, c in zip(names, comps)]
    f = z3.substitute_vars(formula, *consts) if consts else formula
    return _Printer(names, comps, ts).show(f)
