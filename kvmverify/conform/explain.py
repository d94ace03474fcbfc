"""Why no state allows an event: for each way the event may be an action (each matching `observe` and each
binding of its identifiers), the instance it names and, per conjunct of that action's guard, in how many of the
possible states it is the first one that fails, with the values it read in one of them."""
from __future__ import annotations

from dataclasses import dataclass

from ..check.model import Model
from ..diagnostics import Sources, Span
from ..ir import nodes as ir
from ..ir.lower import Lowering
from ..ir.observe import Observation
from ..ir.simplify import evaluate
from ..lang import ast
from ..trace.text import decoded, witness
from .match import Match
from .search import ConformSearch, SearchOutcome

MAX_SHOWN_VALUES = 4


@dataclass(frozen=True)
class Candidate:
    observe: Observation
    label: str  # the action instance, or the observation's target when no instance could be formed
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Possible:
    """One configuration before the failing event: its bindings, its states summarised, why each candidate
    action instance is not allowed there."""

    bindings: str
    states: int
    summary: tuple[str, ...]
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True)
class Failure:
    index: int  # into the observed events
    possible: tuple[Possible, ...]

    @property
    def candidates(self) -> tuple[Candidate, ...]:
        return tuple(c for p in self.possible for c in p.candidates)


def span_text(sources: Sources, span: Span) -> str:
    lines = [sources.line(span.file, n) or "" for n in range(span.line, span.end_line + 1)]
    if not lines:
        return ""
    if len(lines) == 1:
        return lines[0][span.col - 1:span.end_col - 1]
    lines[0] = lines[0][span.col - 1:]
    lines[-1] = lines[-1][:span.end_col - 1]
    return " ".join(x.strip() for x in lines)


def _conjuncts(e: ast.Expr | None) -> list[ast.Expr]:
    if e is None:
        return []
    if isinstance(e, ast.Binary) and e.op == "&&":
        return _conjuncts(e.left) + _conjuncts(e.right)
    return [e]


def summarize(ts: ir.TransitionSystem, groups: list[tuple[frozenset, list[tuple]]]) -> tuple[int, tuple[str, ...]]:
    """How many states, what they share and where they differ, variable by variable (fields of registers and
    structs). `groups` are (variables, states) per independent part: the states possible are every combination."""
    same, differ, total, counts = [], [], 1, []
    for vars_, states in groups:
        counts.append(len(states))
        total *= len(states)
        values: dict[str, list[str]] = {}
        for s in states:
            for i in sorted(vars_):
                for k, v in decoded(ts.vars[i], s[i]).items():
                    seen = values.setdefault(k, [])
                    if v not in seen:
                        seen.append(v)
        same += [f"{k} = {vs[0]}" for k, vs in values.items() if len(vs) == 1 and vs[0] not in _QUIET]
        for k, vs in values.items():
            if len(vs) > 1:
                more = f", ... ({len(vs)} values)" if len(vs) > MAX_SHOWN_VALUES else ""
                differ.append(f"{k} in {{{', '.join(sorted(vs)[:MAX_SHOWN_VALUES])}{more}}}")
    how = f" ({' x '.join(map(str, counts))}: independent parts)" if len(counts) > 1 else ""
    out = [f"{total} state(s){how}; in every one: " + ("; ".join(same) + " (all else 0 / false / {} / Free)"
                                                         if same else "every variable 0 / false / {} / Free")]
    if differ:
        out.append("they differ in: " + "; ".join(differ))
    return total, tuple(out)


_QUIET = ("0", "false", "{}", "Free")


def explain(search: ConformSearch, outcome: SearchOutcome, matches: list[Match], k: int, model: Model,
            sources: Sources, describe_binding) -> Failure:
    ts = search.ts
    low = Lowering(model)
    low.flatten()
    possible = []
    for cfg in outcome.history[k]:
        closed = search.closed(cfg)
        total, summary = summarize(ts, [(p.vars, sorted(c)) for p, c in zip(search.parts, closed)])
        cands: list[Candidate] = []
        for m in matches:
            o = search.obs[m.obs]
            guard = _conjuncts(model.observations[o.index].action.decl.guard)
            options = search.assignments(m, cfg.key, cfg)
            if not options:
                cands.append(Candidate(o, o.label + "(...)", tuple(_no_values(o, m, cfg.key))))
                continue
            for values, _ in options:
                inst = o.instances.get(values)
                if inst is None:
                    continue
                a = ts.actions[inst]
                env = {n: ir.Const(v) for n, v, _ in a.args}
                lowered = [(span_text(sources, c.span) or "guard", low.expr(c, env)) for c in guard]
                part = search.parts[search.part_of[inst]]
                states = sorted(closed[search.part_of[inst]])
                cands.append(Candidate(o, a.label, tuple(_guard_reasons(ts, part, inst, lowered, states))))
        possible.append(Possible(describe_binding(cfg.key), total, summary, tuple(cands)))
    return Failure(k, tuple(possible))


def _guard_reasons(ts: ir.TransitionSystem, part, inst: int, conjuncts, states) -> list[str]:
    first_false: dict[int, list] = {}
    enabled = []
    for s in states:
        for i, (_, e) in enumerate(conjuncts):
            if not evaluate(e, s):
                first_false.setdefault(i, []).append(s)
                break
        else:
            enabled.append(s)
    out = []
    n = len(states)
    for i, bad in sorted(first_false.items()):
        text, e = conjuncts[i]
        values = witness(ts, e, bad[0])
        where = f"every one of the {n} states" if len(bad) == n else f"{len(bad)} of the {n} states"
        out.append(f"`{text}` is false in {where}" + (f" (e.g. {values})" if values else ""))
    if enabled:
        stopped = [s for s in enabled if not part.expand(s)[1].get(inst)]
        if stopped:
            out.append(f"the guard holds in {len(stopped)} state(s), but the step stops there: a check of its body "
                       "fails (kvmverify check shows which)")
    return out


def _no_values(o: Observation, m: Match, key) -> list[str]:
    """Why no argument values could be formed: a value outside its type, or no value left for a fresh id."""
    out = []
    bound = {(ns, raw): (v, pre) for (ns, raw), v, pre in key}
    prefix: tuple = ()
    for p, r in zip(o.params, m.raws):
        if p.kind == "value":
            if not p.lo <= r < p.lo + p.size:
                out.append(f"{p.name} = {r} lies outside {p.namespace} ({p.shown[0]} .. {p.shown[-1]})")
                return out
            prefix += ((p.namespace, r),)
        elif p.kind == "id":
            b = bound.get((p.namespace, r))
            if b is None:
                holders = [(v, raw) for (ns, raw), v, pre in key if ns == p.namespace and pre == prefix]
                if len(holders) >= p.size:
                    held = ", ".join(f"{p.name}={p.shown[v - p.lo]} by {_raw(raw)}" for v, raw in sorted(holders))
                    out.append(f"{p.name} = id({_raw(r)}) is new, and every {p.namespace} value is held by a live "
                               f"id: {held}; the log has {len(holders) + 1} live at once here, the model "
                               f"{p.size} (a larger {p.namespace}, through the params of its range, lets it "
                               "follow)")
                    return out
            prefix += ((p.namespace, b[0] if b else p.lo),)
        else:
            prefix += ((p.namespace, p.lo),)
    return out or ["no action instance has these argument values"]


def _raw(r: int) -> str:
    return hex(r) if r >= 1024 else str(r)
