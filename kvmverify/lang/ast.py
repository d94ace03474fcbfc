"""The abstract syntax of .kv files: frozen dataclasses, each carrying the span it was parsed from.

Nothing outside `lang/` sees a lark object; this module is what the parser hands on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union, assert_never

from ..diagnostics import Span

# ---------------------------------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class IntLit:
    span: Span
    value: int


@dataclass(frozen=True)
class BoolLit:
    span: Span
    value: bool


@dataclass(frozen=True)
class Name:
    span: Span
    id: str


@dataclass(frozen=True)
class Index:
    span: Span
    base: Expr
    index: Expr


@dataclass(frozen=True)
class Field:
    span: Span
    base: Expr
    name: str


@dataclass(frozen=True)
class Call:
    span: Span
    func: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Unary:
    span: Span
    op: str  # "!", "-", "~"
    operand: Expr


@dataclass(frozen=True)
class Binary:
    span: Span
    op: str  # + - * / % << >> & | ^ == != < <= > >= && || -> in
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Ternary:
    span: Span
    cond: Expr
    then: Expr
    else_: Expr


@dataclass(frozen=True)
class SetLit:
    span: Span
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class RecordItem:
    span: Span
    name: str
    value: Expr


@dataclass(frozen=True)
class RecordLit:
    span: Span
    items: tuple[RecordItem, ...]


@dataclass(frozen=True)
class Binder:
    span: Span
    name: str
    type_name: Name


@dataclass(frozen=True)
class Quant:
    span: Span
    kind: str  # "forall" | "exists"
    binders: tuple[Binder, ...]
    body: Expr


@dataclass(frozen=True)
class LeadsTo:
    """`P leads_to Q`: whenever P holds, Q holds then or later. Temporal: only at the top of a `property`."""

    span: Span
    left: Expr
    right: Expr


@dataclass(frozen=True)
class AlwaysEventually:
    """`always eventually P`: P holds infinitely often. Temporal: only at the top of a `property`."""

    span: Span
    body: Expr


@dataclass(frozen=True)
class ListLit:
    """`[a, b]`: a queue's contents, head first (an initial value only)."""

    span: Span
    items: tuple[Expr, ...]


Expr = Union[IntLit, BoolLit, Name, Index, Field, Call, Unary, Binary, Ternary, SetLit, RecordLit, Quant, LeadsTo,
             AlwaysEventually, ListLit]


def walk(e: Expr):
    """`e` and every expression inside it, outermost first."""
    yield e
    for c in children(e):
        yield from walk(c)


def children(e: Expr) -> tuple[Expr, ...]:
    """The direct subexpressions of `e`."""
    match e:
        case IntLit() | BoolLit() | Name():
            return ()
        case Index(_, base, index):
            return (base, index)
        case Field(_, base, _):
            return (base,)
        case Call(_, _, args):
            return tuple(args)
        case Unary(_, _, x):
            return (x,)
        case Binary(_, _, left, right) | LeadsTo(_, left, right):
            return (left, right)
        case Ternary(_, c, t, f):
            return (c, t, f)
        case SetLit(_, items) | ListLit(_, items):
            return tuple(items)
        case RecordLit(_, items):
            return tuple(i.value for i in items)
        case Quant(_, _, _, body) | AlwaysEventually(_, body):
            return (body,)
        case _:
            assert_never(e)

# ---------------------------------------------------------------------------------------------- types


@dataclass(frozen=True)
class ExprType:
    """A type written as an expression: a type name, or `{A, B}` for an enum."""

    span: Span
    expr: Expr


@dataclass(frozen=True)
class RangeType:
    span: Span
    lo: Expr
    hi: Expr


@dataclass(frozen=True)
class SetType:
    span: Span
    elem: TypeExpr


@dataclass(frozen=True)
class QueueType:
    """`queue[N] of T`: a FIFO of at most N elements."""

    span: Span
    size: Expr
    elem: TypeExpr


@dataclass(frozen=True)
class OptionType:
    """`option T`: a value of T, or `none`."""

    span: Span
    elem: TypeExpr


TypeExpr = Union[ExprType, RangeType, SetType, QueueType, OptionType]

# ---------------------------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class Assign:
    span: Span
    target: Expr
    value: Expr


