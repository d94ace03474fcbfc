"""How the compiled engine stores a state: every state variable split into fields of at most 64 bits, each field
packed at the width its values need, fields no transition changes not stored at all.

Fields. A scalar (bool, enum, bounded integer, uN up to 64 bits, a set of up to 64 elements) is one field holding
its value. A register or struct is split at its declared fields (and the gaps between them, as the z3 encoding
does: ir/components.py), and anything wider than 64 bits into 64-bit chunks, so a 512-bit struct whose only
changing fields are `flags` and `token` stores two small fields.

Values. A fixpoint over every action instance (flow-insensitive: each assignment adds the values its expression
can take, values.py) gives each field an exact value set (while small) or an interval, inside its declared type.
A field with one value is a constant; one with a small set stores the index of its value in a sorted table when
that takes fewer bits than the interval (apf_int's `token` takes 0, 1..NTOKEN and 0xffffffff: 2 bits, not 32);
otherwise it stores `value - lo`. Both codes keep the order of values, which symmetry reduction relies on. Under
symmetry the fields of interchangeable variables share one encoding (joined), so that slices compare code by
code. The C code checks every value it stores against its encoding and stops (an internal error) if one does not
fit: the analysis decides the memory a state takes, never a verdict.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...ir import nodes as ir
from ...ir.components import components, type_range
from ...ir.simplify import operands
from .values import Abstract, Unsupported, Vals, bits_of, combine, join_all

WIDEN_AFTER = 8  # fixpoint passes before a field whose values still grow is widened to its whole type


@dataclass(frozen=True)
class Field:
    index: int
    var: int
    lo: int  # bit offset inside the variable's value
    width: int  # at most 64
    whole: bool  # the variable is this one field: it holds the variable's value (possibly negative)
    name: str
    type_lo: int
    type_hi: int


@dataclass(frozen=True)
class Slot:
    """Where and how one field is stored."""

    field: Field
    vals: Vals
    kind: str  # const | range (code = value - base) | table (code = index in `table`)
    base: int
    table: tuple[int, ...]
    bits: int
    offset: int  # bit offset in the packed state

    def code(self, value: int) -> int:
        if self.kind == "const":
            if value != self.base:
                raise ValueError(f"{self.field.name}: {value} is not its constant {self.base}")
            return 0
        if self.kind == "range":
            code = value - self.base
            if not 0 <= code < (1 << self.bits):
                raise ValueError(f"{self.field.name}: {value} lies outside its range")
            return code
        return self.table.index(value)

    def value(self, code: int) -> int:
        if self.kind == "const":
            return self.base
        if self.kind == "range":
            return self.base + code
        return self.table[code]


def split_fields(ts: ir.TransitionSystem) -> tuple[list[Field], list[list[Field]]]:
    fields: list[Field] = []
    per_var: list[list[Field]] = []
    for i, comps in enumerate(components(ts)):
        sv = ts.vars[i]
        mine: list[Field] = []
        whole = len(comps) == 1 and sv.layout is None
        lo_t, hi_t = type_range(sv.type)
        if whole and (comps[0].signed or comps[0].width <= 64):
            if not (-(1 << 63) <= lo_t and hi_t < (1 << 64)):
                raise Unsupported(f"state variable {sv.name} ranges over {lo_t}..{hi_t}: the compiled engine "
                                  "stores values of at most 64 bits (signed) and wider ones only when they are "
                                  "never negative")
            mine.append(Field(len(fields), i, 0, comps[0].width, True, sv.name, lo_t, hi_t))
            fields.append(mine[-1])
        else:
            for c in comps:
                for lo in range(c.lo, c.lo + c.width, 64):
                    w = min(64, c.lo + c.width - lo)
                    name = c.name if w == c.width else f"{sv.name}.<bits {lo}..{lo + w - 1}>"
                    mine.append(Field(len(fields), i, lo, w, False, name, 0, (1 << w) - 1))
                    fields.append(mine[-1])
        per_var.append(mine)
    return fields, per_var


class Analysis:
    """The value fixpoint over the system's action instances (see the module docstring)."""

    def __init__(self, ts: ir.TransitionSystem, fields: list[Field], per_var: list[list[Field]]):
        self.ts, self.fields, self.per_var = ts, fields, per_var
        self.vals: list[Vals] = [join_all(Vals.const(self.initial(f, s)) for s in ts.init) for f in fields] \
            if ts.init else [Vals.const(0) for _ in fields]
        self.narrow: dict[int, Vals] = {}  # fields the current action's guard bounds, until the body assigns them
        self.abstract = Abstract(self.var_vals, self.field_bits)

    def field_vals(self, k: int) -> Vals:
        return self.narrow.get(k, self.vals[k])

    @staticmethod
    def initial(f: Field, state: tuple[int, ...]) -> int:
        v = state[f.var]
        return v if f.whole else (v >> f.lo) & ((1 << f.width) - 1)

    def var_vals(self, i: int) -> Vals:
        fs = self.per_var[i]
        if fs[0].whole:
            return self.field_vals(fs[0].index)
        return combine([(f.lo, self.field_vals(f.index)) for f in fs])

    def field_bits(self, i: int, lo: int, width: int) -> Vals:
        fs = self.per_var[i]
        if fs[0].whole:
            return bits_of(self.field_vals(fs[0].index), lo, width)
        pieces = []
        for f in fs:
            a, b = max(lo, f.lo), min(lo + width, f.lo + f.width)
            if a < b:
                pieces.append((a - lo, bits_of(self.field_vals(f.index), a - f.lo, b - a)))
        return combine(pieces) if pieces else Vals.const(0)

    def assigned(self, f: Field, value: ir.Expr, env: dict[str, Vals]) -> Vals | None:
        v = self.abstract.expr(value, env) if f.whole else self.abstract.bits(value, f.lo, f.width, env)
        return v.clamp(f.type_lo, f.type_hi)

    def walk(self, stmts, env: dict[str, Vals], out: dict[int, Vals]) -> None:
        for s in stmts:
            match s:
                case ir.Assign(var, value, _):
                    for f in self.per_var[var]:
                        v = self.assigned(f, value, env)
                        if v is not None:
                            out[f.index] = out[f.index].join(v) if f.index in out else v
                    for f in self.per_var[var]:  # from here on the field holds what was assigned
                        self.narrow.pop(f.index, None)
                case ir.Let(name, value):
                    env = {**env, name: self.abstract.expr(value, env)}
                case ir.If(_, then, else_, _):
                    self.walk(then, env, out)
                    self.walk(else_, env, out)
                case ir.Choose(name, lo, hi, _, body):
                    if lo <= hi:
                        self.walk(body, {**env, name: Vals.range(lo, hi)}, out)
                case ir.Check():
                    pass

    def guard_bounds(self, guard: ir.Expr) -> dict[int, Vals]:
        """What the guard's conjuncts `field <op> constant` say about fields: a counter guarded by `x < 2` takes
        values up to 2, whatever its type allows."""
        out: dict[int, Vals] = {}
        for c in operands(guard, "and"):
            field, op, k = self.comparison(c)
            if field is None:
                continue
            v = out.get(field, self.vals[field])
            lo, hi = {"lt": (None, k - 1), "le": (None, k), "gt": (k + 1, None), "ge": (k, None),
                      "eq": (k, k)}.get(op, (None, None))
            narrowed = v.clamp(v.lo if lo is None else lo, v.hi if hi is None else hi)
            if op == "ne" and v.values is not None and len(v.values) > 1:
                narrowed = Vals.of(v.values - {k})
            if narrowed is not None:
                out[field] = narrowed
        return out

    def comparison(self, c: ir.Expr) -> tuple[int | None, str, int]:
        """(field, op, constant) for `field op constant` (either way round); field None for anything else."""
        flip = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le", "eq": "eq", "ne": "ne"}
        if isinstance(c, ir.Op) and c.op in flip and len(c.args) == 2:
            a, b = c.args
            op = c.op
            if isinstance(a, ir.Const):
                a, b, op = b, a, flip[op]
            if isinstance(b, ir.Const):
                field = self.field_of(a)
                if field is not None:
                    return field, op, b.value
        if isinstance(c, ir.Op) and c.op == "not" and self.field_of(c.args[0]) is not None:
            return self.field_of(c.args[0]), "eq", 0
        return None, "", 0

    def field_of(self, e: ir.Expr) -> int | None:
        """The field e reads whole: a one-field variable, or an extraction of exactly one field."""
        if isinstance(e, ir.Var) and self.per_var[e.index][0].whole:
            return self.per_var[e.index][0].index
        if isinstance(e, ir.Extract) and isinstance(e.arg, ir.Var):
            for f in self.per_var[e.arg.index]:
                if not f.whole and f.lo == e.lo and f.width == e.width:
                    return f.index
        return None

    def run(self) -> list[Vals]:
        passes = 0
        while True:
            passes += 1
            changed = set()
            for a in self.ts.actions:
                out: dict[int, Vals] = {}
                self.narrow = self.guard_bounds(a.guard)
                self.walk(a.body, {}, out)
                for k, v in out.items():
                    new = self.vals[k].join(v)
                    if new != self.vals[k]:
                        self.vals[k] = new
                        changed.add(k)
            if not changed:
                return self.vals
            if passes >= WIDEN_AFTER:
                for k in changed:
                    f = self.fields[k]
                    self.vals[k] = self.vals[k].join(Vals.range(f.type_lo, f.type_hi))


