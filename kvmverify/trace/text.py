"""Results and traces as text for a person: one line per property, then each counterexample step by step,
showing only what changed and decoding registers and structs into their named fields."""
from __future__ import annotations

from ..check.types import OptionT, show_value
from ..engines.shared.result import CheckResult, PropertyResult, Trace
from ..ir import nodes as ir
from ..diagnostics import Sources, Span
from ..ir.simplify import false_conjuncts, vars_read
from .explain import violation_text
from .views import is_blank, shown, views

STATUS_MARK = {"holds": "ok", "reached": "ok", "violated": "FAIL", "vacuous": "FAIL", "unknown": "??"}


class Style:
    """ANSI colour for a terminal; the default (`PLAIN`) adds nothing, so files and pipes get plain text."""

    def __init__(self, color: bool = False):
        self.color = color

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color and text else text

    def bad(self, text: str) -> str:
        return self._wrap("1;31", text)

    def good(self, text: str) -> str:
        return self._wrap("32", text)

    def warn(self, text: str) -> str:
        return self._wrap("33", text)

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def new(self, text: str) -> str:
        return self._wrap("1;33", text)

    def mark(self, mark: str) -> str:
        return {"ok": self.good, "FAIL": self.bad, "??": self.warn}.get(mark.strip(), str)(mark)


PLAIN = Style(False)



def _blank(ts: ir.TransitionSystem, state: tuple[int, ...]) -> str:
    """What the variables left out of the initial state hold (trace/views.py is_blank)."""
    kinds = ["0"]
    hidden = [v for v in views(ts) if is_blank(ts, v, state)]
    if any(v.kind == "plain" and isinstance(ts.vars[v.slots[0]].type, OptionT) for v in hidden):
        kinds.append("none")
    if any(v.kind == "queue" for v in hidden):
        kinds.append("[]")
    return " / ".join(kinds)

def show_field(v: int, width: int) -> str:
    if width == 1 or v < 1024:
        return str(v)
    return hex(v)


def decoded(sv: ir.StateVar, value: int) -> dict[str, str]:
    """A state variable as name -> shown value, one entry per field for registers and structs."""
    layout = sv.layout
    if layout is None:
        return {sv.name: show_value(sv.type, value)}
    return {f"{sv.name}.{f.name}": show_field((value >> f.lo) & ((1 << f.width) - 1), f.width)
            for f in layout.fields}


def state_dict(ts: ir.TransitionSystem, state: tuple[int, ...]) -> dict[str, str]:
    """A state as name -> shown value: registers and structs by field, queues as lists, program counters as
    `@point` (trace/views.py)."""
    out: dict[str, str] = {}
    for v in views(ts):
        if v.kind == "plain":
            out.update(decoded(ts.vars[v.slots[0]], state[v.slots[0]]))
        else:
            out[v.name] = shown(ts, v, state)
    return out


def nonzero_dict(ts: ir.TransitionSystem, state: tuple[int, ...]) -> dict[str, str]:
    """Only the variables (or fields) not at their blank value (0, `none`, an empty queue): an initial state is
    mostly blank."""
    out: dict[str, str] = {}
    for v in views(ts):
        if is_blank(ts, v, state):
            continue
        sv = ts.vars[v.slots[0]]
        if v.kind == "plain" and sv.layout is not None:
            out.update({k: x for k, x in decoded(sv, state[v.slots[0]]).items() if x != "0"})
        elif v.kind == "plain":
            out[sv.name] = show_value(sv.type, state[v.slots[0]])
        else:
            out[v.name] = shown(ts, v, state)
    return out


def call_text(a: ir.ActionInstance) -> str:
    """An action instance as its actor's lane shows it: `post(x=2)`; a process step `guest(0)@wait`."""
    if a.process is not None:
        return a.label
    return a.action + "(" + ", ".join(f"{n}={s}" for n, _, s in a.args) + ")"


def action_label(ts: ir.TransitionSystem, action: int | None) -> str:
    return "initial state" if action is None else ts.actions[action].label


