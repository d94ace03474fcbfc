"""Lowering of the code-level constructs to the transition system that exists (a mixin of ir/lower.py's Lowering).

- A queue `q : queue[N] of T` is N element variables `q@0 .. q@N-1` and a length `len(q)`; elements past the
  length hold T's first value, so that a queue's contents are one state. `push` onto a full queue and `pop` of an
  empty one stop the step and violate the derived property `queue:q`.
- An option is its value, `none` is -1.
- A process instance has a program counter (a derived state variable after the declared ones, an enum of its
  points, check/steps.py); each point P becomes one action instance per parameter value, guarded by
  `pc == P` (and the `await`s the step starts with), whose body runs the code from P until the next point and
  sets the counter there. The code is lowered by the same continuation-passing `block` as action bodies:
  frames carry the rest of the code after a branch, a loop (the frame is the loop statement itself, so coming
  back to a loop head that is a point ends the step) and a procedure call.
- A procedure is inlined at each call (its parameters bound to the arguments, evaluated once): there is no call
  stack to model, every step is an ordinary action instance, and every engine handles it unchanged; recursion is
  refused by the checker (KV353).
- `await c` is a `choose` of one value where c: a path on which c is false has no successor.
- `transition P: e` is a check at the end of every path of every action instance, with `old(x)` read from
  copies of the variables taken at the start of the body.
"""
from __future__ import annotations

import itertools

from ..check.model import ProcessInfo
from ..check.steps import DONE
from ..check.types import (EnumT, IntT, OptionT, QueueT, Type, domain, domain_size, first_value, show_value,
                           value_range, NONE_VALUE)
from ..check.exprs import fits
from ..diagnostics import Diagnostic, DiagnosticError, Span
from ..lang import ast
from . import nodes as ir
from .enabled import substitute
from .simplify import FALSE, TRUE, conj, const_value, disj, mk, vars_read

MAX_STEP_FRAMES = 4000  # continuation frames in one step: far beyond any model; a guard against a lowering loop


class ProcessCtx:
    """What lowering one step of one process instance needs: the instance, where its step started (a step does not
    stop at the point it starts from until it has moved on), and the slot of its program counter."""

    def __init__(self, p: ProcessInfo, pc_slot: int, start: tuple):
        self.p, self.pc_slot, self.start = p, pc_slot, start
        self.fresh = True
        self.frames = 0
        self.hoisted: set[int] = set()  # the leading `await`s, already in the guard: skipped once

    def value(self, point: str) -> int:
        return self.p.point_names().index(point)


class _End:
    """The end of a process body: the step sets the counter to `done`."""
    span = None


END = _End()


