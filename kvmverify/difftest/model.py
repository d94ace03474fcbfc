"""Random small models over every construct of the language that Promela can express, as a small AST of their
own (independent of kvmverify's front end) with a `.kv` printer; `promela.py` prints the same model for SPIN.

Types are tracked as the checker types them (integer intervals, uN bit vectors, enums, sets, a register), so
that almost every generated model is accepted; the few the checker refuses are skipped by the caller.
Expressions are tuples:

    ("int", v)  ("bool", b)  ("enum", member)  ("var", name)  ("elem", name, index expr)  ("local", name)
    ("field", base expr, field name)  ("un", op, e)  ("bin", op, a, b)  ("ite", c, a, b)
    ("set", (elements...))  ("card", e)  ("quant", kind, name, type, body)  ("record", ((field, e), ...))

Statements are tuples too: ("assign", target, e) with target ("var", x) | ("elem", a, i) | ("field", t, f);
("if", c, then, else); ("let", name, e); ("choose", name, lo, hi, where, body); ("for", name, lo, hi, body);
("assert", name, c); ("write", e); ("skip",).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from .code_model import (CodeGen, CodeParts, kv_code_decls, kv_code_expr, kv_code_stmt, kv_code_tail)

ENUM = ("Red", "Green", "Blue")
REGISTER = (("lo", 0, 4), ("hi", 4, 3), ("rsv", 7, 1))  # (field, lowest bit, width); rsv must_be 0
SET_DOMAIN = (0, 2)


@dataclass(frozen=True)
class T:
    """A type: kind int (lo, hi) | u8 | bits (width, for register fields) | bool | enum | set | reg."""

    kind: str
    lo: int = 0
    hi: int = 0

    @property
    def width(self) -> int:
        return 8 if self.kind in ("u8", "reg") else self.lo


BOOL, U8, ENUM_T, SET_T, REG = T("bool"), T("u8"), T("enum"), T("set"), T("reg")


def Int(lo: int, hi: int) -> T:
    return T("int", lo, hi)


def Bits(width: int) -> T:
    return T("bits", width)


@dataclass
class Var:
    name: str
    type: T
    init: object  # an expression of constants
    index: int | None = None  # an array over 0 .. index-1


@dataclass
class Action:
    actor: str
    name: str
    param: tuple[str, int, int] | None  # (name, lo, hi)
    guard: tuple
    body: list


@dataclass
class Model:
    vars: list[Var]
    actions: list[Action]
    invariants: list[tuple[str, tuple]]
    covers: list[tuple[str, tuple]]
    slot: str | None = None  # a u8 variable filled by actor `host` (non-zero values), emptied by `guest`
    register: bool = False  # declares register REG, var r : REG and a handler for `write REG(v)`
    asserts: list[str] = field(default_factory=list)
    code: CodeParts = field(default_factory=CodeParts)  # queue, option, procedure, process, transitions

    def var(self, name: str) -> Var:
        return next(v for v in self.vars if v.name == name)


class Gen(CodeGen):
    def __init__(self, rng: random.Random, size: int = 2):
        self.r, self.size = rng, size
        self.locals: list[tuple[str, T]] = []
        self.fresh = 0
        self.in_statement = False
        self.in_proc = False  # generating the procedure's body: no call of it
        self.at_ok = False  # at(w(i), L) may be used (invariants, covers, transitions: the process exists)

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    # ------------------------------------------------------------------------------------------ the model
    def model(self) -> Model:
        r = self.r
        vs = [Var("x", Int(*r.choice([(0, 3), (-2, 2), (0, 5), (-1, 1)])), ("int", 0)),
              Var("c", U8, ("int", r.choice([0, 1, 200, 255])))]
        if self.chance(0.7):
            vs.append(Var("b", BOOL, ("bool", False)))
        if self.chance(0.5):
            vs.append(Var("e", ENUM_T, ("enum", "Red")))
        if self.chance(0.5):
            vs.append(Var("s", SET_T, ("set", ())))
        if self.chance(0.7):
            vs.append(Var("a", Int(0, r.choice([2, 3])), ("int", 0), index=r.choice([2, 3])))
        if self.chance(0.3):
            vs.append(Var("y", Int(-3, 3), ("int", r.choice([-3, 0, 3]))))
        m = Model(vs, [], [], [])
        if self.chance(0.35):
            m.slot = "m"
            vs.append(Var("m", U8, ("int", 0)))
        if self.chance(0.35):
            m.register = True
            vs.append(Var("r", REG, ("int", 0)))
        self.m = m
        m.code = self.code_vars()
        if self.chance(0.25):
            m.code.proc = self.make_proc()
        code = m.code.queue or m.code.option or m.code.proc is not None
        actors = ["host", "guest"] if m.slot else ["p"] + (["q"] if self.chance(0.4) else [])
        for k in range(r.randint(1, 2 + self.size)):
            actor = r.choice(actors)
            param = ("i", 0, r.choice([1, 2])) if self.chance(0.3) else None
            self.locals = [(param[0], Int(param[1], param[2]))] if param else []
            # one action can always move, unless the model has code-level parts (then it may deadlock)
            guard = self.guard() if k or (code and self.chance(0.3)) else ("bool", True)
            self.in_statement = True
            body = self.block(2, actor)
            if not k:
                body.insert(0, self.assign(actor))
            self.in_statement = False
            m.actions.append(Action(actor, f"act{k}", param, guard, body))
        self.locals = []
        if self.chance(0.3):
            m.code.processes.append(self.make_process())
        self.at_ok = True
        m.invariants = [(f"inv{k}", self.bool_expr(2)) for k in range(r.randint(1, 2))]
        m.covers = [(f"cov{k}", self.bool_expr(2)) for k in range(r.randint(0, 1))]
        if self.chance(0.3):
            m.code.transitions.append(("tr0", self.make_transition()))
        if self.chance(0.25):
            m.code.terminal = self.bool_expr(1)
        return m

    def guard(self) -> tuple:
        """Guards that often hold and change with the state, so that the models have behaviour to explore."""
        r = self.r
        roll = r.random()
        if roll < 0.3:
            return ("bool", True)
        if roll < 0.7:
            leaf, t = r.choice(self.int_leaves())
            return ("bin", r.choice(["<", "<=", "!=", ">"]), leaf, ("int", r.randint(t.lo, t.hi)))
        return self.bool_expr(2)

    # ------------------------------------------------------------------------------------------ statements
    def block(self, depth: int, actor: str) -> list:
        n = self.r.randint(1, 3)
        out = [self.assign(actor)] if self.chance(0.5) else []
        bound = len(self.locals)
        for _ in range(n):
            out.append(self.stmt(depth, actor))
        del self.locals[bound:]
        return out

    def stmt(self, depth: int, actor: str) -> tuple:
        r = self.r
        kinds = ["assign"] * 5 + ["assert", "let"]
        if depth > 0:
            kinds += ["if"] * 2 + ["choose", "for"]
        if self.m.register:
            kinds.append("write")
        if self.chance(0.2):
            code = self.code_stmt(depth, actor)
            if code is not None:
                return code
        match r.choice(kinds):
            case "assign":
                return self.assign(actor)
            case "assert":
                name = f"a{len(self.m.asserts)}" if self.chance(0.7) or not self.m.asserts else r.choice(self.m.asserts)
                if name not in self.m.asserts:
                    self.m.asserts.append(name)
                return ("assert", name, self.bool_expr(2))
            case "let":
                t = r.choice([Int(-2, 4), U8])
                e = self.expr(t, 2)
                name = self.local_name("n")
                self.locals.append((name, self.type_of(e)))
                return ("let", name, e)
            case "if":
                c = self.bool_expr(2)
                return ("if", c, self.block(depth - 1, actor), self.block(depth - 1, actor) if self.chance(0.6) else [])
            case "choose":
                name, hi = self.local_name("k"), r.choice([1, 2, 3])
                self.locals.append((name, Int(0, hi)))
                self.in_statement = False  # a `where` is a guard: its shift amounts must be non-negative
                where = self.bool_expr(1)
                self.in_statement = True
                body = self.block(depth - 1, actor)
                self.locals.remove((name, Int(0, hi)))
                return ("choose", name, 0, hi, where, body)
            case "for":
                name, hi = self.local_name("j"), r.choice([1, 2])
                self.locals.append((name, Int(0, hi)))
                body = self.block(depth - 1, actor)
                self.locals.remove((name, Int(0, hi)))
                return ("for", name, 0, hi, body)
            case "write":
                lo = ("int", r.randint(0, 15)) if self.chance(0.5) else r.choice(self.bits_leaves(4))
                return ("write", self.expr(U8, 2) if self.chance(0.5) else
                        ("record", (("lo", lo), ("hi", ("int", r.randint(0, 7))))))
        raise AssertionError

    def local_name(self, prefix: str) -> str:
        self.fresh += 1
        return f"{prefix}{self.fresh}"

    def assign(self, actor: str) -> tuple:
        r = self.r
        targets = [v for v in self.m.vars if v.name != "r" or self.chance(0.5)]
        v = r.choice(targets)
        if v.name == "m":  # the slot: the filler puts a token in, the emptier takes it out
            value = ("int", r.choice([0, 1, 2])) if actor != "host" else self.expr(U8, 1)
            return ("assign", ("var", "m"), value)
        if v.type == REG:
            f, _, w = r.choice(REGISTER)
            return ("assign", ("field", ("var", "r"), f), self.expr(Bits(w) if self.chance(0.5) else U8, 2))
        target = ("elem", v.name, self.index_expr(v.index)) if v.index else ("var", v.name)
        if v.type.kind == "bool" and self.chance(0.5):
            return ("assign", target, ("un", "!", target))
        if v.type.kind in ("int", "u8") and self.chance(0.6):  # a step: counters move, and sometimes overflow
            here = target if target[0] == "var" else ("elem", v.name, target[2])
            delta = ("int", r.choice([1, 1, 2, 3] if v.type.kind == "int" else [1, 7, 100]))
            value = ("bin", r.choice(["+", "-"]) if v.type.kind == "u8" or self.chance(0.3) else "+", here, delta)
            if v.type.kind == "int" and self.chance(0.5):  # wrapping by hand, as models do
                value = ("bin", "%", value, ("int", v.type.hi + 1))
            return ("assign", target, value)
        return ("assign", target, self.expr(self.widen(v.type), 2))

    def widen(self, t: T) -> T:
        """A value type for an assignment to `t`: sometimes wider, so that type_ok can fail."""
        if t.kind == "int" and self.chance(0.4):
            return Int(t.lo - 1, t.hi + 2)
        return t

    def index_expr(self, n: int) -> tuple:
        r = self.r
        options = [("int", r.randrange(n))]
        ints = [x for x in self.int_leaves() if 0 <= x[1].lo and x[1].hi < n]
        if ints:
            options.append(r.choice(ints)[0])
        if self.m.var("a").index == n if any(v.name == "a" for v in self.m.vars) else False:
            options.append(("elem", "a", ("int", 0)) if self.m.var("a").type.hi < n else ("int", 0))
        return r.choice(options)

    # ------------------------------------------------------------------------------------------ expressions
    def int_leaves(self) -> list[tuple[tuple, T]]:
        out = [(("var", v.name), v.type) for v in self.m.vars if v.type.kind == "int" and v.index is None]
        out += [(("local", n), t) for n, t in self.locals if t.kind == "int"]
        return out + self.code_int_leaves()

    def expr(self, t: T, depth: int) -> tuple:
        r = self.r
        match t.kind:
            case "bool":
                return self.bool_expr(depth)
            case "enum":
                if self.chance(0.3):
                    return ("ite", self.bool_expr(depth - 1), ("enum", r.choice(ENUM)), ("enum", r.choice(ENUM)))
                return ("enum", r.choice(ENUM))
            case "set":
                elems = [("int", k) for k in range(SET_DOMAIN[0], SET_DOMAIN[1] + 1)]
                elems += [leaf for leaf, tt in self.int_leaves() if SET_DOMAIN[0] <= tt.lo and tt.hi <= SET_DOMAIN[1]]
                pick = tuple(r.sample(elems, r.randint(0, min(2, len(elems)))))
                if self.chance(0.25):
                    return ("set", pick)
                return ("bin", r.choice(["+", "-", "&", "|"]), ("var", "s"), ("set", pick or (elems[0],)))
            case "int":
                return self.int_expr(t, depth)
            case "u8" | "bits":
                return self.bits_expr(t.width, depth)
        raise AssertionError(t)

    def int_expr(self, t: T, depth: int) -> tuple:
        r = self.r
        leaves = [(("int", r.randint(t.lo, t.hi)), None)] + self.int_leaves()
        arr = next((v for v in self.m.vars if v.name == "a"), None)
        if arr is not None:
            leaves.append((("elem", "a", self.index_expr(arr.index)), arr.type))
        if any(v.name == "s" for v in self.m.vars):
            leaves.append((("card", ("var", "s")), Int(0, 3)))
        if depth <= 0 or self.chance(0.35):
            return r.choice(leaves)[0]
        op = r.choice(["+", "-", "*", "/", "%", "?:", "+", "-"])
        if op == "?:":
            return ("ite", self.bool_expr(depth - 1), self.int_expr(t, depth - 1), self.int_expr(t, depth - 1))
        if op in ("/", "%"):
            return ("bin", op, self.int_expr(t, depth - 1), ("int", r.choice([2, 3])))
        if op == "*":
            return ("bin", op, self.int_expr(t, depth - 1), ("int", r.choice([-1, 2])))
        return ("bin", op, self.int_expr(t, depth - 1), self.int_expr(t, depth - 1))

    def bits_leaves(self, width: int) -> list[tuple]:
        """Expressions of a bit-vector type no wider than `width` (there is always one for u8: `c`)."""
        out = [("var", "c")] if width == 8 else []
        if width == 8 and self.m.slot:
            out.append(("var", "m"))
        if self.m.register:
            out += [("field", ("var", "r"), f) for f, _, w in REGISTER if w <= width]
        return out or [("var", "c")]

    def bits_expr(self, width: int, depth: int) -> tuple:
        """An expression of type u`width` (or a register field): a bit vector, never a bare integer."""
        r = self.r
        if depth <= 0 or self.chance(0.3):
            return r.choice(self.bits_leaves(width))
        op = r.choice(["+", "-", "*", "&", "|", "^", "~", "<<", ">>", "/", "%", "?:", "const", "mixed"])
        sub = lambda: self.bits_expr(width, depth - 1)  # noqa: E731
        match op:
            case "~":
                return ("un", "~", sub())
            case "?:":
                return ("ite", self.bool_expr(depth - 1), sub(), sub())
            case "/" | "%":
                return ("bin", op, sub(), ("int", r.choice([2, 3, 5])))
            case "const":  # a constant wider than the vector, or negative: it wraps
                return ("bin", r.choice(["|", "^", "&", "+", "-"]), sub(), ("int", r.choice([300, 256, -3, 511, 7])))
            case "mixed":  # a bit vector with a small non-negative integer
                ints = [l for l, tt in self.int_leaves() if tt.lo >= 0 and tt.hi < (1 << width)]
                other = r.choice(ints) if ints else ("int", r.randrange(1 << width))
                return ("bin", r.choice(["+", "-", "&", "|", "^", "*"]), sub(), other)
            case "<<" | ">>":
                return ("bin", op, sub(), self.shift_amount(width))
        return ("bin", op, sub(), sub())

    def shift_amount(self, width: int) -> tuple:
        r = self.r
        options = [("int", r.choice([0, 1, 3, width - 1, width, width + 2]))]
        for leaf, tt in self.int_leaves():
            if tt.lo >= 0 or self.in_statement:  # a possibly negative amount: the derived property shift_ok
                options.append(leaf)
        return r.choice(options)

    def bool_expr(self, depth: int) -> tuple:
        r = self.r
        leaves = []
        if any(v.name == "b" for v in self.m.vars):
            leaves.append(("var", "b"))
        if any(v.name == "e" for v in self.m.vars):
            leaves.append(("bin", r.choice(["==", "!="]), ("var", "e"), ("enum", r.choice(ENUM))))
        if any(v.name == "s" for v in self.m.vars):
            elem = r.choice([("int", r.randint(*SET_DOMAIN))] + [l for l, _ in self.int_leaves()])
            leaves.append(("bin", "in", elem, ("var", "s")))
        cmp = r.choice(["==", "!=", "<", "<=", ">", ">="])
        if self.chance(0.6):
            leaves.append(("bin", cmp, self.int_expr(Int(-2, 4), max(depth - 1, 0)), self.int_expr(Int(-2, 4), 0)))
        else:
            leaves.append(("bin", cmp, self.bits_expr(8, max(depth - 1, 0)), self.bits_expr(8, 0)))
        if self.chance(0.15):
            leaves.append(("bool", r.random() < 0.7))
        if self.chance(0.3):
            leaves += self.code_bool_leaves()
        if depth <= 0 or self.chance(0.4):
            return r.choice(leaves)
        op = r.choice(["&&", "||", "->", "!", "quant"])
        if op == "!":
            return ("un", "!", self.bool_expr(depth - 1))
        arr = next((v for v in self.m.vars if v.name == "a"), None)
        if op == "quant" and arr is not None:
            name = self.local_name("q")
            self.locals.append((name, Int(0, arr.index - 1)))
            body = ("bin", r.choice(["<=", "!=", "=="]), ("elem", "a", ("local", name)), ("int", r.randint(0, 2)))
            self.locals.pop()
            return ("quant", r.choice(["forall", "exists"]), name, (0, arr.index - 1), body)
        if op == "quant":
            op = "&&"
        return ("bin", op, self.bool_expr(depth - 1), self.bool_expr(depth - 1))

    # ------------------------------------------------------------------------------------------ typing
    def type_of(self, e: tuple) -> T:
        """The checker's type of an int or u8 expression (only what `let` needs)."""
        match e:
            case ("int", v):
                return Int(v, v)
            case ("var", n):
                return self.m.var(n).type
            case ("local", n):
                return next(t for name, t in self.locals if name == n)
            case ("elem", n, _):
                return self.m.var(n).type
            case ("card", _):
                return Int(0, 3)
            case ("get",) | ("head",):
                return Int(0, 2)
            case ("len",):
                return Int(0, 2)
            case ("field", _, f):
                return Bits(next(w for name, _, w in REGISTER if name == f))
        return U8 if _is_bits(self, e) else Int(-64, 64)


