"""One self-contained HTML page per counterexample: a sequence diagram and the state at every step.

The page needs no network: styles and the few lines of script are inline, no fonts or images are loaded. The
diagram has one lane per actor of the model (host, guest, ...) and a lane for the shared registers and memory
(variables with a register or struct layout); each step is a box in its actor's lane, with an arrow into the
shared lane when it changed a register or a shared slot. Beside it are the other changes, and below it the full
state at every step with the changed values highlighted. The header names the violated property, quotes its
source line, and shows the failed check. Deterministic: no dates, no timings.
"""
from __future__ import annotations

from html import escape

from .. import __version__
from ..diagnostics import Sources, Span
from ..engines.shared.result import PropertyResult
from ..ir import nodes as ir
from ..trace.explain import violation_text
from ..trace.text import action_label, call_text, source_lines, state_dict, witness

CSS = """
:root { --fg: #1b1f24; --muted: #57606a; --line: #8c959f; --bad: #cf222e; --chg: #fff1a8; --box: #ddf4ff;
        --boxb: #54aeff; --mem: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); margin: 24px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px; }
.bad { color: var(--bad); font-weight: 600; }
.ok { color: #1a7f37; font-weight: 600; }
.muted { color: var(--muted); }
.src { background: #f6f8fa; border-left: 4px solid var(--bad); padding: 6px 10px; margin: 6px 0; white-space: pre-wrap;
       overflow-wrap: anywhere; }
table.seq { border-collapse: collapse; width: 100%; table-layout: fixed; }  /* equal lanes: arrows end mid-lane */
table.seq col.stepno { width: 2.5em; }
table.seq col.notes { width: 34%; }
table.seq th { padding: 6px 10px; border-bottom: 2px solid var(--line); text-align: center; }
table.seq td { padding: 0 6px; vertical-align: middle; height: 44px; }
td.lane { position: relative; text-align: center;
          background: linear-gradient(var(--line), var(--line)) no-repeat center / 2px 100%; }
td.lane.mem { background-color: var(--mem); background-image: linear-gradient(var(--line), var(--line)); }
.act { display: inline-block; position: relative; z-index: 2; background: var(--box); border: 1px solid var(--boxb);
       border-radius: 4px; padding: 3px 8px; max-width: 100%; overflow-wrap: break-word; }
tr.viol .act { background: #ffebe9; border-color: var(--bad); }
.arrow { position: absolute; top: 50%; height: 0; border-top: 2px solid var(--boxb); z-index: 1; }
.arrow.head::after { content: ""; position: absolute; right: -2px; top: -7px; border: 6px solid transparent;
                     border-left: 8px solid var(--boxb); }
.memv { display: inline-block; position: relative; z-index: 2; background: #fff; border: 1px dashed var(--line);
        padding: 2px 6px; text-align: left; max-width: 100%; overflow-wrap: anywhere; }
td.step { text-align: right; color: var(--muted); }
td.changes { text-align: left; overflow-wrap: anywhere; }
tr.loop td.step { border-left: 4px solid var(--boxb); font-weight: 600; color: var(--boxb); }
tr.closing td { border-top: 1px dashed var(--boxb); }
@media (max-width: 900px) {
  body { margin: 12px; }
  table.seq th { padding: 4px; }
  code, pre, .mono { font-size: 12px; }
}
mark, .chg { background: var(--chg); }
tr.sel td { outline: 2px solid var(--boxb); }
table.state { border-collapse: collapse; }
table.state th, table.state td { border: 1px solid #d0d7de; padding: 2px 6px; text-align: right; white-space: nowrap; }
table.state th.var { text-align: left; }
table.state col.sel { background: #ddf4ff; }
.scroll { overflow-x: auto; max-width: 100%; }
"""

SCRIPT = """
(function () {
  "use strict";
  var rows = document.querySelectorAll("table.seq tbody tr");
  var cols = document.querySelectorAll("table.state col.stepcol");
  function select(i) {
    rows.forEach(function (r) { r.classList.toggle("sel", r.getAttribute("data-step") === String(i)); });
    cols.forEach(function (c) { c.classList.toggle("sel", c.getAttribute("data-step") === String(i)); });
  }
  rows.forEach(function (r) {
    r.addEventListener("click", function () { select(r.getAttribute("data-step")); });
  });
})();
"""


def shared_vars(ts: ir.TransitionSystem) -> set[str]:
    """The variables drawn in the shared lane: registers and structs (shared memory)."""
    return {sv.var for sv in ts.vars if sv.layout is not None}


def key_var(key: str) -> str:
    return key.split("[", 1)[0].split(".", 1)[0]


