"""The transition system as z3 formulas: pure functions named after the math.

Representation. Every IR expression becomes a `Term` (bvterms.py: a bit-vector with the interval of its values,
wide enough that no operator overflows). Conditions are z3 Bools.

State. A state variable is stored in one or more *components*: registers and structs are split into their fields
(plus the gaps between them), so a field is a bit-vector of its own width and the whole value is their `Concat`;
field reads are `Extract`s that z3's rewriter resolves to the component. Bounded integers, enums, bools and sets
(bit masks over the element domain) are one component each, with range constraints (`valid`).

Steps. A `Step` holds the z3 constants of one state (components), and of one transition's inputs: the action
instance that fires (`act`) and one fresh variable per `choose` it may run.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import assert_never

import z3

from ...ir import nodes as ir
from ...ir.components import Component, components, type_range  # noqa: F401 - re-exported
from ...ir.deps import action_vars
from .bvterms import Term, compare, const, extend, extract, insert, ite, of_bool, op_term, signed_bits, truth


# ---------------------------------------------------------------------------------------------- state layout


@dataclass
class Step:
    """The z3 constants of state number `index` and of the transition leaving it."""

    index: int
    comps: tuple[tuple[z3.BitVecRef, ...], ...]
    act: z3.BitVecRef
    tag: str = ""
    chosen: dict[str, z3.BitVecRef] = field(default_factory=dict)

    def choice(self, name: str, width: int) -> z3.BitVecRef:
        if name not in self.chosen:
            self.chosen[name] = z3.BitVec(f"{self.tag}{self.index}!choose!{name}", width)
        return self.chosen[name]


_ENCODINGS = itertools.count()


class Encoding:
    """Per transition system: the component layout, the act width, and per-instance symbolic bodies (cached per
    step, since the formulas mention the step's constants)."""

    def __init__(self, ts: ir.TransitionSystem):
        self.ts = ts
        self.comps = components(ts)
        self.act_width = max(len(ts.actions).bit_length(), 1) + 1
        self.ranges = [type_range(sv.type) for sv in ts.vars]
        # z3 constants are identified by name and sort: names unique to this encoding keep queries about other
        # models in the same process (tests, benchmarks) from sharing constants with them
        self.prefix = f"e{next(_ENCODINGS)}."

    def step(self, index: int, tag: str = "") -> Step:
        tag = self.prefix + tag
        comps = tuple(tuple(z3.BitVec(f"{tag}{index}!{c.name}", c.width) for c in cs) for cs in self.comps)
        return Step(index, comps, z3.BitVec(f"{tag}{index}!act", self.act_width), tag)

    # ------------------------------------------------------------------------------------------ values
    def read(self, s: Step, var: int) -> Term:
        cs, bvs = self.comps[var], s.comps[var]
        lo, hi = self.ranges[var]
        if len(cs) == 1 and cs[0].signed:
            return Term(bvs[0], lo, hi)
        whole = bvs[0] if len(bvs) == 1 else z3.Concat(*reversed(bvs))
        return Term(z3.ZeroExt(1, whole), lo, hi)

    def split(self, var: int, t: Term) -> tuple[z3.BitVecRef, ...]:
        """The component values of `t` stored into state variable `var`."""
        cs = self.comps[var]
        top = max(c.lo + c.width for c in cs)
        x = extend(t, max(top, t.bv.size()))
        return tuple(z3.simplify(z3.Extract(c.lo + c.width - 1, c.lo, x)) for c in cs)

    def valid(self, s: Step) -> z3.BoolRef:
        """Every state variable lies in its type."""
        parts = []
        for var, (lo, hi) in enumerate(self.ranges):
            cs = self.comps[var]
            if len(cs) > 1:
                continue
            c, bv = cs[0], s.comps[var][0]
            if c.signed:
                parts += [bv >= lo, bv <= hi]
            elif hi < (1 << c.width) - 1:
                parts.append(z3.ULE(bv, hi))
        return z3.And(parts) if parts else z3.BoolVal(True)

    def state_value(self, model: z3.ModelRef, s: Step) -> tuple[int, ...]:
        out = []
        for var, cs in enumerate(self.comps):
            v = 0
            for c, bv in zip(cs, s.comps[var]):
                x = model.eval(bv, model_completion=True).as_long()
                if c.signed and x >= 1 << (c.width - 1):
                    x -= 1 << c.width
                v = x if c.signed else v | x << c.lo
            out.append(v)
        return tuple(out)

    def state_eq(self, s: Step, values: tuple[int, ...]) -> z3.BoolRef:
        parts = []
        for var, cs in enumerate(self.comps):
            for c, bv in zip(cs, s.comps[var]):
                x = values[var] if c.signed else (values[var] >> c.lo) & ((1 << c.width) - 1)
                parts.append(bv == z3.BitVecVal(x, c.width))
        return z3.And(parts)

    def same(self, a: Step, b: Step) -> z3.BoolRef:
        return z3.And([x == y for xs, ys in zip(a.comps, b.comps) for x, y in zip(xs, ys)])

    # ------------------------------------------------------------------------------------------ expressions
    def expr(self, e: ir.Expr, s: Step, env: dict[int, Term], local: dict[str, Term]) -> Term:
        """`e` in state `s` with the body's assignments so far in `env` (var -> value) and its locals."""
        match e:
            case ir.Const(v):
                return const(v)
            case ir.Var(i):
                return env[i] if i in env else self.read(s, i)
            case ir.Local(name):
                return local[name]
            case ir.Op(op, args, width):
                return self.op(op, args, width, s, env, local)
            case ir.Extract(arg, lo, width):
                return extract(self.expr(arg, s, env, local), lo, width)
            case ir.Insert(base, lo, width, value):
                return insert(self.expr(base, s, env, local), lo, width, self.expr(value, s, env, local))
            case ir.Select(options, index, base):
                idx = self.expr(index, s, env, local)
                opts = [self.expr(o, s, env, local) for o in options]
                out = opts[-1]
                for k in range(len(opts) - 2, -1, -1):
                    out = ite(compare("eq", idx, const(base + k)), opts[k], out)
                return out
            case _:
                assert_never(e)

    def cond(self, e: ir.Expr, s: Step, env: dict[int, Term], local: dict[str, Term]) -> z3.BoolRef:
        if isinstance(e, ir.Op) and e.op in ("not", "and", "or", "implies", "eq", "ne", "lt", "le", "gt", "ge"):
            return self.bool_op(e.op, e.args, s, env, local)
        if isinstance(e, ir.Op) and e.op == "ite":
            return z3.If(self.cond(e.args[0], s, env, local), self.cond(e.args[1], s, env, local),
                         self.cond(e.args[2], s, env, local))
        return truth(self.expr(e, s, env, local))

    def bool_op(self, op, args, s, env, local) -> z3.BoolRef:
        match op:
            case "not":
                return z3.Not(self.cond(args[0], s, env, local))
            case "and":
                return z3.And([self.cond(a, s, env, local) for a in args])
            case "or":
                return z3.Or([self.cond(a, s, env, local) for a in args])
            case "implies":
                return z3.Implies(self.cond(args[0], s, env, local), self.cond(args[1], s, env, local))
        return compare(op, self.expr(args[0], s, env, local), self.expr(args[1], s, env, local))

    def op(self, op, args, width, s, env, local) -> Term:
        if op in ("not", "and", "or", "implies", "eq", "ne", "lt", "le", "gt", "ge"):
            return of_bool(self.bool_op(op, args, s, env, local))
        if op == "ite":
            return ite(self.cond(args[0], s, env, local), self.expr(args[1], s, env, local),
                       self.expr(args[2], s, env, local))
        return op_term(op, [self.expr(a, s, env, local) for a in args], width)

    # ------------------------------------------------------------------------------------------ bodies
    def body(self, a: ir.ActionInstance, s: Step) -> Outcome:
        """Symbolic execution of `a`'s body from state `s` (guard not included)."""
        return _Exec(self, s).block(a.body, z3.BoolVal(True), {}, {})


@dataclass
class Outcome:
    """One action instance from one state: `ok` the path completes (no fatal check failed, a `choose` value
    exists); `next` the assigned variables' values; `viol` per step property, the condition it is violated."""

    ok: z3.BoolRef
    next: dict[int, Term]
    viol: dict[int, z3.BoolRef]


class _Exec:
    def __init__(self, enc: Encoding, s: Step):
        self.enc, self.s = enc, s

    def block(self, stmts, pc: z3.BoolRef, env: dict[int, Term], local: dict[str, Term]) -> Outcome:
        env, local = dict(env), dict(local)
        ok: list[z3.BoolRef] = []
        viol: dict[int, list[z3.BoolRef]] = {}
        enc, s = self.enc, self.s
        for st in stmts:
            match st:
                case ir.Assign(var, value, _):
                    lo, hi = enc.ranges[var]
                    t = enc.expr(value, s, env, local)
                    w = max(signed_bits(lo, hi), 1)
                    bv = extend(t, w)
                    env[var] = Term(z3.Extract(w - 1, 0, bv) if bv.size() > w else bv, lo, hi)
                case ir.Let(name, value):
                    local[name] = enc.expr(value, s, env, local)
                case ir.Check(prop, c, fatal, _, _, _):
                    holds = enc.cond(c, s, env, local)
                    if prop is not None:  # None: a fatal check of a property left out, which still stops the step
                        viol.setdefault(prop, []).append(z3.And(pc, z3.Not(holds)))
                    if fatal:
                        ok.append(holds)
                        pc = z3.And(pc, holds)
                case ir.If(c, then, else_, tail):
                    cond = enc.cond(c, s, env, local)
                    t = self.block(then, z3.And(pc, cond), env, local)
                    e = self.block(else_, z3.And(pc, z3.Not(cond)), env, local)
                    for p, v in (*t.viol.items(), *e.viol.items()):
                        viol.setdefault(p, []).append(v)
                    both = z3.If(cond, t.ok, e.ok)
                    ok.append(both)
                    pc = z3.And(pc, both)
                    for var in sorted(set(t.next) | set(e.next)):
                        before = env[var] if var in env else enc.read(s, var)
                        env[var] = ite(cond, t.next.get(var, before), e.next.get(var, before))
                    if tail:
                        break
                case ir.Choose(name, lo, hi, where, body):
                    w = signed_bits(lo, hi)
                    x = Term(s.choice(name, w), lo, hi)
                    inner = {**local, name: x}
                    dom = z3.And(x.bv >= lo, x.bv <= hi, enc.cond(where, s, env, inner))
                    r = self.block(body, z3.And(pc, dom), env, inner)
                    for p, v in r.viol.items():
                        viol.setdefault(p, []).append(v)
                    ok.append(z3.And(dom, r.ok))
                    env.update(r.next)
                    break
                case _:
                    assert_never(st)
        return Outcome(z3.And(ok) if ok else z3.BoolVal(True), env,
                       {p: z3.Or(vs) if len(vs) > 1 else vs[0] for p, vs in viol.items()})


# ---------------------------------------------------------------------------------------------- the formulas


def init(enc: Encoding, s: Step) -> z3.BoolRef:
    """s is an initial state."""
    return z3.Or([enc.state_eq(s, values) for values in enc.ts.init])


@dataclass
class StepFormulas:
    """Everything about the transition leaving step `s`: `trans` relates s to t; `bad[p]` says step property p
    is violated by the transition taken (same act and choices as `trans`)."""

    trans: z3.BoolRef
    bad: dict[int, z3.BoolRef]
    frozen: frozenset[tuple[int, int]] = frozenset()  # (var, component) no transition changes


def trans(enc: Encoding, s: Step, t: Step | None, actions=None, variables=None) -> StepFormulas:
    """One interleaving step s -> t: a disjunction over action instances (selected by `s.act`), with frame
    conditions (variables no instance assigns keep their value). With t None: only `bad` is meaningful.
    `actions`/`variables` restrict it to a cone of influence (default: all)."""
    enabled = []
    written: dict[int, list[tuple[int, Term]]] = {}
    bad: dict[int, list[z3.BoolRef]] = {}
    for a in (enc.ts.actions if actions is None else actions):
        fired = z3.And(s.act == a.id, enc.cond(a.guard, s, {}, {}))
        out = enc.body(a, s)
        enabled.append(z3.And(fired, out.ok))
        for var, term in out.next.items():
            written.setdefault(var, []).append((a.id, term))
        for p, v in out.viol.items():
            bad.setdefault(p, []).append(z3.And(fired, v))
    bad_f = {p: z3.Or(vs) for p, vs in sorted(bad.items())}
    if t is None:
        return StepFormulas(z3.BoolVal(True), bad_f)
    frame = []
    frozen = set()
    for var in (range(len(enc.ts.vars)) if variables is None else sorted(variables)):
        value = enc.read(s, var)
        for aid, term in reversed(written.get(var, [])):
            value = ite(s.act == aid, term, value)
        for j, (x, old, y) in enumerate(zip(t.comps[var], s.comps[var], enc.split(var, value))):
            frame.append(x == y)
            if y.eq(old):
                frozen.add((var, j))
    return StepFormulas(z3.And(z3.Or(enabled) if enabled else z3.BoolVal(False), *frame), bad_f,
                        frozenset(frozen))


def prop_holds(enc: Encoding, p: ir.Property, s: Step) -> z3.BoolRef:
    """A state property's predicate in s (invariants: must hold; covers: the target)."""
    assert p.expr is not None
    return enc.cond(p.expr, s, {}, {})


def bad_state(enc: Encoding, p: ir.Property, s: Step, f: StepFormulas) -> z3.BoolRef:
    """s witnesses a failure of p: invariant false, cover reached, or step property violated leaving s."""
    if p.is_invariant:
        return z3.Not(prop_holds(enc, p, s))
    if p.is_cover:
        return prop_holds(enc, p, s)
    return f.bad.get(p.id, z3.BoolVal(False))


class Unrolling:
    """s_0 .. s_n with init(s_0) and trans(s_i, s_i+1), built lazily: the pure pieces of `unroll`."""

    def __init__(self, enc: Encoding, tag: str = ""):
        self.enc, self.tag = enc, tag
        self.steps: list[Step] = [enc.step(0, tag)]
        self.formulas: list[StepFormulas] = []

    def state(self, i: int) -> Step:
        while len(self.steps) <= i:
            self.steps.append(self.enc.step(len(self.steps), self.tag))
        return self.steps[i]

    def step_formulas(self, i: int) -> StepFormulas:
        """trans(s_i, s_i+1) and the step properties of the transition leaving s_i."""
        while len(self.formulas) <= i:
            k = len(self.formulas)
            self.formulas.append(trans(self.enc, self.state(k), self.state(k + 1)))
        return self.formulas[i]

    def trace(self, model: z3.ModelRef, n: int) -> tuple[list[tuple[int, ...]], list[int]]:
        """States s_0..s_n and the actions of transitions 0..n-1 (and of transition n if it is a bad step)."""
        states = [self.enc.state_value(model, self.state(i)) for i in range(n + 1)]
        acts = [model.eval(self.state(i).act, model_completion=True).as_long() for i in range(n + 1)]
        return states, acts


def unroll(enc: Encoding, n: int, tag: str = "") -> tuple[Unrolling, list[z3.BoolRef]]:
    """The path formula of length n: init(s_0) and trans(s_i, s_i+1) for i < n, every state valid."""
    u = Unrolling(enc, tag)
    parts = [init(enc, u.state(0))] + [u.step_formulas(i).trans for i in range(n)]
    parts += [enc.valid(u.state(i)) for i in range(n + 1)]
    return u, parts


# ---------------------------------------------------------------------------------------------- cone of influence


def cone(ts: ir.TransitionSystem, seed: set[int]) -> frozenset[int]:
    """The variables whose values can influence those in `seed`: the closure under 'an action that writes a
    relevant variable reads these'. Actions writing none of them only stutter on the relevant projection."""
    rw = [action_vars(a) for a in ts.actions]
    relevant = set(seed)
    changed = True
    while changed:
        changed = False
        for r, w in rw:
            if w & relevant and not r <= relevant:
                relevant |= r
                changed = True
    return frozenset(relevant)
