"""One model's outcome in a `kvmverify check` run: what JUnit, SARIF and the summary table are made from."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import Diagnostic, Sources
from ..engines.shared.result import CheckResult, PropertyResult
from ..ir.nodes import TransitionSystem


@dataclass
class ModelRun:
    path: str  # as given on the command line (or found in a directory)
    system: TransitionSystem | None = None  # None: the model did not compile
    result: CheckResult | None = None
    errors: tuple[Diagnostic, ...] = ()  # why it did not compile
    warnings: tuple[Diagnostic, ...] = ()  # lint findings
    sources: Sources = field(default_factory=Sources)
    seconds: float = 0.0  # wall-clock time of the search; never written to an export file unless asked

    @property
    def model_name(self) -> str:
        return self.system.name if self.system is not None else self.path


def verdict_text(r: PropertyResult) -> str:
    """One line for reports: `violated (3-step trace; exhaustive, 13 states, depth 5), expected violated`."""
    what = r.status
    parts = []
    if r.trace is not None:
        parts.append(f"{r.trace.length}-step trace")
    if r.witness is not None:
        parts.append("input " + ", ".join(f"{n}={v}" for n, v in r.witness.inputs))
    parts.extend(f"{code}: {message} ({span})" for code, message, span in r.findings)
    parts.append(r.coverage.describe())
    if r.status == "unknown":
        what = "undecided"
    text = f"{what} ({'; '.join(parts)})"
    if r.expected is not None:
        text += f", as expected ({r.expected})" if r.as_expected else f", but expected {r.expected}"
    return text
