"""The front half of every command: file -> checked model -> transition system, with every diagnostic."""
from __future__ import annotations

from dataclasses import dataclass

from .check.checker import check
from .check.loader import display_path, load
from .check.model import Model
from .diagnostics import Diagnostic, DiagnosticError, Sources
from .ir.limits import model_limits, system_limits
from .ir.lower import lower
from .ir.nodes import TransitionSystem
from .lang.parser import deepest_nesting, too_deep


@dataclass
class Compiled:
    model: Model
    system: TransitionSystem
    warnings: list[Diagnostic]


def compile_model(path: str, overrides: dict[str, int], sources: Sources) -> Compiled:
    """Raises DiagnosticError carrying every error (and the warnings found before them)."""
    warnings: list[Diagnostic] = []
    try:
        loaded = load(path, sources)
        warnings.extend(loaded.warnings)
        model = check(loaded, overrides)
        warnings.extend(model.warnings)
        if too_big := model_limits(model):  # before lowering: lowering a too large model is what takes too long
            raise DiagnosticError(too_big)
        system = lower(model)
        if too_deep_ir := system_limits(system):
            raise DiagnosticError(too_deep_ir)
        if system.tables:  # z3 only for models with decision tables
            from .engines.symbolic.decide import table_findings
            findings = table_findings(system)
            warnings.extend(d for d in findings if not d.is_error)
            if any(d.is_error for d in findings):
                raise DiagnosticError([d for d in findings if d.is_error])
    except RecursionError:
        # the file with the deepest nesting is the likely culprit (any file the model uses may be)
        shown, text = max(sources.texts.items(), key=lambda kv: deepest_nesting(kv[1])[0],
                          default=(display_path(path), ""))
        raise DiagnosticError([*warnings, too_deep(shown, text)]) from None
    except DiagnosticError as e:
        raise DiagnosticError([*warnings, *e.diagnostics]) from None
    return Compiled(model, system, warnings)