@dataclass
class Packing:
    fields: list[Field]
    per_var: list[list[Field]]
    slots: list[Slot]
    bits: int
    nbytes: int
    words: int
    # per symmetry, per slice (value of the type): the fields in comparison order (most significant first)
    slices: list[list[list[Field]]]

    def decode(self, words: list[int]) -> tuple[int, ...]:
        packed = sum(w << (64 * k) for k, w in enumerate(words))
        out = []
        for fs in self.per_var:
            value = 0
            for f in fs:
                s = self.slots[f.index]
                x = s.value((packed >> s.offset) & ((1 << s.bits) - 1))
                value = x if f.whole else value | (x << f.lo)
            out.append(value)
        return tuple(out)

    def encode(self, state: tuple[int, ...]) -> list[int]:
        packed = 0
        for s in self.slots:
            packed |= s.code(Analysis.initial(s.field, state)) << s.offset
        return [(packed >> (64 * k)) & ((1 << 64) - 1) for k in range(self.words)]


def _slot(f: Field, v: Vals, offset: int) -> Slot:
    if v.is_const:
        return Slot(f, v, "const", v.lo, (), 0, offset)
    range_bits = (v.hi - v.lo).bit_length()
    if v.values is not None and (len(v.values) - 1).bit_length() < range_bits:
        table = tuple(sorted(v.values))
        return Slot(f, v, "table", 0, table, (len(table) - 1).bit_length(), offset)
    return Slot(f, v, "range", v.lo, (), range_bits, offset)


def pack(ts: ir.TransitionSystem) -> Packing:
    fields, per_var = split_fields(ts)
    vals = Analysis(ts, fields, per_var).run()
    slices: list[list[list[Field]]] = []
    for sym in ts.symmetries:
        # interchangeable variables share one encoding, field by field
        for j in range(len(sym.slices[0])):
            group = [per_var[sl[j]] for sl in sym.slices]
            for k in range(len(group[0])):
                joined = join_all(vals[fs[k].index] for fs in group)
                for fs in group:
                    vals[fs[k].index] = joined
        slices.append([[f for i in sl for f in reversed(per_var[i])] for sl in sym.slices])
    slots, offset = [], 0
    for f in fields:
        s = _slot(f, vals[f.index], offset)
        slots.append(s)
        offset += s.bits
    nbytes = max((offset + 7) // 8, 1)
    return Packing(fields, per_var, slots, offset, nbytes, (nbytes + 7) // 8, slices)
