"""The transition system every engine checks. Independent of the syntax: no AST node reaches an engine.

State is a flat tuple of ints, one per `StateVar` (array elements are separate state variables). An action
instance is an action with all its parameters fixed. Its body runs sequentially: later statements see earlier
assignments. `Check` statements are the step properties (slot ownership, MSR validity, asserts, type bounds); a
failed fatal check discards the step, a failed non-fatal one only records the violation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from ..check.types import Layout, Type
from ..diagnostics import Span

# ---------------------------------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Const:
    value: int


@dataclass(frozen=True)
class Var:
    """The current value of state variable `index` (in a body: after the assignments made so far)."""

    index: int


@dataclass(frozen=True)
class Local:
    name: str


# Operators. Arithmetic ones carry `width`: the result is taken modulo 2**width when width is not None.
ARITH = {"add", "sub", "mul", "div", "mod", "shl", "shr", "band", "bor", "bxor", "neg", "bnot"}
LOGIC = {"not", "and", "or", "implies"}
COMPARE = {"eq", "ne", "lt", "le", "gt", "ge"}
OTHER = {"ite", "popcount"}


@dataclass(frozen=True)
class Op:
    op: str
    args: tuple[Expr, ...]
    width: int | None = None


@dataclass(frozen=True)
class Extract:
    """Bits [lo, lo+width) of `arg`."""

    arg: Expr
    lo: int
    width: int


@dataclass(frozen=True)
class Insert:
    """`base` with bits [lo, lo+width) replaced by the low bits of `value`."""

    base: Expr
    lo: int
    width: int
    value: Expr


@dataclass(frozen=True)
class Select:
    """`options[index - base]`; the lowering guarantees the index lies in range."""

    options: tuple[Expr, ...]
    index: Expr
    base: int


Expr = Union[Const, Var, Local, Op, Extract, Insert, Select]

# ---------------------------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class Assign:
    var: int
    value: Expr
    span: Span


@dataclass(frozen=True)
class If:
    """With `tail`, each branch already holds the rest of the body (it came from a `choose` inside)."""

    cond: Expr
    then: tuple[Stmt, ...]
    else_: tuple[Stmt, ...]
    tail: bool = False


@dataclass(frozen=True)
class Let:
    name: str
    value: Expr


@dataclass(frozen=True)
class Choose:
    """Nondeterministic choice: one successor for each value of `name` in lo..hi that satisfies `where`."""

    name: str
    lo: int
    hi: int
    where: Expr
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class Check:
    """Step property `prop` must hold here. `detail` names the values shown when it fails. `prop` None: a fatal
    check whose property was left out (ir/select.py): it still stops the step, and reports nothing."""

    prop: int | None
    cond: Expr
    fatal: bool
    span: Span
    message: str
    detail: tuple[tuple[str, Expr], ...] = ()


Stmt = Union[Assign, If, Let, Choose, Check]

# ---------------------------------------------------------------------------------------------- the system


@dataclass(frozen=True)
class StateVar:
    name: str  # en[0], area[1]; derived: guest(0) (a program counter), done[0]@1, len(done[0]) (a queue)
    var: str  # the declared variable (the process, for a program counter)
    indices: tuple[int, ...]  # for a queue element: the array's indices, then the position
    type: Type
    span: Span
    role: str = ""  # "" a declared variable | "pc" a process's program counter | "queue" an element | "qlen"

    @property
    def layout(self) -> Layout | None:
        return getattr(self.type, "layout", None)


@dataclass(frozen=True)
class ActionInstance:
    id: int
    actor: str
    action: str
    args: tuple[tuple[str, int, str], ...]  # (name, value, value as the model shows it)
    guard: Expr
    body: tuple[Stmt, ...]
    span: Span
    fair: bool  # weak fairness (or strong, with `strong`): see engines/explicit/liveness.py
    strong: bool = False
    process: str | None = None  # a process step: the process, and the point the step starts at
    point: str | None = None

    @property
    def label(self) -> str:
        if self.process is not None:
            return f"{self.instance}@{self.point}"
        inner = ", ".join(f"{n}={shown}" for n, _, shown in self.args)
        return f"{self.actor}.{self.action}({inner})"

    @property
    def instance(self) -> str:
        """A process instance as the model writes it: guest(0) (guest for a process without parameters)."""
        if not self.args:
            return str(self.process)
        return f"{self.process}({', '.join(shown for _, _, shown in self.args)})"


# Property kinds: state properties are checked in every reachable state, step properties on every transition,
# liveness properties on the infinite fair runs of the reachable graph (their formulas live in
# TransitionSystem.liveness; the Property's `expr` is None).
# An invariant-like property must hold in every reachable state; a cover-like one must hold in some. The sanity
# findings (ir/sanity.py) are of these shapes: `deadlock` (some step is enabled, or a terminal state), `enabled`
# (an action or a process step is enabled somewhere), `premise` (an implication of an invariant has a premise that
# holds somewhere).
INVARIANT_KINDS = ("invariant", "deadlock")
COVER_KINDS = ("cover", "enabled", "premise")
SANITY_KINDS = ("deadlock", "enabled", "premise")
STATE_KINDS = INVARIANT_KINDS + COVER_KINDS
STEP_KINDS = ("slot", "msr", "assert", "type_ok", "shift_ok", "transition", "queue")
LIVENESS_KINDS = ("liveness",)


@dataclass(frozen=True)
class Property:
    id: int
    name: str
    kind: str  # invariant | cover | deadlock | enabled | premise | slot | msr | assert | type_ok | shift_ok |
    #            transition | queue | liveness | check | layout
    expr: Expr | None  # state properties: the predicate; step properties: None (they live in Check statements)
    span: Span
    description: str

    @property
    def is_step(self) -> bool:
        return self.kind in STEP_KINDS

    @property
    def is_invariant(self) -> bool:
        """Must hold in every reachable state (violated by one that fails it)."""
        return self.kind in INVARIANT_KINDS

    @property
    def is_cover(self) -> bool:
        """Must hold in some reachable state (reached by one that satisfies it, vacuous if none does)."""
        return self.kind in COVER_KINDS


@dataclass(frozen=True)
class LivenessInstance:
    """One value of a liveness property's `forall` binders: `premise` leads_to `goal` (always eventually G is
    `true` leads_to G)."""

    label: str  # "v=0, t=1"; "" without binders
    premise: Expr
    goal: Expr


@dataclass(frozen=True)
class Liveness:
    prop: int  # the Property (kind "liveness") this is the formula of
    kind: str  # leads_to | always_eventually
    instances: tuple[LivenessInstance, ...]


@dataclass(frozen=True)
class TableRule:
    name: str
    when: Expr  # over Local(param); TRUE for a rule without `when`
    values: tuple[Expr, ...]  # one per output, over Local(param)
    span: Span


@dataclass(frozen=True)
class Table:
    """A first-match decision table over its inputs (`Local`s named after its parameters). Calls are inlined as
    if-then-else chains; the table itself is kept for the z3 analysis of unmatched inputs and dead rules."""

    name: str
    inputs: tuple[tuple[str, Type], ...]
    outputs: tuple[tuple[str, Type], ...]  # a single output is named ""
    rules: tuple[TableRule, ...]
    span: Span


@dataclass(frozen=True)
class TableCall:
    """A call of `table` inside a `check`: shown with the rule it picks when the check fails."""

    table: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class InputCheck:
    """`check`: `expr` (over Local(input)) holds for every value of `inputs`. Not a property of the transition
    system: it is decided by z3 once, whatever the engine, and its result is listed after the engine's."""

    prop: Property  # kind "check"; its id follows the transition system's properties
    inputs: tuple[tuple[str, Type], ...]
    expr: Expr
    calls: tuple[TableCall, ...]


