"""The reference semantics of the code-level constructs (a mixin of reference.py's `Reference`), written from the
language's rules, not from the lowering:

- A process instance is at a point (check/steps.py says where points are; the entry first). Its step from point
  P runs the code from P, statement after statement, until control reaches another point (or the same one again,
  having moved on), where the counter is set; the end of the body is `done`, from which there is no step. Loops
  go back to their head; a procedure call runs the procedure's body with its parameters bound to the arguments,
  then goes on after the call.
- `await c`: the path goes on if c holds, and has no successor otherwise (a blocked path, as a `choose` with no
  value); a path stopped by a failed fatal check is not blocked: it was attempted.
- A queue is a tuple, head first: `push` appends (full: `queue:q`, the path stops), `pop` drops the head (empty:
  `queue:q`, the path stops), `clear` empties it; `head` of an empty queue is the element type's first value.
- An option is None or `Some(v)`; `get(none)` is the element type's first value.
- `transition P: e` is evaluated at the end of every path that completes, `old(x)` in the state before the step.
- A state is a deadlock when no instance has an unblocked path, no `terminal` holds, and not every process is done.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from ..check.steps import DONE
from ..check.types import OptionT, QueueT, first_value
from ..lang import ast


@dataclass(frozen=True)
class Some:
    value: object

    def __str__(self) -> str:
        return f"some({self.value})"


@dataclass(frozen=True)
class ProcessStep:
    """A process's step from one point, named as the lowering names its action instances."""

    process: object  # check.model.ProcessInfo
    point: str

    @property
    def actor(self) -> str:
        return self.process.actor

    @property
    def name(self) -> str:
        return f"{self.process.name}@{self.point}"

    @property
    def params(self):
        return self.process.params


def pc_key(name: str) -> str:
    return f"@{name}"  # a process's counter in the reference state (no variable can have this name)


