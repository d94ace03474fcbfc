"""Symmetry of a transition system under permutations of a `symmetric type` (a scalarset, as in Murphi).

When a model never tells the values of a type apart (they only index arrays, are compared with each other with
== and !=, and range over the whole type in parameters and quantifiers), permuting them maps reachable states to
reachable states and keeps every property's truth value. The explicit engine then stores one state per orbit.

Rather than trusting the surface syntax, the claim is checked on the lowered system: for generators of the
permutation group, the permuted initial states, action instances and state properties must be the original ones.
A model that breaks symmetry gets a diagnostic pointing at the first action or property that does.

Canonical form: every state variable with a dimension of the symmetric type belongs to the "slice" of its index
value; permuting the values permutes whole slices, so sorting the slices gives one representative per orbit.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import assert_never

from ..check.model import Model
from ..check.types import EnumT, IntT, OptionT, QueueT, SetT, Type, domain
from ..diagnostics import Diagnostic, Span
from . import nodes as ir
from .deps import body_vars, expr_vars

COMMUTATIVE = {"add", "mul", "band", "bor", "bxor", "and", "or", "eq", "ne"}


@dataclass(frozen=True)
class Symmetry:
    type_name: str
    slices: tuple[tuple[int, ...], ...]  # slices[i][j]: the j-th state variable of the i-th value of the type


def _named(t: Type, name: str) -> bool:
    return isinstance(t, (IntT, EnumT)) and t.name == name


def _mentions(t: Type, name: str) -> bool:
    return _named(t, name) or (isinstance(t, (SetT, OptionT, QueueT)) and _mentions(t.elem, name))


def _slices(ts: ir.TransitionSystem, model: Model, name: str, span: Span) -> tuple[tuple[int, ...], ...] | Diagnostic:
    values = list(domain(model.types[name]))
    members: dict[int, list[int]] = {v: [] for v in values}
    for info in model.vars.values():
        if _mentions(info.type, name):
            return Diagnostic("KV315", "error", f"'{info.name}' holds values of symmetric type {name}; only arrays "
                              f"indexed by it are supported", info.span,
                              f"index an array by {name} instead, or drop `symmetric` from the type")
        dims = [k for k, t in enumerate(info.indices) if _named(t, name)]
        if len(dims) > 1:
            return Diagnostic("KV315", "error", f"'{info.name}' has {len(dims)} dimensions of symmetric type {name}; "
                              f"at most one is supported", info.span, f"drop `symmetric` from type {name}")
        if dims:
            for i, sv in enumerate(ts.vars):
                if sv.var == info.name and sv.role != "pc":
                    members[sv.indices[dims[0]]].append(i)
    for p in model.processes:  # a process's program counters are an array over its parameters
        dims = [k for k, (_, t) in enumerate(p.params) if _named(t, name)]
        if len(dims) > 1:
            return Diagnostic("KV315", "error", f"process '{p.name}' has {len(dims)} parameters of symmetric type "
                              f"{name}; at most one is supported", p.decl.span, f"drop `symmetric` from type {name}")
        if dims:
            for i, sv in enumerate(ts.vars):
                if sv.var == p.name and sv.role == "pc":
                    members[sv.indices[dims[0]]].append(i)
    return tuple(tuple(members[v]) for v in values)


def _permutation(slices, order: list[int], nvars: int) -> list[int]:
    """perm[i] = where state variable i goes when value k of the type becomes value order[k]."""
    perm = list(range(nvars))
    for k, target in enumerate(order):
        for a, b in zip(slices[k], slices[target]):
            perm[a] = b
    return perm


def _generators(n: int) -> list[list[int]]:
    """A transposition and an n-cycle generate every permutation of n values."""
    if n < 2:
        return []
    swap = [1, 0, *range(2, n)]
    return [swap] if n == 2 else [swap, [*range(1, n), 0]]


# ------------------------------------------------------------------------------------- shapes up to renaming
class _Shape:
    """A hashable normal form of IR with state variables renamed by `perm`, locals named by binding order and the
    arguments of commutative operators sorted, so that equal shapes mean the same transitions."""

    def __init__(self, perm: list[int]):
        self.perm = perm
        self.locals: dict[str, str] = {}
        self.subst: dict[int, tuple] = {}  # inside a run of assignments: what the variables written so far hold

    def bind(self, name: str) -> str:
        self.locals[name] = f"l{len(self.locals)}"
        return self.locals[name]

    def expr(self, e: ir.Expr):
        match e:
            case ir.Const(v):
                return ("c", v)
            case ir.Var(i):
                return self.subst.get(self.perm[i], ("v", self.perm[i]))
            case ir.Local(name):
                return ("l", self.locals.get(name, name))
            case ir.Op(op, args, width):
                shaped = [self.expr(a) for a in args]
                if op in COMMUTATIVE:
                    shaped.sort(key=repr)
                return ("op", op, width, tuple(shaped))
            case ir.Extract(arg, lo, width):
                return ("x", self.expr(arg), lo, width)
            case ir.Insert(base, lo, width, value):
                return ("i", self.expr(base), lo, width, self.expr(value))
            case ir.Select(options, index, base):
                return ("s", tuple(self.expr(o) for o in options), self.expr(index), base)
            case _:
                assert_never(e)

    def stmts(self, stmts: tuple[ir.Stmt, ...]) -> tuple:
        """Runs of assignments become the parallel update they amount to; then statements that commute (neither
        writes what the other reads or writes, and no step can stop between them) are sorted, because a `for`
        over the symmetric type emits one statement per value in index order, which a permutation changes
        without changing the step: `for x: Vcpu { if g[x] == D { g[x] := N } }` is as symmetric as its `?:`
        spelling."""
        units: list[tuple] = []  # (shape, reads, writes) or (shape, None, None) for a barrier
        run: list[ir.Assign] = []
        for s in (*stmts, None):
            if isinstance(s, ir.Assign):
                run.append(s)
                continue
            if run:
                reads = set().union(*(expr_vars(a.value) for a in run))
                units.append((tuple(self.assignments(run)), reads, {a.var for a in run}))
            run = []
            if s is None:
                break
            shape = self.stmt(s)
            if isinstance(s, (ir.Let, ir.Choose)) or (isinstance(s, ir.If) and s.tail) or _may_stop(s):
                units.append((shape, None, None))
            else:
                reads, writes = body_vars((s,))
                units.append((shape, reads, writes))
        out: list = []
        group: list[tuple] = []
        for u in (*units, (None, None, None)):
            if u[1] is not None and all(_commute(u, g) for g in group):
                group.append(u)
                continue
            out.extend(sorted((g[0] for g in group), key=repr))
            group = [u] if u[1] is not None else []
            if u[1] is None and u[0] is not None:
                out.append(u[0])
        return tuple(out)

    def assignments(self, run: list[ir.Assign]) -> list:
        """A run of assignments as the parallel update it amounts to (each variable's final value in terms of the
        values before the run), sorted: a `for` over the symmetric type writes its elements in index order, which
        a permutation changes without changing the update."""
        final: dict[int, tuple] = {}
        for a in run:
            self.subst = final
            value = self.expr(a.value)
            final = {**final, self.perm[a.var]: value}
        self.subst = {}
        return sorted((("=", var, value) for var, value in final.items()), key=repr)

    def stmt(self, s: ir.Stmt):
        match s:
            case ir.Assign():
                return self.assignments([s])[0]
            case ir.If(cond, then, else_, tail):
                return ("if", self.expr(cond), self.stmts(then), self.stmts(else_), tail)
            case ir.Let(name, value):
                value_shape = self.expr(value)
                return ("let", self.bind(name), value_shape)
            case ir.Choose(name, lo, hi, where, body):
                local = self.bind(name)
                return ("choose", local, lo, hi, self.expr(where), self.stmts(body))
            case ir.Check(prop, cond, fatal, _, _, _):
                return ("check", prop, self.expr(cond), fatal)
            case _:
                assert_never(s)


def _commute(a: tuple, b: tuple) -> bool:
    _, ra, wa = a
    _, rb, wb = b
    return not (wa & (rb | wb)) and not (wb & ra)


def _may_stop(s: ir.Stmt) -> bool:
    """A statement that can stop the step (a fatal check): what runs after it depends on its being last."""
    match s:
        case ir.Check(_, _, fatal, _, _, _):
            return fatal
        case ir.If(_, then, else_, _):
            return any(_may_stop(x) for x in (*then, *else_))
        case ir.Choose(_, _, _, _, body):
            return any(_may_stop(x) for x in body)
    return False


def instance_shape(a: ir.ActionInstance, perm: list[int]):
    sh = _Shape(perm)
    return (a.actor, a.action, a.fair, sh.expr(a.guard), sh.stmts(a.body))


# ------------------------------------------------------------------------------------------------ the check
def _asymmetry(ts: ir.TransitionSystem, perm: list[int], name: str, span: Span) -> Diagnostic | None:
    hint = (f"values of {name} may only index arrays, be compared with == and != and range over the whole type; "
            f"remove `symmetric` or the asymmetry")
    inverse = [0] * len(perm)
    for i, target in enumerate(perm):
        inverse[target] = i
    if {tuple(s[inverse[i]] for i in range(len(s))) for s in ts.init} != set(ts.init):
        return Diagnostic("KV316", "error", f"symmetric type {name}: the initial state tells its values apart",
                          span, hint)
    identity = list(range(len(ts.vars)))
    original = Counter(instance_shape(a, identity) for a in ts.actions)
    for a in ts.actions:
        sh = instance_shape(a, perm)
        if original[sh] <= 0:
            return Diagnostic("KV316", "error", f"symmetric type {name}: {a.label} has no counterpart when its "
                              f"values are permuted", a.span, hint)
        original[sh] -= 1
    for p in ts.properties:
        if p.expr is not None and _Shape(perm).expr(p.expr) != _Shape(identity).expr(p.expr):
            return Diagnostic("KV316", "error", f"symmetric type {name}: property '{p.name}' tells its values "
                              f"apart", p.span, hint)
    return None


def symmetries(ts: ir.TransitionSystem, model: Model) -> tuple[tuple[Symmetry, ...], list[Diagnostic]]:
    found: list[Symmetry] = []
    diags: list[Diagnostic] = []
    for name, span in model.symmetric.items():
        slices = _slices(ts, model, name, span)
        if isinstance(slices, Diagnostic):
            diags.append(slices)
            continue
        if len(slices) < 2:  # nothing to permute
            continue
        for order in _generators(len(slices)):
            bad = _asymmetry(ts, _permutation(slices, order, len(ts.vars)), name, span)
            if bad is not None:
                diags.append(bad)
                break
        else:
            found.append(Symmetry(name, slices))
    return tuple(found), diags
