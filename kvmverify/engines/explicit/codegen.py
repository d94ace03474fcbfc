"""Compiles a transition system once into Python functions over flat state tuples.

Generated code mentions only generated identifiers (v3, n3, L_t_4) and integer literals; no text from the model
reaches it, so compiling a model never evaluates anything its author wrote.

    succ(s, out, viol)  appends (instance id, next state) to `out` for every transition from s ((id, None) when a
                        fatal check stops a path) and (instance id, check id, len(out) at the time, detail values)
                        to `viol` for every failed check.
    props(s)            a bit mask: bit p set when state property p is violated (invariants) or reached (covers).
    canon(s)            the representative of s's orbit under the system's symmetries (s itself when it has none).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from operator import itemgetter
from typing import Callable, assert_never

from ...ir import nodes as ir
from ...ir.deps import has_fatal_check, written_vars
from ...ir.simplify import MAX_SHIFT


class Abort(Exception):
    """A fatal check failed: the current path yields no successor."""


MAX_LOOPS = 8  # choose loops (and their `try`s) nested in one generated function before the next is outlined
MAX_INDENT = 60  # indentation levels likewise (CPython's tokenizer stops at 100)
TICK_EVERY = 1 << 14  # choose iterations between two calls of the limit check


class Ticker:
    """What the generated choose loops call every TICK_EVERY iterations: `check(out)` (set by the search) may
    raise to stop a state's expansion that would otherwise run past every limit."""

    def __init__(self) -> None:
        self.budget = [TICK_EVERY]
        self.check: Callable[[list], None] | None = None

    def __call__(self, out: list) -> None:
        self.budget[0] = TICK_EVERY
        if self.check is not None:
            self.check(out)


@dataclass(frozen=True)
class CheckSite:
    prop: int
    message: str
    labels: tuple[str, ...]
    span: object


@dataclass
class Compiled:
    succ: Callable
    props: Callable
    checks: tuple[CheckSite, ...]
    source: str
    state_mask: int  # bits of `props` that are invariants
    canon: Callable
    ticker: Ticker


def _lit(v: int) -> str:
    """An integer literal; wide ones in hex, which Python reads at any length (a decimal literal of more than
    4300 digits is refused: a 4096-byte struct is a 32768-bit value)."""
    return str(v) if -(1 << 64) < v < (1 << 64) else (hex(v) if v >= 0 else f"-{hex(-v)}")


def _simple(text: str) -> bool:
    """A name or a literal: cheap to write twice."""
    return re.fullmatch(r"[A-Za-z_]\w*|-?(0x)?[0-9a-fA-F]+", text) is not None


