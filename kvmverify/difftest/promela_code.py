"""The code-level constructs of a generated model in Promela (a mixin of promela.py's Expander, and the pieces of
the program): written from the language's rules, independently of kvmverify's lowering.

- The queue `qu` is an array `qu[2]` and a length `qn`; elements past the length are 0 (the element type's first
  value). push onto a full queue, pop of an empty one: `queue:qu` is violated and the path stops.
- The option `o` is an int, -1 for `none`.
- A call of `pr(e)` runs its body with z bound to e's value (inline); `await c` adds c to the path condition.
- The process `w` has a counter `pc_w` (one per instance); its points are its labels in the order they are
  written, then `done`. The step at a segment's label takes its `await` and statements, then sets the counter to
  the next label; at a loop's head it tests the condition and goes to the body's label or past the loop; at the
  body's label it runs the body and goes back to the head. Each path of each step is a d_step option, as for
  actions.
- Probes (see promela.py): `deadlock` (no option of any instance can be taken, counting paths a fatal check stops,
  and neither the terminal condition nor every process at `done` holds), `enabled:NAME` (some instance of the
  action or step has such a path), `premise:INV` (the premise of an implication at the top of an invariant),
  transitions (false on a completed path, `old(e)` read before the step).
"""
from __future__ import annotations

from .code_model import ELEM, QSIZE



class CodeExpander:
    # -------------------------------------------------------------------------------------- expressions
    def code_eval(self, e: tuple, p, ctx):
        from .promela import Path, k, land, lor, op
        match e:
            case ("none",):
                return k(-1)
            case ("some", x):
                return self.eval(x, p, ctx)
            case ("get",):
                o = p.state[("o", None)]
                return ("ite", op("==", o, k(-1)), k(ELEM[0]), o)
            case ("len",):
                return p.state[("qn", None)]
            case ("head",):
                return p.state[("qu", 0)]
            case ("empty",):
                return op("==", p.state[("qn", None)], k(0))
            case ("full",):
                return op("==", p.state[("qn", None)], k(QSIZE))
            case ("inq", x):
                v = self.eval(x, p, ctx)
                n = p.state[("qn", None)]
                return lor(*(land(op(">", n, k(j)), op("==", p.state[("qu", j)], v)) for j in range(QSIZE)))
            case ("old", x):
                return self.eval(x, Path(p.pc, self.pre, p.env), ctx)
            case ("at", name, idx, label):
                proc = next(q for q in self.m.code.processes if q.name == name)
                want = k(proc.labels().index(label))
                if idx is None:
                    return op("==", p.state[(f"pc_{name}", None)], want)
                i = self.eval(idx, p, ctx)
                lo, hi = proc.param[1], proc.param[2]
                if i[0] == "k":
                    return op("==", p.state[(f"pc_{name}", i[1])], want)
                out = op("==", p.state[(f"pc_{name}", hi)], want)
                for j in range(hi - 1, lo - 1, -1):
                    out = ("ite", op("==", i, k(j)), op("==", p.state[(f"pc_{name}", j)], want), out)
                return out
        return None

    # -------------------------------------------------------------------------------------- statements
    def code_run(self, s: tuple, more: list, p, rest) -> bool:
        """Run a code-level statement; False if `s` is not one."""
        from .promela import Path, k, land, neg, op
        match s:
            case ("await", c):
                (cv,), p = self.guarded([c], p)
                self.run(more, Path([*p.pc, cv], p.state, p.env), rest)
            case ("call", e):
                (v,), p = self.guarded([e], p)
                outer = p.env

                def back(q) -> None:
                    self.run(more, Path(q.pc, q.state, outer), rest)
                self.run(self.m.code.proc, Path(p.pc, p.state, {"z": v}), back)
            case ("push", e):
                (v,), p = self.guarded([e], p)
                n = p.state[("qn", None)]
                fits = land(op(">=", v, k(ELEM[0])), op("<=", v, k(ELEM[1])))
                if fits != k(1):
                    self.stop("type_ok", land(*p.pc, neg(fits)))
                    p = Path([*p.pc, fits], p.state, p.env)
                room = op("<", n, k(QSIZE))
                self.stop("queue:qu", land(*p.pc, neg(room)))
                state = dict(p.state)
                for j in range(QSIZE):
                    state[("qu", j)] = ("ite", op("==", n, k(j)), v, p.state[("qu", j)])
                state[("qn", None)] = op("+", n, k(1))
                self.run(more, Path([*p.pc, room], state, p.env), rest)
            case ("pop",):
                n = p.state[("qn", None)]
                some = op(">", n, k(0))
                self.stop("queue:qu", land(*p.pc, neg(some)))
                state = dict(p.state)
                for j in range(QSIZE - 1):
                    state[("qu", j)] = p.state[("qu", j + 1)]
                state[("qu", QSIZE - 1)] = k(ELEM[0])
                state[("qn", None)] = op("-", n, k(1))
                self.run(more, Path([*p.pc, some], state, p.env), rest)
            case ("clear",):
                state = dict(p.state)
                for j in range(QSIZE):
                    state[("qu", j)] = k(ELEM[0])
                state[("qn", None)] = k(0)
                self.run(more, Path(p.pc, state, p.env), rest)
            case _:
                return False
        return True

    def stop(self, prop: str, cond: tuple) -> None:
        """A fatal check fails on this condition: the violation, and a path that was attempted (not blocked)."""
        from .promela import MAX_OPTIONS, TooBig
        self.violations.append((prop, cond))
        self.stops.append(cond)
        if len(self.stops) > MAX_OPTIONS:
            raise TooBig(f"more than {MAX_OPTIONS} stopped paths")


