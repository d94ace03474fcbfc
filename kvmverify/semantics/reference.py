"""The reference semantics: what a checked model means, written for clarity rather than speed.

This interpreter runs the checked AST directly (never the IR), with the values a reader has in mind: bools are
bools, enum values their member names, sets frozensets, numbers Python integers, registers and structs integers
whose bit fields are read and written by position. Every other stage -- the lowering to a transition system, the
generated successor functions and the z3 encoding -- is tested against it, step by step, on generated models.

The rules it states (docs/language.md, "Semantics"):

- A step is one action instance whose guard holds, run atomically; its body runs statement after statement, each
  seeing the state the statements before it left. The index and the value of an assignment, and the arguments
  of a `write`, are evaluated in the state before it.
- `choose x: T where c { ... }` makes one path per value of T (in order) for which c holds; no value, no path.
- Integers are unbounded; a value assigned outside its variable's declared type violates `type_ok` and the path
  stops there (the step does not happen). `uN` arithmetic and bitwise operators are taken modulo 2**N. Integer
  division and remainder truncate toward zero, as in C. `x << n` on a uN is (x * 2**n) mod 2**N, `x >> n` is
  floor(x / 2**n), both 0 once n reaches N; a negative n violates `shift_ok` and stops the path.
- `&&`, `||`, `->` and `?:` evaluate left to right and only what they need.
- `assert` records a violation and the path goes on. `write R(..., v)` violates `msr:R` when v sets a `must_be`
  field to another value or a field whose CPUID param is false; a write that would #GP runs no handler.
- A slot's filler may write its bits only while they hold the empty value; its emptier may only write the empty
  value; any other writer violates the slot (`slot:...`), and the write happens all the same.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from ..check.model import Model, SlotInfo
from ..check.types import (NONE_VALUE, BitsT, BoolT, EmptySetT, EnumT, IntT, Layout, OptionT, QueueT, SetT, Type,
                           c_div, c_mod, domain, domain_lo, first_value)
from ..check.exprs import const_eval
from ..lang import ast
from .code import CodeSemantics, ProcessStep, Some, pc_key

State = dict  # variable name -> value, or for an array: index tuple -> value


class Stop(Exception):
    """A check that ends the path (type_ok, shift_ok): the step does not happen."""

    def __init__(self, prop: str):
        super().__init__(prop)
        self.prop = prop


@dataclass
class Path:
    """One way a step can go: the state it leads to (None if a check stopped it or a `choose` found no value)
    and what it violated on the way."""

    state: State | None
    violated: set[str] = field(default_factory=set)
    blocked: bool = False  # no successor because a `choose` found no value or an `await` was false (not a check)


def native(t: Type, v: int):
    """An IR value (an int) as this module holds it."""
    match t:
        case OptionT(elem):
            return None if v == NONE_VALUE else Some(native(elem, v))
        case BoolT():
            return bool(v)
        case EnumT(_, members):
            return members[v]
        case SetT(elem):
            lo = domain_lo(elem)
            return frozenset(native(elem, lo + i) for i in range(v.bit_length()) if v >> i & 1)
    return v


def encoded(t: Type, v) -> int:
    """A value of this module as the IR's int."""
    match t:
        case OptionT(elem):
            return NONE_VALUE if v is None else encoded(elem, v.value)
        case BoolT():
            return int(bool(v))
        case EnumT(_, members):
            return members.index(v)
        case SetT(elem):
            return sum(1 << (encoded(elem, x) - domain_lo(elem)) for x in v)
        case EmptySetT():
            return 0
    return int(v)


def values(t: Type) -> list:
    """Every value of a finite type, in order."""
    return [native(t, v) for v in domain(t)]


