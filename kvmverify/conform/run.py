"""`kvmverify conform MODEL TRACE`: compile, read the log, search, and rebuild the witness or the failure."""
from __future__ import annotations

import gc
from dataclasses import dataclass, field

from ..check.model import Model
from ..diagnostics import Diagnostic, DiagnosticError, Sources, Span
from ..engines.explicit.search import Explorer
from ..engines.shared.limits import Interrupt
from ..engines.shared.replay import path_problem
from ..engines.shared.result import Step, Trace
from ..ir import nodes as ir
from ..ir.observe import Observation, lower_observations
from ..pipeline import compile_model
from .explain import Failure, explain, span_text
from .log import TraceLog, read_trace
from .match import Matched, match_events
from .search import ConformSearch, SearchOutcome
from .witness import witness as build_witness

DEFAULT_MAX_STATES = 1_000_000  # states in one closed set: past this the search stops (exit 4)


@dataclass(frozen=True)
class Binding:
    namespace: str
    raw: int
    value: str  # as the model shows it
    first: int  # log lines
    last: int
    source: str = ""  # the identifier's expression (`token`, `pid`)

    @property
    def shown_raw(self) -> str:
        """pids and CPUs in decimal, as the log prints them; everything else (tokens) in hex."""
        return str(self.raw) if self.source in ("pid", "cpu") or self.raw < 1024 else hex(self.raw)


@dataclass
class ConformRun:
    model_path: str
    trace_path: str
    sources: Sources
    model: Model
    system: ir.TransitionSystem
    observations: tuple[Observation, ...]
    log: TraceLog
    matched: Matched
    outcome: SearchOutcome
    witness: Trace | None = None
    step_events: tuple = ()  # per witness step: the index into matched.events of the event it explains, or None
    bindings: tuple[Binding, ...] = ()
    failure: Failure | None = None
    replay_problem: str | None = None
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.outcome.status

    @property
    def steps(self) -> int:
        return self.witness.length if self.witness is not None else 0


def conform(model_path: str, trace_path: str, overrides: dict[str, int], sources: Sources, fmt: str = "auto",
            max_states: int | None = DEFAULT_MAX_STATES, timeout: float | None = None,
            interrupt: Interrupt | None = None, symmetry: bool = True) -> ConformRun:
    """Raises DiagnosticError for a model or log that cannot be read (every diagnostic of the phase); `sources`
    keeps the text of every file read, for the diagnostics' carets."""
    # a long log makes millions of small objects and no cycles: the cyclic collector would only rescan them
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _conform(model_path, trace_path, overrides, sources, fmt, max_states, timeout, interrupt, symmetry)
    finally:
        if enabled:
            gc.enable()


def _conform(model_path: str, trace_path: str, overrides: dict[str, int], sources: Sources, fmt: str,
             max_states: int | None, timeout: float | None, interrupt: Interrupt | None,
             symmetry: bool) -> ConformRun:
    compiled = compile_model(model_path, overrides, sources)
    model, ts = compiled.model, compiled.system
    if not model.observations:
        raise DiagnosticError([*compiled.warnings, Diagnostic(
            "KV365", "error", f"model {ts.name} observes no tracepoint: `kvmverify conform` needs `observe` "
            "declarations", Span(model.root_file, 1, 1, 1, 1),
            "e.g. observe kvm_async_pf_ready(token, pid) => host.page_ready(v: id(pid), t: id(token)) "
            "(docs/conform.md)")])
    observations = lower_observations(model, ts, lambda span: span_text(sources, span))
    log = read_trace(trace_path, sources, fmt, {o.event for o in observations})
    matched = match_events(ts, observations, log.events, log.others)
    search = ConformSearch(ts, observations, symmetry=symmetry)
    outcome = search.run(matched, max_states, timeout, interrupt)
    run = ConformRun(model_path, log.path, sources, model, ts, observations, log, matched, outcome,
                     warnings=[*compiled.warnings, *log.warnings])
    if not matched.events:
        return run
    if outcome.processed or outcome.status == "conforms":
        _witness(run, search)
    if outcome.status == "not-conform":
        k = outcome.processed
        run.failure = explain(search, outcome, matched.matches[k], k, model, sources,
                              lambda key: describe_key(run, key))
    return run


def _witness(run: ConformRun, search: ConformSearch) -> None:
    steps = build_witness(search, run.outcome)
    insts, states, evs = zip(*steps)  # per step: the instance, the state, the event it explains or None
    run.witness = Trace(tuple(map(Step, insts, states)))
    run.step_events = evs
    # the interpreter replays the run: every step is a transition of the model from an initial state
    problem = path_problem(_Replayer(run.system), states, insts[1:])
    run.replay_problem = problem[0] if problem is not None else _observed_problem(run, steps)
    run.bindings = _bindings(run, insts, evs)