def trace_html(ts: ir.TransitionSystem, r: PropertyResult, sources: Sources | None = None,
               source_path: str | None = None) -> str:
    assert r.trace is not None
    p, trace = r.prop, r.trace
    e = escape
    out: list[str] = []
    w = out.append
    title = f"{p.name} {r.status} — model {ts.name}"
    w("<!DOCTYPE html>")
    w('<html lang="en"><head><meta charset="utf-8">')
    w('<meta name="viewport" content="width=device-width, initial-scale=1">')
    w("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">")
    w(f"<title>{e(title)}</title><style>{CSS}</style></head><body>")
    params = ", ".join(f"{k}={shown}" for k, _, shown in ts.params)
    status_class = "ok" if r.status == "conforms" else "bad"  # a conformance witness (kvmverify conform) is no failure
    w(f"<h1>{e(p.name)} <span class=\"{status_class}\">{e(r.status)}</span></h1>")
    w(f"<p class=\"muted\">model <b>{e(ts.name)}</b>"
      + (f" ({e(source_path)})" if source_path else "") + (f" — params {e(params)}" if params else "")
      + f" — {trace.length} step(s) — kvmverify {e(__version__)}</p>")
    if r.expected is not None:
        w(f"<p>The model expects this property to be <b>{e(r.expected)}</b>"
          + (" (as found)." if r.as_expected else " (it is not).") + "</p>")
    desc = p.description if p.kind != "invariant" else f"invariant {p.name}"
    if p.kind == "conform":  # `kvmverify conform`'s witness: a run explaining a log, not a declared property
        w(f'<p id="property">{e(desc)}</p>')
    else:
        w(f'<p id="property">{e(p.kind)} <code>{e(p.name)}</code>: {e(desc)}<br>'
          f'declared at <code class="loc">{e(str(p.span))}</code></p>')
    quoted = [] if p.kind == "conform" else source_lines(sources, p.span, indent="")  # a multi-line invariant too
    if quoted:
        w(f'<div class="src mono" id="property-source">{e(chr(10).join(quoted))}</div>')
    v = trace.violation
    last_state = trace.steps[-1].state
    false_here = None
    if p.kind == "invariant" and p.expr is not None and last_state is not None:
        false_here = f"{p.name} is false here: {witness(ts, p.expr, last_state)}"
    if v is not None and false_here is None:  # an invariant's own words say more than "false in the last state"
        w(f'<p class="bad" id="violation">{e(violation_text(ts, p, v))}</p>')
        if v.span is not None:
            w(f'<p>the failed check: <code class="loc">{e(str(v.span))}</code></p>')
            vsrc = source_lines(sources, Span(v.span.file, v.span.line, 1, v.span.line, 1), indent="")
            if vsrc:
                w(f'<div class="src mono">{e(vsrc[0])}</div>')
    if false_here is not None:
        w(f'<p class="bad" id="false-here">{e(false_here)}</p>')
    w("<h2>Sequence</h2>")
    _sequence(w, ts, r, false_here)
    _state_table(w, ts, trace)
    w(f"<script>{SCRIPT}</script>")
    w("</body></html>")
    return "\n".join(out) + "\n"


def _sequence(w, ts: ir.TransitionSystem, r: PropertyResult, false_here: str | None) -> None:
    """One row per step, one lane per actor and one for shared memory; a lasso's loop is a bracket on its rows and
    a closing row that goes back to the loop's first step."""
    e = escape
    p, trace = r.prop, r.trace
    assert trace is not None
    shared = shared_vars(ts)
    actors = list(ts.actors) or sorted({a.actor for a in ts.actions})
    lanes = actors + ["shared memory & registers"]
    mem_lane = len(lanes) - 1
    v = trace.violation
    premise = dict(v.detail).get("premise_step") if v is not None and p.kind in ir.LIVENESS_KINDS else None
    w('<div class="scroll" id="sequence"><table class="seq"><colgroup><col class="stepno">'
      + '<col class="lanecol">' * len(lanes) + '<col class="notes"></colgroup><thead><tr><th>#</th>')
    for lane in lanes:
        w(f"<th>{e(lane)}</th>")
    w("<th>other changes</th></tr></thead><tbody>")
    dicts = [state_dict(ts, s.state) if s.state is not None else None for s in trace.steps]
    last = len(trace.steps) - 1

    def lane_cells(actor_lane: int | None, box: str | None, mem_items: list[str], arrow: bool) -> None:
        for li in range(len(lanes)):
            w(f'<td class="{"lane mem" if li == mem_lane else "lane"}">')
            if li == actor_lane and box is not None:
                w(box)
                if arrow and actor_lane != mem_lane:
                    w(f'<div class="arrow head" style="left:50%;width:{(mem_lane - li) * 100}%"></div>')
            if li == mem_lane and mem_items:
                w(f'<span class="memv mono">{"<br>".join(mem_items)}</span>')
            w("</td>")

    for i, step in enumerate(trace.steps):
        now = dicts[i]
        before = next((d for d in reversed(dicts[:i]) if d is not None), None)
        changed = {} if now is None or before is None else {
            k: (before.get(k), x) for k, x in now.items() if before.get(k) != x}
        mem_changes = {k: c for k, c in changed.items() if key_var(k) in shared}
        other = {k: c for k, c in changed.items() if key_var(k) not in shared}
        viol_row = i == last and v is not None and p.is_step
        classes = (["viol"] if viol_row or (i == last and not p.is_step and p.kind not in (*ir.LIVENESS_KINDS, "conform"))
                   else [])
        if trace.loop is not None and i >= trace.loop:
            classes.append("loop")
        w(f'<tr data-step="{i}"{" class=" + chr(34) + " ".join(classes) + chr(34) if classes else ""}>'
          f'<td class="step">{i}</td>')
        mem_items = [f"{e(k)} = <mark>{e(new)}</mark>" for k, (_, new) in mem_changes.items()]
        if step.action is None:
            init = [f"{e(k)} = {e(x)}" for k, x in (now or {}).items()
                    if key_var(k) in shared and x not in ("0", "0x0")]
            lane_cells(0, '<span class="act">initial state</span>', init or ["all zero"], False)
        else:
            a = ts.actions[step.action]
            actor_lane = lanes.index(a.actor) if a.actor in lanes else None
            lane_cells(actor_lane, f'<span class="act" title="{e(a.label)}">{_breakable(call_text(a))}</span>', mem_items,
                       bool(mem_changes))
        notes = []
        if step.state is None:
            notes.append('<span class="bad">the step stops here: a fatal check failed</span>')
        if viol_row:
            notes.append(f'<span class="bad">violates {e(p.name)}</span>')
        elif i == last and false_here is not None and r.status == "violated":
            notes.append(f'<span class="bad">{e(false_here)}</span>')
        if premise == i:
            notes.append(f'<span class="bad">the premise of {e(p.name)} holds here; its goal never holds again</span>')
        if trace.loop is not None and i == trace.loop:
            notes.append("<b>loop starts here</b>")
        for k, (old, new) in other.items():
            notes.append(f'<span class="mono">{e(k)}: {e(str(old))} → <mark>{e(new)}</mark></span>')
        if step.action is None and now is not None:
            shown = [f"{e(k)} = {e(x)}" for k, x in now.items()
                     if key_var(k) not in shared and x not in ("0", "false", "{}", "0x0")]
            notes.append('<span class="mono">' + ("; ".join(shown) if shown else "every variable 0 / false / {}")
                         + "</span>")
        w(f'<td class="changes">{"<br>".join(notes)}</td></tr>')
    if trace.loop is not None:
        w('<tr class="loop closing"><td class="step">↻</td>')
        if trace.loop_action is None:
            lane_cells(None, None, [], False)
            w(f'<td class="changes"><b>no action is enabled: the run stays in step {trace.loop} forever</b></td></tr>')
        else:
            a = ts.actions[trace.loop_action]
            actor_lane = lanes.index(a.actor) if a.actor in lanes else None
            lane_cells(actor_lane, f'<span class="act" title="{e(a.label)}">{_breakable(call_text(a))}</span>', [], False)
            w(f'<td class="changes"><b>back to step {trace.loop}</b>: steps {trace.loop}..{last} repeat '
              f"forever</td></tr>")
    w("</tbody></table></div>")


def _breakable(label: str) -> str:
    """An action label that wraps after `(` and `, ` rather than inside a name."""
    return escape(label).replace("(", "(<wbr>").replace(", ", ",<wbr> ")


def _state_table(w, ts: ir.TransitionSystem, trace) -> None:
    e = escape
    shared = shared_vars(ts)
    dicts = [state_dict(ts, s.state) if s.state is not None else None for s in trace.steps]
    w("<h2>State at every step</h2>")
    w('<div class="scroll"><table class="state"><colgroup><col>')
    for i in range(len(trace.steps)):
        w(f'<col class="stepcol" data-step="{i}">')
    w("</colgroup><thead><tr><th class=\"var\">variable</th>")
    for i, step in enumerate(trace.steps):
        w(f'<th title="{e(action_label(ts, step.action))}">{i}</th>')
    w("</tr></thead><tbody>")
    keys = list(dicts[0].keys()) if dicts[0] is not None else []
    ordered = [k for k in keys if key_var(k) in shared] + [k for k in keys if key_var(k) not in shared]
    for k in ordered:
        w(f'<tr><th class="var mono">{e(k)}</th>')
        prev = None
        for d in dicts:
            if d is None:
                w('<td class="muted">—</td>')
                continue
            x = d.get(k, "")
            cls = ' class="chg"' if prev is not None and prev != x else ""
            w(f"<td{cls}>{e(x)}</td>")
            prev = x
        w("</tr>")
    w("</tbody></table></div>")