@dataclass(frozen=True)
class LayoutFinding:
    """`layout:NAME`: what the layout lint found in a register or struct (overlaps, gaps, fields past the declared
    size, misalignment). A property decided before any engine runs: violated, with these findings."""

    prop: Property  # kind "layout"; its id follows the `check`s'
    findings: tuple[tuple[str, str, Span], ...]  # (code, message, where)

    @property
    def defects(self) -> bool:
        """Overlapping, out-of-bounds or misaligned fields are defects: the property is violated. Bits or bytes
        no field covers (KV405) are reserved or undocumented: noted, and the property holds."""
        return any(code != "KV405" for code, _, _ in self.findings)


@dataclass(frozen=True)
class Deadlock:
    """The derived property `deadlock` (kind "deadlock", expr `enabled_1 || ... || terminal`), kept in pieces for
    the engines that split the model (independent parts check it part by part)."""

    prop: int
    enabled: tuple[tuple[int, Expr], ...]  # (action instance id, when it can take a step: ir/enabled.py)
    terminal: Expr  # the states where no enabled step is intended: `terminal` declarations, every process done


@dataclass(frozen=True)
class TransitionSystem:
    name: str
    params: tuple[tuple[str, int, str], ...]  # (name, value, value as shown: true/false, 0xffffffff)
    vars: tuple[StateVar, ...]
    init: tuple[tuple[int, ...], ...]
    actions: tuple[ActionInstance, ...]
    properties: tuple[Property, ...]
    expects: tuple[tuple[str, str, Span], ...]  # (property name, verdict, where the annotation is)
    actors: tuple[str, ...]
    symmetries: tuple = ()  # tuple[symmetry.Symmetry, ...]: checked permutation symmetries of the state
    liveness: tuple[Liveness, ...] = ()  # weak fairness: per ActionInstance with `fair` set
    tables: tuple[Table, ...] = ()
    checks: tuple[InputCheck, ...] = ()
    layouts: tuple[Layout, ...] = ()  # every register, word and struct layout: for explaining violations
    lint: tuple[LayoutFinding, ...] = ()  # `layout:` properties: what the layout lint found
    notes: tuple[str, ...] = ()  # what lowering found that every result should say (an assert no step reaches)
    deadlock: Deadlock | None = None

    def prop(self, name: str) -> Property | None:
        return next((p for p in self.properties if p.name == name), None)