class Reference(CodeSemantics):
    def __init__(self, model: Model):
        self.m = model

    # ------------------------------------------------------------------------------------------ states
    def initial(self) -> State:
        out: State = {}
        for v in self.m.vars.values():
            if isinstance(v.type, QueueT):
                value = tuple(self.eval(x, {}, {}) for x in v.init.items)
            else:
                value = self.eval(v.init, {}, {})
            if v.indices:
                out[v.name] = {idx: value for idx in itertools.product(*(values(t) for t in v.indices))}
            else:
                out[v.name] = value
        self.process_initial(out)
        return out

    # ------------------------------------------------------------------------------------------ expressions
    def type(self, e: ast.Expr) -> Type:
        return self.m.type_of(e)

    def eval(self, e: ast.Expr, env: dict, state: State):
        match e:
            case ast.IntLit(_, v):
                return v
            case ast.BoolLit(_, v):
                return v
            case ast.Name(_, n):
                if n in env:
                    return env[n]
                if n in self.m.params:
                    p = self.m.params[n]
                    return bool(p) if isinstance(self.m.param_types[n], BoolT) else p
                if n in self.m.enum_members:
                    return n
                if n == "none" and n not in self.m.vars:
                    return None
                return state[n]
            case ast.Index():
                var, idx = self.place(e, env, state)
                return state[var][idx]
            case ast.Field(_, ast.Call(_, func, args), out) if func in self.m.tables:
                return self.table(func, [self.eval(a, env, state) for a in args], state)[out]
            case ast.Field(_, base, name):
                f = self.layout(self.type(base)).field(name)
                return (self.eval(base, env, state) >> f.lo) & ((1 << f.width) - 1)
            case ast.Call(_, "card", (arg,)):
                return len(self.eval(arg, env, state))
            case ast.Call(_, func, args) if func in self.m.tables:
                return self.table(func, [self.eval(a, env, state) for a in args], state)[""]
            case ast.Call(_, func, args) if func not in self.m.defs:
                return self.code_call(e, env, state)
            case ast.Call(_, func, args):
                d = self.m.defs[func]
                inner = {n: self.eval(a, env, state) for (n, _), a in zip(d.params, args)}
                return self.eval(d.decl.body, inner, state)
            case ast.Unary(_, "!", x):
                return not self.eval(x, env, state)
            case ast.Unary(_, op, x):
                v = self.eval(x, env, state)
                return self.wrap(e, -v if op == "-" else ~v)
            case ast.Binary():
                return self.binary(e, env, state)
            case ast.Ternary(_, c, a, b):
                return self.eval(a, env, state) if self.eval(c, env, state) else self.eval(b, env, state)
            case ast.SetLit(_, items):
                return frozenset(self.eval(i, env, state) for i in items)
            case ast.RecordLit(_, items):
                layout = self.layout(self.type(e))  # the checker typed the literal by the layout it meets
                word = 0
                for item in items:
                    f = layout.field(item.name)
                    mask = ((1 << f.width) - 1) << f.lo
                    word = (word & ~mask) | ((int(self.eval(item.value, env, state)) << f.lo) & mask)
                return word
            case ast.Quant(_, kind, binders, body):
                types = [self.m.types.get(b.type_name.id) or BoolT() for b in binders]
                found = (bool(self.eval(body, {**env, **{b.name: v for b, v in zip(binders, combo)}}, state))
                         for combo in itertools.product(*(values(t) for t in types)))
                return all(found) if kind == "forall" else any(found)
        raise TypeError(f"not a state expression: {type(e).__name__}")

    def wrap(self, e: ast.Expr, v: int) -> int:
        """A uN result is taken modulo 2**N."""
        t = self.type(e)
        return v & ((1 << t.width) - 1) if isinstance(t, BitsT) else v

    def binary(self, e: ast.Binary, env: dict, state: State):
        op = e.op
        if op == "&&":
            return bool(self.eval(e.left, env, state)) and bool(self.eval(e.right, env, state))
        if op == "||":
            return bool(self.eval(e.left, env, state)) or bool(self.eval(e.right, env, state))
        if op == "->":
            return not self.eval(e.left, env, state) or bool(self.eval(e.right, env, state))
        a, b = self.eval(e.left, env, state), self.eval(e.right, env, state)
        if isinstance(a, frozenset) or isinstance(b, frozenset) or op == "in":
            return self.set_op(op, a, b)
        if op in ("==", "!=") and (a is None or b is None or isinstance(a, Some) or isinstance(b, Some)):
            return (a == b) == (op == "==")
        if op in ("==", "!="):
            same = (int(a) == int(b)) if not isinstance(a, str) else a == b
            return same if op == "==" else not same
        a, b = int(a), int(b)
        match op:
            case "<":
                return a < b
            case "<=":
                return a <= b
            case ">":
                return a > b
            case ">=":
                return a >= b
            case "+":
                return self.wrap(e, a + b)
            case "-":
                return self.wrap(e, a - b)
            case "*":
                return self.wrap(e, a * b)
            case "/":
                return self.wrap(e, c_div(a, b))
            case "%":
                return self.wrap(e, c_mod(a, b))
            case "&":
                return self.wrap(e, a & b)
            case "|":
                return self.wrap(e, a | b)
            case "^":
                return self.wrap(e, a ^ b)
            case "<<" | ">>":
                if b < 0:
                    raise Stop("shift_ok")
                t = self.type(e)
                if isinstance(t, BitsT) and b >= t.width:
                    return 0
                return self.wrap(e, a << b) if op == "<<" else a >> b
        raise TypeError(f"operator {op}")

    @staticmethod
    def set_op(op: str, a, b):
        match op:
            case "in":
                return a in b
            case "==":
                return a == b
            case "!=":
                return a != b
            case "+" | "|":
                return a | b
            case "&":
                return a & b
            case "-":
                return a - b
        raise TypeError(f"set operator {op}")

    def layout(self, t: Type) -> Layout:
        assert isinstance(t, BitsT) and t.layout is not None
        return t.layout

    def place(self, e: ast.Expr, env: dict, state: State) -> tuple[str, tuple]:
        """The array element an index chain names, its indices evaluated in `state`."""
        chain = []
        while isinstance(e, ast.Index):
            chain.append(e.index)
            e = e.base
        return e.id, tuple(self.eval(i, env, state) for i in reversed(chain))

    def table(self, name: str, args: list, state: State) -> dict:
        """A first-match decision table: the outputs (by name; a single one is "") of the first rule that holds."""
        t = self.m.tables[name]
        env = {n: a for (n, _), a in zip(t.params, args)}
        for r in t.decl.rules:
            if r.when is None or self.eval(r.when, env, state):
                return {n: self.eval(v, env, state) for (n, _), v in zip(t.outputs, r.values)}
        raise AssertionError("KV340: the checker refuses a table with an unmatched input")

    # ------------------------------------------------------------------------------------------ steps
    def instances(self):
        """(action or process step, parameter values) of every action instance, in declaration order, then
        every process step."""
        for a in self.m.actions:
            for combo in itertools.product(*(values(t) for _, t in a.params)):
                yield a, dict(zip((n for n, _ in a.params), combo))
        yield from self.process_steps()

    def step(self, action, args: dict, state: State) -> list[Path]:
        """Every way the instance can go from `state` (none if its guard is false); `transition` properties are
        checked at the end of every path that completes."""
        if isinstance(action, ProcessStep):
            paths = self.process_step(action, args, state)
        else:
            decl = action.decl
            if decl.guard is not None and not self.eval(decl.guard, args, state):
                return []
            paths = list(self.run(decl.body, dict(args), _copy(state), action.actor, set()))
        if self.m.transitions:
            for p in paths:
                if p.state is not None:
                    p.violated = p.violated | self.transitions_violated(state, p.state)
        return paths

    def run(self, stmts, env: dict, state: State, actor: str, violated: set):
        """Yield a Path for every way through `stmts`."""
        if not stmts:
            yield Path(state, violated)
            return
        s, rest = stmts[0], stmts[1:]
        try:
            match s:
                case ast.Choose(_, name, typ, where, body):
                    chosen = False
                    for v in values(self.finite(typ)):
                        inner = {**env, name: v}
                        if where is None or self.eval(where, inner, state):
                            chosen = True
                            for p in self.run(body, inner, _copy(state), actor, set(violated)):
                                yield from self.then(p, rest, env, actor)
                    if not chosen:  # a dead end: no state, but what was violated on the way stays violated
                        yield Path(None, violated, blocked=True)
                    return
                case ast.If(_, cond, then, else_):
                    branch = then if self.eval(cond, env, state) else else_
                    for p in self.run(branch, env, state, actor, violated):
                        yield from self.then(p, rest, env, actor)
                    return
                case ast.For(_, name, typ, body):
                    frames = [(body, {**env, name: v}) for v in values(self.finite(typ))]
                    yield from self.frames(frames, rest, env, state, actor, violated)
                    return
                case ast.Write():
                    yield from self.write(s, rest, env, state, actor, violated)
                    return
                case ast.Let(_, name, value):
                    env = {**env, name: self.eval(value, env, state)}
                case ast.Assert(_, name, cond, _):
                    if not self.eval(cond, env, state):
                        violated = violated | {name or f"assert:{env.get(chr(0) + 'where', actor)}@{s.span.line}"}
                case ast.Assign():
                    violated = violated | self.assign(s, env, state, actor)
                case ast.Skip():
                    pass
                case ast.Await() | ast.Atomic() | ast.Label() | ast.CallStmt():
                    yield from self.code_statement(s, rest, env, state, actor, violated)
                    return
        except Stop as stop:
            yield Path(None, violated | {stop.prop})
            return
        yield from self.run(rest, env, state, actor, violated)

    def then(self, p: Path, rest, env: dict, actor: str):
        """Continue a path after a compound statement (its own bindings end with it)."""
        if p.state is None:
            yield p
        else:
            yield from self.run(rest, env, p.state, actor, p.violated)

    def frames(self, frames, rest, env, state, actor, violated):
        if not frames:
            yield from self.run(rest, env, state, actor, violated)
            return
        (body, inner), more = frames[0], frames[1:]
        for p in self.run(body, inner, state, actor, violated):
            if p.state is None:
                yield p
            else:
                yield from self.frames(more, rest, env, p.state, actor, p.violated)

    def finite(self, typ: ast.TypeExpr) -> Type:
        match typ:
            case ast.RangeType(_, lo, hi):
                return IntT(const_eval(lo, self.m.params), const_eval(hi, self.m.params))
            case ast.ExprType(_, ast.Name(_, "bool")):
                return BoolT()
            case ast.ExprType(_, ast.Name(_, n)):
                return self.m.types[n]
        raise TypeError("a finite type")

    def write(self, s: ast.Write, rest, env, state, actor, violated):
        h = self.m.handlers[s.register]
        args = [self.eval(a, env, state) for a in s.args]
        value = int(args[-1])
        valid = True
        for f in h.layout.fields:
            want = f.must_be if f.must_be is not None else (
                0 if f.requires is not None and not self.m.params.get(f.requires, 0) else None)
            if want is not None and (value >> f.lo) & ((1 << f.width) - 1) != want:
                valid = False
        if not valid:
            yield from self.run(rest, env, state, actor, violated | {f"msr:{h.layout.name}"})
            return
        inner = {n: a for (n, _), a in zip(h.params, args)}
        for p in self.run(h.decl.body, inner, state, h.actor, violated):
            yield from self.then(p, rest, env, actor)

    def assign(self, s: ast.Assign, env: dict, state: State, actor: str) -> set[str]:
        """Write the target in place; the violations it causes. Raises Stop for type_ok."""
        fields = []
        target = s.target
        while isinstance(target, ast.Field):
            fields.append(target.name)
            target = target.base
        value = self.eval(s.value, env, state)
        var, idx = (target.id, None) if isinstance(target, ast.Name) else self.place(target, env, state)
        info = self.m.vars[var]
        lo, width, t = 0, None, info.type
        for f in reversed(fields):
            fl = self.layout(t).field(f)
            lo, width, t = lo + fl.lo, fl.width, BitsT(fl.width)
        if not _fits(value, t):
            raise Stop("type_ok")
        old = state[var][idx] if idx is not None else state[var]
        if width is None:
            new = value
            bits = (0, _width(info.type) - 1)
        else:
            mask = ((1 << width) - 1) << lo
            new = (old & ~mask) | ((int(value) << lo) & mask)
            bits = (lo, lo + width - 1)
        violated = {si.name for si in self.m.slots if si.var.name == var and _overlaps(si, bits)
                    and not _slot_ok(si, actor, old, new)}
        if idx is None:
            state[var] = new
        else:
            state[var][idx] = new
        return violated

    # ------------------------------------------------------------------------------------------ properties
    def holds(self, prop_expr: ast.Expr, state: State) -> bool:
        return bool(self.eval(prop_expr, {}, state))