# ---------------------------------------------------------------------------------------------- the program


def process_steps(m, x_factory, pre: dict):
    """(step name, instance parameter value, expander with its finished paths) for every process step."""
    from .promela import Path, k, neg, op
    for proc in m.code.processes:
        labels = proc.labels()
        values = range(proc.param[1], proc.param[2] + 1) if proc.param else [None]
        for value in values:
            env = {proc.param[0]: k(value)} if proc.param else {}
            pc_key = (f"pc_{proc.name}", value)
            for n, seg in enumerate(proc.segments):
                after = _next_label(proc, n)
                if seg[0] == "seg":
                    _, label, wait, stmts = seg
                    x = x_factory(proc.name)
                    start = Path([op("==", pre[pc_key], k(labels.index(label)))], dict(pre), env)
                    if wait is not None:
                        start = Path([*start.pc, x.eval(wait, start)], start.state, env)
                    x.run(stmts, start, _goto(x, pc_key, labels.index(after)))
                    yield f"{proc.name}@{label}", value, x
                else:
                    _, head, cond, body, stmts = seg
                    x = x_factory(proc.name)
                    start = Path([op("==", pre[pc_key], k(labels.index(head)))], dict(pre), env)
                    (cv,), start = x.guarded([cond], start)
                    _goto(x, pc_key, labels.index(body))(Path([*start.pc, cv], dict(start.state), env))
                    _goto(x, pc_key, labels.index(after))(Path([*start.pc, neg(cv)], dict(start.state), env))
                    yield f"{proc.name}@{head}", value, x
                    x = x_factory(proc.name)
                    start = Path([op("==", pre[pc_key], k(labels.index(body)))], dict(pre), env)
                    x.run(stmts, start, _goto(x, pc_key, labels.index(head)))
                    yield f"{proc.name}@{body}", value, x


def _next_label(proc, n: int) -> str:
    if n + 1 < len(proc.segments):
        return proc.segments[n + 1][1]
    return "done"


def _goto(x, pc_key, value: int):
    from .promela import Path, k

    def done(q) -> None:
        state = dict(q.state)
        state[pc_key] = k(value)
        x.done.append(Path(q.pc, state, q.env))
    return done


def premises(expr: tuple) -> list[tuple]:
    """The premises of the implications at the top of an invariant (under `&&`), left to right."""
    match expr:
        case ("bin", "&&", a, b):
            return premises(a) + premises(b)
        case ("bin", "->", a, _):
            return [a]
    return []


def code_decls(m) -> list[str]:
    code = m.code
    out = []
    if code.queue:
        out += [f"int qu[{QSIZE}] = {ELEM[0]};", "int qn = 0;"]
    if code.option:
        out.append("int o = -1;")
    for proc in code.processes:
        size = f"[{proc.param[2] - proc.param[1] + 1}]" if proc.param else ""
        out.append(f"int pc_{proc.name}{size} = 0;")
    return out


def code_pre(m) -> dict:
    code = m.code
    pre = {}
    if code.queue:
        pre.update({("qu", j): ("pre", "qu", j) for j in range(QSIZE)})
        pre[("qn", None)] = ("pre", "qn", None)
    if code.option:
        pre[("o", None)] = ("pre", "o", None)
    for proc in code.processes:
        if proc.param:
            pre.update({(f"pc_{proc.name}", v): ("pre", f"pc_{proc.name}", v)
                        for v in range(proc.param[1], proc.param[2] + 1)})
        else:
            pre[(f"pc_{proc.name}", None)] = ("pre", f"pc_{proc.name}", None)
    return pre


def all_done(m, pre: dict) -> tuple | None:
    from .promela import k, land, op
    parts = []
    for proc in m.code.processes:
        end = k(proc.labels().index("done"))
        parts += [op("==", t, end) for (name, _), t in pre.items() if name == f"pc_{proc.name}"]
    return land(*parts) if parts else None
