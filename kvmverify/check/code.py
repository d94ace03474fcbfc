"""Checking of the code-level constructs: processes, procedures, queues, options, `transition` and `terminal`.

Kept apart from checker.py (which calls in at a few hooks) so that the core checker stays about declarations,
types and ordinary statements. What this module decides:

- procedures: parameters typed, calls typed, no recursion (KV353: procedures are inlined, so a call cycle would
  never end), which ones run over several steps (labels or loops: `multi_step`, process code only, KV350);
- processes: their actors, parameters, step points (check/steps.py), the `let` rule (a `let` lasts one step,
  KV352), the arguments of multi-step procedures (fixed for the whole call, KV357);
- the builtins over queues (`push`, `pop`, `clear`, `head`, `len`, `empty`, `full`, `in`) and options (`none`,
  `some`, `get`), `at(p(args), L)` and `old(e)` (only in `transition`, KV356).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..diagnostics import Diagnostic, did_you_mean
from ..lang import ast
from . import steps
from .exprs import Local, Unresolved, fits, is_finite
from .model import ProcessInfo, ProcInfo, PropInfo
from .types import BOOL, BitsT, BoolT, EnumT, IntT, OptionT, QueueT, SomeT, Type, value_range

EXPR_BUILTINS = {"len": 1, "head": 1, "empty": 1, "full": 1, "some": 1, "get": 1, "at": 2, "old": 1}
QUEUE_STMTS = {"push": 2, "pop": 1, "clear": 1}
MAX_QUEUE = 64


@dataclass
class CodeCtx:
    """Where statements are being checked: `kind` action | handler | process | proc; the ids of the nodes where a
    step starts (process code), and how many `atomic`/`for`/`choose` bodies enclose the statement."""

    kind: str
    points: frozenset[int] = frozenset()
    nest: str | None = None  # the innermost enclosing atomic/for/choose


ACTION = CodeCtx("action")


# ---------------------------------------------------------------------------------------------- declarations


def declare_code(checker, procs: list[ast.ProcDecl], processes: list[ast.ProcessDecl]) -> None:
    """Names, parameters and step structure of every procedure and process (before any body is typed)."""
    m = checker.m
    decls: dict[str, ast.ProcDecl] = {}
    for d in procs:
        if d.name in EXPR_BUILTINS or d.name in QUEUE_STMTS:
            checker.error("KV202", f"'{d.name}' is a built-in; a procedure cannot take its name", d)
            continue
        if not checker.declare(d.name, d.span, "proc"):
            continue
        decls[d.name] = d
    for name, d in decls.items():
        try:
            params = checker.params_of(d.params)
        except Unresolved:
            m.broken.add(name)
            continue
        for (pname, t), p in zip(params, d.params):
            if isinstance(t, QueueT):
                checker.error("KV354", f"parameter '{pname}' is a queue: procedures take values", p,
                              "name the queue in the procedure body, or pass the index of an array of queues")
        m.procs[name] = ProcInfo(d, params, False)
        checker.diags.extend(steps.proc_label_diags(d))
    _recursion(checker, decls)
    multi = _multi_step(decls)
    for name in list(m.procs):
        info = m.procs[name]
        m.procs[name] = ProcInfo(info.decl, info.params, name in multi)
    seen_names: dict[str, ast.ProcessDecl] = {}
    for d in processes:
        if d.name in seen_names:
            checker.error("KV202", f"process '{d.name}' is declared again (first at {seen_names[d.name].span})", d)
            continue
        seen_names[d.name] = d
        if d.name in m.defs or d.name in m.tables or d.name in decls or d.name in EXPR_BUILTINS:
            checker.error("KV202", f"process '{d.name}' has the name of a function or procedure", d)
            continue
        try:
            params = checker.params_of(d.params)
        except Unresolved:
            continue
        bad = [(n, p) for (n, t), p in zip(params, d.params) if not is_finite(t)]
        if bad:
            checker.error("KV302", f"process parameter '{bad[0][0]}' must range over a finite type", bad[0][1])
            continue
        structure = steps.process_structure(d, decls)
        checker.diags.extend(structure.diags)
        names = tuple(p.name for p in structure.points)
        m.processes.append(ProcessInfo(d.name, d.actor, d, params, tuple(structure.points), structure.by_key,
                                       structure.labelled, EnumT(f"{d.name} pc", names)))


def _calls(stmts, handlers: dict, seen_handlers: frozenset = frozenset()):
    """(callee proc name, the call statement) for every call in `stmts`, through `write` handlers too."""
    for s in stmts:
        if isinstance(s, ast.CallStmt):
            yield s.func, s
        if isinstance(s, ast.Write) and s.register in handlers and s.register not in seen_handlers:
            yield from _calls(handlers[s.register].decl.body, handlers, seen_handlers | {s.register})
        for sub in ast.sub_blocks(s):
            yield from _calls(sub, handlers, seen_handlers)


def _recursion(checker, decls: dict[str, ast.ProcDecl]) -> None:
    """KV353 at a call that closes a cycle of procedure calls (procedures are inlined: it would never end)."""
    handlers = checker.m.handlers
    edges = {n: [(c, s) for c, s in _calls(d.body, handlers) if c in decls] for n, d in decls.items()}
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(n: str, path: list[str]) -> None:
        state[n] = 1
        for callee, call in edges[n]:
            if state.get(callee) == 1:
                cycle = " -> ".join([*path[path.index(callee):], callee])
                checker.diags.append(Diagnostic("KV353", "error", f"procedure call cycle: {cycle}", call.span,
                                                "procedures are inlined at each call, so they cannot recurse; "
                                                "write the repetition as a `while` loop in process code"))
            elif state.get(callee) is None:
                visit(callee, [*path, callee])
        state[n] = 2
    for n in decls:
        if n not in state:
            visit(n, [n])


def _multi_step(decls: dict[str, ast.ProcDecl]) -> set[str]:
    """Procedures with a label or a loop, directly or in a procedure they call."""
    def own(stmts) -> bool:
        return any(isinstance(s, (ast.Label, ast.While)) or any(own(b) for b in ast.sub_blocks(s)) for s in stmts)
    multi = {n for n, d in decls.items() if own(d.body)}
    changed = True
    while changed:
        changed = False
        for n, d in decls.items():
            if n not in multi and any(c in multi for c, _ in _calls(d.body, {})):
                multi.add(n)
                changed = True
    return multi


def check_code_bodies(checker) -> None:
    """Type the bodies of every procedure and process."""
    m = checker.m
    outer = checker.code
    try:
        for name, info in m.procs.items():
            checker.code = CodeCtx("proc", steps.proc_points(info.decl, {n: p.decl for n, p in m.procs.items()}))
            checker.body(info.decl.body, {n: Local(t, kind="param") for n, t in info.params}, None)
        for p in m.processes:
            nodes = frozenset(k[1] for k in p.by_key if len(k) == 2 and k[0] == ())
            checker.code = CodeCtx("process", nodes)
            checker.body(p.decl.body, {n: Local(t, kind="param") for n, t in p.params}, p.actor)
    finally:
        checker.code = outer


def mark_stale(scope: dict[str, Local]) -> None:
    """A step ends here: the `let`s bound so far are gone."""
    for n, loc in list(scope.items()):
        if loc.kind == "local":
            scope[n] = Local(loc.type, kind="stale")


def contains_point(stmts, ctx: CodeCtx, procs: dict) -> bool:
    for s in stmts:
        if id(s) in ctx.points or isinstance(s, ast.Label):
            return True
        if isinstance(s, ast.CallStmt) and s.func in procs and procs[s.func].multi_step:
            return True
        if any(contains_point(b, ctx, procs) for b in ast.sub_blocks(s)):
            return True
    return False


# ---------------------------------------------------------------------------------------------- statements


def code_statement(checker, s, scope: dict[str, Local], actor: str | None) -> None:
    """While, Await, Atomic, Label and call statements."""
    ctx: CodeCtx = checker.code
    m = checker.m
    match s:
        case ast.Label(_, name):
            if ctx.kind in ("action", "handler"):
                raise checker.error("KV350", f"label '{name}' in an {ctx.kind}: an action is one step", s,
                                    "labels cut process code into steps; declare a `process` for sequential code")
        case ast.Await(_, cond):
            outer, checker.in_statement = checker.in_statement, False  # a condition: shift amounts non-negative
            try:
                checker.expect_bool(cond, scope)
            finally:
                checker.in_statement = outer
        case ast.While(_, cond, body):
            if ctx.kind in ("action", "handler") or ctx.nest is not None:
                where = f"`{ctx.nest}`" if ctx.nest else f"an {ctx.kind}"
                raise checker.error("KV350", f"`while` inside {where}: a step must end", s,
                                    "loops are process code, where each iteration reaches a step boundary; "
                                    "a bounded loop in one step is `for i: 0 .. N { ... }`")
            checker.guard(checker.expect_bool, cond, scope)
            if contains_point(body, ctx, m.procs):
                mark_stale(scope)
            checker.body(body, scope, actor)
        case ast.Atomic(_, body):
            with _nested(checker, "atomic"):
                checker.body(body, scope, actor)
        case ast.CallStmt(_, func, args):
            if func in m.procs:
                _proc_call(checker, s, scope, ctx)
            elif func in QUEUE_STMTS:
                _queue_stmt(checker, s, scope)
            elif func in m.broken:
                raise Unresolved()
            else:
                known = [*m.procs, *QUEUE_STMTS]
                raise checker.error("KV201", f"unknown procedure '{func}'", s, did_you_mean(func, known) or
                                    "declare it: proc NAME(params) { statements }")
            if func in m.procs and m.procs[func].multi_step:
                mark_stale(scope)


class _nested:
    def __init__(self, checker, what: str):
        self.checker, self.what = checker, what

    def __enter__(self):
        self.outer = self.checker.code
        self.checker.code = CodeCtx(self.outer.kind, self.outer.points, self.what)

    def __exit__(self, *exc):
        self.checker.code = self.outer


def nested(checker, what: str) -> _nested:
    return _nested(checker, what)


def _proc_call(checker, s: ast.CallStmt, scope, ctx: CodeCtx) -> None:
    info: ProcInfo = checker.m.procs[s.func]
    checker.call_args(s.func, s.args, info.params, s, scope)
    if not info.multi_step:
        return
    if ctx.kind in ("action", "handler") or ctx.nest is not None:
        where = f"`{ctx.nest}`" if ctx.nest else f"an {ctx.kind}"
        raise checker.error("KV350", f"procedure {s.func} runs over several steps (it has labels or loops) and is "
                            f"called inside {where}", s, "call it from process code, outside atomic/for/choose")
    for a in s.args:
        if not _step_constant(checker, a, scope):
            raise checker.error("KV357", f"an argument of {s.func} may change between its steps", a,
                                "a procedure with labels or loops is inlined across steps: pass constants, params "
                                "or the process's parameters, and let it read the state itself")


def _step_constant(checker, e: ast.Expr, scope) -> bool:
    m = checker.m
    for x in ast.walk(e):
        if isinstance(x, ast.Name):
            loc = scope.get(x.id)
            if loc is not None and loc.kind not in ("param", "binder"):
                return False
            if loc is None and x.id not in m.params and x.id not in m.enum_members and x.id != "none":
                return False
        elif isinstance(x, (ast.Index, ast.Field)) or (isinstance(x, ast.Call) and x.func not in ("some",)):
            if isinstance(x, ast.Field):
                continue
            return False
    return True


def _queue_stmt(checker, s: ast.CallStmt, scope) -> None:
    n = QUEUE_STMTS[s.func]
    if len(s.args) != n:
        raise checker.error("KV303", f"{s.func} takes {n} argument(s), found {len(s.args)}", s,
                            "push(q, x), pop(q), clear(q)")
    q = queue_place(checker, s.args[0], scope)
    if s.func == "push":
        xt = checker.expr(s.args[1], scope, q.elem)
        if fits(xt, q.elem) == "no":
            raise checker.error("KV301", f"cannot push {xt} onto {q}", s.args[1])


# ---------------------------------------------------------------------------------------------- expressions


def queue_place(checker, e: ast.Expr, scope) -> QueueT:
    """`e` names a queue variable (or an element of an array of queues): its type."""
    root = e
    while isinstance(root, ast.Index):
        root = root.base
    t = checker.m.expr_types.get(id(e))
    if t is None:
        t = checker.expr(e, scope)
    if not isinstance(root, ast.Name) or root.id not in checker.m.vars or not isinstance(t, QueueT):
        raise checker.error("KV354", f"expected a queue variable, found {t}", e,
                            "queues are declared `var q : queue[N] of T` and named directly: push(q, x)")
    return t


def builtin_call(checker, e: ast.Call, scope) -> Type:
    n = EXPR_BUILTINS[e.func]
    if len(e.args) != n:
        raise checker.error("KV303", f"{e.func} takes {n} argument(s), found {len(e.args)}", e)
    match e.func:
        case "len" | "head" | "empty" | "full":
            q = queue_place(checker, e.args[0], scope)
            if e.func == "len":
                return IntT(0, q.size)
            return q.elem if e.func == "head" else BOOL
        case "some":
            t = checker.expr(e.args[0], scope)
            r = value_range(t) if isinstance(t, (BoolT, IntT, EnumT)) else None
            if r is None:
                raise checker.error("KV355", f"some({t}): an option holds a bool, an enum or a range", e.args[0])
            if r[0] < 0:
                raise checker.error("KV355", f"some(...) of a value that may be negative ({t})", e.args[0],
                                    "options hold non-negative values (`none` is stored as -1)")
            return SomeT(t)
        case "get":
            t = checker.expr(e.args[0], scope)
            if not isinstance(t, OptionT):
                raise checker.error("KV301", f"get of {t}; expected an option", e.args[0])
            return t.elem
        case "at":
            return _at(checker, e, scope)
        case "old":
            if not getattr(checker, "in_transition", False):
                raise checker.error("KV356", "`old(...)` outside a `transition` property", e,
                                    "old(x) is the value before a step: declare `transition NAME: ... old(x) ...`")
            checker.in_transition = False
            try:
                return checker.expr(e.args[0], scope)
            finally:
                checker.in_transition = True
    raise AssertionError(e.func)


def _at(checker, e: ast.Call, scope) -> Type:
    target, label = e.args
    m = checker.m
    if isinstance(target, ast.Name):  # a process without parameters: at(monitor, L)
        target = ast.Call(target.span, target.id, ())
    if not isinstance(target, ast.Call) or not any(p.name == target.func for p in m.processes):
        names = [p.name for p in m.processes]
        raise checker.error("KV303", "at(p(args), L): the first argument is a process instance", target,
                            f"processes: {', '.join(names)}" if names else "the model declares no process")
    p = next(x for x in m.processes if x.name == target.func)
    if len(target.args) != len(p.params):
        raise checker.error("KV303", f"process {p.name} has {len(p.params)} parameter(s), found "
                            f"{len(target.args)}", target)
    for a, (pname, pt) in zip(target.args, p.params):
        t = checker.expr(a, scope, pt)
        if fits(t, pt) != "ok":
            raise checker.error("KV301", f"parameter '{pname}' of process {p.name} is {pt}, found {t}", a)
    if isinstance(label, ast.Field) and isinstance(label.base, ast.Name):  # proc.label
        written = f"{label.base.id}.{label.name}"
    elif isinstance(label, ast.Name):
        written = label.id
    else:
        raise checker.error("KV351", "at(p(args), L): L is a label of the process (or proc.label)", label)
    matches = tuple(pt.name for pt in p.points
                    if written in (pt.name, pt.label, f"{pt.proc}.{pt.label}") or pt.name.startswith(written + "#"))
    if not matches:
        raise checker.error("KV351", f"process {p.name} has no label '{written}'", label,
                            did_you_mean(written, [pt.name for pt in p.points]) or
                            f"its points: {', '.join(pt.name for pt in p.points)}")
    checker.record(label, BOOL)
    m.at_points[id(e)] = (p.name, matches)
    return BOOL


def list_lit(checker, e: ast.ListLit, scope, expected: Type | None) -> Type:
    if not isinstance(expected, QueueT):
        raise checker.error("KV354", "a list [..] is a queue's initial contents", e,
                            "declare var q : queue[N] of T = [a, b]; in expressions use head(q), len(q), x in q")
    if len(e.items) > expected.size:
        raise checker.error("KV354", f"{len(e.items)} elements do not fit {expected}", e)
    for item in e.items:
        t = checker.expr(item, scope, expected.elem)
        if fits(t, expected.elem) != "ok":
            raise checker.error("KV301", f"{t} is not an element of {expected}", item)
    return expected


def queue_type(checker, t: ast.QueueType) -> QueueT:
    size = checker.const(t.size, "a queue's size")
    if not 1 <= size <= MAX_QUEUE:
        raise checker.error("KV354", f"a queue holds 1 to {MAX_QUEUE} elements, not {size}", t.size)
    elem = checker.type_expr(t.elem)
    if not (isinstance(elem, (BoolT, IntT, EnumT, OptionT)) or (isinstance(elem, BitsT) and elem.layout is None)):
        raise checker.error("KV354", f"a queue of {elem}: elements are bools, ranges, enums, uN or options",
                            t.elem)
    return QueueT(size, elem)


def option_type(checker, t: ast.OptionType) -> OptionT:
    elem = checker.type_expr(t.elem)
    if not isinstance(elem, (BoolT, IntT, EnumT)) or not is_finite(elem):
        raise checker.error("KV355", f"option {elem}: an option holds a bool, an enum or a range", t.elem)
    if value_range(elem)[0] < 0:
        raise checker.error("KV355", f"option {elem}: the range has negative values", t.elem,
                            "options hold non-negative values (`none` is stored as -1); shift the range")
    return OptionT(elem)


# ---------------------------------------------------------------------------------------------- properties


def check_transition(checker, d: ast.TransitionDecl, taken: set[str]) -> None:
    if d.name in taken:
        checker.error("KV202", f"property '{d.name}' is declared twice", d)
        return
    taken.add(d.name)
    checker.in_transition = True
    try:
        checker.expect_bool(d.expr, {})
    except Unresolved:
        return
    finally:
        checker.in_transition = False
    checker.m.transitions.append(PropInfo(d.name, "transition", d.expr, d.span))


def check_terminal(checker, d: ast.TerminalDecl) -> None:
    try:
        checker.expect_bool(d.expr, {})
    except Unresolved:
        return
    checker.m.terminals.append(d.expr)