def render_trace(ts: ir.TransitionSystem, trace: Trace, prop: ir.Property | None = None,
                 style: Style = PLAIN) -> str:
    lines: list[str] = []
    prev: dict[str, str] | None = None
    width = len(str(len(trace.steps) - 1))
    for i, step in enumerate(trace.steps):
        marker = ""
        last = i == len(trace.steps) - 1
        if trace.loop is not None and i == trace.loop:
            lines.append("  -- loop starts here --")
        if last and trace.violation is not None and prop is not None and prop.is_step:
            marker = style.bad(f"   <- violates {prop.name}")
        lines.append(f"  {style.dim(f'{i:>{width}}')}  {style.bold(action_label(ts, step.action))}{marker}")
        indent = " " * (width + 6)
        if last and trace.violation is not None and prop is not None and prop.is_step:
            lines.append(f"{indent}" + style.bad(violation_text(ts, prop, trace.violation)))
        if step.state is None:
            if last and prop is not None and prop.is_step:
                lines.append(f"{indent}(the step stops here)")
            continue
        now = state_dict(ts, step.state)
        if prev is None:
            shown = [f"{k} = {v}" for k, v in nonzero_dict(ts, step.state).items()]
            lines.append(indent + ("; ".join(shown) + f" (all else {_blank(ts, step.state)})" if shown
                                   else "every variable 0 / false / {}"))
        else:
            changes = [f"{k}: {prev[k]} -> {style.new(v)}" for k, v in now.items() if prev.get(k) != v]
            lines.extend(f"{indent}{c}" for c in changes or ["(no change)"])
        prev = now
    if trace.loop is not None:
        lines.extend(loop_closing(ts, trace, prev, width))
    last = trace.steps[-1].state
    if prop is not None and prop.kind == "invariant" and last is not None and prop.expr is not None:
        lines.append(f"  {prop.name} is false here: " + witness(ts, prop.expr, last))
    if prop is not None and prop.kind == "deadlock" and last is not None and trace.loop is None:
        lines.extend(stuck_lines(ts, last))
    return "\n".join(lines)


def stuck_lines(ts: ir.TransitionSystem, state: tuple[int, ...]) -> list[str]:
    """Why nothing can move in a deadlocked state: where each process waits, and on what."""
    out = ["  no step is enabled here" + ("; no action's guard holds" if any(a.process is None for a in ts.actions)
                                           else "")]
    seen: set[str] = set()
    for a in ts.actions:
        if a.process is None or a.instance in seen:
            continue
        pc = next(sv for sv in ts.vars if sv.role == "pc" and sv.name == a.instance)
        point = show_value(pc.type, state[ts.vars.index(pc)])
        if point != a.point and point != "done":
            continue
        seen.add(a.instance)
        if point == "done":
            out.append(f"  {a.instance} has terminated")
            continue
        why = witness(ts, a.guard, state)
        out.append(f"  {a.instance} waits at @{point}" + (f": {why}" if why else ""))
    return out


def loop_closing(ts: ir.TransitionSystem, trace: Trace, prev: dict[str, str] | None, width: int) -> list[str]:
    """The step that takes a lasso's last state back to its loop state (or, for a deadlock, the stay)."""
    indent = " " * (width + 6)
    out = []
    if trace.loop_action is None:
        out.append(f"  no action is enabled here: the run stays in step {trace.loop} forever")
    else:
        n = len(trace.steps)
        out.append(f"  {n:>{width}}  {action_label(ts, trace.loop_action)}   back to step {trace.loop}")
        back = trace.steps[trace.loop].state
        if back is not None and prev is not None:
            now = state_dict(ts, back)
            out.extend(f"{indent}{k}: {prev[k]} -> {v}" for k, v in now.items() if prev.get(k) != v)
    if trace.violation is not None:
        out.append(f"  {trace.violation.message}")
    return out


def lasso_summary(trace: Trace) -> str:
    loop = len(trace.steps) - trace.loop if trace.loop_action is not None else 0
    return f"lasso: {trace.loop}-step prefix, " + (f"{loop}-step loop" if loop else "then a deadlock")


def witness(ts: ir.TransitionSystem, expr: ir.Expr, state: tuple[int, ...]) -> str:
    """The values read by the false part of an invariant, so the reader sees why it fails: of a register or
    struct, only the fields it reads (all of them if it reads the whole value)."""
    shown: dict[str, str] = {}
    for part in false_conjuncts(expr, state)[:3]:
        fields = _fields_read(part)
        for i in vars_read(part):
            values = decoded(ts.vars[i], state[i])
            lows = fields.get(i)
            layout = ts.vars[i].layout
            if layout is not None and lows is not None:
                keep = {f"{ts.vars[i].name}.{f.name}" for f in layout.fields if f.lo in lows}
                values = {k: x for k, x in values.items() if k in keep} or values
            shown.update(values)
    return ", ".join(f"{k} = {v}" for k, v in shown.items())


