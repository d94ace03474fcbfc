"""A counterexample as a Mermaid `sequenceDiagram` (`--trace-format mermaid`, and the GitHub job summary, which
renders Mermaid): one participant per actor and one for the shared memory and registers, as in the HTML page; a
step that changes shared state is an arrow into that lane, any other step an arrow to itself, with the changed
values in a note beside it; a lasso's repeating steps sit in a `loop` box. Deterministic: no dates, no times."""
from __future__ import annotations

from ..engines.shared.result import PropertyResult
from ..ir import nodes as ir
from ..trace.explain import violation_text
from ..trace.text import call_text, nonzero_dict, state_dict, witness
from .html import key_var, shared_vars

MEM = "mem"
MEM_TITLE = "shared memory & registers"
MAX_NOTE_ITEMS = 6


def _text(s: str) -> str:
    """Mermaid's entity codes for what its parser would take as syntax (`;` ends a statement, `#` starts a code)."""
    return (s.replace("#", "#35;").replace(";", "#59;").replace("<", "#lt;").replace(">", "#gt;")
            .replace("\n", " "))


def _items(items: list[str]) -> str:
    shown = items[:MAX_NOTE_ITEMS]
    if len(items) > MAX_NOTE_ITEMS:
        shown.append(f"... {len(items) - MAX_NOTE_ITEMS} more")
    return "<br/>".join(_text(i) for i in shown)


def sequence_diagram(ts: ir.TransitionSystem, r: PropertyResult) -> str:
    assert r.trace is not None
    p, trace = r.prop, r.trace
    shared = shared_vars(ts)
    actors = list(ts.actors) or sorted({a.actor for a in ts.actions})
    out = ["sequenceDiagram"]
    out.extend(f"    participant {a}" for a in actors)
    out.append(f"    participant {MEM} as {MEM_TITLE}")
    first = actors[0] if actors else MEM
    prev: dict[str, str] | None = None
    last = len(trace.steps) - 1
    for i, step in enumerate(trace.steps):
        if trace.loop is not None and i == trace.loop:
            out.append(f"    loop steps {trace.loop}..{last} repeat forever")
        ind = "        " if trace.loop is not None and i >= trace.loop else "    "
        if step.action is None:
            init = [f"{k} = {v}" for k, v in nonzero_dict(ts, step.state).items()] if step.state else []
            out.append(f"{ind}Note over {first},{MEM}: 0 initial state<br/>"
                       + (_items(init) if init else "every variable 0 / false / {}"))
            prev = state_dict(ts, step.state) if step.state is not None else prev
            continue
        a = ts.actions[step.action]
        now = state_dict(ts, step.state) if step.state is not None else None
        changed = [] if now is None or prev is None else [k for k, v in now.items() if prev.get(k) != v]
        mem = [k for k in changed if key_var(k) in shared]
        own = [k for k in changed if key_var(k) not in shared]
        out.append(f"{ind}{a.actor}->>{MEM if mem else a.actor}: {i} {_text(call_text(a))}")
        for where, keys in ((f"right of {MEM}", mem), (f"over {a.actor}", own)):
            if keys:
                assert now is not None and prev is not None
                out.append(f"{ind}Note {where}: " + _items([f"{k}: {prev[k]} → {now[k]}" for k in keys]))
        if i == last and trace.violation is not None and p.is_step:
            out.append(f"{ind}Note over {a.actor},{MEM}: violates {_text(p.name)}: "
                       f"{_text(violation_text(ts, p, trace.violation))}")
        elif step.state is None:
            out.append(f"{ind}Note over {a.actor}: the step stops here")
        prev = now if now is not None else prev
    if trace.loop is not None:
        ind = "        "
        if trace.loop_action is None:
            out.append(f"{ind}Note over {first},{MEM}: no action is enabled: the run stays in step {trace.loop}")
        else:
            a = ts.actions[trace.loop_action]
            out.append(f"{ind}{a.actor}->>{a.actor}: {_text(call_text(a))}, back to step {trace.loop}")
        out.append("    end")
        if trace.violation is not None:
            out.append(f"    Note over {first},{MEM}: {_text(violation_text(ts, p, trace.violation))}")
    final = trace.steps[-1].state
    if p.kind == "invariant" and final is not None and p.expr is not None:
        out.append(f"    Note over {first},{MEM}: {_text(p.name)} is false here: {_text(witness(ts, p.expr, final))}")
    return "\n".join(out) + "\n"
