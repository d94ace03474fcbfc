"""What every engine returns: a verdict per property with the coverage behind it, stats, and traces. No printing."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ...diagnostics import Span
from ...ir.nodes import Property


@dataclass(frozen=True)
class Step:
    """A state, and the action instance that led to it (None for an initial state).

    The last step of a trace for a step property is the violating transition; its `state` is the state the step
    would have produced, or None if the failure stopped the step.
    """

    action: int | None
    state: tuple[int, ...] | None


@dataclass(frozen=True)
class Violation:
    message: str
    detail: tuple[tuple[str, int], ...] = ()
    span: Span | None = None  # step properties: the statement whose check failed


DEADLOCK_MESSAGE = "no action or process step is enabled, and no terminal condition holds"


def state_violation(p: Property) -> Violation:
    """How a violated state property's last state is described."""
    if p.kind == "deadlock":
        return Violation(DEADLOCK_MESSAGE)
    return Violation(f"{p.name} is false in the last state")


@dataclass(frozen=True)
class Trace:
    steps: tuple[Step, ...]
    loop: int | None = None  # lasso traces (liveness): index of the step the last state returns to
    violation: Violation | None = None
    # lasso traces: the action instance taking the last state back to steps[loop].state; None with a loop means
    # no action is enabled in the last state (a deadlock: the run stays there forever)
    loop_action: int | None = None

    @property
    def length(self) -> int:
        """Number of transitions."""
        return len(self.steps) - 1


def show_count(n: int) -> str:
    """A number of inputs: exact while small, else as a power of two."""
    if n < 1 << 20:
        return str(n)
    return f"2^{n.bit_length() - 1}" if n & (n - 1) == 0 else f"~2^{math.log2(n):.1f}"


@dataclass(frozen=True)
class Witness:
    """A `check`'s counterexample: the input values, and for each table call in the check what it returned and
    by which rule."""

    inputs: tuple[tuple[str, str], ...]  # (name, value as the model writes it)
    calls: tuple[str, ...]  # "ept_memtype(mmio=false, ...) = (mt=WB, ipat=false) by rule cd_quirk (m.kv:40)"


@dataclass(frozen=True)
class Coverage:
    """What a verdict rests on. `bound` names the limit that stopped a search, if any."""

    # exhaustive | bounded | k-induction | pdr | fair-lassos (liveness over the whole state graph) |
    # cti (k-induction failed: counterexample to induction) |
    # shortest (a z3 counterexample that BMC found shortest: no shorter run fails) | unsupported |
    # all-inputs (a `check`, decided by z3 for every input; `states` counts the inputs) |
    # lasso (a fair lasso BMC found, `depth` transitions, none shorter) | lasso-bounded (BMC found none up to `depth`)
    kind: str
    states: int | None = None
    depth: int | None = None
    k: int | None = None
    invariant: str | None = None
    bound: str | None = None  # max-states | max-depth | timeout | max-memory | interrupted
    reduction: str | None = None  # "symmetry of Vcpu": states counts one state per orbit
    parts: tuple[int, ...] | None = None  # independent parts explored one at a time: their state counts

    def describe(self) -> str:
        match self.kind:
            case "exhaustive":
                return f"exhaustive, {self.states} states{self._up_to()}, depth {self.depth}"
            case "bounded":
                why = f", stopped by {self.bound}" if self.bound else ""
                states = f", {self.states} states{self._up_to()}" if self.states is not None else ""
                return f"no violation up to depth {self.depth}{states}{why}"
            case "k-induction":
                return f"proved (k-induction, k={self.k})"
            case "pdr":
                if self.invariant is None:
                    return f"PDR gave up ({self.bound or 'see the notes'})"
                return f"proved (PDR, invariant: {' && '.join(self.invariant.splitlines())})"
            case "fair-lassos":
                return f"exhaustive, fair lassos searched in {self.states} states{self._up_to()}"
            case "cti":
                why = f", stopped by {self.bound}" if self.bound else ""
                return f"counterexample to induction at k={self.k}{why}"
            case "shortest":
                return f"shortest counterexample (BMC, none shorter than {self.depth} step(s))"
            case "all-inputs":
                if self.bound is not None:
                    return f"z3 gave no answer ({self.bound})"
                return f"all {show_count(self.states or 0)} inputs (z3)"
            case "lasso":
                return f"fair lasso of {self.depth} transition(s) (BMC, no shorter one)"
            case "lasso-bounded":
                why = f", stopped by {self.bound}" if self.bound else ""
                return f"no fair lasso up to depth {self.depth} (BMC{why}); only --engine explicit proves liveness"
            case "lint":
                return f"layout lint, {self.states} finding(s)" if self.states else "layout lint"
            case "unsupported":
                return "liveness: decided by --engine explicit (--engine bmc searches for lassos)"
        return self.kind

    def _up_to(self) -> str:
        if self.parts:
            return f" ({' x '.join(str(n) for n in self.parts)}: independent parts)"
        return f" (up to {self.reduction})" if self.reduction else ""


# statuses: holds | violated | reached | vacuous | unknown
@dataclass(frozen=True)
class PropertyResult:
    prop: Property
    status: str
    coverage: Coverage
    trace: Trace | None = None
    expected: str | None = None  # the model's `expect` annotation, if any
    witness: Witness | None = None  # a violated `check`: the input that breaks it
    findings: tuple[tuple[str, str, Span], ...] = ()  # a violated `layout:` property: (code, message, where)

    @property
    def as_expected(self) -> bool:
        """Does this result meet the model's expectation (or, without one, pass)?"""
        if self.expected is None:
            return self.status in ("holds", "reached")
        if self.expected == "violated":
            return self.status == "violated"
        if self.expected == "vacuous":
            return self.status == "vacuous"
        return self.status in ("holds", "reached")


@dataclass(frozen=True)
class Stats:
    states: int
    transitions: int
    depth: int
    seconds: float
    peak_rss_mb: float | None = None


@dataclass(frozen=True)
class CheckResult:
    engine: str
    results: tuple[PropertyResult, ...]
    stats: Stats
    bound: str | None = None  # the resource limit that stopped the run, if one did
    notes: tuple[str, ...] = field(default=())
    reduction: str | None = None  # how states were counted: "symmetry of Vcpu" = one per orbit
    # k-induction that failed: the counterexample to induction (k good states, then a bad one; not necessarily
    # reachable) and the properties its last state breaks
    cti: tuple[Trace, tuple[str, ...]] | None = None

    @property
    def exit_code(self) -> int:
        """0 all as expected; 1 a property failed; 4 no failure, but a bound left some result undecided."""
        if any(not r.as_expected and r.status != "unknown" for r in self.results):
            return 1
        if any(r.status == "unknown" for r in self.results):
            return 4
        return 0
