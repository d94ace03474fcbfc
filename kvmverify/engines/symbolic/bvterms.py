"""Integers as z3 bit-vectors with value intervals: a `Term` is a bit-vector read as a signed (two's complement)
number together with the interval [lo, hi] of values it can take, exactly wide enough for the interval, so every
IR operator (reference semantics: `ir.simplify.apply_op`, Python ints) is encoded without overflow."""
from __future__ import annotations

from dataclasses import dataclass

import z3

from ...ir.components import signed_bits  # noqa: F401 - re-exported


@dataclass(frozen=True)
class Term:
    bv: z3.BitVecRef
    lo: int
    hi: int


def extend(t: Term, width: int) -> z3.BitVecRef:
    """`t` as a `width`-bit two's complement vector (width >= t's width)."""
    extra = width - t.bv.size()
    if extra == 0:
        return t.bv
    if extra < 0:  # the value fits (intervals are sound): dropping high bits keeps it
        return z3.Extract(width - 1, 0, t.bv)
    return z3.ZeroExt(extra, t.bv) if t.lo >= 0 else z3.SignExt(extra, t.bv)


def const(v: int) -> Term:
    return Term(z3.BitVecVal(v, signed_bits(v, v)), v, v)


def of_bool(b: z3.BoolRef) -> Term:
    return Term(z3.If(b, z3.BitVecVal(1, 2), z3.BitVecVal(0, 2)), 0, 1)


def truth(t: Term) -> z3.BoolRef:
    if t.lo == t.hi:
        return z3.BoolVal(t.lo != 0)
    if t.lo == 0 and t.hi == 1 and z3.is_app_of(t.bv, z3.Z3_OP_ITE):
        c, a, b = t.bv.children()
        if z3.is_bv_value(a) and z3.is_bv_value(b) and a.as_long() == 1 and b.as_long() == 0:
            return c
    return t.bv != 0


def widen(t: Term, lo: int, hi: int) -> Term:
    return Term(extend(t, signed_bits(lo, hi)), lo, hi)


def _wrap(raw: z3.BitVecRef, lo: int, hi: int, width: int | None) -> Term:
    """A result computed exactly in `raw` (interval [lo, hi]), reduced modulo 2**width if width is set."""
    if width is None:
        return Term(raw, lo, hi)
    if 0 <= lo and hi < (1 << width):
        return Term(raw, lo, hi)
    if raw.size() < width:
        raw = z3.SignExt(width - raw.size(), raw)
    return Term(z3.ZeroExt(1, z3.Extract(width - 1, 0, raw)), 0, (1 << width) - 1)


def ite(c: z3.BoolRef, a: Term, b: Term) -> Term:
    lo, hi = min(a.lo, b.lo), max(a.hi, b.hi)
    w = signed_bits(lo, hi)
    return Term(z3.If(c, extend(a, w), extend(b, w)), lo, hi)


def compare(op: str, a: Term, b: Term) -> z3.BoolRef:
    w = max(signed_bits(min(a.lo, b.lo), max(a.hi, b.hi)), 1)
    x, y = extend(a, w), extend(b, w)
    match op:
        case "eq":
            return x == y
        case "ne":
            return x != y
        case "lt":
            return x < y
        case "le":
            return x <= y
        case "gt":
            return x > y
        case "ge":
            return x >= y
    raise ValueError(op)


def _bitwise_range(a: Term, b: Term, op: str) -> tuple[int, int]:
    if a.lo >= 0 and b.lo >= 0:
        if op == "band":
            return 0, min(a.hi, b.hi)
        return 0, (1 << max(a.hi.bit_length(), b.hi.bit_length())) - 1
    k = max(signed_bits(a.lo, a.hi), signed_bits(b.lo, b.hi))
    return -(1 << (k - 1)), (1 << (k - 1)) - 1