class CodeSemantics:
    # ------------------------------------------------------------------------------------------ values
    def first(self, t):
        from .reference import native
        if isinstance(t, OptionT):
            return None
        return native(t, first_value(t))

    def queue(self, e: ast.Expr, env: dict, state) -> tuple[str, tuple | None]:
        """The variable and index of the queue `e` names."""
        if isinstance(e, ast.Name):
            return e.id, None
        return self.place(e, env, state)

    def queue_value(self, e: ast.Expr, env: dict, state) -> tuple:
        var, idx = self.queue(e, env, state)
        return state[var] if idx is None else state[var][idx]

    def code_call(self, e: ast.Call, env: dict, state):
        match e.func:
            case "some":
                return Some(self.eval(e.args[0], env, state))
            case "get":
                o = self.eval(e.args[0], env, state)
                return o.value if o is not None else self.first(self.type(e.args[0]).elem)
            case "len":
                return len(self.queue_value(e.args[0], env, state))
            case "empty":
                return not self.queue_value(e.args[0], env, state)
            case "full":
                return len(self.queue_value(e.args[0], env, state)) == self.type(e.args[0]).size
            case "head":
                q = self.queue_value(e.args[0], env, state)
                return q[0] if q else self.first(self.type(e.args[0]).elem)
            case "at":
                proc, points = self.m.at_points[id(e)]
                target = e.args[0]
                args = tuple(self.eval(a, env, state) for a in (target.args if isinstance(target, ast.Call) else ()))
                return self.pc(state, proc, args) in points
            case "old":
                return self.eval(e.args[0], env, env["\0old"])
        raise TypeError(e.func)

    # ------------------------------------------------------------------------------------------ processes
    def pc(self, state, proc: str, args: tuple) -> str:
        v = state[pc_key(proc)]
        return v[args] if isinstance(v, dict) else v

    def set_pc(self, state, proc: str, args: tuple, point: str) -> None:
        if isinstance(state[pc_key(proc)], dict):
            state[pc_key(proc)][args] = point
        else:
            state[pc_key(proc)] = point

    def process_initial(self, out: dict) -> None:
        from .reference import values
        for p in self.m.processes:
            entry = p.points[0].name
            if p.params:
                out[pc_key(p.name)] = {a: entry for a in itertools.product(*(values(t) for _, t in p.params))}
            else:
                out[pc_key(p.name)] = entry

    def process_steps(self):
        from .reference import values
        for p in self.m.processes:
            for point in p.points:
                if point.name == DONE:
                    continue
                for combo in itertools.product(*(values(t) for _, t in p.params)):
                    yield ProcessStep(p, point.name), dict(zip((n for n, _ in p.params), combo))

    def process_step(self, s: ProcessStep, args: dict, state):
        from .reference import _copy
        p = s.process
        key = tuple(args[n] for n, _ in p.params)
        if self.pc(state, p.name, key) != s.point:
            return []
        start = next(pt.key for pt in p.points if pt.name == s.point)
        frames = _locate(self, p.decl.body, 0, dict(args), (), p.actor, start, ())
        return list(self.code(frames, _copy(state), p, key, set(), start))

    def code(self, frames: tuple, state, p, key: tuple, violated: set, start):
        """Every path from the continuation `frames` (innermost first: (statements, index, env, call path,
        assert-site owner)) to the next point of process `p` (instance `key`)."""
        from .reference import Path, Stop
        if not frames:
            self.set_pc(state, p.name, key, DONE)
            yield Path(state, violated)
            return
        (stmts, i, env, cp, where), outer = frames[0], frames[1:]
        if i >= len(stmts):
            yield from self.code(outer, state, p, key, violated, None)
            return
        s = stmts[i]
        here = (cp, id(s))
        if here != start and here in p.by_key:
            self.set_pc(state, p.name, key, p.by_key[here])
            yield Path(state, violated)
            return
        nxt = ((stmts, i + 1, env, cp, where), *outer)
        try:
            match s:
                case ast.Let(_, name, value):
                    env = {**env, name: self.eval(value, env, state)}
                    yield from self.code(((stmts, i + 1, env, cp, where), *outer), state, p, key, violated, None)
                    return
                case ast.While(_, cond, body):
                    head = i - 1 if i > 0 and isinstance(stmts[i - 1], ast.Label) else i
                    if self.eval(cond, env, state):
                        inner = ((body, 0, env, cp, where), (stmts, head, env, cp, where), *outer)
                        yield from self.code(inner, state, p, key, violated, None)
                    else:
                        yield from self.code(nxt, state, p, key, violated, None)
                    return
                case ast.CallStmt(_, func) if func in self.m.procs:
                    info = self.m.procs[func]
                    inner_env = {n: self.eval(a, env, state) for (n, _), a in zip(info.params, s.args)}
                    inner_env["\0where"] = func
                    frames = ((info.decl.body, 0, inner_env, (*cp, id(s)), func), *nxt)
                    yield from self.code(frames, state, p, key, violated, None)
                    return
                case ast.If(_, cond, then, else_):
                    branch = then if self.eval(cond, env, state) else else_
                    yield from self.code(((branch, 0, env, cp, where), *nxt), state, p, key, violated, None)
                    return
        except Stop as stop:
            yield Path(None, violated | {stop.prop})
            return
        # any other statement: no point inside it (the checker sees to that); run it, then go on
        for q in self.run((s,), env, state, p.actor, violated):
            if q.state is None:
                yield q
            else:
                yield from self.code(nxt, q.state, p, key, q.violated, None)

    # ------------------------------------------------------------------------------------------ statements
    def code_statement(self, s, rest, env: dict, state, actor: str, violated: set):
        """Await, Atomic, Label and call statements in action bodies (and straight-line process code)."""
        from .reference import Path
        match s:
            case ast.Label():
                yield from self.run(rest, env, state, actor, violated)
            case ast.Await(_, cond):
                if self.eval(cond, env, state):
                    yield from self.run(rest, env, state, actor, violated)
                else:
                    yield Path(None, violated, blocked=True)
            case ast.Atomic(_, body):
                for q in self.run(body, env, state, actor, violated):
                    yield from self.then(q, rest, env, actor)
            case ast.CallStmt(_, func) if func in self.m.procs:
                info = self.m.procs[func]
                inner = {n: self.eval(a, env, state) for (n, _), a in zip(info.params, s.args)}
                inner["\0where"] = func
                for q in self.run(info.decl.body, inner, state, actor, violated):
                    yield from self.then(q, rest, env, actor)
            case ast.CallStmt():
                self.queue_op(s, env, state)
                yield from self.run(rest, env, state, actor, violated)
            case _:
                raise TypeError(type(s).__name__)

    def queue_op(self, s: ast.CallStmt, env: dict, state) -> None:
        from .reference import Stop, _fits
        var, idx = self.queue(s.args[0], env, state)
        t: QueueT = self.m.vars[var].type
        q = state[var] if idx is None else state[var][idx]
        if s.func == "push":
            x = self.eval(s.args[1], env, state)
            if not _fits(x, t.elem):
                raise Stop("type_ok")
            if len(q) >= t.size:
                raise Stop(f"queue:{var}")
            q = (*q, x)
        elif s.func == "pop":
            if not q:
                raise Stop(f"queue:{var}")
            q = q[1:]
        else:
            q = ()
        if idx is None:
            state[var] = q
        else:
            state[var][idx] = q

    # ------------------------------------------------------------------------------------------ sanity
    def enabled_in(self, action, args: dict, state) -> bool:
        """The instance has a path that is not blocked (a completed one, or one a fatal check stopped)."""
        return any(not p.blocked for p in self.step(action, args, state))

    def terminal(self, state) -> bool:
        if any(self.eval(t, {}, state) for t in self.m.terminals):
            return True
        if not self.m.processes:
            return False
        for p in self.m.processes:
            v = state[pc_key(p.name)]
            if any(x != DONE for x in (v.values() if isinstance(v, dict) else [v])):
                return False
        return True

    def deadlocked(self, state) -> bool:
        return not any(self.enabled_in(a, args, state) for a, args in self.instances()) and not self.terminal(state)

    def premises(self, name: str, state) -> list[bool]:
        """For each implication at the top of invariant `name`: does its premise hold for some binder values?"""
        from .reference import values
        inv = next(p for p in self.m.props if p.name == name)
        found: dict[int, bool] = {}

        def walk(e, env):
            match e:
                case ast.Quant(_, "forall", binders, body):
                    types = [self.m.types.get(b.type_name.id) for b in binders]
                    for combo in itertools.product(*(values(t) if t is not None else [False, True] for t in types)):
                        walk(body, {**env, **{b.name: v for b, v in zip(binders, combo)}})
                case ast.Binary(_, "&&", left, right):
                    walk(left, env)
                    walk(right, env)
                case ast.Binary(_, "->", left, _):
                    found[id(e)] = found.get(id(e), False) or bool(self.eval(left, env, state))
        walk(inv.expr, {})
        return list(found.values())

    def transitions_violated(self, old, new) -> set[str]:
        return {t.name for t in self.m.transitions if not self.eval(t.expr, {"\0old": old}, new)}