def _fields_read(e: ir.Expr) -> dict[int, set[int] | None]:
    """State variable -> the low bits of the fields an expression extracts from it (None: it reads the whole)."""
    out: dict[int, set[int] | None] = {}

    def walk(x) -> None:
        if isinstance(x, ir.Extract) and isinstance(x.arg, ir.Var):
            lows = out.setdefault(x.arg.index, set())
            if lows is not None:
                lows.add(x.lo)
            return
        if isinstance(x, ir.Var):
            out[x.index] = None
            return
        for child in (getattr(x, "args", None) or ()):
            walk(child)
        for name in ("arg", "base", "value", "index"):
            child = getattr(x, name, None)
            if child is not None and not isinstance(child, int):
                walk(child)
        for child in getattr(x, "options", ()) or ():
            walk(child)

    walk(e)
    return out


def coverage_text(r: PropertyResult, invariants: list[str] = ()) -> str:
    """What a result covers, as the result line and the summary table say it. A PDR invariant listed in
    `invariants` (printed after the table) is referred to by its number."""
    cov = r.coverage.describe()
    inv = r.coverage.invariant if r.coverage.kind == "pdr" else None
    if inv is not None and inv in invariants:
        cov = f"proved (PDR, invariant {invariants.index(inv) + 1} below)"
    elif inv is not None and "\n" in inv:  # a table cell: the clauses are printed with the model's result
        cov = f"proved (PDR, invariant of {inv.count(chr(10)) + 1} clauses, printed above)"
    if r.status == "violated":
        what = f"shortest trace: {r.trace.length} step(s)" if r.trace else ""
        if r.witness is not None:
            what = "for input " + ", ".join(f"{n}={v}" for n, v in r.witness.inputs) + " (z3)"
        if r.findings:
            what = "; ".join(f"{code} at {span.file}:{span.line}" for code, _, span in r.findings)
        if r.trace is not None and r.trace.loop is not None:
            what = lasso_summary(r.trace)
        cov = f"{what}; {cov}" if r.coverage.kind == "bounded" else what
    elif r.status == "holds" and r.findings:  # a layout with bits no field covers: noted, not a defect
        cov = "layout lint: only " + "; ".join(f"{code} at {span.file}:{span.line}" for code, _, span in r.findings)
    elif r.status == "reached":
        cov = f"reached in {r.trace.length} step(s)" if r.trace else "reached"
    elif r.status == "vacuous":
        cov = f"never reached; {cov}"
    elif r.status == "unknown":
        if r.prop.kind == "cover":  # a bounded search that did not reach a cover saw no violation of anything
            cov = cov.replace("no violation up to", "not reached up to")
        cov = f"undecided; {cov}"
    return cov


def result_line(r: PropertyResult, name_width: int, style: Style = PLAIN, invariants: list[str] = ()) -> str:
    cov = coverage_text(r, invariants)
    kind = "cover " if r.prop.kind == "cover" else ""
    expect = ""
    if r.expected is not None:
        expect = "  (expected)" if r.as_expected else f"  (expected {r.expected})"
    mark = "ok" if r.as_expected else "FAIL"
    if r.status == "unknown":
        mark = "??"
    return f"  {style.mark(f'{mark:<4}')} {r.status:<8}  {kind + r.prop.name:<{name_width}}  {cov}{expect}"


SANITY_GROUPS = {"enabled": ("enabled:*", "actions and process steps enabled in some state"),
                 "premise": ("premise:*", "premises of the implications in invariants that hold in some state")}


def shown_results(results) -> list:
    """The results as the result table lists them: each `enabled:` and `premise:` finding that reached its target
    as it should is folded into one line per kind (`enabled:*  all 12 ...`), so a healthy model lists what it
    states; the ones that did not (vacuous, expected vacuous, undecided) are listed one by one."""
    out: list = []
    folded: dict[tuple[str, str], list] = {}
    for r in results:
        kind = r.prop.kind
        if kind in SANITY_GROUPS and r.status in ("reached", "unknown") and (r.as_expected or r.status == "unknown"):
            key = (kind, r.status)
            if key not in folded:
                folded[key] = []
                out.append(key)  # the summary line takes the place of the group's first member
            folded[key].append(r)
            continue
        out.append(r)
    total = {k: sum(1 for r in results if r.prop.kind == k) for k in SANITY_GROUPS}
    return [_summary(x, folded[x], total[x[0]]) if isinstance(x, tuple) else x for x in out]