@dataclass(frozen=True)
class If:
    span: Span
    cond: Expr
    then: tuple[Stmt, ...]
    else_: tuple[Stmt, ...]


@dataclass(frozen=True)
class Assert:
    span: Span
    name: str | None
    cond: Expr
    message: str | None


@dataclass(frozen=True)
class Let:
    span: Span
    name: str
    value: Expr


@dataclass(frozen=True)
class Choose:
    span: Span
    name: str
    type: TypeExpr
    where: Expr | None
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class For:
    """`for t: Token { ... }`: the body once per value, in order (unrolled)."""

    span: Span
    name: str
    type: TypeExpr
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class Write:
    span: Span
    register: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Skip:
    span: Span


# ---------------------------------------------------------------------------------------------- code-level statements


@dataclass(frozen=True)
class While:
    """`while c { ... }`: process code only (a step must end; see check/process.py for where steps end)."""

    span: Span
    cond: Expr
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class Await:
    """`await c`: the path goes on only if c holds (a step that reaches a false `await` does not happen)."""

    span: Span
    cond: Expr


@dataclass(frozen=True)
class Atomic:
    """`atomic { ... }`: no step boundary inside (labels are refused there)."""

    span: Span
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class Label:
    """`L:` in process code: a step starts here."""

    span: Span
    name: str


@dataclass(frozen=True)
class CallStmt:
    """`f(args)` as a statement: a `proc` call, or push(q, x) / pop(q) / clear(q) on a queue."""

    span: Span
    func: str
    args: tuple[Expr, ...]


Stmt = Union[Assign, If, Assert, Let, Choose, For, Write, Skip, While, Await, Atomic, Label, CallStmt]


def sub_blocks(s: Stmt) -> tuple[tuple[Stmt, ...], ...]:
    """The statement lists directly inside `s` (an `if`'s two branches, a loop's body, ...)."""
    match s:
        case If(_, _, then, else_):
            return (then, else_)
        case Choose(_, _, _, _, body) | For(_, _, _, body) | While(_, _, body) | Atomic(_, body):
            return (body,)
    return ()

# ---------------------------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class ModelDecl:
    span: Span
    name: str


@dataclass(frozen=True)
class UseDecl:
    span: Span
    path: str


@dataclass(frozen=True)
class ParamDecl:
    span: Span
    name: str
    value: Expr


@dataclass(frozen=True)
class OverrideDecl:
    """`override NAME = value` sets a param declared in a used file (a model variant); --param still wins."""

    span: Span
    name: str
    value: Expr


@dataclass(frozen=True)
class TypeDecl:
    span: Span
    name: str
    type: TypeExpr
    symmetric: bool = False  # a scalarset: the model never tells its values apart, so states are equal up to
    #                          permutations of them (checked on the IR, used by the explicit engine)


@dataclass(frozen=True)
class RegField:
    span: Span
    name: str
    hi: int
    lo: int
    requires: str | None
    must_be: int | None


@dataclass(frozen=True)
class RegisterDecl:
    span: Span
    name: str
    address: int
    width: int
    fields: tuple[RegField, ...]


@dataclass(frozen=True)
class WordDecl:
    """`word NAME : WIDTH { field @ bit }`: a register-like bit layout of a word in memory, with no MSR address
    (PV EOI's flag word, steal time's `preempted` byte); a type for variables, never `write`n."""

    span: Span
    name: str
    width: int
    fields: tuple[RegField, ...]


@dataclass(frozen=True)
class StructField:
    span: Span
    name: str
    ctype: str
    count: int | None  # `u8[56]` has count 56
    offset: int


@dataclass(frozen=True)
class StructDecl:
    span: Span
    name: str
    size: int
    fields: tuple[StructField, ...]


@dataclass(frozen=True)
class VarDecl:
    span: Span
    name: str
    indices: tuple[TypeExpr, ...]
    type: TypeExpr
    init: Expr


@dataclass(frozen=True)
class SlotDecl:
    """`slot area[*].token : empty 0, filled by host, emptied by guest`; path steps are "*" or field names."""

    span: Span
    var: str
    path: tuple[str, ...]
    empty: Expr
    filler: str
    emptier: str
    filler_span: Span
    emptier_span: Span


