"""A generated model (difftest/model.py) as Promela for SPIN, written from the model's own AST, independently of
kvmverify's front end, so that SPIN checks what the language documents rather than what kvmverify lowers.

One step of the model is one `d_step`, so SPIN stores exactly the model's states. A step's body may branch
(`if`, `choose`, a check that stops it), and a `d_step` cannot block half-way; so every path through an action
instance is worked out here by symbolic execution into a guard over the state before the step (its path
condition) and the parallel assignment it amounts to, and becomes one `d_step` option of the main loop.

Properties are observed, not asserted: a never-executable option `c_expr { (kv_probe)() }` runs C code each
time SPIN expands a state, which checks every invariant and cover in that state, and every step property on
every path leaving it, and prints the first (BFS: shallowest) depth at which each is violated or reached. The
state space and the transition count are SPIN's own.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .model import ENUM, REGISTER, SET_DOMAIN, Model
from .promela_code import CodeExpander, all_done, code_decls, code_pre, premises, process_steps

MASK8 = 0xFF


# ---------------------------------------------------------------------------------------------- symbolic terms
# ("k", v) | ("pre", name, index | None) | ("op", op, a, b) | ("not", a) | ("neg", a) | ("inv", a) | ("ite", c, a, b)


def k(v: int) -> tuple:
    return ("k", int(v))


_FOLD = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "&": lambda a, b: a & b,
         "|": lambda a, b: a | b, "^": lambda a, b: a ^ b, "==": lambda a, b: int(a == b),
         "!=": lambda a, b: int(a != b), "<": lambda a, b: int(a < b), "<=": lambda a, b: int(a <= b),
         ">": lambda a, b: int(a > b), ">=": lambda a, b: int(a >= b)}


def op(o: str, a: tuple, b: tuple) -> tuple:
    """A binary term, folded when both sides are constants (C's meaning: nothing here overflows an int)."""
    if a[0] == "k" and b[0] == "k" and o in _FOLD:
        return k(_FOLD[o](a[1], b[1]))
    if o == "&&":
        return land(a, b)
    if o == "||":
        return lor(a, b)
    return ("op", o, a, b)


def land(*xs: tuple) -> tuple:
    """Conjunction in order (C evaluates it left to right, and a later conjunct may need an earlier one)."""
    keep = []
    for x in xs:
        if x[0] == "k" and x[1]:
            continue
        if x[0] == "k":
            return k(0) if not keep else ("op", "&&", _chain("&&", keep), k(0))
        keep.append(x)
    return _chain("&&", keep) if keep else k(1)


def lor(*xs: tuple) -> tuple:
    keep = []
    for x in xs:
        if x[0] == "k" and not x[1]:
            continue
        if x[0] == "k":
            return k(1) if not keep else ("op", "||", _chain("||", keep), k(1))
        keep.append(x)
    return _chain("||", keep) if keep else k(0)


def _chain(o: str, xs: list) -> tuple:
    out = xs[0]
    for x in xs[1:]:
        out = ("op", o, out, x)
    return out


def neg(x: tuple) -> tuple:
    return k(not x[1]) if x[0] == "k" else ("not", x)


def term_size(t: tuple, memo: dict) -> int:
    """The printed size of a term (a DAG: shared subterms print once each time they occur)."""
    key = id(t)
    if key not in memo:
        memo[key] = 1 + sum(term_size(x, memo) for x in t[1:] if isinstance(x, tuple))
    return memo[key]


def promela(t: tuple) -> str:
    match t:
        case ("k", v):
            return str(v) if v >= 0 else f"(0 - {-v})"
        case ("pre", name, None):
            return name
        case ("pre", name, i):
            return f"{name}[{i}]"
        case ("op", o, a, b):
            return f"({promela(a)} {o} {promela(b)})"
        case ("not", a):
            return f"(!{promela(a)})"
        case ("neg", a):
            return f"(0 - {promela(a)})"
        case ("inv", a):
            return f"(~{promela(a)})"
        case ("ite", c, a, b):
            return f"({promela(c)} -> {promela(a)} : {promela(b)})"
    raise AssertionError(t)


def c_expr(t: tuple) -> str:
    match t:
        case ("k", v):
            return str(v)
        case ("pre", name, None):
            return f"now.{name}"
        case ("pre", name, i):
            return f"now.{name}[{i}]"
        case ("op", o, a, b):
            return f"({c_expr(a)} {o} {c_expr(b)})"
        case ("not", a):
            return f"(!{c_expr(a)})"
        case ("neg", a):
            return f"(-{c_expr(a)})"
        case ("inv", a):
            return f"(~{c_expr(a)})"
        case ("ite", c, a, b):
            return f"({c_expr(c)} ? {c_expr(a)} : {c_expr(b)})"
    raise AssertionError(t)


# ---------------------------------------------------------------------------------------------- symbolic execution


@dataclass
class Path:
    pc: list[tuple]
    state: dict  # (name, index | None) -> term over the state before the step
    env: dict = field(default_factory=dict)


class Expander(CodeExpander):
    """Symbolic execution of one action instance: its complete paths and every violation on the way."""

    def __init__(self, m: Model, actor: str, pre: dict | None = None):
        self.m, self.actor = m, actor
        self.pre = pre  # the state before the step (for old(...) in transitions)
        self.done: list[Path] = []
        self.violations: list[tuple[str, tuple]] = []  # (property, condition over the state before the step)
        self.stops: list[tuple] = []  # conditions under which a fatal check stops a path (it was attempted)
        self.undefined: list[tuple] = []  # while evaluating one statement: when a shift amount is negative

    # -------------------------------------------------------------------------------------- types
    def width(self, e: tuple) -> int | None:
        """The bit-vector width of an expression, None for integers (and bools, enums, sets)."""
        match e:
            case ("var", n):
                t = self.m.var(n).type
                return 8 if t.kind in ("u8", "reg") else None
            case ("elem", n, _):
                return None
            case ("field", _, f):
                return next(w for name, _, w in REGISTER if name == f)
            case ("un", "~", x):
                return self.width(x)
            case ("un", "-", x):
                return self.width(x)
            case ("bin", o, a, b) if o in ("+", "-", "*", "&", "|", "^", "/", "%"):
                ws = [w for w in (self.width(a), self.width(b)) if w is not None]
                return max(ws) if ws else None
            case ("bin", "<<" | ">>", a, _):
                return self.width(a)
            case ("ite", _, a, b):
                ws = [w for w in (self.width(a), self.width(b)) if w is not None]
                return max(ws) if ws else None
        return None

    def is_set(self, e: tuple) -> bool:
        match e:
            case ("var", n):
                return self.m.var(n).type.kind == "set"
            case ("set", _):
                return True
            case ("bin", "+" | "-" | "&" | "|", a, b):
                return self.is_set(a) or self.is_set(b)
        return False

    # -------------------------------------------------------------------------------------- expressions
    def eval(self, e: tuple, p: Path, ctx: tuple = k(1)) -> tuple:
        """The term of `e` on path p; `ctx` is when it is evaluated at all (for shift amounts)."""
        code = self.code_eval(e, p, ctx)
        if code is not None:
            return code
        match e:
            case ("int", v):
                return k(v)
            case ("bool", b):
                return k(b)
            case ("enum", member):
                return k(ENUM.index(member))
            case ("var", n):
                return p.state[(n, None)]
            case ("local", n):
                return p.env[n]
            case ("elem", n, i):
                idx = self.eval(i, p, ctx)
                size = self.m.var(n).index
                if idx[0] == "k":
                    return p.state[(n, idx[1])]
                out = p.state[(n, size - 1)]
                for j in range(size - 2, -1, -1):
                    out = ("ite", op("==", idx, k(j)), p.state[(n, j)], out)
                return out
            case ("field", base, f):
                lo, w = next((lo, w) for name, lo, w in REGISTER if name == f)
                return op("&", op(">>", self.eval(base, p, ctx), k(lo)), k((1 << w) - 1))
            case ("un", "!", x):
                return neg(self.eval(x, p, ctx))
            case ("un", "~", x):
                return op("&", ("inv", self.eval(x, p, ctx)), k((1 << self.width(e)) - 1))
            case ("un", "-", x):
                v = ("neg", self.eval(x, p, ctx))
                w = self.width(e)
                return v if w is None else op("&", v, k((1 << w) - 1))
            case ("ite", c, a, b):
                cv = self.eval(c, p, ctx)
                return ("ite", cv, self.eval(a, p, land(ctx, cv)), self.eval(b, p, land(ctx, neg(cv))))
            case ("card", x):
                s = self.eval(x, p, ctx)
                return op("+", op("+", op("&", s, k(1)), op("&", op(">>", s, k(1)), k(1))),
                          op("&", op(">>", s, k(2)), k(1)))
            case ("set", items):
                out = k(0)
                for item in items:
                    out = op("|", out, op("<<", k(1), op("-", self.eval(item, p, ctx), k(SET_DOMAIN[0]))))
                return out
            case ("record", items):
                out = k(0)
                for f, x in items:
                    lo, w = next((lo, w) for name, lo, w in REGISTER if name == f)
                    out = op("|", out, op("<<", op("&", self.eval(x, p, ctx), k((1 << w) - 1)), k(lo)))
                return out
            case ("quant", kind, name, (lo, hi), body):
                parts = [self.eval(body, Path(p.pc, p.state, {**p.env, name: k(v)}), ctx) for v in range(lo, hi + 1)]
                return land(*parts) if kind == "forall" else lor(*parts)
            case ("bin", o, a, b):
                return self.binary(e, o, a, b, p, ctx)
        raise AssertionError(e)

    def binary(self, e: tuple, o: str, a: tuple, b: tuple, p: Path, ctx: tuple) -> tuple:
        if o == "&&":
            x = self.eval(a, p, ctx)
            return op("&&", x, self.eval(b, p, land(ctx, x)))
        if o == "||":
            x = self.eval(a, p, ctx)
            return op("||", x, self.eval(b, p, land(ctx, neg(x))))
        if o == "->":
            x = self.eval(a, p, ctx)
            return op("||", neg(x), self.eval(b, p, land(ctx, x)))
        x, y = self.eval(a, p, ctx), self.eval(b, p, ctx)
        if o == "in":
            lo, hi = SET_DOMAIN
            return land(op(">=", x, k(lo)), op("<=", x, k(hi)), op("&", op(">>", y, op("-", x, k(lo))), k(1)))
        if self.is_set(e):
            full = (1 << (SET_DOMAIN[1] - SET_DOMAIN[0] + 1)) - 1
            match o:
                case "+" | "|":
                    return op("|", x, y)
                case "&":
                    return op("&", x, y)
                case "-":
                    return op("&", x, op("^", y, k(full)))
        if o in ("==", "!=", "<", "<=", ">", ">="):
            return op(o, x, y)
        w = self.width(e)
        mask = None if w is None else k((1 << w) - 1)
        if o in ("<<", ">>"):
            if y[0] != "k":
                self.undefined.append(land(ctx, op("<", y, k(0))))
            elif y[1] < 0:  # a constant on this path (y := 0 - 3, then x << y): as undefined as a variable one
                self.undefined.append(ctx)
            if w is None:
                return op(o, x, y)
            limit = op("||", op("<", y, k(0)), op(">=", y, k(w)))
            shifted = op(o, x, y) if o == ">>" else op("&", op("<<", x, y), mask)
            return ("ite", limit, k(0), shifted)
        raw = op(o, x, y)
        return raw if mask is None else op("&", raw, mask)

    # -------------------------------------------------------------------------------------- statements
    def guarded(self, exprs: list[tuple], p: Path) -> tuple[list[tuple], Path | None]:
        """Evaluate a statement's expressions; a negative shift amount stops the path (shift_ok)."""
        self.undefined = []
        terms = [self.eval(e, p) for e in exprs]
        if self.undefined:
            bad = lor(*self.undefined)
            self.stop("shift_ok", land(*p.pc, bad))
            p = Path([*p.pc, neg(bad)], p.state, p.env)
        return terms, p

    def run(self, stmts: list, p: Path, rest=None) -> None:
        """Every path through `stmts` followed by the continuation `rest` (a function of a path)."""
        if not stmts:
            if rest is None:
                self.done.append(p)
                if len(self.done) > MAX_OPTIONS:  # stop enumerating now: the paths multiply with every choose
                    raise TooBig(f"more than {MAX_OPTIONS} paths")
            else:
                rest(p)
            return
        s, more = stmts[0], stmts[1:]

        def then(q: Path) -> None:
            self.run(more, Path(q.pc, q.state, p.env), rest)

        if self.code_run(s, more, p, rest):
            return
        match s:
            case ("assign", target, e):
                self.assign(target, e, p, lambda q: self.run(more, q, rest))
            case ("if", c, body, else_):
                (cv,), p = self.guarded([c], p)
                self.run(body, Path([*p.pc, cv], dict(p.state), p.env), then)
                self.run(else_, Path([*p.pc, neg(cv)], dict(p.state), p.env), then)
            case ("let", name, e):
                (v,), p = self.guarded([e], p)
                self.run(more, Path(p.pc, p.state, {**p.env, name: v}), rest)
            case ("choose", name, lo, hi, where, body):
                for v in range(lo, hi + 1):
                    q = Path(p.pc, dict(p.state), {**p.env, name: k(v)})
                    self.run(body, Path([*q.pc, self.eval(where, q)], q.state, q.env), then)
            case ("for", name, lo, hi, body):
                frames = [("frame", name, v, body) for v in range(lo, hi + 1)]
                self.run(frames + list(more), p, rest)
            case ("frame", name, v, body):
                self.run(body, Path(p.pc, p.state, {**p.env, name: k(v)}), then)
            case ("assert", name, c):
                (cv,), p = self.guarded([c], p)
                self.violations.append((name, land(*p.pc, neg(cv))))
                self.run(more, p, rest)
            case ("write", e):
                (v,), p = self.guarded([e], p)
                valid = op("==", op("&", op(">>", v, k(7)), k(1)), k(0))  # rsv @ 7 must_be 0
                self.violations.append(("msr:REG", land(*p.pc, neg(valid))))
                self.run([("handler", v)] + list(more), Path([*p.pc, valid], dict(p.state), p.env), rest)
                self.run(more, Path([*p.pc, neg(valid)], p.state, p.env), rest)
            case ("handler", v):  # on write REG(value) { r := value }
                q = Path(p.pc, dict(p.state), p.env)
                q.state[("r", None)] = v
                self.run(more, q, rest)
            case ("skip",):
                self.run(more, p, rest)

    def assign(self, target: tuple, e: tuple, p: Path, rest) -> None:
        index = target[2] if target[0] == "elem" else None
        terms, p = self.guarded([e] + ([index] if index is not None else []), p)
        value = terms[0]
        name = target[1] if target[0] != "field" else "r"
        if name == "o":  # the option: none (-1) or some(v), v in 0 .. 2
            from .code_model import ELEM
            fits = lor(op("==", value, k(-1)), land(op(">=", value, k(ELEM[0])), op("<=", value, k(ELEM[1]))))
            if fits != k(1):
                self.stop("type_ok", land(*p.pc, neg(fits)))
                p = Path([*p.pc, fits], p.state, p.env)
            state = dict(p.state)
            state[("o", None)] = value
            rest(Path(p.pc, state, p.env))
            return
        t = self.m.var(name).type
        if target[0] == "field":
            lo, w = next((lo, w) for f, lo, w in REGISTER if f == target[2])
            fits = land(op(">=", value, k(0)), op("<=", value, k((1 << w) - 1)))
        elif t.kind == "int":
            fits = land(op(">=", value, k(t.lo)), op("<=", value, k(t.hi)))
        elif t.kind in ("u8", "reg"):
            fits = land(op(">=", value, k(0)), op("<=", value, k(MASK8)))
        else:
            fits = k(1)
        if fits != k(1):
            self.stop("type_ok", land(*p.pc, neg(fits)))
            if fits == k(0):
                return  # the value never fits: the step stops here on every path (a[0] := -1, then a[a[0]])
            p = Path([*p.pc, fits], p.state, p.env)
        state = dict(p.state)
        if target[0] == "field":
            old = state[("r", None)]
            mask = ((1 << w) - 1) << lo
            state[("r", None)] = op("|", op("&", old, k(MASK8 & ~mask)), op("&", op("<<", value, k(lo)), k(mask)))
        elif index is None:
            if name == self.m.slot:
                self.slot(p, state[(name, None)], value)
            state[(name, None)] = value
        else:
            ix = terms[1]
            size = self.m.var(name).index
            for j in range(size):
                if ix[0] == "k":
                    if ix[1] == j:
                        state[(name, j)] = value
                else:
                    state[(name, j)] = ("ite", op("==", ix, k(j)), value, state[(name, j)])
        rest(Path(p.pc, state, p.env))

    def slot(self, p: Path, old: tuple, new: tuple) -> None:
        """slot m : empty 0, filled by host, emptied by guest"""
        if self.actor == "host":
            bad = op("!=", old, k(0))
        elif self.actor == "guest":
            bad = op("!=", new, k(0))
        else:
            bad = k(1)
        self.violations.append(("slot:m", land(*p.pc, bad)))


# ---------------------------------------------------------------------------------------------- the program

MAX_OPTIONS = 800
MAX_TEXT = 400_000  # nested dynamic indices make terms grow fast; such a model is drawn again


class TooBig(Exception):
    """The model has more paths than a Promela file should hold: the caller draws another."""


@dataclass
class Program:
    text: str  # the Promela model
    probe: str  # the C file of the property probe, compiled with pan.c
    props: list[str]  # property names, by the index the probe prints


def _instances(m: Model, pre: dict):
    """(name of the action or step, expander holding its finished paths) for every action instance and every
    process step instance."""
    for a in m.actions:
        for value in (range(a.param[1], a.param[2] + 1) if a.param else [None]):
            env = {a.param[0]: k(value)} if a.param else {}
            x = Expander(m, a.actor, pre)
            start = Path([], dict(pre), env)
            guard = x.eval(a.guard, start)
            x.run(a.body, Path([guard], dict(pre), env))
            yield f"{a.actor}.{a.name}", x
    for name, _, x in process_steps(m, lambda actor: Expander(m, actor, pre), pre):
        yield name, x


def promela_program(m: Model) -> Program:
    code = m.code
    steps = [f"{a.actor}.{a.name}" for a in m.actions]
    steps += [f"{p.name}@{label}" for p in code.processes for label in p.labels()[:-1]]
    inv_premises = [(n, pr) for n, e in m.invariants for pr in premises(e)]
    props = ([n for n, _ in m.invariants] + [n for n, _ in m.covers] + list(m.asserts)
             + ["type_ok", "shift_ok"] + (["slot:m"] if m.slot else []) + (["msr:REG"] if m.register else [])
             + (["queue:qu"] if code.queue else []) + [n for n, _ in code.transitions]
             + ["deadlock"] + [f"enabled:{s}" for s in dict.fromkeys(steps)] + _premise_names(m))
    pid = {n: i for i, n in enumerate(props)}
    options, probes = [], []
    temps = size = 0
    pre = {(v.name, j): ("pre", v.name, j) for v in m.vars if v.index for j in range(v.index)}
    pre.update({(v.name, None): ("pre", v.name, None) for v in m.vars if not v.index})
    pre.update(code_pre(m))
    enabled: dict[str, list[tuple]] = {}
    for name, x in _instances(m, pre):
        if len(x.done) + len(options) > MAX_OPTIONS:
            raise TooBig(f"more than {MAX_OPTIONS} paths")
        for q in x.done:  # transition properties: on every completed path, old(...) before the step
            for tname, texpr in code.transitions:
                x.violations.append((tname, land(*q.pc, neg(x.eval(texpr, Path(q.pc, q.state, q.env))))))
        enabled.setdefault(name, []).append(lor(*(land(*q.pc) for q in x.done), *x.stops))
        memo: dict = {}
        terms = [c for _, c in x.violations] + [t for q in x.done for t in (*q.pc, *q.state.values())]
        if sum(term_size(t, memo) for t in terms) > MAX_TEXT // 8:  # before printing: printing is what is slow
            raise TooBig("terms too large")
        for prop, cond in x.violations:
            probes.append(f"  if ({c_expr(cond)}) kv_report({pid[prop]}, depth + 1);")
            size += len(probes[-1])
        for path in x.done:
            changed = [(key, t) for key, t in path.state.items() if t != pre[key]]
            temps = max(temps, len(changed))
            # a parallel assignment through temporaries, reset at the end so that every stored state
            # has them 0 (BFS refuses `hidden` variables; these count no extra states)
            body = [f"kv_t{i} = {promela(t)}" for i, (_, t) in enumerate(changed)]
            body += [f"{key[0]}{'' if key[1] is None else f'[{key[1]}]'} = kv_t{i}"
                     for i, (key, _) in enumerate(changed)]
            body += [f"kv_t{i} = 0" for i in range(len(changed))]
            options.append(f"  :: d_step {{ {promela(land(*path.pc))} -> " + "; ".join(body or ["skip"]) + " }")
            size += len(options[-1])
        if size > MAX_TEXT:
            raise TooBig(f"more than {MAX_TEXT} characters of Promela and C")
    state_probes = []
    for n, e in m.invariants:
        state_probes.append(f"  if (!({c_expr(Expander(m, '').eval(e, Path([], pre)))})) kv_report({pid[n]}, depth);")
    for n, e in m.covers:
        state_probes.append(f"  if ({c_expr(Expander(m, '').eval(e, Path([], pre)))}) kv_report({pid[n]}, depth);")
    end = [Expander(m, "").eval(code.terminal, Path([], pre))] if code.terminal is not None else []
    done = all_done(m, pre)
    stuck = land(neg(lor(*(t for ts in enabled.values() for t in ts))), neg(lor(*end, *([done] if done else []))))
    state_probes.append(f"  if ({c_expr(stuck)}) kv_report({pid['deadlock']}, depth);")
    for name, ts in enabled.items():
        state_probes.append(f"  if ({c_expr(lor(*ts))}) kv_report({pid['enabled:' + name]}, depth);")
    for pname, (_, premise) in zip(_premise_names(m), inv_premises):
        state_probes.append(f"  if ({c_expr(Expander(m, '').eval(premise, Path([], pre)))}) "
                            f"kv_report({pid[pname]}, depth);")
    decls = []
    for v in m.vars:
        ctype = {"int": "int", "u8": "byte", "bool": "bool", "enum": "byte", "set": "byte", "reg": "byte"}[v.type.kind]
        init = _initial(v.init)
        decls.append(f"{ctype} {v.name}{f'[{v.index}]' if v.index else ''} = {init};")
    decls += code_decls(m)
    probe = "\n".join([
        "#include <stdio.h>",
        "#include <stdlib.h>",
        "#include <string.h>",
        "#define Offsetof(X, Y) ((unsigned long)(&(((X *)0)->Y)))",
        '#include "pan.h"',
        "extern State now;",
        "extern long depth;",
        f"static long kv_first[{len(props)}] = {{{', '.join(['-1'] * len(props))}}};",
        "static void kv_report(int p, long d) {",
        "  if (kv_first[p] < 0 || d < kv_first[p]) { kv_first[p] = d; printf(\"KVPROP %d %ld\\n\", p, d); }",
        "}",
        "int kv_probe(void) {",
        *state_probes,
        *probes,
        "  return 0;",
        "}",
    ]) + "\n"
    text = "\n".join([
        "c_code { extern int kv_probe(void); }",
        *decls,
        "active proctype main() {",
        *([f"int {', '.join(f'kv_t{i}' for i in range(temps))};"] if temps else []),
        "end: do",
        "  :: c_expr { (kv_probe)() } -> skip",
        *options,
        "  od",
        "}",
    ]) + "\n"
    return Program(text, probe, props)


def _premise_names(m: Model) -> list[str]:
    """As kvmverify names them: premise:INV, premise:INV#2, ... (each implication at the top of an invariant)."""
    return [f"premise:{n}" + (f"#{i + 1}" if i else "") for n, e in m.invariants for i in range(len(premises(e)))]


def _initial(e: tuple) -> str:
    match e:
        case ("int", v):
            return str(v) if v >= 0 else f"-{-v}"
        case ("bool", b):
            return "true" if b else "false"
        case ("enum", member):
            return str(ENUM.index(member))
        case ("set", ()):
            return "0"
    raise AssertionError(e)
