"""How a state variable's value divides into components: the fields of a register or struct (and the gaps
between them), or the whole value of a scalar. Shared by the z3 encoding (one bit-vector per component) and the
compiled engine (each component packed at the width its values need); no z3 here."""
from __future__ import annotations

from dataclasses import dataclass

from ..check.types import BitsT, BoolT, EnumT, IntT, OptionT, SetT, domain_size, value_range
from . import nodes as ir


@dataclass(frozen=True)
class Component:
    var: int  # state variable index
    name: str  # en[0].enabled, life[0][1], area[0].<bits 64..95>
    lo: int  # bit offset inside the variable (layouts) or 0
    width: int
    signed: bool


def signed_bits(lo: int, hi: int) -> int:
    """Bits of a two's complement number holding every value in [lo, hi]."""
    n = 1
    while not (-(1 << (n - 1)) <= lo and hi <= (1 << (n - 1)) - 1):
        n += 1
    return n


def type_range(t) -> tuple[int, int]:
    match t:
        case BoolT():
            return 0, 1
        case IntT(lo, hi):
            return lo, hi
        case EnumT(_, members):
            return 0, max(len(members) - 1, 0)
        case BitsT(width):
            return 0, (1 << width) - 1
        case SetT(elem):
            return 0, (1 << domain_size(elem)) - 1
        case OptionT():
            return value_range(t)
    raise TypeError(f"state variable of type {t}")


def components(ts: ir.TransitionSystem) -> tuple[tuple[Component, ...], ...]:
    """Per state variable, its components, least significant first."""
    out = []
    for i, sv in enumerate(ts.vars):
        layout = sv.layout
        if layout is not None and layout.fields:
            comps = []
            pos = 0
            for f in sorted(layout.fields, key=lambda f: f.lo):
                if f.lo > pos:
                    comps.append(Component(i, f"{sv.name}.<bits {pos}..{f.lo - 1}>", pos, f.lo - pos, False))
                comps.append(Component(i, f"{sv.name}.{f.name}", f.lo, f.width, False))
                pos = f.lo + f.width
            if pos < layout.width:
                comps.append(Component(i, f"{sv.name}.<bits {pos}..{layout.width - 1}>", pos, layout.width - pos,
                                       False))
            out.append(tuple(comps))
            continue
        lo, hi = type_range(sv.type)
        if lo < 0:
            out.append((Component(i, sv.name, 0, signed_bits(lo, hi), True),))
        else:
            out.append((Component(i, sv.name, 0, max(hi.bit_length(), 1), False),))
    return tuple(out)
