"""Types of the .kv language and the layouts of registers and structs.

Every runtime value is an int: bools are 0/1, enum values their index, bit vectors their unsigned value, sets
a bit mask over the element type's domain (bit i stands for the element `lo + i`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from ..diagnostics import Span


@dataclass(frozen=True)
class BoolT:
    def __str__(self) -> str:
        return "bool"


@dataclass(frozen=True)
class IntT:
    """An integer range. Types of expressions are ranges too (interval arithmetic), so `x + 1` has a range."""

    lo: int
    hi: int
    name: str | None = None

    def __str__(self) -> str:
        if self.name:
            return self.name
        return str(self.lo) if self.lo == self.hi else f"{self.lo}..{self.hi}"


@dataclass(frozen=True)
class EnumT:
    name: str
    members: tuple[str, ...]

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class FieldLayout:
    name: str
    lo: int  # bit offset inside the value
    width: int
    requires: str | None = None
    must_be: int | None = None
    count: int | None = None  # arrays in structs: `pad: u8[56]`
    span: Span | None = None

    @property
    def hi(self) -> int:
        return self.lo + self.width - 1


@dataclass(frozen=True)
class Layout:
    """A register (bit fields) or a struct (byte-offset fields, little endian as on x86)."""

    kind: str  # "register" | "word" (a register's bit fields with no MSR) | "struct"
    name: str
    width: int
    fields: tuple[FieldLayout, ...]
    address: int | None = None
    declared_size: int | None = None  # structs: the `size` clause, in bytes
    span: Span | None = None

    def field(self, name: str) -> FieldLayout | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class BitsT:
    width: int
    layout: Layout | None = None

    def __str__(self) -> str:
        if self.layout is not None:
            return self.layout.name
        return f"u{self.width}" if self.width in (8, 16, 32, 64) else f"bits{self.width}"


@dataclass(frozen=True)
class SetT:
    elem: FiniteT

    def __str__(self) -> str:
        return f"set of {self.elem}"


@dataclass(frozen=True)
class RecordT:
    """The type of a `{field: value, ...}` literal before it meets the register or struct it builds."""

    def __str__(self) -> str:
        return "record literal"


@dataclass(frozen=True)
class EmptySetT:
    def __str__(self) -> str:
        return "{}"


@dataclass(frozen=True)
class OptionT:
    """`option T` for a finite T without negative values: `none` is stored as -1, `some(v)` as v."""

    elem: FiniteT

    def __str__(self) -> str:
        return f"option {self.elem}"


@dataclass(frozen=True)
class SomeT:
    """The type of a `some(e)` literal before it meets the option it is stored in or compared with."""

    inner: Type

    def __str__(self) -> str:
        return f"some({self.inner})"


@dataclass(frozen=True)
class NoneT:
    def __str__(self) -> str:
        return "none"


@dataclass(frozen=True)
class QueueT:
    """`queue[N] of T`: a FIFO of at most `size` elements of `elem`, stored as `size` elements (those past the
    length hold the element type's first value) and a length."""

    size: int
    elem: Type

    def __str__(self) -> str:
        return f"queue[{self.size}] of {self.elem}"


NONE_VALUE = -1  # how `none` is stored


Type = Union[BoolT, IntT, EnumT, BitsT, SetT, RecordT, EmptySetT, OptionT, SomeT, NoneT, QueueT]
FiniteT = Union[BoolT, IntT, EnumT]

BOOL = BoolT()
MAX_DOMAIN = 1 << 16  # the most values a type may have to be enumerated (action parameters, quantifiers, sets)
MAX_SET_DOMAIN = 4096


def c_div(a: int, b: int) -> int:
    """Integer division as in C (and SPIN): the quotient truncated toward zero (-3 / 2 == -1)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def c_mod(a: int, b: int) -> int:
    """The remainder as in C: a - b * (a / b), with the sign of the dividend (-3 % 2 == -1)."""
    return a - b * c_div(a, b)


def domain(t: FiniteT) -> range:
    match t:
        case BoolT():
            return range(0, 2)
        case IntT(lo, hi):
            return range(lo, hi + 1)
        case EnumT(_, members):
            return range(0, len(members))
    raise TypeError(f"not a finite type: {t}")


def domain_size(t: Type) -> int:
    match t:
        case BoolT():
            return 2
        case IntT(lo, hi):
            return max(0, hi - lo + 1)
        case EnumT(_, members):
            return len(members)
        case BitsT(width):
            return 1 << width
    return 0


def domain_lo(t: FiniteT) -> int:
    return t.lo if isinstance(t, IntT) else 0


def value_range(t: Type) -> tuple[int, int] | None:
    """The least and greatest int a value of the type can be, or None for types without an order."""
    match t:
        case BoolT():
            return (0, 1)
        case IntT(lo, hi):
            return (lo, hi)
        case BitsT(width):
            return (0, (1 << width) - 1)
        case EnumT(_, members):
            return (0, len(members) - 1)
        case SetT(elem):
            return (0, (1 << domain_size(elem)) - 1)
        case OptionT(elem):
            return (NONE_VALUE, value_range(elem)[1])
    return None


def first_value(t: Type) -> int:
    """The value an unused queue element holds: the least value of its type (`none` for an option)."""
    r = value_range(t)
    return r[0] if r is not None else 0


def is_numeric(t: Type) -> bool:
    return isinstance(t, (IntT, BitsT))


def show_value(t: Type, v: int) -> str:
    """A value as the model's author would write it."""
    match t:
        case BoolT():
            return "true" if v else "false"
        case EnumT(_, members):
            return members[v] if 0 <= v < len(members) else f"<{v}>"
        case SetT(elem):
            lo = domain_lo(elem)
            items = [show_value(elem, lo + i) for i in range(domain_size(elem)) if v >> i & 1]
            return "{" + ", ".join(items) + "}"
        case BitsT(width, layout):
            if layout is not None or width > 8:
                return hex(v)
            return str(v)
        case OptionT(elem):
            return "none" if v == NONE_VALUE else f"some({show_value(elem, v)})"
    return str(v)


def describe_type(t: Type) -> str:
    """A type with the values it admits, for messages: `Vcpu (0 .. 1)`, `u8 (0 .. 255)`, `0 .. 3`."""
    r = value_range(t)
    if isinstance(t, IntT) and t.name is None:
        return f"{t.lo} .. {t.hi}" if t.lo != t.hi else str(t.lo)
    if isinstance(t, (IntT, BitsT)) and r is not None:
        hi = r[1] if r[1] < 1024 else hex(r[1])
        return f"{t} ({r[0]} .. {hi})"
    return str(t)


CTYPES = {"u8": 8, "u16": 16, "u32": 32, "u64": 64, "s8": 8, "s16": 16, "s32": 32, "s64": 64}
