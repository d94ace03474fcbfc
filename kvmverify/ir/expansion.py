"""How large a checked model becomes once lowered, estimated on the AST before lowering does the work.

Lowering inlines defs and handlers, expands quantifiers, unrolls `for` and, for a statement that contains a
`choose` or an `await` (also inside a procedure, which is inlined at each call), copies the rest of the body into
each of its branches (continuation-passing: every nondeterministic path is complete). Each of these multiplies: a def calling the previous one twice, twenty-five deep, is 2**25
nodes; eighteen nested `for x: bool` are 2**18 statements; `forall` over three u8-sized types is 16.7 M terms.
The estimate follows the same rules, with each size kept as a linear function `A + B*k` of the size `k` of the
continuation, so that it is computed in time linear in the model and refuses such a model in milliseconds.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..check.model import Model
from ..check.types import domain_size
from ..lang import ast

CAP = 10 ** 15  # sizes saturate here: only "more than the limit" matters


def _cap(n: int) -> int:
    return min(n, CAP)


@dataclass(frozen=True)
class Linear:
    """A size `a + b * k` for a continuation of size k."""

    a: int
    b: int

    def then(self, inner: Linear) -> Linear:
        """self applied to the result of inner: a + b * (inner.a + inner.b * k)."""
        return Linear(_cap(self.a + self.b * inner.a), _cap(self.b * inner.b))

    def __call__(self, k: int) -> int:
        return _cap(self.a + self.b * k)

    def power(self, n: int) -> Linear:
        """self applied n times: b**n * k + a * (1 + b + ... + b**(n-1))."""
        if self.b <= 1:
            return Linear(_cap(self.a * n), self.b if n else 1)
        if n * (self.b.bit_length() - 1) > CAP.bit_length():
            return Linear(CAP, CAP)
        bn = self.b ** n
        return Linear(_cap(self.a * (bn - 1) // (self.b - 1)), _cap(bn))


IDENTITY = Linear(0, 1)


class Estimate:
    def __init__(self, model: Model):
        self.m = model
        self.defs: dict[str, tuple[int, dict[str, int]]] = {}  # def -> (own size, uses of each parameter)

    # ------------------------------------------------------------------------------------------ expressions
    def expr(self, e: ast.Expr, params: frozenset[str] = frozenset()) -> tuple[int, dict[str, int]]:
        """(size, how often each of `params` is used) of `e` once its defs are inlined and quantifiers expanded."""
        match e:
            case ast.Name(_, n) if n in params:
                return 0, {n: 1}
            case ast.Call(_, func, args) if func in self.m.defs:
                own, uses = self.def_size(func)
                size, out = own, {}
                for (pname, _), arg in zip(self.m.defs[func].params, args):
                    n = uses.get(pname, 0)
                    s, u = self.expr(arg, params)
                    size = _cap(size + n * s)
                    for k, v in u.items():
                        out[k] = _cap(out.get(k, 0) + n * v)
                return size, out
            case ast.Quant(_, _, binders, body):
                n = 1
                for b in binders:
                    t = self.m.types.get(b.type_name.id)
                    n = _cap(n * (domain_size(t) if t is not None else 2))
                s, u = self.expr(body, params)
                return _cap(n * s), {k: _cap(n * v) for k, v in u.items()}
        size, out = 1, {}
        for c in ast.children(e):
            s, u = self.expr(c, params)
            size = _cap(size + s)
            for k, v in u.items():
                out[k] = _cap(out.get(k, 0) + v)
        return size, out

    def def_size(self, name: str) -> tuple[int, dict[str, int]]:
        if name not in self.defs:
            d = self.m.defs[name]
            self.defs[name] = (1, {})  # a def calls only defs declared before it; this guards the impossible
            self.defs[name] = self.expr(d.decl.body, frozenset(p for p, _ in d.params))
        return self.defs[name]

    def size(self, e: ast.Expr | None) -> int:
        return 0 if e is None else self.expr(e)[0]

    # ------------------------------------------------------------------------------------------ statements
    def block(self, stmts: tuple[ast.Stmt, ...], depth: int = 0) -> Linear:
        f = IDENTITY
        for s in reversed(stmts):
            f = self.stmt(s, depth).then(f)
        return f

    def stmt(self, s: ast.Stmt, depth: int) -> Linear:
        """The statement followed by a continuation of size k."""
        match s:
            case ast.Assign(_, target, value):
                n = self.size(value) + self.size(target)
                root = target
                while isinstance(root, (ast.Index, ast.Field)):
                    root = root.base
                info = self.m.vars.get(root.id) if isinstance(root, ast.Name) else None
                elements = 1
                for t in (info.indices if info else ()):
                    elements = _cap(elements * domain_size(t))
                return Linear(_cap(n * elements), 1)  # a dynamic index: one guarded write per element
            case ast.Assert(_, _, cond, _) | ast.Let(_, _, cond):
                return Linear(self.size(cond), 1)
            case ast.Skip():
                return IDENTITY
            case ast.If(_, cond, then, else_):
                t, e = self.block(then, depth), self.block(else_, depth)
                if self.has_choose((s,), depth):  # each branch holds a copy of the rest
                    return Linear(_cap(self.size(cond) + t.a + e.a), _cap(t.b + e.b))
                return Linear(_cap(self.size(cond) + t(0) + e(0)), 1)
            case ast.Choose(_, _, _, where, body):
                inner = self.block(body, depth)
                return Linear(_cap(self.size(where) + inner.a), inner.b)
            case ast.For(_, _, typ, body):
                n = self.domain(typ)
                inner = self.block(body, depth)
                if not self.has_choose((s,), depth):
                    return Linear(_cap(n * inner(0)), 1)
                return inner.power(n)  # the frames run one after another, each before the rest
            case ast.Write(_, reg, args):
                n = sum(self.size(a) for a in args)
                h = self.m.handlers.get(reg)
                if h is None or depth >= 8:
                    return Linear(n, 1)
                inner = self.block(h.decl.body, depth + 1)
                if self.has_choose((s,), depth):  # the handler runs with the rest, or the rest runs alone
                    return Linear(_cap(n + inner.a), _cap(inner.b + 1))
                return Linear(_cap(n + inner(0)), 1)
            case ast.Await(_, cond):  # a choose of one value
                return Linear(self.size(cond), 1)
            case ast.Atomic(_, body):
                return self.block(body, depth)
            case ast.CallStmt(_, func, args) if func in self.m.procs:
                # inlined at the call; an `await` or `choose` inside makes each of its paths carry the rest
                n = sum(self.size(a) for a in args)
                if depth >= 8:
                    return Linear(n, 1)
                inner = self.block(self.m.procs[func].decl.body, depth + 1)
                return Linear(_cap(n + inner.a), inner.b)
            case ast.CallStmt(_, _, args):  # a queue statement
                return Linear(sum(self.size(a) for a in args), 1)
        return IDENTITY

    def domain(self, typ: ast.TypeExpr) -> int:
        match typ:
            case ast.RangeType(_, lo, hi):
                from ..check.exprs import const_eval
                try:
                    return max(const_eval(hi, self.m.params) - const_eval(lo, self.m.params) + 1, 0)
                except (KeyError, ValueError):
                    return 1
            case ast.ExprType(_, ast.Name(_, n)):
                t = self.m.types.get(n)
                return domain_size(t) if t is not None else 2
        return 1

    def has_choose(self, stmts, depth: int) -> bool:
        for s in stmts:
            match s:
                case ast.Choose() | ast.Await():
                    return True
                case ast.Atomic(_, body) | ast.While(_, _, body) if self.has_choose(body, depth):
                    return True
                case ast.CallStmt(_, func, _) if func in self.m.procs and depth < 8:
                    if self.has_choose(self.m.procs[func].decl.body, depth + 1):
                        return True
                case ast.If(_, _, then, else_) if self.has_choose(then, depth) or self.has_choose(else_, depth):
                    return True
                case ast.For(_, _, _, body) if self.has_choose(body, depth):
                    return True
                case ast.Write(_, reg, _) if reg in self.m.handlers and depth < 8:
                    if self.has_choose(self.m.handlers[reg].decl.body, depth + 1):
                        return True
        return False


def largest_parts(model: Model) -> list[tuple[int, str, object]]:
    """(estimated IR nodes, what, span) for every action (all its instances), property and liveness property."""
    est = Estimate(model)
    out = []
    for a in model.actions:
        instances = 1
        for _, t in a.params:
            instances = _cap(instances * domain_size(t))
        per = _cap(est.size(a.decl.guard) + est.block(a.decl.body)(1))
        out.append((_cap(instances * per), f"action {a.actor}.{a.decl.name}", a.decl.span))
    for p in model.props:
        out.append((est.size(p.expr), f"{p.kind} {p.name}", p.span))
    for li in model.liveness:
        n = 1
        for _, t in li.binders:
            n = _cap(n * domain_size(t))
        out.append((_cap(n * (est.size(li.premise) + est.size(li.goal))), f"property {li.name}", li.span))
    return out