def _is_bits(g: Gen, e: tuple) -> bool:
    match e:
        case ("var", n):
            return g.m.var(n).type.kind in ("u8", "reg")
        case ("field", _, _):
            return True
        case ("un", "~", _):
            return True
        case ("bin", _, a, b) | ("ite", _, a, b):
            return _is_bits(g, a) or _is_bits(g, b)
    return False


def generate(seed: int, size: int = 2) -> Model:
    return Gen(random.Random(seed), size).model()


# ---------------------------------------------------------------------------------------------- the .kv text


def kv_text(m: Model) -> str:
    out = ["model difftest", "type Color = {Red, Green, Blue}"]
    arrays = [v for v in m.vars if v.index]
    if arrays:
        out.append(f"type Idx = 0 .. {arrays[0].index - 1}")
    if m.register:
        out += ["register REG at 0x10 : 8 {"] + [f"    {f} @ {lo}" + (f" .. {lo + w - 1}" if w > 1 else "")
                                                 + (" must_be 0" if f == "rsv" else "") for f, lo, w in REGISTER] + ["}"]
    for v in m.vars:
        index = f"[0 .. {v.index - 1}]" if v.index else ""
        out.append(f"var {v.name}{index} : {kv_type(v.type)} = {kv_expr(v.init)}")
    out += kv_code_decls(m)
    if m.slot:
        out.append(f"slot {m.slot} : empty 0, filled by host, emptied by guest")
    actors = list(dict.fromkeys((["host", "guest"] if m.slot else []) + [a.actor for a in m.actions]))
    for actor in actors:
        out.append(f"actor {actor} {{")
        if m.register and actor == actors[0]:
            out.append("    on write REG(value) { r := value }")
        for a in m.actions:
            if a.actor != actor:
                continue
            param = f"{a.param[0]}: {a.param[1]} .. {a.param[2]}" if a.param else ""
            out.append(f"    action {a.name}({param}) when {kv_expr(a.guard)} {{")
            out.extend(kv_block(a.body, 2))
            out.append("    }")
        out.append("}")
    out += kv_code_tail(m, kv_block, kv_expr)
    out += [f"invariant {n}: {kv_expr(e)}" for n, e in m.invariants]
    out += [f"cover {n}: {kv_expr(e)}" for n, e in m.covers]
    return "\n".join(out) + "\n"


