"""The transition system as C: the one generator of the compiled engine (expressions in cexpr.py).

The generated file is a readable C program (`kvmverify check M --engine compiled --dump-generated FILE`):

    kv_fields / kv_unpack   the stored fields of a packed state, decoded once per state
    kv_act<N>               action instance N: its guard, then its body as straight-line C, ending each path in
                            kv_emit (the successor, packed) or kv_abort_path (a fatal check stopped it); the
                            structure is codegen.py's (the same successors in the same order, so that a
                            successor's position means the same in both engines)
    kv_expand               every action instance of a state, in order
    kv_props                the state properties still pending (invariant false, cover true) of a state
    kv_canon                symmetry reduction: the slices of each symmetric type sorted by their codes
    kv_init_states          the initial states, packed

then `#include "kv_search.c"`, the search (runtime/). Model text never reaches the C code except in comments
made of identifiers and labels the checker already accepted; comments are cut at newlines and `*/`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

from ...ir import nodes as ir
from ...ir.deps import expr_vars, has_fatal_check, written_vars
from .cexpr import CTYPE, Exprs, Local, kind_of, lit, mask, ulit
from .packing import Packing, Slot
from .values import Unsupported, Vals, bits_of, combine, signed_bits


@dataclass
class Generated:
    source: str
    state_props: list[ir.Property]  # C's state property k is state_props[k]
    step_props: list[ir.Property]


def _comment(text: str) -> str:
    return " ".join(text.replace("*/", "* /").split())


def _is_same_field(value: ir.Expr, var: int, f) -> bool:
    """Does assigning `value` to `var` leave field f as it is (an insertion elsewhere in var itself)?"""
    match value:
        case ir.Var(i):
            return i == var
        case ir.Insert(base, lo, width, _):
            if lo + width <= f.lo or f.lo + f.width <= lo:
                return _is_same_field(base, var, f)
    return False


KNOWN_KINDS = (*ir.STATE_KINDS, *ir.STEP_KINDS, *ir.LIVENESS_KINDS)


class CGen:
    def __init__(self, ts: ir.TransitionSystem, packing: Packing):
        unknown = [p for p in ts.properties if p.kind not in KNOWN_KINDS]
        if unknown:  # a kind added to the IR after this generator: refused, never silently taken to hold
            p = unknown[0]
            raise Unsupported(f"property {p.name} is of kind '{p.kind}', which the compiled engine does not check")
        self.ts, self.p = ts, packing
        self.state_props = [p for p in ts.properties if p.kind in ir.STATE_KINDS]
        self.step_props = [p for p in ts.properties if p.is_step]
        self.step_index = {p.id: k for k, p in enumerate(self.step_props)}
        self.lines: list[str] = []
        self.tables: list[str] = []
        self.hull = [Vals(s.vals.lo, s.vals.hi) for s in packing.slots]
        self.written: set[int] = set()  # fields with an n<k> local in the current action
        self.counter = 0
        self.regions: list[int] = []  # abort labels of the guarded regions around the current line
        self.inst = 0
        self.x = Exprs(packing, self.field_code, (self.var_vals, self.field_bits), self.tables)

    # -------------------------------------------------------------------------------------------- fields
    def ctype(self, k: int) -> str:
        return CTYPE[kind_of(self.hull[k])]

    def field_code(self, k: int) -> str:
        s = self.p.slots[k]
        if s.kind == "const":
            return lit(s.base, kind_of(s.vals))
        return f"n{k}" if k in self.written else f"F->f{k}"

    def var_vals(self, i: int) -> Vals:
        fs = self.p.per_var[i]
        if fs[0].whole:
            return self.hull[fs[0].index]
        return combine([(f.lo, self.hull[f.index]) for f in fs])

    def field_bits(self, i: int, lo: int, width: int) -> Vals:
        fs = self.p.per_var[i]
        if fs[0].whole:
            return bits_of(self.hull[fs[0].index], lo, width)
        pieces = [(max(lo, f.lo) - lo, bits_of(self.hull[f.index], max(lo, f.lo) - f.lo,
                                               min(lo + width, f.lo + f.width) - max(lo, f.lo)))
                  for f in fs if max(lo, f.lo) < min(lo + width, f.lo + f.width)]
        return combine(pieces) if pieces else Vals.const(0)

    @staticmethod
    def get(slot: Slot, src: str) -> str:
        """The code of a stored field, read from packed words `src`."""
        word, off = divmod(slot.offset, 64)
        m = ulit(mask(slot.bits))
        if off + slot.bits <= 64:
            x = f"{src}[{word}]" if off == 0 else f"({src}[{word}] >> {off})"
            return x if off + slot.bits == 64 else f"({x} & {m})"
        return f"((({src}[{word}] >> {off}) | ({src}[{word + 1}] << {64 - off})) & {m})"

    @staticmethod
    def put(slot: Slot, dst: str, code: str) -> list[str]:
        word, off = divmod(slot.offset, 64)
        m = mask(slot.bits)
        out = [f"{dst}[{word}] = ({dst}[{word}] & {ulit(~(m << off) & ((1 << 64) - 1))}) | ({code} << {off});"]
        if off + slot.bits > 64:
            spill = off + slot.bits - 64
            out.append(f"{dst}[{word + 1}] = ({dst}[{word + 1}] & {ulit(~mask(spill) & ((1 << 64) - 1))}) | "
                       f"({code} >> {64 - off});")
        return out

    def decode(self, slot: Slot, src: str) -> str:
        k = slot.field.index
        code = self.get(slot, src)
        if slot.kind == "table":
            return f"kv_vals{k}[{code}]"
        if slot.base == 0:
            return code if kind_of(self.hull[k]) == "u" else f"(int64_t){code}"
        if kind_of(self.hull[k]) == "u":
            return f"({code} + {ulit(slot.base)})"
        return f"((int64_t){code} + {lit(slot.base, 's')})"

    def encode(self, slot: Slot, value: str) -> str:
        k = slot.field.index
        if slot.kind == "table":
            return f"kv_enc{k}({value})"
        if slot.base == 0:
            return f"(uint64_t){value}"
        return f"((uint64_t){value} - {ulit(slot.base)})"

    # -------------------------------------------------------------------------------------------- output
    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # -------------------------------------------------------------------------------------------- statements
    def stmts(self, stmts: tuple[ir.Stmt, ...], depth: int, complete: bool) -> None:
        bound = dict(self.x.locals)
        for s in stmts:
            self.stmt(s, depth)
        self.x.set_locals(bound)
        terminal = bool(stmts) and (isinstance(stmts[-1], ir.Choose) or
                                    (isinstance(stmts[-1], ir.If) and stmts[-1].tail))
        if complete and not terminal:
            self.successor(depth)

    def successor(self, depth: int) -> None:
        changed = sorted(k for k in self.written if self.p.slots[k].kind != "const")
        if not changed:
            self.emit(depth, f"if (kv_emit(w, kv_copy(t, s), {self.inst})) return 1;")
            return
        self.emit(depth, "{")
        self.emit(depth + 1, "kv_copy(t, s);")
        for k in changed:
            slot = self.p.slots[k]
            for line in self.put(slot, "t", self.encode(slot, f"n{k}")):
                self.emit(depth + 1, line)
        self.emit(depth + 1, f"if (kv_emit(w, t, {self.inst})) return 1;")
        self.emit(depth, "}")

    def guarded(self, body: tuple[ir.Stmt, ...], depth: int) -> None:
        if not has_fatal_check(body):
            self.emit(depth, "{")
            self.stmts(body, depth + 1, True)
            self.emit(depth, "}")
            return
        label = self.fresh("")
        self.regions.append(int(label))
        self.emit(depth, "{")
        self.stmts(body, depth + 1, True)
        self.emit(depth, "}")
        self.regions.pop()
        self.emit(depth, f"goto kv_done{label};")
        self.emit(depth, f"kv_abort{label}: kv_abort_path(w);")
        self.emit(depth, f"kv_done{label}: ;")

    def stmt(self, s: ir.Stmt, depth: int) -> None:
        match s:
            case ir.Assign(var, value, span):
                self.x.where = f"{span.file}:{span.line}:{span.col}"
                self.assign(var, value, depth)
            case ir.Let(name, value):
                self.let(name, value, depth)
            case ir.If(cond, then, else_, tail):
                self.emit(depth, f"if ({self.x.cond(cond)}) {{")
                self.stmts(then, depth + 1, tail)
                if else_ or tail:
                    self.emit(depth, "} else {")
                    self.stmts(else_, depth + 1, tail)
                self.emit(depth, "}")
            case ir.Choose(name, lo, hi, where, body):
                saved = sorted(k for v in written_vars(body) for f in self.p.per_var[v]
                               if (k := f.index) in self.written)
                self.emit(depth, "{")
                keep = {k: self.fresh("sv") for k in saved}
                for k in saved:
                    self.emit(depth + 1, f"const {self.ctype(k)} {keep[k]} = n{k};")
                loop = self.fresh("L")
                self.emit(depth + 1, f"for (int64_t {loop} = {lit(lo, 's')}; {loop} <= {lit(hi, 's')}; {loop}++) {{")
                self.emit(depth + 2, "if (--w->budget < 0 && kv_tick(w)) return 1;")
                for k in saved:
                    self.emit(depth + 2, f"n{k} = {keep[k]};")
                outer = dict(self.x.locals)
                self.x.bind(name, Local(loop, Vals.range(lo, hi) if lo <= hi else Vals.const(lo)))
                self.emit(depth + 2, f"if (!{self.x.cond(where)}) continue;")
                self.guarded(body, depth + 2)
                self.x.set_locals(outer)
                self.emit(depth + 1, "}")
                self.emit(depth, "}")
            case ir.Check(prop, cond, fatal, span, _, _):
                self.x.where = f"{span.file}:{span.line}:{span.col}"
                if prop is None and not fatal:
                    return  # a check whose property was left out (--exclude) and that stops nothing
                self.emit(depth, f"if (!{self.x.cond(cond)}) {{")
                if prop is not None:  # None: its property was left out (--exclude), the step still stops here
                    self.emit(depth + 1, f"kv_step_violation(w, {self.step_index[prop]});")
                if fatal:
                    self.emit(depth + 1, f"goto kv_abort{self.regions[-1]};")
                self.emit(depth, "}")
            case _:
                assert_never(s)

    def let(self, name: str, value: ir.Expr, depth: int) -> None:
        c = self.x.value(value)
        cname = self.fresh("L")
        if c.code is not None:
            self.emit(depth, f"const {CTYPE[c.kind]} {cname} = {c.code};")
            self.x.bind(name, Local(cname, c.vals))
            return
        if c.vals.lo < 0:
            n = signed_bits(c.vals.lo, c.vals.hi)
        else:
            n = c.vals.hi.bit_length() + 1  # a sign bit: the limbs are two's complement
        limbs = (n + 63) // 64
        self.emit(depth, f"uint64_t {cname}[{limbs}];")
        for j in range(limbs):
            self.emit(depth, f"{cname}[{j}] = {self.x.bits(value, 64 * j, 64)};")
        self.x.bind(name, Local(cname, c.vals, limbs))

    def assign(self, var: int, value: ir.Expr, depth: int) -> None:
        updates = []
        for f in self.p.per_var[var]:
            slot = self.p.slots[f.index]
            if slot.kind != "const" and f.index not in self.written:
                continue  # every assignment in this action leaves it as it is
            if f.whole:
                c = self.x.value(value)
                if c.code is None:
                    self.x.unsupported(f"a value of {signed_bits(c.vals.lo, c.vals.hi)} bits assigned to "
                                       f"{self.ts.vars[var].name}")
                code, vals = self.x.cast(c, kind_of(self.hull[f.index])), c.vals
            else:
                code = self.x.bits(value, f.lo, f.width)
                vals = self.x.abstract.bits(value, f.lo, f.width, self.x.env())
                if kind_of(self.hull[f.index]) == "s":
                    code = f"(int64_t){code}"
            if slot.kind == "const":
                if not (vals.lo == vals.hi == slot.base):
                    self.emit(depth, f"if ({code} != {lit(slot.base, kind_of(slot.vals))}) kv_bad_assign({f.index});")
                continue
            if code == f"n{f.index}":
                continue
            hull = self.hull[f.index]
            updates.append((f.index, code, not (hull.lo <= vals.lo and vals.hi <= hull.hi)))
        reads_self = var in expr_vars(value)
        if len(updates) > 1 and reads_self:  # one assignment updates several fields at once
            temps = []
            for k, code, _ in updates:
                t = self.fresh("tmp")
                self.emit(depth, f"const {self.ctype(k)} {t} = {code};")
                temps.append(t)
            updates = [(k, t, check) for (k, _, check), t in zip(updates, temps)]
        for k, code, check in updates:
            self.emit(depth, f"n{k} = {code};")
            if check:
                h = self.hull[k]
                kk = kind_of(h)
                self.emit(depth, f"if (n{k} < {lit(h.lo, kk)} || n{k} > {lit(h.hi, kk)}) kv_bad_assign({k});")

    # -------------------------------------------------------------------------------------------- functions
    def action(self, a: ir.ActionInstance) -> None:
        self.inst = a.id
        self.written = set()
        self.x.set_locals({})
        self.x.where = f"{a.label} ({a.span.file}:{a.span.line})"
        written = set()
        for v in written_vars(a.body):
            for f in self.p.per_var[v]:
                if self.p.slots[f.index].kind != "const" and any(
                        not _is_same_field(s.value, v, f) for s in _assignments(a.body, v)):
                    written.add(f.index)
        self.emit(0, f"/* {_comment(a.label)} */")
        self.emit(0, f"static int kv_act{a.id}(kv_worker *w, const uint64_t *s, const kv_fields *F, uint64_t *t) {{")
        self.emit(1, f"if (!{self.x.cond(a.guard)}) return 0;")
        self.written = written
        for k in sorted(written):
            self.emit(1, f"{self.ctype(k)} n{k} = F->f{k};")
        self.guarded(a.body, 1)
        self.emit(1, "(void)t;")
        self.emit(1, "return 0;")
        self.emit(0, "}")
        self.written = set()

    def fields_struct(self) -> None:
        stored = [s for s in self.p.slots if s.kind != "const"]
        self.emit(0, "typedef struct {")
        for s in stored:
            self.emit(1, f"{self.ctype(s.field.index)} f{s.field.index}; /* {_comment(s.field.name)} */")
        if not stored:
            self.emit(1, "int none;")
        self.emit(0, "} kv_fields;")
        self.emit(0, "")
        for s in stored:
            if s.kind == "table":
                k = s.field.index
                kk = kind_of(self.hull[k])
                self.emit(0, f"static const {self.ctype(k)} kv_vals{k}[] = {{{', '.join(lit(v, kk) for v in s.table)}}};")
                self.emit(0, f"static inline uint64_t kv_enc{k}({self.ctype(k)} v) {{")
                self.emit(1, "switch (v) {")
                for n, v in enumerate(s.table):
                    self.emit(1, f"case {lit(v, kk)}: return {n};")
                self.emit(1, f"default: return kv_bad_value({k});")
                self.emit(1, "}")
                self.emit(0, "}")
        self.emit(0, "static inline void kv_unpack(const uint64_t *s, kv_fields *F) {")
        for s in stored:
            self.emit(1, f"F->f{s.field.index} = {self.decode(s, 's')};")
        self.emit(1, "(void)s; (void)F;")
        self.emit(0, "}")
        self.emit(0, "static inline uint64_t *kv_copy(uint64_t *t, const uint64_t *s) {")
        self.emit(1, "memcpy(t, s, 8 * KV_STATE_WORDS);")
        self.emit(1, "return t;")
        self.emit(0, "}")

    def props(self) -> None:
        self.emit(0, "static void kv_props(const uint64_t *s, const uint64_t *pending, uint64_t *out) {")
        self.emit(1, "kv_fields F_, *F = &F_;")
        self.emit(1, "kv_unpack(s, F);")
        for k, p in enumerate(self.state_props):
            self.x.set_locals({})
            self.x.where = f"property {p.name}"
            word, bit = divmod(k, 64)
            test = self.x.cond(p.expr)
            if p.is_invariant:  # violated where it fails; a cover-like property is reached where it holds
                test = f"!{test}"
            self.emit(1, f"/* {p.kind} {_comment(p.name)} */")
            self.emit(1, f"if ((pending[{word}] >> {bit}) & 1 && {test}) out[{word}] |= {ulit(1 << bit)};")
        self.emit(1, "(void)pending; (void)out; (void)F;")
        self.emit(0, "}")

    def canon(self) -> None:
        """Each symmetry's slices sorted by their field codes (most significant field first: the order of the
        Python engine's tuples, since codes keep the order of values), one symmetry after another."""
        self.emit(0, "static void kv_canon(uint64_t *t) {")
        for n, sym in enumerate(self.ts.symmetries):
            slices = [[self.p.slots[f.index] for f in sl if self.p.slots[f.index].kind != "const"]
                      for sl in self.p.slices[n]]
            if not slices[0]:
                continue
            nbits = sum(s.bits for s in slices[0])
            nwords = (nbits + 63) // 64
            count = len(slices)
            self.emit(1, f"{{ /* symmetric type {_comment(sym.type_name)}: {count} slices */")
            self.emit(2, f"uint64_t key[{count}][{nwords}];")
            for k, sl in enumerate(slices):
                self.emit(2, f"memset(key[{k}], 0, sizeof key[{k}]);")
                pos = nbits
                for s in sl:  # most significant first: the first field ends at the top of the key
                    pos -= s.bits
                    word, off = divmod(pos, 64)
                    code = self.get(s, "t")
                    self.emit(2, f"key[{k}][{word}] |= {code} << {off};")
                    if off + s.bits > 64:
                        self.emit(2, f"key[{k}][{word + 1}] |= {code} >> {64 - off};")
            self.emit(2, f"int order[{count}];")
            self.emit(2, f"for (int i = 0; i < {count}; i++) order[i] = i;")
            self.emit(2, f"int moved = kv_sort_keys(&key[0][0], {nwords}, order, {count});")
            nf = len(slices[0])
            table = f"kv_sym{n}"
            rows = ", ".join("{" + ", ".join(f"{{{s.offset}, {s.bits}}}" for s in sl) + "}" for sl in slices)
            self.tables.append(f"static const uint32_t {table}[{count}][{nf}][2] = {{{rows}}};")
            self.emit(2, "if (moved) {")
            self.emit(3, "uint64_t u[KV_STATE_WORDS];")
            self.emit(3, "memcpy(u, t, sizeof u);")
            self.emit(3, f"for (int j = 0; j < {count}; j++)")
            self.emit(4, "if (order[j] != j)")
            self.emit(5, f"for (int f = 0; f < {nf}; f++)")
            self.emit(6, f"kv_put_bits(t, {table}[j][f][0], {table}[j][f][1], "
                         f"kv_get_bits(u, {table}[order[j]][f][0], {table}[j][f][1]));")
            self.emit(2, "}")
            self.emit(1, "}")
        self.emit(1, "(void)t;")
        self.emit(0, "}")

    def generate(self, title: str) -> Generated:
        stored = sum(1 for s in self.p.slots if s.kind != "const")
        head = [
            f"/* {_comment(title)}: the compiled checker generated by kvmverify from its transition system.",
            f" * {len(self.ts.vars)} state variables in {len(self.p.fields)} fields, {stored} stored in "
            f"{self.p.bits} bits ({self.p.nbytes} bytes per state);",
            f" * {len(self.ts.actions)} action instances, {len(self.state_props)} state and "
            f"{len(self.step_props)} step properties.",
            " * Build: cc -O2 -pthread -I<kvmverify>/engines/compiled/runtime FILE.c -o checker */",
            f"#define KV_STATE_BYTES {self.p.nbytes}",
            f"#define KV_STATE_WORDS {self.p.words}",
            f"#define KV_NSTATEPROPS {len(self.state_props)}",
            f"#define KV_NSTEPPROPS {len(self.step_props)}",
            f"#define KV_PWORDS {max((len(self.state_props) + 63) // 64, 1)}",
            f"#define KV_NINIT {len(self.ts.init)}",
            '#include "kv_runtime.h"',
            "",
        ]
        self.fields_struct()
        self.emit(0, "")
        self.canon()
        self.emit(0, "")
        self.props()
        self.emit(0, "")
        for a in self.ts.actions:
            self.action(a)
        self.emit(0, "static int kv_expand(kv_worker *w, const uint64_t *s) {")
        self.emit(1, "kv_fields F_, *F = &F_;")
        self.emit(1, "uint64_t t[KV_STATE_WORDS];")
        self.emit(1, "kv_unpack(s, F);")
        for a in self.ts.actions:
            self.emit(1, f"if (kv_act{a.id}(w, s, F, t)) return 1;")
        self.emit(1, "(void)t;")
        self.emit(1, "return 0;")
        self.emit(0, "}")
        self.emit(0, "")
        inits = [self.p.encode(s) for s in self.ts.init] or [[0] * self.p.words]
        self.emit(0, f"static const uint64_t kv_init_states[{len(inits)}][KV_STATE_WORDS] = {{")
        for words in inits:
            self.emit(1, "{" + ", ".join(ulit(x) for x in words) + "},")
        self.emit(0, "};")
        self.emit(0, '#include "kv_search.c"')
        source = "\n".join(head + self.tables + [""] + self.lines) + "\n"
        return Generated(source, self.state_props, self.step_props)


def _assignments(stmts, var: int):
    for s in stmts:
        match s:
            case ir.Assign(v, _, _) if v == var:
                yield s
            case ir.If(_, then, else_, _):
                yield from _assignments(then, var)
                yield from _assignments(else_, var)
            case ir.Choose(_, _, _, _, body):
                yield from _assignments(body, var)


def generate(ts: ir.TransitionSystem, packing: Packing, title: str) -> Generated:
    """Raises Unsupported (saying what and where) for a construct the compiled engine does not handle."""
    return CGen(ts, packing).generate(title)


__all__ = ["generate", "Generated", "Unsupported"]
