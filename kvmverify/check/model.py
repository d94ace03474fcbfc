"""The checked model: every name resolved, every expression typed. `ir/` lowers this, never the raw AST."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import Diagnostic, Span
from ..lang import ast
from .types import BitsT, FiniteT, Layout, Type


@dataclass(frozen=True)
class VarInfo:
    name: str
    indices: tuple[FiniteT, ...]
    type: Type
    init: ast.Expr
    span: Span


@dataclass(frozen=True)
class SlotInfo:
    """A shared slot: bits [lo, lo+width) of every element of `var`, with its owners."""

    name: str
    var: VarInfo
    lo: int
    width: int
    empty: int
    filler: str
    emptier: str
    span: Span
    path: str  # as written, for messages: area[*].token


@dataclass(frozen=True)
class ActionInfo:
    actor: str
    decl: ast.ActionDecl
    params: tuple[tuple[str, FiniteT], ...]


@dataclass(frozen=True)
class HandlerInfo:
    actor: str
    decl: ast.HandlerDecl
    layout: Layout
    params: tuple[tuple[str, Type], ...]


@dataclass(frozen=True)
class DefInfo:
    decl: ast.DefDecl
    params: tuple[tuple[str, Type], ...]
    result: Type


@dataclass(frozen=True)
class TableInfo:
    """A decision table: `outputs` are (name, type); a table with one output has it under the name ""."""

    decl: ast.DecideDecl
    params: tuple[tuple[str, Type], ...]
    outputs: tuple[tuple[str, Type], ...]


@dataclass(frozen=True)
class CheckInfo:
    """`check NAME: forall inputs. body`, decided by z3 for every value of the inputs."""

    name: str
    inputs: tuple[tuple[str, Type], ...]
    body: ast.Expr
    span: Span


@dataclass(frozen=True)
class PropInfo:
    name: str
    kind: str  # invariant | cover
    expr: ast.Expr
    span: Span


@dataclass(frozen=True)
class LivenessInfo:
    """A checked `property`: over every value of `binders`, `premise` leads_to `goal` (premise None: always
    eventually goal)."""

    name: str
    binders: tuple[tuple[str, FiniteT], ...]
    premise: ast.Expr | None
    goal: ast.Expr
    span: Span
    text: str  # "P leads_to Q" / "always eventually P", for the description


@dataclass(frozen=True)
class ProcInfo:
    """A procedure: inlined at every call. `multi_step`: it has labels or loops (directly or through the procedures
    it calls), so it runs over several steps and may be called from process code only."""

    decl: ast.ProcDecl
    params: tuple[tuple[str, Type], ...]
    multi_step: bool


@dataclass(frozen=True)
class ProcessInfo:
    """A process: one instance per value of `params`, each with a program counter over `points` (check/steps.py).
    The counter is derived state: the lowering adds it after the declared variables."""

    name: str
    actor: str
    decl: ast.ProcessDecl
    params: tuple[tuple[str, FiniteT], ...]
    points: tuple  # tuple[steps.Point, ...]: the entry first, `done` last
    by_key: dict  # (call path, id(node)) -> point name
    labelled: bool
    pc_type: Type  # an enum of the point names

    def point_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.points)


@dataclass
class Model:
    name: str
    root_file: str
    params: dict[str, int]  # the values in force (bools as 0/1), after command-line overrides
    param_types: dict[str, Type]
    types: dict[str, Type]
    layouts: dict[str, Layout]
    vars: dict[str, VarInfo]
    slots: list[SlotInfo]
    actors: list[str]
    actions: list[ActionInfo]
    handlers: dict[str, HandlerInfo]
    defs: dict[str, DefInfo]
    props: list[PropInfo]
    expects: list[ast.ExpectDecl]
    enum_members: dict[str, tuple[Type, int]]
    expr_types: dict[int, Type] = field(default_factory=dict)  # id(ast node) -> type; the AST outlives the model
    warnings: list[Diagnostic] = field(default_factory=list)
    symmetric: dict[str, Span] = field(default_factory=dict)  # `symmetric type` names -> where declared
    liveness: list[LivenessInfo] = field(default_factory=list)
    tables: dict[str, TableInfo] = field(default_factory=dict)
    checks: list[CheckInfo] = field(default_factory=list)
    layout_findings: dict[str, tuple[Diagnostic, ...]] = field(default_factory=dict)  # the lint's warnings
    # declared names whose declaration had an error already reported: a use of one is not reported again
    broken: set[str] = field(default_factory=set)
    param_defaults: dict[str, int] = field(default_factory=dict)  # the values without command-line overrides
    observations: list = field(default_factory=list)  # check/observe.ObservationInfo: `observe` declarations
    # code-level constructs (check/code.py)
    procs: dict[str, ProcInfo] = field(default_factory=dict)
    processes: list[ProcessInfo] = field(default_factory=list)
    transitions: list[PropInfo] = field(default_factory=list)  # kind "transition": over old(x) and x
    terminals: list[ast.Expr] = field(default_factory=list)  # `terminal` predicates (or-ed)
    at_points: dict[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # id(at call) -> (process, points)

    def type_of(self, e: ast.Expr) -> Type:
        return self.expr_types[id(e)]


def layout_of(t: Type) -> Layout | None:
    return t.layout if isinstance(t, BitsT) else None