def op_term(op: str, args: list[Term], width: int | None) -> Term:
    """The z3 meaning of `ir.Op(op, args, width)` (see `apply_op`) for arithmetic and bitwise operators."""
    a = args[0]
    b = args[1] if len(args) > 1 else None
    match op:
        case "add" | "sub" | "mul":
            if op == "add":
                lo, hi = a.lo + b.lo, a.hi + b.hi
            elif op == "sub":
                lo, hi = a.lo - b.hi, a.hi - b.lo
            else:
                corners = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
                lo, hi = min(corners), max(corners)
            w = signed_bits(lo, hi)
            x, y = extend(a, w), extend(b, w)
            raw = x + y if op == "add" else x - y if op == "sub" else x * y
            return _wrap(raw, lo, hi, width)
        case "div" | "mod":
            # the divisor is a positive constant (checked); C's truncating division is bvsdiv/bvsrem
            m = max(abs(a.lo), abs(a.hi), abs(b.lo), abs(b.hi)) + 1
            w = signed_bits(-m, m)
            x, y = extend(a, w), extend(b, w)
            if op == "mod":
                return _wrap(z3.SRem(x, y), -m, m, width)
            return _wrap(x / y, -m, m, width)  # z3py's / on bit-vectors is signed division, truncating
        case "shl" | "shr":
            return _shift(op, a, b, width)
        case "band" | "bor" | "bxor":
            lo, hi = _bitwise_range(a, b, op)
            w = max(signed_bits(lo, hi), signed_bits(a.lo, a.hi), signed_bits(b.lo, b.hi))
            x, y = extend(a, w), extend(b, w)
            raw = x & y if op == "band" else x | y if op == "bor" else x ^ y
            return _wrap(raw, lo, hi, width)
        case "neg":
            lo, hi = -a.hi, -a.lo
            w = signed_bits(lo, hi)
            return _wrap(-extend(a, w), lo, hi, width)
        case "bnot":
            lo, hi = -a.hi - 1, -a.lo - 1
            w = max(signed_bits(lo, hi), a.bv.size())
            return _wrap(~extend(a, w), lo, hi, width)
        case "popcount":
            n = max(a.hi.bit_length(), 1)
            w = signed_bits(0, n)
            x = extend(a, n + 1)
            return Term(z3.Sum([z3.ZeroExt(w - 1, z3.Extract(i, i, x)) for i in range(n)]), 0, n)
    raise ValueError(f"unknown operator {op}")


def _shift(op: str, a: Term, n: Term, width: int | None) -> Term:
    """`a << n` / `a >> n` for a non-negative `a` (the checker ensures it). With `width` (a uN value) the result
    is taken modulo 2**width and is 0 for n >= width; a negative n never reaches a result (the step is stopped
    by `shift_ok` first), so it is encoded as 0."""
    nmax = max(n.hi, 0)
    if width is not None:
        nmax = min(nmax, width)
    lo, hi = (0, a.hi << nmax) if op == "shl" else (0, max(a.hi, 0))
    w = max(signed_bits(lo, hi), signed_bits(a.lo, a.hi), signed_bits(n.lo, n.hi), (nmax + 1).bit_length() + 1)
    x, y = extend(a, w), extend(n, w)
    # `y < width` only where y can reach it: a constant must fit w bits, or it compares as another number
    in_range = y >= 0 if width is None or n.hi < width else z3.And(y >= 0, y < width)
    if op == "shl":
        raw = z3.If(in_range, x << y, z3.BitVecVal(0, w))
        return _wrap(raw, lo, hi, width)
    return Term(z3.If(y >= 0, z3.LShR(x, y), z3.BitVecVal(0, w)), lo, hi)


def extract(t: Term, lo: int, width: int) -> Term:
    w = max(lo + width, t.bv.size())
    x = extend(t, w)
    return Term(z3.ZeroExt(1, z3.Extract(lo + width - 1, lo, x)), 0, (1 << width) - 1)


def insert(base: Term, lo: int, width: int, value: Term) -> Term:
    """`base` with bits [lo, lo+width) replaced by the low bits of `value` (Python: infinite two's complement)."""
    if base.lo >= 0:
        rlo, rhi = 0, max(base.hi, (1 << (lo + width)) - 1)
        rhi = (1 << max(rhi.bit_length(), lo + width)) - 1
    else:
        k = max(signed_bits(base.lo, base.hi), lo + width + 1)
        rlo, rhi = -(1 << (k - 1)), (1 << (k - 1)) - 1
    w = signed_bits(rlo, rhi)
    b = extend(base, w)
    v = extend(value, max(width, value.bv.size()))
    parts = []
    if w > lo + width:
        parts.append(z3.Extract(w - 1, lo + width, b))
    parts.append(z3.Extract(width - 1, 0, v))
    if lo > 0:
        parts.append(z3.Extract(lo - 1, 0, b))
    return Term(z3.Concat(*parts) if len(parts) > 1 else parts[0], rlo, rhi)