def _div(a: int, d: int) -> int:
    return -(-a // d) if a < 0 else a // d


def _mod(a: int, d: int) -> int:
    return -(-a % d) if a < 0 else a % d


def _shl(a: int, n: int, limit: int, mask: int | None) -> int:
    if not 0 <= n < limit:
        return 0
    return (a << n) & mask if mask is not None else a << n


def _shr(a: int, n: int, limit: int, mask: int | None) -> int:
    return a >> n if 0 <= n < limit else a >> limit


HELPERS = {"_div": _div, "_mod": _mod, "_shl": _shl, "_shr": _shr}


def _local(name: str) -> str:
    return "L_" + name


class _Gen:
    def __init__(self, ts: ir.TransitionSystem):
        self.ts = ts
        self.lines: list[str] = []
        self.helpers: list[str] = []  # choose loops nested too deeply for one Python function (below)
        self.checks: list[CheckSite] = []
        self.written: set[int] = set()
        self.counter = 0
        self.inst = 0
        self.loops = 0  # `for` and `try` blocks around the current line: CPython allows 20 in one function
        self.scope: list[str] = []  # the locals (`let`, `choose`) bound where the current line runs

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def var(self, i: int) -> str:
        return f"n{i}" if i in self.written else f"v{i}"

    def expr(self, e: ir.Expr) -> str:
        match e:
            case ir.Const(v):
                return _lit(v)
            case ir.Var(i):
                return self.var(i)
            case ir.Local(name):
                return _local(name)
            case ir.Op(op, args, width):
                return self.op(op, [self.expr(a) for a in args], width, args)
            case ir.Extract(arg, lo, width):
                mask = _lit((1 << width) - 1)
                inner = self.expr(arg)
                return f"({inner} & {mask})" if lo == 0 else f"(({inner} >> {lo}) & {mask})"
            case ir.Insert(base, lo, width, value):
                keep = _lit(~(((1 << width) - 1) << lo))
                mask = _lit((1 << width) - 1)
                return f"(({self.expr(base)} & {keep}) | (({self.expr(value)} & {mask}) << {lo}))"
            case ir.Select(options, index, base):
                opts = ", ".join(self.expr(o) for o in options)
                idx = self.expr(index)
                return f"({opts},)[{idx} - {base}]" if base else f"({opts},)[{idx}]"
            case _:
                assert_never(e)

    @staticmethod
    def op(op: str, a: list[str], width: int | None, args: tuple[ir.Expr, ...] = ()) -> str:
        def wrap(x: str) -> str:
            return f"({x} & {_lit((1 << width) - 1)})" if width is not None else f"({x})"

        def in_width(e: ir.Expr) -> bool:
            # operands of a uN operator are uN values, but for constants (`c | 300` wraps to `c | 44`)
            return not isinstance(e, ir.Const) or 0 <= e.value < (1 << width)
        match op:
            case "add":
                return wrap(f"{a[0]} + {a[1]}")
            case "sub":
                return wrap(f"{a[0]} - {a[1]}")
            case "mul":
                return wrap(f"{a[0]} * {a[1]}")
            case "div" | "mod":  # C's: truncating toward zero; the divisor is a positive constant
                sym = "//" if op == "div" else "%"
                if width is not None:  # a uN dividend is never negative
                    return f"({a[0]} {sym} {a[1]})"
                if not _simple(a[0]):  # written once: nested ones would double the text at each level
                    return f"_{op}({a[0]}, {a[1]})"
                return f"(-(-{a[0]} {sym} {a[1]}) if {a[0]} < 0 else {a[0]} {sym} {a[1]})"
            case "shl" | "shr":
                return _Gen.shift(op, a, width, args)
            case "band" | "bor" | "bxor":
                sym = {"band": "&", "bor": "|", "bxor": "^"}[op]
                if width is None or all(in_width(e) for e in args):
                    return f"({a[0]} {sym} {a[1]})"
                return wrap(f"{a[0]} {sym} {a[1]}")
            case "neg":
                return wrap(f"-{a[0]}")
            case "bnot":
                return wrap(f"~{a[0]}")
            case "not":
                return f"(not {a[0]})"
            case "and":
                return "(" + " and ".join(a) + ")"
            case "or":
                return "(" + " or ".join(a) + ")"
            case "implies":
                return f"((not {a[0]}) or {a[1]})"
            case "eq" | "ne" | "lt" | "le" | "gt" | "ge":
                sym = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[op]
                return f"({a[0]} {sym} {a[1]})"
            case "ite":
                return f"({a[1]} if {a[0]} else {a[2]})"
            case "popcount":
                return f"({a[0]}).bit_count()"
        raise ValueError(f"unknown operator {op}")

    @staticmethod
    def shift(op: str, a: list[str], width: int | None, args: tuple[ir.Expr, ...]) -> str:
        """`a << n` / `a >> n`; an amount that is not a constant is tested, so that a negative one (whose step
        `shift_ok` stops) or a huge one never reaches Python's shift."""
        n = args[1] if len(args) > 1 else None
        limit = width if width is not None else MAX_SHIFT + 1
        sym = "<<" if op == "shl" else ">>"
        mask = f" & {_lit((1 << width) - 1)}" if width is not None and op == "shl" else ""
        if isinstance(n, ir.Const) and 0 <= n.value < limit:
            return f"(({a[0]} {sym} {a[1]}){mask})"
        if isinstance(n, ir.Const) and n.value >= limit and width is not None:
            return "0" if op == "shl" else f"({a[0]} >> {a[1]})"
        if not (_simple(a[0]) and _simple(a[1])):  # each written once (see div)
            return f"_{op}({a[0]}, {a[1]}, {limit}, {_lit((1 << width) - 1) if width is not None else 'None'})"
        return f"((({a[0]} {sym} {a[1]}){mask}) if 0 <= {a[1]} < {limit} else {'0' if op == 'shl' else f'({a[0]} >> {limit})'})"

    def next_state(self) -> str:
        return "(" + "".join(self.var(i) + ", " for i in range(len(self.ts.vars))) + ")"

    def stmts(self, stmts: tuple[ir.Stmt, ...], depth: int, complete: bool) -> None:
        bound = len(self.scope)
        for s in stmts:
            self.stmt(s, depth)
        del self.scope[bound:]
        terminal = bool(stmts) and (isinstance(stmts[-1], ir.Choose) or
                                    (isinstance(stmts[-1], ir.If) and stmts[-1].tail))
        if complete and not terminal:
            self.emit(depth, f"out.append(({self.inst}, {self.next_state()}))")
        elif not stmts:
            self.emit(depth, "pass")

    def guarded(self, body: tuple[ir.Stmt, ...], depth: int) -> None:
        if has_fatal_check(body):
            self.emit(depth, "try:")
            self.loops += 1
            self.stmts(body, depth + 1, True)
            self.loops -= 1
            self.emit(depth, "except Abort:")
            self.emit(depth + 1, f"out.append(({self.inst}, None))")
        else:
            self.stmts(body, depth, True)

    def outlined(self, s: ir.Choose, depth: int) -> None:
        """The choose loop as a function of its own, called here: nested loops past CPython's limit of 20
        blocks per function (or 100 indentation levels) start afresh in it."""
        self.counter += 1
        name = f"_choose{self.counter}"
        names = [f"n{i}" for i in sorted(self.written)] + [_local(x) for x in self.scope]
        args = ", ".join(["s", "out", "viol", *names])
        self.emit(depth, f"{name}({args})")
        outer = (self.lines, self.loops)
        self.lines, self.loops = [], 0
        self.emit(0, f"def {name}({args}):")
        self.unpack(1)
        self.stmt(s, 1, outline=False)
        self.helpers.extend(self.lines)
        self.lines, self.loops = outer

    def stmt(self, s: ir.Stmt, depth: int, outline: bool = True) -> None:
        match s:
            case ir.Assign(var, value, _):
                self.emit(depth, f"n{var} = {self.expr(value)}")
            case ir.Let(name, value):
                self.emit(depth, f"{_local(name)} = {self.expr(value)}")
                self.scope.append(name)
            case ir.If(cond, then, else_, tail):
                self.emit(depth, f"if {self.expr(cond)}:")
                self.stmts(then, depth + 1, tail)
                if else_ or tail:
                    self.emit(depth, "else:")
                    self.stmts(else_, depth + 1, tail)
            case ir.Choose() if outline and (self.loops >= MAX_LOOPS or depth >= MAX_INDENT):
                self.outlined(s, depth)
            case ir.Choose(name, lo, hi, where, body):
                saved = sorted(written_vars(body))
                self.counter += 1
                keep = f"_s{self.counter}"
                names = ", ".join(f"n{i}" for i in saved)
                if saved:
                    self.emit(depth, f"{keep} = ({names},)")
                self.emit(depth, f"for {_local(name)} in range({lo}, {hi + 1}):")
                # a state with millions of successors must still see --timeout, --max-states and Ctrl-C
                self.emit(depth + 1, "_budget[0] -= 1")
                self.emit(depth + 1, "if _budget[0] < 0:")
                self.emit(depth + 2, "_tick(out)")
                if saved:
                    self.emit(depth + 1, f"{names}, = {keep}")
                self.scope.append(name)
                self.emit(depth + 1, f"if not {self.expr(where)}:")
                self.emit(depth + 2, "continue")
                self.loops += 1
                self.guarded(body, depth + 1)
                self.loops -= 1
                self.scope.pop()
            case ir.Check(None, cond, _, _, _, _):  # a fatal check of a property left out (--exclude)
                self.emit(depth, f"if not {self.expr(cond)}:")
                self.emit(depth + 1, "raise Abort")
            case ir.Check(prop, cond, fatal, span, message, detail):
                cid = len(self.checks)
                self.checks.append(CheckSite(prop, message, tuple(lbl for lbl, _ in detail), span))
                values = "".join(self.expr(v) + ", " for _, v in detail)
                self.emit(depth, f"if not {self.expr(cond)}:")
                self.emit(depth + 1, f"viol.append(({self.inst}, {cid}, len(out), ({values})))")
                if fatal:
                    self.emit(depth + 1, "raise Abort")
            case _:
                assert_never(s)

    def unpack(self, depth: int) -> None:
        n = len(self.ts.vars)
        if n:  # a spec file alone has no state
            self.emit(depth, ", ".join(f"v{i}" for i in range(n)) + ", = s")

    def succ(self) -> None:
        self.emit(0, "def succ(s, out, viol):")
        self.unpack(1)
        for a in self.ts.actions:
            self.inst = a.id
            self.written = set()
            self.emit(1, f"# {a.label}")
            self.emit(1, f"if {self.expr(a.guard)}:")
            self.written = written_vars(a.body)
            for i in sorted(self.written):
                self.emit(2, f"n{i} = v{i}")
            self.guarded(a.body, 2)
        self.written = set()
        self.emit(1, "return")

    def props(self) -> int:
        self.emit(0, "def props(s):")
        self.unpack(1)
        self.emit(1, "r = 0")
        mask = 0
        for p in self.ts.properties:
            if p.is_invariant:
                mask |= 1 << p.id
                self.emit(1, f"if not {self.expr(p.expr)}:")
            elif p.is_cover:
                self.emit(1, f"if {self.expr(p.expr)}:")
            else:
                continue
            self.emit(2, f"r |= {_lit(1 << p.id)}")
        self.emit(1, "return r")
        return mask

    def canon(self) -> dict:
        """Sort the slices of each symmetric type (see ir/symmetry.py); returns s itself when already sorted.
        Slices are read with itemgetters (names g{sym}_{value}, returned for the namespace) because the state is
        left unpacked: most states are already canonical."""
        getters: dict = {}
        self.emit(0, "def canon(s):")
        for n, sym in enumerate(self.ts.symmetries):
            names = [f"g{n}_{k}" for k in range(len(sym.slices))]
            getters.update((g, itemgetter(*sl) if len(sl) > 1 else _one(sl[0])) for g, sl in zip(names, sym.slices))
            where = {i: (k, j) for k, sl in enumerate(sym.slices) for j, i in enumerate(sl)}
            rebuilt = "".join(f"new[{where[i][0]}][{where[i][1]}], " if i in where else f"s[{i}], "
                              for i in range(len(self.ts.vars)))
            if len(names) == 2:
                self.emit(1, f"a = {names[0]}(s)")
                self.emit(1, f"b = {names[1]}(s)")
                self.emit(1, "if b < a:")
                self.emit(2, "new = (b, a)")
            else:
                self.emit(1, f"old = [{', '.join(f'{g}(s)' for g in names)}]")
                self.emit(1, "new = sorted(old)")
                self.emit(1, "if new != old:")
            self.emit(2, f"s = ({rebuilt})")
        self.emit(1, "return s")
        return getters


def _one(i: int) -> Callable:
    """itemgetter with one index returns the item, not a 1-tuple; slices must compare as tuples."""
    return lambda s: (s[i],)


def compile_system(ts: ir.TransitionSystem) -> Compiled:
    g = _Gen(ts)
    g.succ()
    mask = g.props()
    getters = g.canon()
    source = "\n".join(g.helpers + g.lines) + "\n"
    ticker = Ticker()
    namespace: dict = {"Abort": Abort, "__builtins__": {"range": range, "len": len, "sorted": sorted},
                       "_budget": ticker.budget, "_tick": ticker, **HELPERS, **getters}
    exec(compile(source, f"<kvmverify:{ts.name}>", "exec"), namespace)  # noqa: S102 - generated from the IR only
    return Compiled(namespace["succ"], namespace["props"], tuple(g.checks), source, mask, namespace["canon"],
                    ticker)


def python_expr(ts: ir.TransitionSystem, e: ir.Expr) -> str:
    """`e` as the Python expression the generated functions evaluate (state variables v<i> of an unpacked state,
    locals L_<name>): for other generated functions over the same system (kvmverify conform's event matchers)."""
    return _Gen(ts).expr(e)


def compile_predicates(ts: ir.TransitionSystem, preds: list[ir.Expr]) -> Callable:
    """`f(s)`: a bit mask with bit i set when preds[i] holds in state s (for the liveness search)."""
    g = _Gen(ts)
    g.emit(0, "def preds(s):")
    g.unpack(1)
    g.emit(1, "r = 0")
    for i, e in enumerate(preds):
        g.emit(1, f"if {g.expr(e)}:")
        g.emit(2, f"r |= {1 << i}")
    g.emit(1, "return r")
    namespace: dict = {"__builtins__": {}, **HELPERS}
    exec(compile("\n".join(g.lines) + "\n", f"<kvmverify:{ts.name}:preds>", "exec"), namespace)  # noqa: S102
    return namespace["preds"]
