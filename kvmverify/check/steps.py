"""Where the steps of process code start: the points a process's program counter takes.

The rule (docs/language.md, "Processes"):

- A body with labels (its own, or in a procedure it calls) is cut at its labels: each label starts a step, which
  runs until control reaches the next label (or a loop head that is a point, or the end of the body).
- A body without labels runs one statement per step, as in Promela: a step starts before each statement, except
  the first statement of an `if`/`else` branch or of a loop body (its condition is decided in the same step as
  that statement) and a statement right after a `let` (the `let` joins it). `atomic { ... }`, `for`, `choose`
  and a call of a procedure without labels are one statement each, whatever they contain.
- Every loop must pass a point, so that a step is finite: a `while` whose body can run through without reaching
  a point gets an implicit point at its head (in a body without labels every `while` is a point anyway).
- The end of the body is the point `done`, where the process has terminated.

Points are identified by (call path, node): the node is a `Label` or the statement a step starts before; the call
path is the tuple of `id()`s of the procedure calls it is inlined through (empty in the process's own body).
Procedures are inlined, so a label inside a procedure called at two places in a process is two points, named
`proc.label` and `proc.label#2`. Implicit points are named after the line of the statement they start before
(`l12`), the entry after `start` when the first statement has no label.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import Diagnostic, Span
from ..lang import ast

DONE = "done"


@dataclass(frozen=True)
class Point:
    name: str  # as shown: wait, kvm_async_pf_task_wait_schedule.sleep, l12, start, done
    key: tuple  # (call path, id(node)); ("done",) for the end
    span: Span
    label: str  # the label as written (or the implicit name), without the procedure prefix
    proc: str | None = None  # the procedure the point lies in, if any


@dataclass
class Structure:
    points: list[Point] = field(default_factory=list)  # the entry first, `done` last
    by_key: dict[tuple, str] = field(default_factory=dict)
    labelled: bool = False
    diags: list[Diagnostic] = field(default_factory=list)

    @property
    def nodes(self) -> frozenset[int]:
        """The ids of the nodes a step starts at (in any call path)."""
        return frozenset(k[1] for k in self.by_key if len(k) == 2)


def has_labels(stmts, procs: dict, seen: frozenset[str] = frozenset()) -> bool:
    """Does the code contain a label, directly or in a procedure it calls?"""
    for s in stmts:
        if isinstance(s, ast.Label):
            return True
        if isinstance(s, ast.CallStmt) and s.func in procs and s.func not in seen:
            if has_labels(procs[s.func].body, procs, seen | {s.func}):
                return True
        if any(has_labels(b, procs, seen) for b in ast.sub_blocks(s)):
            return True
    return False


def passes(stmts, procs: dict, seen: frozenset[str] = frozenset()) -> bool:
    """Does every way through `stmts` (labelled code) reach a point?"""
    for s in stmts:
        match s:
            case ast.Label():
                return True
            case ast.If(_, _, then, else_) if passes(then, procs, seen) and passes(else_, procs, seen):
                return True
            case ast.While(_, _, body) if not passes(body, procs, seen):
                return True  # its head is an implicit point
            case ast.CallStmt(_, func) if func in procs and func not in seen:
                if passes(procs[func].body, procs, seen | {func}):
                    return True
    return False


class _Builder:
    def __init__(self, procs: dict):
        self.procs = procs  # name -> ast.ProcDecl
        self.s = Structure()
        self.taken: dict[str, int] = {}  # base name -> how many points carry it

    def add(self, key: tuple, base: str, span: Span, label: str, proc: str | None) -> None:
        if key in self.s.by_key:
            return
        n = self.taken.get(base, 0) + 1
        self.taken[base] = n
        name = base if n == 1 else f"{base}#{n}"
        self.s.by_key[key] = name
        self.s.points.append(Point(name, key, span, label, proc))

    def implicit(self, key: tuple, node, proc: str | None) -> None:
        base = f"l{node.span.line}"
        self.add(key, f"{proc}.{base}" if proc else base, node.span, base, proc)

    def labelled(self, stmts, cp: tuple, proc: str | None, seen: frozenset[str]) -> None:
        for i, s in enumerate(stmts):
            match s:
                case ast.Label(span, name):
                    self.add((cp, id(s)), f"{proc}.{name}" if proc else name, span, name, proc)
                case ast.While(_, _, body):
                    headed = i > 0 and isinstance(stmts[i - 1], ast.Label)
                    if not headed and not passes(body, self.procs):
                        self.implicit((cp, id(s)), s, proc)
                    self.labelled(body, cp, proc, seen)
                case ast.If(_, _, then, else_):
                    self.labelled(then, cp, proc, seen)
                    self.labelled(else_, cp, proc, seen)
                case ast.CallStmt(_, func) if func in self.procs and func not in seen:
                    self.labelled(self.procs[func].body, (*cp, id(s)), func, seen | {func})

    def unlabelled(self, stmts, cp: tuple, first_exempt: bool, seen: frozenset[str]) -> None:
        after_let = False
        for i, s in enumerate(stmts):
            exempt = (i == 0 and first_exempt) or after_let
            if isinstance(s, ast.While) or not exempt:  # a loop head is always a point
                self.implicit((cp, id(s)), s, None)
            after_let = isinstance(s, ast.Let)
            match s:
                case ast.If(_, _, then, else_):
                    self.unlabelled(then, cp, True, seen)
                    self.unlabelled(else_, cp, True, seen)
                case ast.While(_, _, body):
                    self.unlabelled(body, cp, True, seen)
                case ast.CallStmt(_, func) if func in self.procs and func not in seen:
                    # a call is one statement; only the loops inside need points (labelled mode: none else)
                    self.labelled(self.procs[func].body, (*cp, id(s)), func, seen | {func})


def process_structure(decl: ast.ProcessDecl, procs: dict) -> Structure:
    """The points of a process (procs: name -> ast.ProcDecl, for inlining)."""
    b = _Builder(procs)
    body = decl.body
    b.s.labelled = has_labels(body, procs)
    if body:
        first = body[0]
        if not isinstance(first, ast.Label):
            base = "start" if not _user_label(body, procs, "start") else f"l{first.span.line}"
            b.add(((), id(first)), base, first.span, base, None)
        if b.s.labelled:
            b.labelled(body, (), None, frozenset())
        else:
            b.unlabelled(body, (), False, frozenset())
    b.add((DONE,), DONE, decl.span, DONE, None)
    _unique_labels(decl.body, f"process {decl.name}", b.s.diags)
    return b.s


def _user_label(stmts, procs: dict, name: str) -> bool:
    found = []

    def walk(xs):
        for s in xs:
            if isinstance(s, ast.Label) and s.name == name:
                found.append(s)
            for sub in ast.sub_blocks(s):
                walk(sub)
    walk(stmts)
    return bool(found)


def _unique_labels(stmts, where: str, diags: list[Diagnostic]) -> None:
    """Labels are unique within the body they are written in, `done` is the end, and no label is inside
    `atomic`, `for` or `choose` (where a step could not start)."""
    seen: dict[str, Span] = {}

    def walk(xs, inside: str | None):
        for st in xs:
            if isinstance(st, ast.Label):
                if st.name == DONE:
                    diags.append(Diagnostic("KV351", "error", "`done` is the point where a process has "
                                            "terminated; it cannot label a statement", st.span, "pick another label"))
                elif st.name in seen:
                    diags.append(Diagnostic("KV351", "error", f"label '{st.name}' is used twice in {where} (first "
                                            f"at {seen[st.name]})", st.span, "labels name steps: give each its own"))
                else:
                    seen[st.name] = st.span
                if inside is not None:
                    diags.append(Diagnostic("KV351", "error", f"a label inside `{inside}`: a step cannot start "
                                            f"there", st.span, f"`{inside}` runs as part of one step; move the label "
                                            "before it"))
            nested = inside
            if isinstance(st, (ast.Atomic, ast.For, ast.Choose)):
                nested = {ast.Atomic: "atomic", ast.For: "for", ast.Choose: "choose"}[type(st)]
            for sub in ast.sub_blocks(st):
                walk(sub, nested)
    walk(stmts, None)


def proc_label_diags(proc: ast.ProcDecl) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    _unique_labels(proc.body, f"proc {proc.name}", out)
    return out


def proc_points(proc: ast.ProcDecl, procs: dict) -> frozenset[int]:
    """The ids of the nodes in `proc`'s own body that are points wherever it is inlined: its labels and the heads
    of the loops that need one (for the `let` rule, which is checked on each body once)."""
    b = _Builder(procs)
    b.labelled(proc.body, (), proc.name, frozenset({proc.name}))
    return frozenset(k[1] for k in b.s.by_key if k[0] == ())