def kv_type(t: T) -> str:
    return {"int": f"{t.lo} .. {t.hi}", "u8": "u8", "bool": "bool", "enum": "Color", "set": "set of 0 .. 2",
            "reg": "REG"}[t.kind]


def kv_block(stmts: list, depth: int) -> list[str]:
    pad = "    " * depth
    out = []
    for s in stmts:
        code = kv_code_stmt(s, pad, kv_expr)
        if code is not None:
            out.append(code)
            continue
        match s:
            case ("assign", target, e):
                out.append(f"{pad}{kv_expr(target)} := {kv_expr(e)}")
            case ("if", c, then, else_):
                out.append(f"{pad}if {kv_expr(c)} {{")
                out += kv_block(then, depth + 1)
                if else_:
                    out.append(f"{pad}}} else {{")
                    out += kv_block(else_, depth + 1)
                out.append(f"{pad}}}")
            case ("let", name, e):
                out.append(f"{pad}let {name} = {kv_expr(e)}")
            case ("choose", name, lo, hi, where, body):
                out.append(f"{pad}choose {name}: {lo} .. {hi} where {kv_expr(where)} {{")
                out += kv_block(body, depth + 1)
                out.append(f"{pad}}}")
            case ("for", name, lo, hi, body):
                out.append(f"{pad}for {name}: {lo} .. {hi} {{")
                out += kv_block(body, depth + 1)
                out.append(f"{pad}}}")
            case ("assert", name, c):
                out.append(f"{pad}assert {name}: {kv_expr(c)}")
            case ("write", e):
                out.append(f"{pad}write REG({kv_expr(e)})")
            case ("skip",):
                out.append(f"{pad}skip")
    return out