def _summary(key: tuple[str, str], members: list, total: int) -> tuple[str, str, str, str]:
    """(mark, status, name, coverage) of a folded group."""
    kind, status = key
    name, what = SANITY_GROUPS[kind]
    if status == "unknown":
        shown = ", ".join(r.prop.name.split(":", 1)[1] for r in members[:4]) + (", ..." if len(members) > 4 else "")
        cov = members[0].coverage.describe().replace("no violation up to", "not reached up to")
        return ("??", "unknown", name, f"undecided for {len(members)} of {total} ({shown}); {cov}")
    return ("ok", "reached", name, f"{what}: {len(members)} of {total}")


def line_of(x, width: int, style: Style = PLAIN, invariants: list[str] = ()) -> str:
    if isinstance(x, tuple):
        mark, status, name, cov = x
        return f"  {style.mark(f'{mark:<4}')} {status:<8}  {name:<{width}}  {cov}"
    return result_line(x, width, style, invariants)


def _shown_name(x) -> str:
    if isinstance(x, tuple):
        return x[2]
    return ("cover " if x.prop.kind == "cover" else "") + x.prop.name


def _symbolic_stats(engine: str, depth: int) -> str:
    match engine:
        case "bmc":
            return f"symbolic: runs of up to {depth} steps unrolled"
        case "induction":
            return f"symbolic: k-induction tried k = 1 .. {depth}"
    return f"symbolic: no states enumerated; longest trace {depth} step(s)"


def render_result(ts: ir.TransitionSystem, result: CheckResult, traces: str | bool = "all", style: Style = PLAIN,
                  sources: Sources | None = None) -> str:
    stateless = not ts.vars and not ts.actions and bool(ts.tables or ts.checks)  # only tables and checks
    if stateless:
        out = [f"model {ts.name}: {_count(len(ts.tables), 'decision table')}, {_count(len(ts.checks), 'check')} "
               "decided by z3 over every input"]
    else:
        out = [f"model {ts.name}: {result.engine} engine, {_count(len(ts.actions), 'action instance')}, "
               f"{_count(len(ts.vars), 'state variable')}"]
    if ts.params:
        out.append("  params: " + " ".join(f"{k}={shown}" for k, _, shown in ts.params))
    lines = shown_results(result.results)
    width = max([len(_shown_name(x)) for x in lines] + [8])
    # PDR invariants are printed after the table, one numbered block each; the result lines point at them
    invariants = list(dict.fromkeys(r.coverage.invariant for r in result.results
                                    if r.coverage.kind == "pdr" and r.coverage.invariant is not None))
    out.extend(line_of(x, width, style, invariants) for x in lines)
    s = result.stats
    if stateless:
        pass
    elif s.states or "compiled" in result.engine:  # (a compiled search stopped while compiling: 0 states)
        up_to = f" (up to {result.reduction})" if result.reduction else ""
        out.append(f"  {s.states} states{up_to}, {s.transitions} transitions, depth {s.depth}")
    else:  # a symbolic engine: no states were enumerated
        out.append(f"  {_symbolic_stats(result.engine, s.depth)}")
    out.extend(f"  note: {n}" for n in result.notes)
    for n, inv in enumerate(invariants, 1):
        names = ", ".join(x.prop.name for x in result.results if x.coverage.invariant == inv)
        out.append("")
        out.append(f"invariant {n}, inductive, found by PDR (it implies {names}):")
        out.extend(f"  {line}" for line in inv.splitlines())
    if result.cti is not None:
        trace, broken = result.cti
        out.append("")
        out.append(f"counterexample to induction at k={trace.length}: {trace.length} step(s) from a state where every "
                   f"property holds to one that breaks {', '.join(broken)}; the first state need not be reachable: "
                   "an invariant that excludes it strengthens the induction")
        out.append(render_trace(ts, trace).replace("initial state", "arbitrary state", 1))
    for r in result.results:
        if r.status == "vacuous" and r.prop.kind in SANITY_GROUPS and _shows_trace(r, traces):
            out.append("")
            out.append(vacuous_report(r, sources, style))
            continue
        if r.status != "violated" or (r.trace is None and r.witness is None and not r.findings) or not _shows_trace(r, traces):
            continue
        out.append("")
        out.append(violation_report(ts, r, sources, style))
    return "\n".join(out) + "\n"


