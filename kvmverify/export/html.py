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
from ..trace.text import action_label, call_text, show_field, state_dict

CSS = """
:root { --fg: #1b1f24; --muted: #57606a; --line: #8c959f; --bad: #cf222e; --chg: #fff1a8; --box: #ddf4ff;
        --boxb: #54aeff; --mem: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); margin: 24px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px; }
.bad { color: var(--bad); font-weight: 600; }
.muted { color: var(--muted); }
.src { background: #f6f8fa; border-left: 4px solid var(--bad); padding: 6px 10px; margin: 6px 0; white-space: pre; }
table.seq { border-collapse: collapse; }
table.seq th { padding: 6px 10px; border-bottom: 2px solid var(--line); text-align: center; }
table.seq td { padding: 0 6px; vertical-align: middle; height: 44px; }
td.lane { position: relative; min-width: 170px; text-align: center;
          background: linear-gradient(var(--line), var(--line)) no-repeat center / 2px 100%; }
td.lane.mem { background-color: var(--mem); background-image: linear-gradient(var(--line), var(--line)); }
.act { display: inline-block; position: relative; z-index: 2; background: var(--box); border: 1px solid var(--boxb);
       border-radius: 4px; padding: 3px 8px; }
tr.viol .act { background: #ffebe9; border-color: var(--bad); }
.arrow { position: absolute; top: 50%; height: 0; border-top: 2px solid var(--boxb); z-index: 1; }
.arrow.head::after { content: ""; position: absolute; right: -2px; top: -7px; border: 6px solid transparent;
                     border-left: 8px solid var(--boxb); }
.memv { display: inline-block; position: relative; z-index: 2; background: #fff; border: 1px dashed var(--line);
        padding: 2px 6px; text-align: left; }
td.step { text-align: right; color: var(--muted); }
td.changes { text-align: left; min-width: 240px; }
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


def _source_line(sources: Sources | None, span: Span | None) -> str | None:
    if sources is None or span is None:
        return None
    line = sources.line(span.file, span.line)
    return line.expandtabs(4).rstrip() if line is not None else None


def trace_html(ts: ir.TransitionSystem, r: PropertyResult, sources: Sources | None = None,
               source_path: str | None = None) -> str:
    assert r.trace is not None
    p, trace = r.prop, r.trace
    shared = shared_vars(ts)
    actors = list(ts.actors) or sorted({a.actor for a in ts.actions})
    lanes = actors + ["shared memory & registers"]
    mem_lane = len(lanes) - 1
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
    w(f"<h1>{e(p.name)} <span class=\"bad\">{e(r.status)}</span></h1>")
    w(f"<p class=\"muted\">model <b>{e(ts.name)}</b>"
      + (f" ({e(source_path)})" if source_path else "") + (f" — params {e(params)}" if params else "")
      + f" — {trace.length} step(s) — kvmverify {e(__version__)}</p>")
    if r.expected is not None:
        w(f"<p>The model expects this property to be <b>{e(r.expected)}</b>"
          + (" (as found)." if r.as_expected else " (it is not).") + "</p>")
    desc = p.description if p.kind != "invariant" else f"invariant {p.name}"
    w(f'<p id="property">{e(p.kind)} <code>{e(p.name)}</code>: {e(desc)}<br>'
      f'declared at <code class="loc">{e(str(p.span))}</code></p>')
    src = _source_line(sources, p.span)
    if src is not None:
        w(f'<div class="src mono" id="property-source">{p.span.line:>4} | {e(src)}</div>')
    v = trace.violation
    if v is not None:
        detail = ", ".join(f"{k}={show_field(x, 64)}" for k, x in v.detail)
        w(f'<p class="bad" id="violation">{e(v.message)}' + (f" ({e(detail)})" if detail else "") + "</p>")
        if v.span is not None:
            vsrc = _source_line(sources, v.span)
            w(f'<p>the failed check: <code class="loc">{e(str(v.span))}</code></p>')
            if vsrc is not None:
                w(f'<div class="src mono">{v.span.line:>4} | {e(vsrc)}</div>')

    # --------------------------------------------------------------------------------------- sequence diagram
    w("<h2>Sequence</h2>")
    w('<div class="scroll"><table class="seq"><thead><tr><th>#</th>')
    for lane in lanes:
        w(f"<th>{e(lane)}</th>")
    w("<th>other changes</th></tr></thead><tbody>")
    dicts = [state_dict(ts, s.state) if s.state is not None else None for s in trace.steps]
    last = len(trace.steps) - 1
    for i, step in enumerate(trace.steps):
        now = dicts[i]
        before = next((d for d in reversed(dicts[:i]) if d is not None), None)
        if now is None or before is None:
            changed = {} if before is not None else {}
        else:
            changed = {k: (before.get(k), x) for k, x in now.items() if before.get(k) != x}
        mem_changes = {k: c for k, c in changed.items() if key_var(k) in shared}
        other = {k: c for k, c in changed.items() if key_var(k) not in shared}
        viol_row = i == last and v is not None and p.is_step
        cls = ' class="viol"' if viol_row or (i == last and not p.is_step) else ""
        w(f'<tr data-step="{i}"{cls}><td class="step">{i}</td>')
        actor_lane = None
        if step.action is not None:
            a = ts.actions[step.action]
            actor_lane = lanes.index(a.actor) if a.actor in lanes else None
        for li in range(len(lanes)):
            lane_cls = "lane mem" if li == mem_lane else "lane"
            w(f'<td class="{lane_cls}">')
            if step.action is None and li == 0:
                w('<span class="act">initial state</span>')
            elif li == actor_lane:
                a = ts.actions[step.action]
                label = call_text(a)
                w(f'<span class="act" title="{e(a.label)}">{e(label)}</span>')
                if mem_changes and actor_lane != mem_lane:
                    w(f'<div class="arrow head" style="left:50%;width:{(mem_lane - li) * 100}%"></div>')
            elif actor_lane is not None and mem_changes and actor_lane < li < mem_lane:
                pass  # the arrow drawn in the actor's cell spans this lane
            if li == mem_lane and mem_changes:
                items = "<br>".join(f"{e(k)} = <mark>{e(new)}</mark>" for k, (_, new) in mem_changes.items())
                w(f'<span class="memv mono">{items}</span>')
            if li == mem_lane and step.action is None and now is not None:
                shown = [f"{e(k)} = {e(x)}" for k, x in now.items() if key_var(k) in shared and x not in ("0", "0x0")]
                w(f'<span class="memv mono">{"<br>".join(shown) if shown else "all zero"}</span>')
            w("</td>")
        notes = []
        if step.state is None:
            notes.append('<span class="bad">the step stops here: a fatal check failed</span>')
        if viol_row:
            notes.append(f'<span class="bad">violates {e(p.name)}</span>')
        elif i == last and not p.is_step and p.kind != "liveness" and r.status == "violated":
            notes.append(f'<span class="bad">{e(p.name)} is false here</span>')
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
    w("</tbody></table></div>")
    if trace.loop is not None:
        if trace.loop_action is None:
            w(f"<p>No action is enabled in the last state: the run stays in step {trace.loop} forever.</p>")
        else:
            w(f"<p>By <span class=\"mono\">{e(ts.actions[trace.loop_action].label)}</span> the last state steps "
              f"back to step {trace.loop}: this loop can repeat forever.</p>")
        if trace.violation is not None:
            w(f"<p class=\"bad\">{e(trace.violation.message)}</p>")

    # --------------------------------------------------------------------------------------- full state table
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
        for i, d in enumerate(dicts):
            if d is None:
                w('<td class="muted">—</td>')
                continue
            x = d.get(k, "")
            cls = ' class="chg"' if prev is not None and prev != x else ""
            w(f"<td{cls}>{e(x)}</td>")
            prev = x
        w("</tr>")
    w("</tbody></table></div>")
    w(f"<script>{SCRIPT}</script>")
    w("</body></html>")
    return "\n".join(out) + "\n"
