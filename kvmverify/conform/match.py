"""Which observation each event of the log may be: the observations' `when` and argument expressions, compiled
to Python from the IR (like the successor function: no text of the model reaches the generated code), run on
every event's fields. Events no observation names are counted by name, as are those whose `when` held for none."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from ..engines.explicit.codegen import python_expr
from ..ir import nodes as ir
from ..ir.observe import Observation
from .log import Event


class Match(NamedTuple):
    """One way an event may be an observed action: observation `obs` with each parameter's raw value (an int
    for values and ids, None for `_`)."""

    obs: int
    raws: tuple


@dataclass
class Matched:
    """The events of the log that observations match, in log order, and what the others were."""

    events: list[Event]  # the observed ones
    matches: list[list[Match]]  # shared by the events of one text: read only
    unobserved: dict[str, int]  # event name -> lines no observation names
    filtered: dict[str, int]  # event name -> lines whose `when` held for no observation of the event
    live: dict[tuple, tuple[int, int]]  # (namespace, raw) -> (first, last) index into `events`


def compile_matchers(ts: ir.TransitionSystem, observations: tuple[Observation, ...]):
    """One generated function per observation: fields -> None (its `when` is false, or a field is missing) or
    the raw argument values. Generated from the IR like the successor function: no model text reaches it."""
    lines = []
    for o in observations:
        lines.append(f"def m{o.index}(F):")
        lines.append("    try:")
        for f in o.fields:  # field names are .kv names, [A-Za-z_][A-Za-z0-9_]*
            lines.append(f"        L_{f} = F[{f!r}]")
        lines.append("    except KeyError:")
        lines.append("        return None")
        if o.when is not None:
            lines.append(f"    if not {python_expr(ts, o.when)}:")
            lines.append("        return None")
        vals = ", ".join("None" if p.expr is None else python_expr(ts, p.expr) for p in o.params)
        lines.append(f"    return ({vals}{',' if o.params else ''})")
    namespace: dict = {"__builtins__": {}}
    exec(compile("\n".join(lines) + "\n", f"<kvmverify:{ts.name}:observe>", "exec"), namespace)  # noqa: S102
    return [namespace[f"m{o.index}"] for o in observations]


def match_events(ts: ir.TransitionSystem, observations: tuple[Observation, ...], events: list[Event],
                 others: dict[str, int] | None = None) -> Matched:
    """`others`: events the reader already set aside (no observation names them), by name."""
    fns = compile_matchers(ts, observations)
    by_event: dict[str, list[int]] = defaultdict(list)
    for o in observations:
        by_event[o.event].append(o.index)
    kept: list[Event] = []
    matches: list[list[Match]] = []
    unobserved: dict[str, int] = defaultdict(int, others or {})
    filtered: dict[str, int] = defaultdict(int)
    live: dict[tuple, tuple[int, int]] = {}
    ids = {o.index: [(i, p.namespace) for i, p in enumerate(o.params) if p.kind == "id"] for o in observations}
    # the reader gives the events of one text one dict of fields: their matches are made once and shared (keyed
    # by the dict's identity, which `events` keeps alive, with the name: the matches depend on nothing else)
    made: dict[tuple[str, int], list[Match]] = {}
    for ev in events:
        found = made.get((ev.name, id(ev.fields)))
        if found is None:
            obs = by_event.get(ev.name)
            if not obs:
                unobserved[ev.name] += 1
                continue
            found = made[(ev.name, id(ev.fields))] = [Match(oi, raws) for oi in obs
                                                      if (raws := fns[oi](ev.fields)) is not None]
        if not found:
            filtered[ev.name] += 1
            continue
        k = len(kept)
        kept.append(ev)
        matches.append(found)
        for m in found:
            for i, ns in ids[m.obs]:
                key = (ns, m.raws[i])
                first = live.get(key)
                live[key] = (k if first is None else first[0], k)
    return Matched(kept, matches, dict(sorted(unobserved.items())), dict(sorted(filtered.items())), live)
