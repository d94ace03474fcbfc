"""IR expressions as C expressions, for the compiled engine's generator (cgen.py).

Every expression's values are known as an interval (values.py), which picks its C type: `int64_t` when the
interval fits it, `uint64_t` when it is non-negative and fits that, and otherwise the value is *wide* (a 512-bit
struct, a set of 100 elements): a wide value is never built whole, only read bit range by bit range, `bits(e, lo,
w)` (at most 64 bits of it as a `uint64_t`), which follows variables field by field and insertions, extractions,
`&`, `|`, `^`, `~`, constant shifts and choices piece by piece; the few operators that need a wide value whole
(a shift by a variable amount, arithmetic past 64 bits, an ordering) build it as an array of 64-bit limbs in a
GNU statement expression (`({ ... })`, which gcc, clang and tcc accept) and compute on it with the runtime's
kv_w* functions, sized so that the exact result fits. Arithmetic is done in `uint64_t` (modulo 2**64) and
converted to the result's type: the interval guarantees the true result fits, so this is exact and never
overflows a signed type (undefined in C). Operators with a width (uN) need only the low 64 bits of operands.

What codegen.py does is the semantics copied here, including its quirks (shift amounts out of range, when `&`
wraps, `//` for uN division, `and`/`or` returning an operand). Anything this cannot express raises Unsupported
with the construct named; nothing is approximated.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

from ...ir import nodes as ir
from .values import Abstract, Unsupported, Vals, bitwise_wraps, op_range, shift_limit, signed_bits

I64_MIN, I64_MAX, U64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1
CTYPE = {"s": "int64_t", "u": "uint64_t"}


def kind_of(v: Vals) -> str:
    if I64_MIN <= v.lo and v.hi <= I64_MAX:
        return "s"
    if 0 <= v.lo and v.hi <= U64_MAX:
        return "u"
    return "w"


def mask(w: int) -> int:
    return (1 << w) - 1


def lit(v: int, kind: str) -> str:
    if kind == "u":
        return f"UINT64_C({v:#x})" if v > 0xffff else f"UINT64_C({v})"
    if v == I64_MIN:
        return "INT64_MIN"
    return str(v) if -(1 << 31) < v < (1 << 31) else f"INT64_C({v})"


def ulit(v: int) -> str:
    return lit(v & U64_MAX, "u")


@dataclass(frozen=True)
class CVal:
    code: str | None  # None for a wide value (read with bits())
    vals: Vals

    @property
    def kind(self) -> str:
        return kind_of(self.vals)


@dataclass(frozen=True)
class Local:
    cname: str
    vals: Vals
    limbs: int = 0  # a wide local: an array of this many 64-bit limbs (two's complement)


class Exprs:
    """C code for expressions. `field(k)` is the C expression of field k's current value (a literal for a
    constant field); `locals` maps IR locals to their C bindings; `where` names the statement (for errors)."""

    def __init__(self, packing, field, abstract_fields, tables: list[str]):
        self.packing = packing
        self.field = field
        self.locals: dict[str, Local] = {}
        self.where = ""
        self.abstract = Abstract(*abstract_fields, memo={})
        self.tables = tables  # file-scope constant tables the generated expressions index
        self.counter = 0

    def unsupported(self, what: str):
        raise Unsupported(f"{self.where}: {what}" if self.where else what)

    def bind(self, name: str, local: Local) -> None:
        self.locals = {**self.locals, name: local}
        self.abstract.memo.clear()

    def set_locals(self, bindings: dict[str, Local]) -> None:
        self.locals = dict(bindings)
        self.abstract.memo.clear()

    def env(self) -> dict[str, Vals]:
        return {n: b.vals for n, b in self.locals.items()}

    # -------------------------------------------------------------------------------------------- values
    def vals(self, e: ir.Expr) -> Vals:
        return self.abstract.expr(e, self.env())

    def value(self, e: ir.Expr) -> CVal:
        """e as a C expression of its kind's type (code None: a wide value)."""
        match e:
            case ir.Const(v):
                k = kind_of(Vals.const(v))
                return CVal(lit(v, k) if k != "w" else None, Vals.const(v))
            case ir.Var(i):
                fs = self.packing.per_var[i]
                if fs[0].whole:
                    slot = self.packing.slots[fs[0].index]
                    return CVal(self.field(fs[0].index), Vals(slot.vals.lo, slot.vals.hi))
                return self.via_bits(e, self.vals(e))
            case ir.Local(name):
                b = self.locals[name]
                return CVal(None if b.limbs else b.cname, b.vals)
            case ir.Op(op, args, width):
                return self.op(e, op, args, width)
            case ir.Extract(ir.Var(i), lo, w) if (f := self.field_at(i, lo, w)) is not None:
                slot = self.packing.slots[f.index]  # a register or struct field read whole: its own C variable
                return CVal(self.field(f.index), Vals(slot.vals.lo, slot.vals.hi))
            case ir.Extract() | ir.Insert():
                return self.via_bits(e, self.vals(e))
            case ir.Select(options, index, base):
                v = self.vals(e)
                if kind_of(v) == "w":
                    return CVal(None, v)
                idx = self.scalar(index)
                k = kind_of(v)
                return CVal(self.chain(idx, [self.cast(self.value(o), k) for o in options], base, k), v)
            case _:
                assert_never(e)

    def field_at(self, var: int, lo: int, width: int):
        """The field that is exactly bits [lo, lo+width) of variable var, if there is one."""
        for f in self.packing.per_var[var]:
            if not f.whole and f.lo == lo and f.width == width:
                return f
        return None

    def via_bits(self, e: ir.Expr, v: Vals) -> CVal:
        k = kind_of(v)
        if k == "w":
            return CVal(None, v)
        return CVal(self.cast_bits(self.bits(e, 0, 64), k), v)

    @staticmethod
    def cast_bits(code: str, k: str) -> str:
        return code if k == "u" else f"((int64_t){code})"

    def scalar(self, e: ir.Expr) -> CVal:
        c = self.value(e)
        if c.code is None:
            self.unsupported(f"a value of {signed_bits(c.vals.lo, c.vals.hi)} bits used whole (only bit ranges of "
                             "values wider than 64 bits are supported)")
        return c

    @staticmethod
    def cast(c: CVal, k: str) -> str:
        if c.kind == k:
            return c.code
        return f"(({CTYPE[k]}){c.code})"

    def u64(self, e: ir.Expr) -> str:
        """The low 64 bits of e as uint64_t (two's complement)."""
        c = self.value(e)
        if c.code is None:
            return self.bits(e, 0, 64)
        return self.cast(c, "u")

    def chain(self, idx: CVal, options: list[str], base: int, k: str) -> str:
        """options[idx - base] as a chain of conditionals; an index out of range stops the checker."""
        if all(_is_literal(o) for o in options) and len(options) > 4:
            # a table of constants: one load
            name = f"kv_tab{len(self.tables)}"
            self.tables.append(f"static const {CTYPE[k]} {name}[{len(options)}] = {{{', '.join(options)}}};")
            i = idx.code if base == 0 else f"({idx.code} - {lit(base, idx.kind)})"
            return f"(((uint64_t){i} < {len(options)}u) ? {name}[{i}] : ({CTYPE[k]})kv_bad_select())"
        out = f"({CTYPE[k]})kv_bad_select()"
        for n in range(len(options) - 1, -1, -1):
            out = f"({idx.code} == {lit(base + n, idx.kind)} ? {options[n]} : {out})"
        return out

    # -------------------------------------------------------------------------------------------- operators
    def op(self, e: ir.Op, op: str, args: tuple[ir.Expr, ...], width: int | None) -> CVal:
        v = self.vals(e)
        k = kind_of(v)
        match op:
            case "not":
                return CVal(f"(!{self.cond(args[0])})", v)
            case "and" | "or":
                if not all(self.is_bool(a) for a in args):
                    self.unsupported(f"'{op}' of values other than true/false")
                sym = " && " if op == "and" else " || "
                return CVal("(" + sym.join(self.cond(a) for a in args) + ")", v)
            case "implies":
                if self.is_bool(args[1]):
                    return CVal(f"(!{self.cond(args[0])} || {self.cond(args[1])})", v)
                return CVal(f"(!{self.cond(args[0])} ? {lit(1, k)} : {self.cast(self.scalar(args[1]), k)})", v)
            case "eq" | "ne" | "lt" | "le" | "gt" | "ge":
                return CVal(self.compare(op, args[0], args[1]), v)
            case "ite":
                if k == "w":
                    return CVal(None, v)
                a, b = self.value(args[1]), self.value(args[2])
                if a.code is None or b.code is None:
                    return self.via_bits(e, v)
                return CVal(f"({self.cond(args[0])} ? {self.cast(a, k)} : {self.cast(b, k)})", v)
        if k == "w":
            return CVal(None, v)  # read by bits(), which says what it cannot do
        match op:
            case "add" | "sub" | "mul":
                # a result that fits 64 bits is its value modulo 2**64 (for a uN result too: 2**64 divides 2**N)
                sym = {"add": "+", "sub": "-", "mul": "*"}[op]
                raw = f"({self.u64(args[0])} {sym} {self.u64(args[1])})"
                return CVal(self.cast_bits(self.wrap(raw, width), k), v)
            case "neg" | "bnot":
                raw = f"({'-' if op == 'neg' else '~'}{self.u64(args[0])})"
                return CVal(self.cast_bits(self.wrap(raw, width), k), v)
            case "div" | "mod":
                return CVal(self.division(op, args, width, k), v)
            case "shl" | "shr":
                return CVal(self.shift(op, args, width, k), v)
            case "band" | "bor" | "bxor":
                return self.via_bits(e, v)
            case "popcount":
                a = self.value(args[0])
                if a.code is not None:
                    fn = "kv_popcount_s" if a.kind == "s" else "kv_popcount"
                    return CVal(f"(({CTYPE[k]}){fn}({a.code}))", v)
                if a.vals.lo < 0:
                    self.unsupported("the bit count of a negative value wider than 64 bits (Python counts the "
                                     "bits of its absolute value)")
                n = max(a.vals.hi.bit_length(), 1)
                chunks = [f"kv_popcount({self.bits(args[0], lo, min(64, n - lo))})" for lo in range(0, n, 64)]
                return CVal(f"(({CTYPE[k]})({' + '.join(chunks)}))", v)
        self.unsupported(f"the operator '{op}'")

    @staticmethod
    def wrap(raw: str, width: int | None) -> str:
        if width is None or width >= 64:
            return raw
        return f"({raw} & {ulit(mask(width))})"

    def division(self, op: str, args, width: int | None, k: str) -> str:
        d = args[1]
        if not isinstance(d, ir.Const) or not 0 < d.value <= I64_MAX:
            self.unsupported("a divisor that is not a positive constant below 2**63")
        a = self.value(args[0])
        if a.code is None:  # a wide dividend: divided in limbs, its low 64 bits are the (64-bit) result
            return self.cast_bits(self.wide_bits(ir.Op(op, args, width), 0, 64), k)
        sym = "/" if op == "div" else "%"
        if width is not None and a.vals.lo < 0:  # codegen floors a uN division (Python's // and %)
            fn = "kv_floordiv" if op == "div" else "kv_floormod"
            return f"(({CTYPE[k]}){fn}({a.code}, {lit(d.value, 's')}))"
        return f"(({CTYPE[k]})({a.code} {sym} {lit(d.value, a.kind)}))"

    def shift(self, op: str, args, width: int | None, k: str) -> str:
        a, n = args
        limit = shift_limit(width)
        if op == "shl":
            if width is not None and width <= 64:
                if isinstance(n, ir.Const):
                    if 0 <= n.value < width:
                        return self.cast_bits(self.wrap(f"({self.u64(a)} << {n.value})", width), k)
                    return lit(0, k)
                amount = self.scalar(n)
                return self.cast_bits(f"kv_shl_w({self.u64(a)}, {self.cast(amount, 's')}, {width})", k)
            if isinstance(n, ir.Const):
                if 0 <= n.value < 64:
                    return self.cast_bits(f"({self.u64(a)} << {n.value})", k)
                return lit(0, k)  # a result that fits 64 bits: a is 0, or the amount is out of range (0)
            amount = self.scalar(n)
            return self.cast_bits(f"kv_shl({self.u64(a)}, {self.cast(amount, 's')})", k)
        base = self.value(a)
        if base.code is None:  # a wide value shifted right: its bits from the amount on
            if not isinstance(n, ir.Const):
                return self.cast_bits(self.wide_bits(ir.Op(op, args, width), 0, 64), k)
            at = n.value if 0 <= n.value < limit or (width is not None and n.value >= limit) else limit
            return self.cast_bits(self.bits(a, at, 64), k)
        fn = "kv_sar" if base.kind == "s" else "kv_shr"
        if isinstance(n, ir.Const) and n.value == 0:
            return self.cast(base, k)
        if isinstance(n, ir.Const) and (0 <= n.value < limit or (width is not None and n.value >= limit)):
            return f"(({CTYPE[k]}){fn}({base.code}, {n.value}))"
        amount = self.scalar(n)
        return f"(({CTYPE[k]}){fn}_lim({base.code}, {self.cast(amount, 's')}, {limit}))"

    def is_bool(self, e: ir.Expr) -> bool:
        v = self.vals(e)
        return 0 <= v.lo and v.hi <= 1

    def cond(self, e: ir.Expr) -> str:
        """e's truth value as a C int expression."""
        if isinstance(e, ir.Op) and e.op in ("not", "and", "or", "implies", "eq", "ne", "lt", "le", "gt", "ge") and \
                self.is_bool(e):
            return self.value(e).code
        c = self.value(e)
        if c.code is not None:
            return f"({c.code} != 0)"
        n = max(signed_bits(c.vals.lo, c.vals.hi), 1)
        return "((" + " | ".join(self.bits(e, lo, min(64, n - lo)) for lo in range(0, n, 64)) + ") != 0)"

    def compare(self, op: str, x: ir.Expr, y: ir.Expr) -> str:
        sym = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[op]
        a, b = self.value(x), self.value(y)
        if a.code is not None and b.code is not None:
            if a.kind == b.kind:
                return f"({a.code} {sym} {b.code})"
            s, u = (a, b) if a.kind == "s" else (b, a)
            if s.vals.lo >= 0:
                return f"({self.cast(a, 'u')} {sym} {self.cast(b, 'u')})"
            if u.vals.hi <= I64_MAX:
                return f"({self.cast(a, 's')} {sym} {self.cast(b, 's')})"
            if a.kind == "s":
                return f"(kv_cmp_su({a.code}, {b.code}) {sym} 0)"
            return f"(0 {sym} kv_cmp_su({b.code}, {a.code}))"
        lo = min(a.vals.lo, b.vals.lo)
        n = max(signed_bits(lo, max(a.vals.hi, b.vals.hi)) if lo < 0 else max(a.vals.hi, b.vals.hi).bit_length(), 1)
        chunks = [(self.bits(x, k, min(64, n - k)), self.bits(y, k, min(64, n - k))) for k in range(0, n, 64)]
        if op in ("eq", "ne"):
            same = "(" + " && ".join(f"{p} == {q}" for p, q in chunks) + ")"
            return same if op == "eq" else f"(!{same})"
        if lo < 0:
            k = (n + 64) // 64
            sx, nx, _ = self.limbs(x, k)
            sy, ny, _ = self.limbs(y, k)
            return f"({{ {' '.join(sx + sy)} kv_wcmp({nx}, {ny}, {k}); }} {sym} 0)"
        out = f"({chunks[0][0]} {sym} {chunks[0][1]})"
        for p, q in chunks[1:]:
            out = f"({p} != {q} ? {p} {sym} {q} : {out})"
        return out

    # -------------------------------------------------------------------------------------------- bit ranges
    def bits(self, e: ir.Expr, lo: int, w: int) -> str:
        """Bits [lo, lo+w) of e (w <= 64), as a uint64_t below 2**w."""
        if w <= 0:
            return ulit(0)
        match e:
            case ir.Const(v):
                return ulit((v >> lo) & mask(w))
            case ir.Var(i):
                fs = self.packing.per_var[i]
                if fs[0].whole:
                    return self.scalar_bits(self.value(e), lo, w)
                pieces = []
                for f in fs:
                    a, b = max(lo, f.lo), min(lo + w, f.lo + f.width)
                    if a < b:
                        code = self.field(f.index)
                        slot = self.packing.slots[f.index]
                        pieces.append((a - lo, self.scalar_bits(CVal(code, Vals(slot.vals.lo, slot.vals.hi)),
                                                                a - f.lo, b - a)))
                return self.join(pieces)
            case ir.Local(name):
                b = self.locals[name]
                if b.limbs:
                    return self.limb_bits(b, lo, w)
                return self.scalar_bits(CVal(b.cname, b.vals), lo, w)
            case ir.Insert(base, ilo, iw, value):
                pieces = []
                for a, b, inner in _split(lo, lo + w, ilo, ilo + iw):
                    src = self.bits(value, a - ilo, b - a) if inner else self.bits(base, a, b - a)
                    pieces.append((a - lo, src))
                return self.join(pieces)
            case ir.Extract(arg, elo, ew):
                if lo >= ew:
                    return ulit(0)
                return self.bits(arg, elo + lo, min(w, ew - lo))
            case ir.Op("ite", (c, a, b), _):
                return f"({self.cond(c)} ? {self.bits(a, lo, w)} : {self.bits(b, lo, w)})"
            case ir.Select(options, index, base):
                return self.chain(self.scalar(index), [self.bits(o, lo, w) for o in options], base, "u")
            case ir.Op("band" | "bor" | "bxor" as op, (a, b), width):
                if width is not None and bitwise_wraps(e):
                    if lo >= width:
                        return ulit(0)
                    w = min(w, width - lo)
                sym = {"band": "&", "bor": "|", "bxor": "^"}[op]
                return f"({self.bits(a, lo, w)} {sym} {self.bits(b, lo, w)})"
            case ir.Op("bnot", (a,), width) if kind_of(self.vals(e)) == "w":
                if width is not None:
                    if lo >= width:
                        return ulit(0)
                    w = min(w, width - lo)
                return f"(~{self.bits(a, lo, w)} & {ulit(mask(w))})"
            case ir.Op("shl", (a, ir.Const(k)), width) if kind_of(self.vals(e)) == "w":
                if not 0 <= k < shift_limit(width):
                    return ulit(0)
                if width is not None:
                    if lo >= width:
                        return ulit(0)
                    w = min(w, width - lo)
                if lo + w <= k:
                    return ulit(0)
                if lo >= k:
                    return self.bits(a, lo - k, w)
                return self.join([(k - lo, self.bits(a, 0, lo + w - k))])
            case ir.Op("shr", (a, ir.Const(k)), width) if kind_of(self.vals(e)) == "w":
                limit = shift_limit(width)
                at = k if 0 <= k < limit or (width is not None and k >= limit) else limit
                return self.bits(a, lo + at, w)
        if isinstance(e, ir.Op) and e.op in WIDE_OPS and self.wide_operands(e):
            return self.wide_bits(e, lo, w)
        c = self.value(e)
        if c.code is None:
            self.unsupported(f"'{getattr(e, 'op', type(e).__name__)}' on a value of "
                             f"{signed_bits(c.vals.lo, c.vals.hi)} bits")
        return self.scalar_bits(c, lo, w)

    # -------------------------------------------------------------------------------------------- limbs
    def wide_operands(self, e: ir.Op) -> bool:
        """Does e need limb arithmetic: a result or an operand wider than 64 bits (before any uN wrap)?"""
        if kind_of(self.vals(e)) == "w" or any(kind_of(self.vals(a)) == "w" for a in e.args):
            return True
        return e.width is not None and e.width > 64

    def raw(self, e: ir.Op) -> Vals:
        """e's values before a uN operator wraps them."""
        args = [self.vals(a) for a in e.args]
        if e.op in ("shl", "shr"):
            n = args[1]
            top = max(min(n.hi, shift_limit(e.width) - 1), 0)
            a = args[0]
            if e.op == "shl":
                return Vals(min(a.lo << top, a.lo, 0), max(a.hi << top, a.hi, 0))
            return Vals(min(a.lo, 0), max(a.hi, 0))
        return op_range(ir.Op(e.op, e.args, None), args)

    def limbs(self, e: ir.Expr, k: int | None = None) -> tuple[list[str], str, int]:
        """Statements that leave e's value in a fresh array of k limbs (enough for it when k is None): (the
        statements, the array, k)."""
        v = self.raw(e) if isinstance(e, ir.Op) and e.op in WIDE_OPS else self.vals(e)
        need = _limbs_for(v)
        if isinstance(e, ir.Op) and e.width is not None:
            need = max(need, (e.width + 64) // 64)
        if isinstance(e, ir.Op) and e.op in WIDE_OPS:
            need = max([need, *(_limbs_for(self.vals(a)) for a in e.args)])
        k = max(k or 0, need) if isinstance(e, ir.Op) and e.op in WIDE_OPS else (k or need)
        self.counter += 1
        name = f"kvw{self.counter}"
        out = [f"uint64_t {name}[{k}];"]
        if not (isinstance(e, ir.Op) and e.op in WIDE_OPS and self.wide_operands(e)):
            out += [f"{name}[{j}] = {self.bits(e, 64 * j, 64)};" for j in range(k)]
            return out, name, k
        op, args, width = e.op, e.args, e.width
        if op in ("add", "sub", "mul"):
            sa, na, _ = self.limbs(args[0], k)
            sb, nb, _ = self.limbs(args[1], k)
            out = sa + sb + out + [f"kv_w{op}({name}, {na}, {nb}, {k});"]
        elif op == "neg":
            sa, na, _ = self.limbs(args[0], k)
            out = sa + out + [f"kv_wneg({name}, {na}, {k});"]
        elif op in ("div", "mod"):
            d = args[1]
            if not isinstance(d, ir.Const) or not 0 < d.value <= I64_MAX:
                self.unsupported("a divisor that is not a positive constant below 2**63")
            sa, na, _ = self.limbs(args[0], k)
            floor = int(width is not None)
            out = sa + out + [f"kv_wdiv({name}, {na}, {k}, {ulit(d.value)}, {floor}, {int(op == 'mod')});"]
        elif op in ("shl", "shr"):
            sa, na, _ = self.limbs(args[0], k)
            n = args[1]
            limit = shift_limit(width)
            m = self.cast(self.scalar(n), "s")
            if op == "shl":
                out = sa + out + [f"{{ const int64_t m = {m}; if (m >= 0 && m < {limit}) kv_wshl({name}, {na}, {k}, m); "
                                  f"else memset({name}, 0, sizeof {name}); }}"]
            else:
                if isinstance(n, ir.Const) and width is not None and n.value >= limit:
                    at = str(n.value)  # codegen shifts a uN value by a constant past the width as it is
                else:
                    at = f"(m >= 0 && m < {limit} ? m : {limit})"
                out = sa + out + [f"{{ const int64_t m = {m}; kv_wsar({name}, {na}, {k}, {at}); (void)m; }}"]
        else:
            raise ValueError(f"no limb arithmetic for {op}")
        if width is not None and op != "shr":
            out.append(f"kv_wmask({name}, {k}, {width});")
        return out, name, k

    def wide_bits(self, e: ir.Op, lo: int, w: int) -> str:
        stmts, name, k = self.limbs(e)
        return f"({{ {' '.join(stmts)} kv_limb_bits({name}, {k}, {lo}, {w}); }})"

    @staticmethod
    def scalar_bits(c: CVal, lo: int, w: int) -> str:
        v = c.vals
        if v.lo >= 0:
            if lo >= 64 or (v.hi >> lo) == 0:
                return ulit(0)
            x = c.code if c.kind == "u" else f"(uint64_t){c.code}"
            shifted = x if lo == 0 else f"({x} >> {lo})"
            if (v.hi >> lo) <= mask(w):
                return shifted if lo else f"((uint64_t){c.code})" if c.kind == "s" else c.code
            return f"({shifted} & {ulit(mask(w))})"
        return f"kv_bits_s({c.code}, {min(lo, 63)}, {ulit(mask(w))})"

    @staticmethod
    def limb_bits(b: Local, lo: int, w: int) -> str:
        return f"kv_limb_bits({b.cname}, {b.limbs}, {lo}, {w})"

    @staticmethod
    def join(pieces: list[tuple[int, str]]) -> str:
        """OR of (offset, code) pieces of disjoint bits; constant pieces folded."""
        const = 0
        parts = []
        for off, code in pieces:
            value = _const_of(code)
            if value is not None:
                const |= value << off
            else:
                parts.append(code if off == 0 else f"({code} << {off})")
        if const or not parts:
            parts.append(ulit(const))
        return parts[0] if len(parts) == 1 else "(" + " | ".join(parts) + ")"


WIDE_OPS = ("add", "sub", "mul", "neg", "div", "mod", "shl", "shr")


def _limbs_for(v: Vals) -> int:
    """Limbs of a two's complement array holding every value in v (a sign bit included)."""
    return (signed_bits(v.lo, v.hi) + 63) // 64


def _is_literal(code: str) -> bool:
    return code.lstrip("-").isdigit() or (code.startswith(("UINT64_C(", "INT64_C(")) and code.count("(") == 1) \
        or code == "INT64_MIN"


def _const_of(code: str) -> int | None:
    if code.startswith("UINT64_C(") and code.endswith(")") and code.count("(") == 1:
        return int(code[9:-1], 0)
    return None


def _split(lo: int, hi: int, ilo: int, ihi: int) -> list[tuple[int, int, bool]]:
    cuts = sorted({lo, hi, *(x for x in (ilo, ihi) if lo < x < hi)})
    return [(a, b, ilo <= a and b <= ihi) for a, b in zip(cuts, cuts[1:])]