TRACES = ("all", "unexpected", "none")  # which counterexamples a report prints


def _shows_trace(r: PropertyResult, traces: str | bool) -> bool:
    if traces is True or traces == "all":
        return True
    return traces == "unexpected" and not r.as_expected


MAX_QUOTED_LINES = 12


def source_lines(sources: Sources | None, span: Span | None, indent: str = "  ") -> list[str]:
    """The source of a declaration, whole (a multi-line invariant too), numbered: `  25 | slot box.data : ...`;
    at most MAX_QUOTED_LINES lines."""
    if sources is None or span is None or span.line < 1:
        return []
    last = min(max(span.end_line, span.line), span.line + MAX_QUOTED_LINES - 1)
    width = len(str(last))
    out = []
    for n in range(span.line, last + 1):
        text = sources.line(span.file, n)
        if text is None:
            break
        out.append(f"{indent}{n:>{width}} | {text.expandtabs(4).rstrip()}")
    if out and span.end_line > last:
        out.append(f"{indent}{' ' * width} | ... ({span.end_line - last} more lines)")
    return out


def violation_report(ts: ir.TransitionSystem, r: PropertyResult, sources: Sources | None = None,
                     style: Style = PLAIN) -> str:
    """A violated property as every text format shows it (check, the pytest plugin, JUnit, --trace-format text):
    name and location, its source, what it means, then the shortest trace (or a check's input)."""
    p = r.prop
    exp = " (expected)" if r.as_expected else ""
    out = [style.bold(f"{p.name} violated{exp}") + f" -- {p.span}"]
    if r.witness is not None:
        out.append(render_witness(r))
        return "\n".join(out)
    if r.findings:
        out.append(render_findings(r))
        return "\n".join(out)
    quoted = source_lines(sources, p.span) if p.kind != "deadlock" else []
    out.extend(quoted)
    if p.kind != "invariant":
        out.append(f"  {p.description}")
    elif not quoted:
        out.append(f"  invariant {p.name}")
    assert r.trace is not None
    out.append(render_trace(ts, r.trace, p, style))
    return "\n".join(out)


def vacuous_report(r: PropertyResult, sources: Sources | None = None, style: Style = PLAIN) -> str:
    """A sanity finding that never reached its target: the guard (or premise) that never holds, quoted."""
    p = r.prop
    exp = " (expected)" if r.as_expected else ""
    what = ("is never enabled: no reachable state satisfies" if p.kind == "enabled" else
            "never holds: the invariant holds only vacuously")
    subject = p.name.split(":", 1)[1]
    out = [style.bold(f"{p.name} vacuous{exp}") + f" -- {p.span}"]
    out.extend(source_lines(sources, p.span))
    if p.kind == "enabled" and "@" in subject:
        out.append(f"  {subject} is never enabled: no reachable state has the process at this point with the "
                   f"`await`s its step starts with true; {r.coverage.describe()}")
    elif p.kind == "enabled":
        out.append(f"  {subject} {what} its guard; {r.coverage.describe()}")
    else:
        out.append(f"  this premise of {subject.split('#')[0]} {what}; {r.coverage.describe()}")
    return "\n".join(out)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def render_findings(r: PropertyResult) -> str:
    """A violated `layout:` property: what the lint found, where."""
    out = [f"  {r.prop.description}; found:"]
    out.extend(f"    {span}: {code}: {message}" for code, message, span in r.findings)
    return "\n".join(out)


def render_witness(r: PropertyResult) -> str:
    """A violated `check`: the input that breaks it, and what each decision table it calls returns there."""
    assert r.witness is not None
    width = max(len(n) for n, _ in r.witness.inputs) if r.witness.inputs else 0
    out = [f"  check {r.prop.name} ({r.prop.description}) is false for"]
    out.extend(f"    {n:<{width}} = {v}" for n, v in r.witness.inputs)
    if r.witness.calls:
        out.append("  where")
        out.extend(f"    {c}" for c in r.witness.calls)
    return "\n".join(out)


__all__ = ["render_result", "violation_report", "source_lines", "TRACES", "render_witness", "render_findings", "render_trace", "result_line", "coverage_text", "state_dict", "decoded", "witness", "Style", "PLAIN"]