class CodeLowering:
    # ------------------------------------------------------------------------------------------ state layout
    def flatten_var(self, v) -> None:
        """A declared variable: its elements (and a queue's elements and lengths)."""
        if not isinstance(v.type, QueueT):
            self.add_array(v.name, v.name, v.indices, v.type, v.span, "", lambda shown: v.name + shown)
            return
        q = v.type
        positions = IntT(0, q.size - 1)
        self.add_array(v.name, v.name, (*v.indices, positions), q.elem, v.span, "queue",
                       lambda shown: f"{v.name}{shown[:shown.rfind('[')]}@{shown[shown.rfind('[') + 1:-1]}")
        self.add_array(f"{v.name}#len", v.name, v.indices, IntT(0, q.size), v.span, "qlen",
                       lambda shown: f"len({v.name}{shown})")

    def flatten_processes(self) -> None:
        for p in self.m.processes:
            def name(shown: str, p=p) -> str:
                return f"{p.name}({shown[1:-1].replace('][', ', ')})" if shown else p.name
            self.add_array(f"{p.name}#pc", p.name, tuple(t for _, t in p.params), p.pc_type, p.decl.span, "pc",
                           name)

    def add_array(self, key: str, var: str, dims: tuple, t: Type, span: Span, role: str, name) -> None:
        self.base[key] = len(self.vars)
        self.dims[key] = dims
        sizes = [domain_size(d) for d in dims]
        self.strides[key] = tuple(_prod(sizes[i + 1:]) for i in range(len(sizes)))
        for idx in itertools.product(*(domain(d) for d in dims)):
            shown = "".join(f"[{show_value(d, i)}]" for d, i in zip(dims, idx))
            self.vars.append(ir.StateVar(name(shown), var, idx, t, span, role))

    def initial_values(self) -> list[int]:
        init: list[int] = []
        for v in self.m.vars.values():
            n = _prod([domain_size(t) for t in v.indices])
            if isinstance(v.type, QueueT):
                items = [self.initial_value(x) for x in v.init.items]
                contents = items + [first_value(v.type.elem)] * (v.type.size - len(items))
                init.extend(contents * n)
                init.extend([len(items)] * n)
            else:
                init.extend([self.initial_value(v.init)] * n)
        for p in self.m.processes:
            init.extend([0] * _prod([domain_size(t) for _, t in p.params]))
        return init

    # ------------------------------------------------------------------------------------------ expressions
    def code_name(self, n: str) -> ir.Expr | None:
        return ir.Const(NONE_VALUE) if n == "none" else None

    def code_call(self, e: ast.Call, env) -> ir.Expr:
        match e.func:
            case "some":
                return self.expr(e.args[0], env)
            case "get":
                o = self.expr(e.args[0], env)
                t = self.m.type_of(e.args[0])
                return mk("ite", mk("eq", o, ir.Const(NONE_VALUE)), ir.Const(value_range(t.elem)[0]), o)
            case "len":
                return self.queue_len(e.args[0], env)
            case "empty":
                return mk("eq", self.queue_len(e.args[0], env), ir.Const(0))
            case "full":
                q = self.m.type_of(e.args[0])
                return mk("eq", self.queue_len(e.args[0], env), ir.Const(q.size))
            case "head":
                var, idx = self.queue_index(e.args[0], env)
                return self.element(var, [*idx, ir.Const(0)])
            case "at":
                proc, points = self.m.at_points[id(e)]
                p = next(x for x in self.m.processes if x.name == proc)
                pc = self.element(f"{proc}#pc", [self.expr(a, env) for a in at_args(e)])
                return disj([mk("eq", pc, ir.Const(p.point_names().index(pt))) for pt in points])
            case "old":
                inner = self.expr(e.args[0], env)
                read = vars_read(inner)
                self.old_vars.update(read)
                return substitute(inner, {i: ir.Local(old_local(i)) for i in read}, {})
        raise AssertionError(e.func)

    def queue_index(self, e: ast.Expr, env) -> tuple[str, list[ir.Expr]]:
        var, chain = (e.id, []) if isinstance(e, ast.Name) else self.index_chain(e)
        return var, [self.expr(i, env) for i in chain]

    def queue_len(self, e: ast.Expr, env) -> ir.Expr:
        var, idx = self.queue_index(e, env)
        return self.element(f"{var}#len", idx)

    def queue_member(self, x: ir.Expr, e: ast.Expr, env) -> ir.Expr:
        var, idx = self.queue_index(e, env)
        q = self.m.vars[var].type
        n = self.element(f"{var}#len", idx)
        return disj([conj([mk("gt", n, ir.Const(k)), mk("eq", self.element(var, [*idx, ir.Const(k)]), x)])
                     for k in range(q.size)])

    # ------------------------------------------------------------------------------------------ queue statements
    def queue_prop(self, var: str) -> int:
        if var not in self.queue_props:
            info = self.m.vars[var]
            self.queue_props[var] = self.new_prop(
                f"queue:{var}", "queue", None, info.span,
                f"no push onto a full {var} ({info.type}), no pop of an empty one")
        return self.queue_props[var]

    def queue_stmt(self, s: ast.CallStmt, env, actor: str) -> list[ir.Stmt]:
        var, idx = self.queue_index(s.args[0], env)
        info = self.m.vars[var]
        q: QueueT = info.type
        out: list[ir.Stmt] = self.shift_checks(idx, s.span)
        value = None
        if s.func == "push":
            value = self.expr(s.args[1], env)
            out += self.shift_checks([value], s.span)
            if not isinstance(value, (ir.Const, ir.Local)):
                local = f"push_{next(self.fresh)}"
                out.append(ir.Let(local, value))
                value = ir.Local(local)
            if fits(self.m.type_of(s.args[1]), q.elem) == "check":
                out.append(ir.Check(self.type_ok_prop(), in_type(value, q.elem), True, s.span,
                                    f"value pushed onto {var} lies outside {q.elem}", (("value", value),)))
        for k, local in enumerate(idx):
            if not isinstance(local, (ir.Const, ir.Local)):
                name = f"q_{next(self.fresh)}"
                out.append(ir.Let(name, local))
                idx[k] = ir.Local(name)
        consts = [const_value(i) for i in idx]
        combos = [tuple(consts)] if all(c is not None for c in consts) else \
            list(itertools.product(*(domain(t) for t in info.indices)))
        for combo in combos:
            hit = conj([mk("eq", i, ir.Const(c)) for i, c in zip(idx, combo)])
            if const_value(hit) == 0:
                continue
            body = self.queue_op(s, var, combo, q, value)
            out.extend(body if const_value(hit) == 1 else [ir.If(hit, tuple(body), ())])
        return out

    def queue_op(self, s: ast.CallStmt, var: str, combo: tuple, q: QueueT, value) -> list[ir.Stmt]:
        elems = [self.slot_of(var, (*combo, k)) for k in range(q.size)]
        n_slot = self.slot_of(f"{var}#len", combo)
        n = ir.Var(n_slot)
        pid = self.queue_prop(var)
        where = var + "".join(f"[{show_value(t, c)}]" for t, c in zip(self.m.vars[var].indices, combo))
        default = ir.Const(first_value(q.elem))
        match s.func:
            case "push":
                out: list[ir.Stmt] = [ir.Check(pid, mk("lt", n, ir.Const(q.size)), True, s.span,
                                               f"push onto {where}, which is full ({q.size} elements)",
                                               (("length", n),))]
                out += [ir.Assign(e, mk("ite", mk("eq", n, ir.Const(k)), value, ir.Var(e)), s.span)
                        for k, e in enumerate(elems)]
                return out + [ir.Assign(n_slot, mk("add", n, ir.Const(1)), s.span)]
            case "pop":
                out = [ir.Check(pid, mk("gt", n, ir.Const(0)), True, s.span, f"pop of {where}, which is empty",
                                (("length", n),))]
                out += [ir.Assign(elems[k], ir.Var(elems[k + 1]), s.span) for k in range(q.size - 1)]
                return out + [ir.Assign(elems[-1], default, s.span),
                              ir.Assign(n_slot, mk("sub", n, ir.Const(1)), s.span)]
            case "clear":
                return [*(ir.Assign(e, default, s.span) for e in elems), ir.Assign(n_slot, ir.Const(0), s.span)]
        raise AssertionError(s.func)

    # ------------------------------------------------------------------------------------------ procedures
    def proc_env(self, s: ast.CallStmt, env) -> tuple[list[ir.Stmt], dict]:
        """The statements that evaluate a call's arguments once, and the environment of the procedure's body."""
        info = self.m.procs[s.func]
        out: list[ir.Stmt] = []
        inner: dict = {k: v for k, v in env.items() if k.startswith("\0")}
        inner["\0cp"] = (*env.get("\0cp", ()), id(s))
        inner["\0proc"] = s.func
        args = [self.expr(a, env) for a in s.args]
        out += self.shift_checks(args, s.span)
        for (name, _), a in zip(info.params, args):
            if not isinstance(a, (ir.Const, ir.Local)):
                local = f"{name}_{next(self.fresh)}"
                out.append(ir.Let(local, a))
                a = ir.Local(local)
            inner[name] = a
        return out, inner

    # ------------------------------------------------------------------------------------------ process steps
    def is_point(self, s, env) -> bool:
        """Does a step of the process being lowered end before `s`? (Not the one it started from, at first.)"""
        ctx: ProcessCtx | None = env.get("\0process")
        if ctx is None:
            return False
        key = (DONE,) if s is END else (env.get("\0cp", ()), id(s))
        if key not in ctx.p.by_key:
            return False
        if ctx.fresh and key == ctx.start:
            ctx.fresh = False
            return False
        return True

    def stop(self, s, env) -> list[ir.Stmt]:
        ctx: ProcessCtx = env["\0process"]
        key = (DONE,) if s is END else (env.get("\0cp", ()), id(s))
        return [ir.Assign(ctx.pc_slot, ir.Const(ctx.value(ctx.p.by_key[key])), ctx.p.decl.span)]

    def locate(self, stmts, env, actor: str, target: tuple, k: tuple):
        """The continuation frames that run the code from the point `target` on."""
        cp = env.get("\0cp", ())
        for i, s in enumerate(stmts):
            if (cp, id(s)) == target:
                return ((stmts[i:], env, actor), *k)
            rest = (stmts[i + 1:], env, actor)
            match s:
                case ast.If(_, _, then, else_):
                    for branch in (then, else_):
                        found = self.locate(branch, env, actor, target, (rest, *k))
                        if found:
                            return found
                case ast.While(_, _, body):
                    found = self.locate(body, env, actor, target, (self.loop_frame(stmts, i, env, actor), *k))
                    if found:
                        return found
                case ast.CallStmt(_, func) if func in self.m.procs and self.m.procs[func].multi_step:
                    _, inner = self.proc_env(s, env)  # multi-step procedures take step-constant arguments
                    found = self.locate(self.m.procs[func].decl.body, inner, actor, target, (rest, *k))
                    if found:
                        return found
        return None

    @staticmethod
    def loop_frame(stmts, i: int, env, actor: str):
        """Where the end of a loop body goes back to: the loop statement (with the label that heads it)."""
        head = i - 1 if i > 0 and isinstance(stmts[i - 1], ast.Label) else i
        return (stmts[head:i + 1], env, actor)

    def process_instances(self, p: ProcessInfo, next_id) -> list[ir.ActionInstance]:
        out = []
        names = [n for n, _ in p.params]
        body = p.decl.body
        for values in itertools.product(*(domain(t) for _, t in p.params)):
            args = tuple((n, v, show_value(t, v)) for (n, t), v in zip(p.params, values))
            pc_slot = self.slot_of(f"{p.name}#pc", values)
            for point in p.points:
                if point.name == DONE:
                    continue
                ctx = ProcessCtx(p, pc_slot, point.key)
                env = {n: ir.Const(v) for n, v in zip(names, values)}
                env["\0process"] = ctx
                frames = self.locate(body, env, p.actor, point.key, (((END,), env, p.actor),))
                assert frames is not None, point
                guard, frames = self.leading_awaits(frames, ctx)
                guard = conj([mk("eq", ir.Var(pc_slot), ir.Const(ctx.value(point.name))), guard])
                if const_value(guard) == 0:
                    continue
                code = tuple(self.run_k(frames))
                out.append(ir.ActionInstance(next(next_id), p.actor, f"{p.name}@{point.name}", args, guard, code,
                                             point.span, p.decl.fair, p.decl.strong, p.name, point.name))
        return out

    def leading_awaits(self, frames, ctx: ProcessCtx):
        """The `await`s a step starts with become its guard (the step is disabled, not stopped, when one fails);
        they are skipped once when the step's code is lowered (the statement list stays whole: a label before a
        loop must stay next to it)."""
        (stmts, env, actor), _ = frames[0], frames[1:]
        cp = env.get("\0cp", ())
        conds, i = [], 0
        while i < len(stmts):
            s = stmts[i]
            if i > 0 and (cp, id(s)) in ctx.p.by_key:  # the next point: the step ends there
                break
            if i == 0 and isinstance(s, ast.Label):
                i += 1
                continue
            if not isinstance(s, ast.Await):
                break
            conds.append(self.expr(s.cond, env))
            ctx.hoisted.add(id(s))
            i += 1
        return conj(conds), frames

    def frame_guard(self, env) -> None:
        ctx = env.get("\0process")
        if ctx is not None:
            ctx.frames += 1
            if ctx.frames > MAX_STEP_FRAMES:
                raise DiagnosticError([Diagnostic("KV350", "error", f"a step of process {ctx.p.name} does not end "
                                                  "(a loop without a step boundary?)", ctx.p.decl.span,
                                                  "label a statement inside the loop")])

    # ------------------------------------------------------------------------------------------ transitions
    def transition_props(self) -> list[tuple[int, ir.Expr, Span, str]]:
        out = []
        for t in self.m.transitions:
            pid = self.new_prop(t.name, "transition", None, t.span, "holds on every step (old(x): x before it)")
            out.append((pid, self.expr(t.expr, {}), t.span, t.name))
        return out

    def with_transitions(self, body: tuple, checks) -> tuple:
        """`body` with the pre-state copies at its start and the transition checks at the end of every path."""
        if not checks:
            return body
        lets = [ir.Let(old_local(i), ir.Var(i)) for i in sorted(self.old_vars)]
        tail = []
        for pid, cond, span, name in checks:
            read = vars_read(cond)
            detail = [(f"old {self.vars[i].name}", ir.Local(old_local(i))) for i in sorted(self.old_vars) if
                      i in _locals_read(cond)]
            detail += [(self.vars[i].name, ir.Var(i)) for i in read]
            tail.append(ir.Check(pid, cond, False, span, f"the step breaks transition {name}", tuple(detail[:8])))
        return (*lets, *_at_ends(body, tuple(tail)))