def _locate(sem, stmts, i0, env, cp, where, target, outer):
    """The frames that run the code from the point `target` (a (call path, id(node)) pair)."""
    for i in range(i0, len(stmts)):
        s = stmts[i]
        if (cp, id(s)) == target:
            return ((stmts, i, env, cp, where), *outer)
        nxt = ((stmts, i + 1, env, cp, where), *outer)
        match s:
            case ast.If(_, _, then, else_):
                for branch in (then, else_):
                    found = _locate(sem, branch, 0, env, cp, where, target, nxt)
                    if found:
                        return found
            case ast.While(_, _, body):
                head = i - 1 if i > 0 and isinstance(stmts[i - 1], ast.Label) else i
                found = _locate(sem, body, 0, env, cp, where, target, ((stmts, head, env, cp, where), *outer))
                if found:
                    return found
            case ast.CallStmt(_, func) if func in sem.m.procs and sem.m.procs[func].multi_step:
                info = sem.m.procs[func]
                # a procedure with points takes arguments that do not depend on the state (KV357)
                inner = {n: sem.eval(a, env, {}) for (n, _), a in zip(info.params, s.args)}
                inner["\0where"] = func
                found = _locate(sem, info.decl.body, 0, inner, (*cp, id(s)), func, target, nxt)
                if found:
                    return found
    return None