@dataclass(frozen=True)
class Param:
    span: Span
    name: str
    type: TypeExpr | None


@dataclass(frozen=True)
class ActionDecl:
    span: Span
    name: str
    params: tuple[Param, ...]
    guard: Expr | None
    body: tuple[Stmt, ...]
    fair: bool
    strong: bool = False  # `strong fair`: taken infinitely often when enabled infinitely often


@dataclass(frozen=True)
class HandlerDecl:
    span: Span
    register: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class ProcessDecl:
    """`[fair] process NAME(p: T, ...) { code }`: one instance per parameter value, running `body` step by step.
    `actor` is the actor it acts as (the enclosing `actor`, or for a top-level process its own name)."""

    span: Span
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    fair: bool
    strong: bool
    actor: str


@dataclass(frozen=True)
class ProcDecl:
    """`proc NAME(p: T, ...) { statements }`: a procedure, inlined at each call."""

    span: Span
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class TransitionDecl:
    """`transition NAME: expr`: holds on every step; `old(e)` is e in the state before the step."""

    span: Span
    name: str
    expr: Expr


@dataclass(frozen=True)
class TerminalDecl:
    """`terminal expr`: a state satisfying it may have no enabled step (an intended end, not a deadlock)."""

    span: Span
    expr: Expr


@dataclass(frozen=True)
class ActorDecl:
    span: Span
    name: str
    actions: tuple[ActionDecl, ...]
    handlers: tuple[HandlerDecl, ...]
    processes: tuple[ProcessDecl, ...] = ()


@dataclass(frozen=True)
class DefDecl:
    span: Span
    name: str
    params: tuple[Param, ...]
    body: Expr


@dataclass(frozen=True)
class Rule:
    """`rule NAME [when COND] => VALUE`: `values` has one expression per output of the table."""

    span: Span
    name: str
    when: Expr | None
    values: tuple[Expr, ...]


@dataclass(frozen=True)
class DecideDecl:
    """A first-match decision table. `outputs` are (name, type) params; a single output has the name ""."""

    span: Span
    name: str
    params: tuple[Param, ...]
    tupled: bool  # `-> (a: T, b: U)`: a call names the output it wants, `f(...).b`
    outputs: tuple[Param, ...]
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class CheckDecl:
    """`check NAME: forall a: T, ... . P`, decided by z3 over every value of the binders."""

    span: Span
    name: str
    expr: Expr


@dataclass(frozen=True)
class InvariantDecl:
    span: Span
    name: str
    expr: Expr


@dataclass(frozen=True)
class CoverDecl:
    span: Span
    name: str
    expr: Expr


@dataclass(frozen=True)
class LivenessDecl:
    """`property NAME: [forall x: T.] P leads_to Q` (or `always eventually P`), checked under the `fair` actions."""

    span: Span
    name: str
    expr: Expr


@dataclass(frozen=True)
class ExpectDecl:
    span: Span
    verdict: str  # "violated" | "holds" | "vacuous"
    prop: str


# ---------------------------------------------------------------------------------------------- observations


@dataclass(frozen=True)
class ObserveField:
    span: Span
    name: str


@dataclass(frozen=True)
class ObserveArg:
    """`param: value`: an expression over the event's fields, `id(expr)` or `_` (told apart by the checker)."""

    span: Span
    name: str
    value: Expr


@dataclass(frozen=True)
class ObserveDecl:
    """`observe EVENT(fields) [when COND] => actor.action(args)`: a tracepoint of a recorded log is that action."""

    span: Span
    event: str
    fields: tuple[ObserveField, ...]
    when: Expr | None
    actor: str
    action: str
    args: tuple[ObserveArg, ...]
    target_span: Span


Decl = Union[ModelDecl, UseDecl, ParamDecl, OverrideDecl, TypeDecl, RegisterDecl, WordDecl, StructDecl, VarDecl, SlotDecl, ActorDecl,
             DefDecl, InvariantDecl, CoverDecl, ExpectDecl, LivenessDecl, DecideDecl, CheckDecl, ObserveDecl,
             ProcessDecl, ProcDecl, TransitionDecl, TerminalDecl]


@dataclass(frozen=True)
class File:
    path: str
    decls: tuple[Decl, ...]