def kv_expr(e: tuple) -> str:
    code = kv_code_expr(e, kv_expr)
    if code is not None:
        return code
    match e:
        case ("int", v):
            return str(v) if v >= 0 else f"(0 - {-v})"
        case ("bool", b):
            return "true" if b else "false"
        case ("enum", member):
            return member
        case ("var", n) | ("local", n):
            return n
        case ("elem", n, i):
            return f"{n}[{kv_expr(i)}]"
        case ("field", base, f):
            return f"{kv_expr(base)}.{f}"
        case ("un", op, x):
            return f"{op}({kv_expr(x)})"
        case ("bin", op, a, b):
            return f"({kv_expr(a)} {op} {kv_expr(b)})"
        case ("ite", c, a, b):
            return f"({kv_expr(c)} ? {kv_expr(a)} : {kv_expr(b)})"
        case ("set", items):
            return "{" + ", ".join(kv_expr(i) for i in items) + "}"
        case ("card", x):
            return f"card({kv_expr(x)})"
        case ("quant", kind, name, (lo, hi), body):
            return f"({kind} {name}: Idx. {kv_expr(body)})"
        case ("record", items):
            return "{" + ", ".join(f"{f}: {kv_expr(x)}" for f, x in items) + "}"
    raise AssertionError(e)
