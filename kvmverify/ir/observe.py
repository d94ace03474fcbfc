"""The observations of a checked model as a table beside its transition system (for `kvmverify conform`).

Lowering the model itself is unchanged: an observation refers to the action instances `lower` made, by actor,
action and argument values, and its `when` and argument expressions become IR expressions over `Local(field)`.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..check.model import Model
from ..check.observe import ObservationInfo
from ..check.types import domain_lo, domain_size, show_value
from ..diagnostics import Span
from . import nodes as ir
from .lower import Lowering


@dataclass(frozen=True)
class ObservedParam:
    name: str
    kind: str  # value | id | any
    expr: ir.Expr | None  # over Local(field): the value, or the identifier of an `id`
    lo: int  # the parameter's values are lo .. lo + size - 1
    size: int
    namespace: str  # ids of one namespace (the parameter's type) share their bindings
    shown: tuple[str, ...]  # each value as the model writes it
    text: str = ""  # the argument's expression as written (`pid` for `v: id(pid)`)


@dataclass(frozen=True)
class Observation:
    index: int
    event: str
    fields: tuple[str, ...]
    when: ir.Expr | None
    actor: str
    action: str
    params: tuple[ObservedParam, ...]
    instances: dict  # tuple of argument values (in parameter order) -> action instance id
    span: Span
    text: str  # `observe ... => host.page_ready(...)` as written, for reports

    @property
    def label(self) -> str:
        return f"{self.actor}.{self.action}"


def lower_observations(model: Model, ts: ir.TransitionSystem, source_line=None) -> tuple[Observation, ...]:
    """`source_line(span) -> str | None` gives the declaration's text for reports."""
    low = Lowering(model)
    low.flatten()
    out = []
    for k, info in enumerate(model.observations):
        out.append(_lower_one(low, ts, k, info, source_line))
    return tuple(out)


def _lower_one(low: Lowering, ts: ir.TransitionSystem, k: int, info: ObservationInfo, source_line) -> Observation:
    d = info.decl
    env = {f: ir.Local(f) for f in info.fields}
    params = []
    for a in info.args:
        t = a.type
        lo, size = domain_lo(t), domain_size(t)
        name = getattr(t, "name", "") or f"{d.actor}.{d.action}.{a.param}"
        shown = tuple(show_value(t, lo + i) for i in range(size))
        expr = low.expr(a.expr, env) if a.expr is not None else None
        text = (source_line(a.expr.span) if source_line is not None and a.expr is not None else None) or ""
        params.append(ObservedParam(a.param, a.kind, expr, lo, size, name, shown, text))
    instances = {}
    for inst in ts.actions:
        if inst.actor == d.actor and inst.action == d.action:
            instances[tuple(v for _, v, _ in inst.args)] = inst.id
    when = low.expr(d.when, env) if d.when is not None else None
    text = (source_line(d.span) if source_line is not None else None) or f"observe {d.event}(...) => {d.actor}.{d.action}"
    return Observation(k, d.event, info.fields, when, d.actor, d.action, tuple(params), instances, d.span,
                       text.strip())
