"""The front half of every command: file -> checked model -> transition system, with every diagnostic."""
from __future__ import annotations

from dataclasses import dataclass

from .check.checker import check
from .check.loader import load
from .check.model import Model
from .diagnostics import Diagnostic, DiagnosticError, Sources, Span
from .ir.lower import lower
from .ir.nodes import TransitionSystem


@dataclass
class Compiled:
    model: Model
    system: TransitionSystem
    warnings: list[Diagnostic]


def compile_model(path: str, overrides: dict[str, int], sources: Sources) -> Compiled:
    """Raises DiagnosticError carrying every error (and the warnings found before them)."""
    try:
        loaded = load(path, sources)
        model = check(loaded, overrides)
        system = lower(model)
    except RecursionError:
        raise DiagnosticError([Diagnostic("KV105", "error", "the model nests expressions or statements too deeply",
                                          Span(path, 1, 1, 1, 1), "split deep expressions with `let` or `def`")])
    return Compiled(model, system, model.warnings)