def _copy(state: State) -> State:
    return {k: dict(v) if isinstance(v, dict) else v for k, v in state.items()}


def _fits(v, t: Type) -> bool:
    match t:
        case OptionT(elem):
            return v is None or _fits(v.value, elem)
        case IntT(lo, hi):
            return lo <= v <= hi
        case BitsT(width):
            return 0 <= int(v) < (1 << width)
    return True  # bools, enums and sets fit their variables by typing


def _width(t: Type) -> int:
    match t:
        case BitsT(width):
            return width
    return 64


def _overlaps(si: SlotInfo, bits: tuple[int, int]) -> bool:
    return not (si.lo > bits[1] or si.lo + si.width - 1 < bits[0])


def _slot_ok(si: SlotInfo, actor: str, old: int, new: int) -> bool:
    before = (old >> si.lo) & ((1 << si.width) - 1)
    after = (new >> si.lo) & ((1 << si.width) - 1)
    if actor == si.filler and actor == si.emptier:
        return True
    if actor == si.filler:
        return before == si.empty
    if actor == si.emptier:
        return after == si.empty
    return False


# ---------------------------------------------------------------------------------------------- to and from the IR


def _dims(m: Model, sv) -> tuple:
    """The index types of a state variable's declared variable (a process's parameters for its counter)."""
    if sv.role == "pc":
        return tuple(t for _, t in next(p for p in m.processes if p.name == sv.var).params)
    return m.vars[sv.var].indices


