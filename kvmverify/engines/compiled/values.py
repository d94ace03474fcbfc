"""The values an IR expression can take, as the generated code computes them: an interval, and the exact set of
values while it is small. The compiled engine sizes every C variable by the interval (a 64-bit integer, or bits
of a wider value) and packs every field of the state at the width its value set or interval needs.

The semantics mirrored is the generated Python's (engines/explicit/codegen.py), which is `ir.simplify.apply_op`
except where codegen states otherwise: a shift by an amount out of range gives 0 (left) or `a >> limit` (right),
`&`, `|` and `^` of a uN value wrap only when a constant operand lies outside 0..2**N-1, a uN division floors,
`&&`/`||` return an operand (Python's `and`/`or`). Everything here is an over-approximation: a value the code can
compute is in the abstraction. The C code checks each stored value against it, so an analysis that were wrong
would stop the checker (an internal error), never change a verdict.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import assert_never

from ...check.types import c_div, c_mod
from ...ir import nodes as ir
from ...ir.simplify import MAX_SHIFT

class Unsupported(Exception):
    """The model uses something the compiled engine does not handle; the message says what and where."""


SET_MAX = 128  # the most values an exact set keeps
PRODUCT_MAX = 1024  # the most operand combinations evaluated one by one


@dataclass(frozen=True)
class Vals:
    lo: int
    hi: int
    values: frozenset[int] | None = None  # every value the expression can take, when at most SET_MAX

    @staticmethod
    def of(values) -> Vals:
        vs = frozenset(values)
        if not vs:
            raise ValueError("an empty value set")
        return Vals(min(vs), max(vs), vs if len(vs) <= SET_MAX else None)

    @staticmethod
    def const(v: int) -> Vals:
        return Vals(v, v, frozenset((v,)))

    @staticmethod
    def range(lo: int, hi: int) -> Vals:
        return Vals.of(range(lo, hi + 1)) if hi - lo < SET_MAX else Vals(lo, hi)

    @property
    def is_const(self) -> bool:
        return self.lo == self.hi

    def join(self, other: Vals) -> Vals:
        if self.values is not None and other.values is not None:
            return Vals.of(self.values | other.values)
        return Vals(min(self.lo, other.lo), max(self.hi, other.hi))

    def clamp(self, lo: int, hi: int) -> Vals | None:
        """The values that also lie in [lo, hi]; None if none does."""
        if self.values is not None:
            vs = [v for v in self.values if lo <= v <= hi]
            return Vals.of(vs) if vs else None
        a, b = max(self.lo, lo), min(self.hi, hi)
        return Vals(a, b) if a <= b else None

    def elements(self):
        return sorted(self.values) if self.values is not None else None


def join_all(vs) -> Vals:
    out = None
    for v in vs:
        out = v if out is None else out.join(v)
    assert out is not None
    return out


# ------------------------------------------------------------------------------------------------ operators
def shift_limit(width: int | None) -> int:
    return width if width is not None else MAX_SHIFT + 1


def _wrap(v: int, width: int | None) -> int:
    return v & ((1 << width) - 1) if width is not None else v


def generated_op(op: str, args: tuple[int, ...], width: int | None, wraps: bool = True,
                 const_amount: bool = False) -> int:
    """What the generated code computes for `ir.Op(op, args, width)` on these values. `wraps`: for &, |, ^
    with a width, whether codegen reduces the result (it does when a constant operand lies outside the width);
    `const_amount`: whether a shift's amount is a constant (codegen shifts a uN value by a constant past the
    width as it is, by any other amount out of range by the limit)."""
    a = args[0]
    b = args[1] if len(args) > 1 else 0
    match op:
        case "add":
            return _wrap(a + b, width)
        case "sub":
            return _wrap(a - b, width)
        case "mul":
            return _wrap(a * b, width)
        case "div":
            return a // b if width is not None else c_div(a, b)
        case "mod":
            return a % b if width is not None else c_mod(a, b)
        case "shl":
            limit = shift_limit(width)
            return _wrap(a << b, width) if 0 <= b < limit else 0
        case "shr":
            limit = shift_limit(width)
            if 0 <= b < limit or (const_amount and width is not None and b >= limit):
                return a >> b
            return a >> limit
        case "band":
            return _wrap(a & b, width) if wraps else a & b
        case "bor":
            return _wrap(a | b, width) if wraps else a | b
        case "bxor":
            return _wrap(a ^ b, width) if wraps else a ^ b
        case "neg":
            return _wrap(-a, width)
        case "bnot":
            return _wrap(~a, width)
        case "not":
            return int(not a)
        case "and":
            for x in args:
                if not x:
                    return x
            return args[-1]
        case "or":
            for x in args:
                if x:
                    return x
            return args[-1]
        case "implies":
            return 1 if not a else b
        case "eq":
            return int(a == b)
        case "ne":
            return int(a != b)
        case "lt":
            return int(a < b)
        case "le":
            return int(a <= b)
        case "gt":
            return int(a > b)
        case "ge":
            return int(a >= b)
        case "ite":
            return args[1] if a else args[2]
        case "popcount":
            return a.bit_count()
    raise Unsupported(f"the operator '{op}'")


def bitwise_wraps(e: ir.Op) -> bool:
    """codegen's rule for &, |, ^ with a width: reduce only when a constant operand lies outside the width (the
    other operands are uN values already)."""
    if e.width is None:
        return False
    return not all(not isinstance(x, ir.Const) or 0 <= x.value < (1 << e.width) for x in e.args)


def _wrap_range(lo: int, hi: int, width: int | None) -> Vals:
    if width is None or (0 <= lo and hi < (1 << width)):
        return Vals(lo, hi)
    return Vals(0, (1 << width) - 1)


def _bitwise_range(a: Vals, b: Vals, op: str) -> tuple[int, int]:
    if a.lo >= 0 and b.lo >= 0:
        if op == "band":
            return 0, min(a.hi, b.hi)
        return 0, (1 << max(a.hi.bit_length(), b.hi.bit_length())) - 1
    if op == "band" and a.lo >= 0:  # x & y with x >= 0 lies in [0, x]
        return 0, a.hi
    if op == "band" and b.lo >= 0:
        return 0, b.hi
    k = max(signed_bits(a.lo, a.hi), signed_bits(b.lo, b.hi))
    return -(1 << (k - 1)), (1 << (k - 1)) - 1


def signed_bits(lo: int, hi: int) -> int:
    n = 1
    while not (-(1 << (n - 1)) <= lo and hi <= (1 << (n - 1)) - 1):
        n += 1
    return n


def op_range(e: ir.Op, args: list[Vals]) -> Vals:
    """The interval of `e` from its operands' intervals (sets too large to combine one by one)."""
    op, width = e.op, e.width
    a = args[0]
    b = args[1] if len(args) > 1 else None
    match op:
        case "add":
            return _wrap_range(a.lo + b.lo, a.hi + b.hi, width)
        case "sub":
            return _wrap_range(a.lo - b.hi, a.hi - b.lo, width)
        case "mul":
            corners = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
            return _wrap_range(min(corners), max(corners), width)
        case "div" | "mod":
            if b.lo <= 0:
                raise Unsupported("a divisor that is not a positive constant")
            f = generated_op
            if op == "div":
                corners = [f("div", (x, y), width) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
                return Vals(min(corners), max(corners))
            m = b.hi - 1
            if width is not None and a.lo < 0:
                return Vals(0, m)
            if a.lo >= 0:
                return Vals(0, min(a.hi, m))
            if a.hi <= 0:
                return Vals(max(a.lo, -m), 0)
            return Vals(-m, m)
        case "shl" | "shr":
            return _shift_range(op, a, b, width)
        case "band" | "bor" | "bxor":
            lo, hi = _bitwise_range(a, b, op)
            return _wrap_range(lo, hi, width) if bitwise_wraps(e) else Vals(lo, hi)
        case "neg":
            return _wrap_range(-a.hi, -a.lo, width)
        case "bnot":
            return _wrap_range(-a.hi - 1, -a.lo - 1, width)
        case "not" | "eq" | "ne" | "lt" | "le" | "gt" | "ge":
            return Vals.of((0, 1))
        case "and" | "or" | "implies":
            return join_all([Vals.of((0, 1)), *args])
        case "ite":
            return args[1].join(args[2])
        case "popcount":
            return Vals(0, max(abs(a.lo).bit_length(), abs(a.hi).bit_length()))
    raise Unsupported(f"the operator '{op}'")


def _shift_range(op: str, a: Vals, n: Vals, width: int | None) -> Vals:
    limit = shift_limit(width)
    parts: list[Vals] = []
    k0, k1 = max(n.lo, 0), min(n.hi, limit - 1)
    if k0 <= k1:  # amounts in range
        if op == "shl":
            corners = [a.lo << k0, a.lo << k1, a.hi << k0, a.hi << k1]
            parts.append(_wrap_range(min(corners), max(corners), width))
        else:
            corners = [a.lo >> k0, a.lo >> k1, a.hi >> k0, a.hi >> k1]
            parts.append(Vals(min(corners), max(corners)))
    if n.lo < 0 or n.hi >= limit:  # amounts out of range
        if op == "shl":
            parts.append(Vals.const(0))
        else:
            parts.append(Vals(a.lo >> limit, a.hi >> limit))
            if width is not None and n.hi >= limit:  # a constant amount >= width: a >> n
                parts.append(Vals(min(a.lo >> n.hi, a.lo >> limit), max(a.hi >> limit, a.hi >> n.hi)))
    return join_all(parts)


def bits_of(v: Vals, lo: int, width: int) -> Vals:
    """The values of bits [lo, lo+width) (`(x >> lo) & mask`, two's complement) of a value in v."""
    mask = (1 << width) - 1
    if v.values is not None:
        return Vals.of((x >> lo) & mask for x in v.values)
    if v.lo >= 0 and (v.hi >> lo) <= mask:
        return Vals(v.lo >> lo, v.hi >> lo)
    return Vals.range(0, mask) if width <= 8 else Vals(0, mask)


def combine(pieces: list[tuple[int, Vals]]) -> Vals:
    """The values of sum(piece << offset) for pieces of disjoint bits (each value non-negative)."""
    if all(p.values is not None for _, p in pieces):
        size = 1
        for _, p in pieces:
            size *= len(p.values)
        if size <= PRODUCT_MAX:
            return Vals.of(sum(x << off for (off, _), x in zip(pieces, combo))
                           for combo in itertools.product(*(p.elements() for _, p in pieces)))
    return Vals(sum(p.lo << off for off, p in pieces), sum(p.hi << off for off, p in pieces))


# ------------------------------------------------------------------------------------------------ expressions
class Abstract:
    """Abstract evaluation of expressions: `var_vals(i)` gives the values of state variable i, `field_bits(i, lo,
    width)` those of bits [lo, lo+width) of it (read field by field), `env` the locals."""

    def __init__(self, var_vals, field_bits, memo: dict | None = None):
        self.var_vals = var_vals
        self.field_bits = field_bits
        self.memo = memo  # id(expression) -> Vals, while the caller keeps `env` fixed (it clears the memo)

    def expr(self, e: ir.Expr, env: dict[str, Vals]) -> Vals:
        if self.memo is None:
            return self.evaluate(e, env)
        v = self.memo.get(id(e))
        if v is None:
            v = self.memo[id(e)] = self.evaluate(e, env)
        return v

    def evaluate(self, e: ir.Expr, env: dict[str, Vals]) -> Vals:
        match e:
            case ir.Const(v):
                return Vals.const(v)
            case ir.Var(i):
                return self.var_vals(i)
            case ir.Local(name):
                return env[name]
            case ir.Op(op, args, width):
                if op == "ite":
                    c = self.expr(args[0], env)
                    if c.values is not None and len(c.values) == 1:
                        return self.expr(args[1] if next(iter(c.values)) else args[2], env)
                vals = [self.expr(a, env) for a in args]
                return self.apply(e, vals)
            case ir.Extract(arg, lo, width):
                return self.bits(arg, lo, width, env)
            case ir.Insert(base, lo, width, value):
                b, v = self.expr(base, env), self.expr(value, env)
                mask = ((1 << width) - 1) << lo
                if b.values is not None and v.values is not None and len(b.values) * len(v.values) <= PRODUCT_MAX:
                    return Vals.of((x & ~mask) | ((y << lo) & mask) for x in b.values for y in v.values)
                if b.lo >= 0:
                    return Vals(0, (1 << max(b.hi.bit_length(), lo + width)) - 1)
                k = max(signed_bits(b.lo, b.hi), lo + width + 1)
                return Vals(-(1 << (k - 1)), (1 << (k - 1)) - 1)
            case ir.Select(options, index, base):
                idx = self.expr(index, env)
                if idx.values is not None:
                    picks = [options[k - base] for k in idx.values if 0 <= k - base < len(options)]
                    if picks:
                        return join_all(self.expr(o, env) for o in picks)
                return join_all(self.expr(o, env) for o in options)
            case _:
                assert_never(e)

    def apply(self, e: ir.Op, vals: list[Vals]) -> Vals:
        wraps = bitwise_wraps(e) if e.op in ("band", "bor", "bxor") and e.width is not None else True
        const_amount = e.op in ("shl", "shr") and isinstance(e.args[1], ir.Const)
        if all(v.values is not None for v in vals):
            size = 1
            for v in vals:
                size *= len(v.values)
            if size <= PRODUCT_MAX:
                return Vals.of(generated_op(e.op, combo, e.width, wraps, const_amount)
                               for combo in itertools.product(*(v.elements() for v in vals)))
        return op_range(e, vals)

    def bits(self, e: ir.Expr, lo: int, width: int, env: dict[str, Vals]) -> Vals:
        """The values of bits [lo, lo+width) of e, read structurally where e is a variable, a constant, an
        insertion or extraction, so that a field of a wide struct keeps its own small set of values."""
        if width <= 0:
            return Vals.const(0)
        match e:
            case ir.Var(i):
                return self.field_bits(i, lo, width)
            case ir.Insert(base, ilo, iw, value):
                pieces: list[tuple[int, Vals]] = []
                for a, b, inner in _split(lo, lo + width, ilo, ilo + iw):
                    if inner:
                        pieces.append((a - lo, self.bits(value, a - ilo, b - a, env)))
                    else:
                        pieces.append((a - lo, self.bits(base, a, b - a, env)))
                return combine(pieces)
            case ir.Extract(arg, elo, ew):
                if lo >= ew:
                    return Vals.const(0)
                return self.bits(arg, elo + lo, min(width, ew - lo), env)
            case ir.Op("ite", (c, a, b), _):
                return self.bits(a, lo, width, env).join(self.bits(b, lo, width, env))
            case ir.Select(options, _, _):
                return join_all(self.bits(o, lo, width, env) for o in options)
            case ir.Op("band" | "bor" | "bxor" as op, (a, b), w) if w is None or not bitwise_wraps(e) or lo < w:
                # bit by bit, as the C code reads it: the bits of a set of 100 elements next to a mask of it
                if w is not None and bitwise_wraps(e):
                    width = min(width, w - lo)
                x, y = self.bits(a, lo, width, env), self.bits(b, lo, width, env)
                return self.apply(ir.Op(op, (ir.Const(0), ir.Const(0))), [x, y])
        return bits_of(self.expr(e, env), lo, width)


def _split(lo: int, hi: int, ilo: int, ihi: int) -> list[tuple[int, int, bool]]:
    """[lo, hi) cut at the edges of [ilo, ihi): (start, end, inside) pieces in order."""
    cuts = sorted({lo, hi, *(x for x in (ilo, ihi) if lo < x < hi)})
    return [(a, b, ilo <= a and b <= ihi) for a, b in zip(cuts, cuts[1:])]