class _Replayer(Explorer):
    """The interpreter, remembering the successors of each state by instance: a witness of a long periodic log
    visits the same states again and again (10,175 distinct states, 21,056 distinct (state, instance) steps in
    a 120,675-step witness: one call of the successor function per state, not per step)."""

    def __init__(self, ts: ir.TransitionSystem):
        super().__init__(ts, symmetry=False)
        self.memo: dict[tuple, dict[int, list]] = {}

    def step(self, state: tuple[int, ...], action: int):
        by_instance = self.memo.get(state)
        if by_instance is None:
            by_instance = self.memo[state] = {}
            out, _ = self.successors(state)
            for k, t in out:  # Explorer.step's lists, for every instance at once
                by_instance.setdefault(k, []).append(t)
        return by_instance.get(action, [])


def _observed_problem(run: ConformRun, steps) -> str | None:
    """Each observed event's step is an instance one of its matching observations names, in log order."""
    actions = run.system.actions
    observed_actions = {(o.actor, o.action) for o in run.observations}
    observed = {a.id for a in actions if (a.actor, a.action) in observed_actions}  # instances an event explains
    named = [frozenset(o.instances.values()) for o in run.observations]  # per observation, the instances it names
    matches = run.matched.matches
    expected = 0
    for inst, _, ev in steps:
        if ev is None:
            if inst in observed:
                return f"{actions[inst].label} is observed but explains no event"
            continue
        if ev != expected:
            return f"event {ev} explained out of order"
        for m in matches[ev]:  # a loop, not any(): this runs for every event of the log
            if inst in named[m.obs]:
                break
        else:
            return f"line {run.matched.events[ev].line} is explained by {actions[inst].label}, which no " \
                   "matching observation names"
        expected += 1
    return None if expected == run.outcome.processed else "the witness explains too few events"


def _bindings(run: ConformRun, insts: tuple, evs: tuple) -> tuple[Binding, ...]:
    """The identifiers of the log the witness bound, with the model value each stood for: each is bound by the
    first step (in the witness's order) whose observation names it, the first of the event's matches that
    names the step's instance."""
    explained = [(ev, inst) for inst, ev in zip(insts, evs) if ev is not None]
    if run.replay_problem is None:
        # The witness explains event k at its k-th event step (checked above). An identifier is normally bound
        # by the event it first appears in: only those events are read (10,000 rather than 100,000), and should
        # any identifier not be bound there, every event is read as above.
        live = run.matched.live
        firsts = sorted({first for first, _ in live.values() if first < len(explained)})
        out, at = _bind(run, [explained[k] for k in firsts])
        if all(at.get(ident) == first for ident, (first, _) in live.items() if first < len(explained)):
            return tuple(sorted(out.values(), key=lambda b: (b.first, b.namespace, b.raw)))
    out, _ = _bind(run, explained)
    return tuple(sorted(out.values(), key=lambda b: (b.first, b.namespace, b.raw)))


def _bind(run: ConformRun, explained: list[tuple[int, int]]) -> tuple[dict, dict]:
    """The bindings the (event, instance) steps make, in order: ident -> Binding, and ident -> the event."""
    out: dict[tuple, Binding] = {}
    at: dict[tuple, int] = {}
    events = run.matched.events
    args_of = [tuple(v for _, v, _ in a.args) for a in run.system.actions]
    id_params = [[(i, p) for i, p in enumerate(o.params) if p.kind == "id"] for o in run.observations]
    for ev, inst in explained:
        args = args_of[inst]
        for m in run.matched.matches[ev]:
            o = run.observations[m.obs]
            if o.instances.get(args) != inst:
                continue
            for i, p in id_params[m.obs]:
                ident = (p.namespace, m.raws[i])
                if ident in out:
                    continue
                first, last = run.matched.live[ident]
                out[ident] = Binding(p.namespace, m.raws[i], p.shown[args[i] - p.lo], events[first].line,
                                     events[last].line, p.text)
                at[ident] = ev
            break
    return out, at


def describe_key(run: ConformRun, key) -> str:
    """The bindings of one configuration: `pid 4242 -> Vcpu 0, token 0x1000 -> Token 1`."""
    shown = []
    for (ns, raw), v, _ in key:
        p = next((p for o in run.observations for p in o.params if p.namespace == ns and p.kind == "id"), None)
        b = Binding(ns, raw, p.shown[v - p.lo] if p is not None else str(v), 0, 0, p.text if p is not None else "")
        shown.append(f"{b.source or ns} {b.shown_raw} -> {ns} {b.value}")
    return ", ".join(shown) if shown else "no identifier bound"