def to_ir(ts, m: Model, state: State) -> tuple[int, ...]:
    """This module's state as the transition system's flat tuple (for comparing the two)."""
    out = []
    for sv in ts.vars:
        dims = _dims(m, sv)
        user = sv.indices[:len(dims)]
        idx = tuple(native(t, i) for t, i in zip(dims, user))
        if sv.role == "pc":
            p = next(p for p in m.processes if p.name == sv.var)
            v = state[pc_key(sv.var)]
            out.append(p.point_names().index(v[idx] if dims else v))
            continue
        info = m.vars[sv.var]
        value = state[sv.var][idx] if dims else state[sv.var]
        if sv.role == "queue":
            pos = sv.indices[-1]
            out.append(encoded(info.type.elem, value[pos]) if pos < len(value) else first_value(info.type.elem))
        elif sv.role == "qlen":
            out.append(len(value))
        else:
            out.append(encoded(info.type, value))
    return tuple(out)


def from_ir(ts, m: Model, flat: tuple[int, ...]) -> State:
    out: State = {}
    lengths = {}
    for sv, v in zip(ts.vars, flat):
        if sv.role == "qlen":
            lengths[(sv.var, sv.indices)] = v
    for sv, v in zip(ts.vars, flat):
        dims = _dims(m, sv)
        user = sv.indices[:len(dims)]
        idx = tuple(native(t, i) for t, i in zip(dims, user))
        if sv.role == "pc":
            p = next(p for p in m.processes if p.name == sv.var)
            value = p.point_names()[v]
            key = pc_key(sv.var)
        elif sv.role == "qlen":
            continue
        elif sv.role == "queue":
            info = m.vars[sv.var]
            key = sv.var
            current = (out.get(key, {}).get(idx) if dims else out.get(key)) or ()
            if sv.indices[-1] >= lengths[(sv.var, user)]:
                value = current
            else:
                value = (*current, native(info.type.elem, v))
        else:
            key, value = sv.var, native(m.vars[sv.var].type, v)
        if dims:
            out.setdefault(key, {})[idx] = value
        else:
            out[key] = value
    for (var, user), n in lengths.items():  # empty queues have no element entries above
        dims = m.vars[var].indices
        idx = tuple(native(t, i) for t, i in zip(dims, user))
        if dims:
            out.setdefault(var, {}).setdefault(idx, ())
        else:
            out.setdefault(var, ())
    return out


def instance_key(action, args: dict) -> tuple:
    """(actor, action, encoded parameter values): how an instance is named on both sides."""
    name = action.name if isinstance(action, ProcessStep) else action.decl.name
    return (action.actor, name, tuple(encoded(t, args[n]) for n, t in action.params))