def at_args(e: ast.Call) -> tuple:
    """The instance arguments of `at(p(args), L)` (none for `at(p, L)`)."""
    target = e.args[0]
    return target.args if isinstance(target, ast.Call) else ()


def old_local(i: int) -> str:
    return f"old{i}_pre"  # generated locals end in _<number>: this cannot clash with one


def _locals_read(e: ir.Expr) -> set[int]:
    out: set[int] = set()
    todo = [e]
    while todo:
        x = todo.pop()
        if isinstance(x, ir.Local) and x.name.startswith("old") and x.name.endswith("_pre"):
            out.add(int(x.name[3:-4]))
        elif isinstance(x, ir.Op):
            todo.extend(x.args)
        elif isinstance(x, ir.Extract):
            todo.append(x.arg)
        elif isinstance(x, ir.Insert):
            todo += [x.base, x.value]
        elif isinstance(x, ir.Select):
            todo += [*x.options, x.index]
    return out


def _at_ends(stmts: tuple, tail: tuple) -> tuple:
    """`stmts` with `tail` appended at the end of every path (inside a closing choose or tail if)."""
    if stmts and isinstance(stmts[-1], ir.Choose):
        c = stmts[-1]
        return (*stmts[:-1], ir.Choose(c.name, c.lo, c.hi, c.where, _at_ends(c.body, tail)))
    if stmts and isinstance(stmts[-1], ir.If) and stmts[-1].tail:
        f = stmts[-1]
        return (*stmts[:-1], ir.If(f.cond, _at_ends(f.then, tail), _at_ends(f.else_, tail), True))
    return (*stmts, *tail)


def in_type(value: ir.Expr, t: Type) -> ir.Expr:
    lo, hi = value_range(t)
    inside = conj([mk("ge", value, ir.Const(max(lo, 0) if isinstance(t, OptionT) else lo)),
                   mk("le", value, ir.Const(hi))])
    return disj([mk("eq", value, ir.Const(NONE_VALUE)), inside]) if isinstance(t, OptionT) else inside


def _prod(xs) -> int:
    out = 1
    for x in xs:
        out *= x
    return out


__all__ = ["CodeLowering", "END", "ProcessCtx", "in_type", "old_local", "TRUE", "FALSE", "EnumT"]
