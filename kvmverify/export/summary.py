"""The results of a multi-model run as one table: text for stdout, Markdown for a GitHub job summary
(`$GITHUB_STEP_SUMMARY`: the table, then each violation's trace as a Mermaid sequence diagram, which GitHub
renders; expected violations folded in <details>)."""
from __future__ import annotations

from ..trace.text import Style, coverage_text, result_line, shown_results
from .mermaid import sequence_diagram
from .run import ModelRun

MAX_DIAGRAMS = 50  # a job summary holds at most 1 MiB; a directory of bug variants can have many expected traces


def summary_rows(runs: list[ModelRun]) -> list[tuple[str, str, str, str, str, float]]:
    """(mark, model, property, verdict, coverage, seconds) for every property of every model."""
    rows = []
    for run in runs:
        if run.result is None:
            rows.append(("ERR", run.path, "-", "error", "the model does not compile", run.seconds))
            continue
        for r in shown_results(run.result.results):
            if isinstance(r, tuple):  # a folded group of sanity findings
                mark, status, name, cov = r
                rows.append((mark, run.path, name, status, cov, run.seconds))
                continue
            mark = result_line(r, 1).split(None, 1)[0]
            verdict = r.status + ("" if r.expected is None else
                                  " (expected)" if r.as_expected else f" (expected {r.expected})")
            name = ("cover " if r.prop.kind == "cover" else "") + r.prop.name
            rows.append((mark, run.path, name, verdict, coverage_text(r), run.seconds))
    return rows


def text_table(runs: list[ModelRun], style: Style, times: bool) -> str:
    rows = [(*row[:5], f"{row[5]:.2f} s") for row in summary_rows(runs)]
    head = ("", "model", "property", "verdict", "coverage", "time")
    ncols = 6 if times else 5
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(ncols)]
    out = ["summary"]
    for j, row in enumerate([head, *rows]):
        cells = [row[i].ljust(widths[i]) for i in range(ncols)]
        if j > 0:
            cells[0] = style.mark(cells[0]) if row[0] != "ERR" else style.bad(cells[0])
        out.append("  " + "  ".join(cells).rstrip())
    return "\n".join(out) + "\n"


MARKS = {"ok": "✅", "FAIL": "❌", "??": "⚠️", "ERR": "🛑"}


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_summary(runs: list[ModelRun], exit_code: int) -> str:
    rows = summary_rows(runs)
    failed = sum(1 for r in rows if r[0] in ("FAIL", "ERR"))
    undecided = sum(1 for r in rows if r[0] == "??")
    head = f"## kvmverify: {len(runs)} model(s), {len(rows)} result(s)"
    head += f", {failed} failed" if failed else ", all as expected" if not undecided else ""
    head += f", {undecided} undecided" if undecided else ""
    out = [head + f" (exit code {exit_code})", "", "| | model | property | verdict | coverage |",
           "|---|---|---|---|---|"]
    out.extend(f"| {MARKS.get(m, m)} | `{_cell(path)}` | `{_cell(name)}` | {_cell(verdict)} | {_cell(cov)} |"
               for m, path, name, verdict, cov, _ in rows)
    shown = 0
    for run in runs:
        if run.result is None or run.system is None:
            continue
        for r in run.result.results:
            if r.status != "violated" or r.trace is None:
                continue
            if shown == MAX_DIAGRAMS:
                out += ["", f"(more violations than the {MAX_DIAGRAMS} diagrams shown: see the JUnit/SARIF reports)"]
                return "\n".join(out) + "\n"
            shown += 1
            p = r.prop
            title = f"`{p.name}` violated{' (expected)' if r.as_expected else ''} — `{p.span}`"
            diagram = ["```mermaid", sequence_diagram(run.system, r).rstrip("\n"), "```"]
            if r.as_expected:
                out += ["", f"<details><summary>{MARKS['ok']} {title}</summary>", "", *diagram, "", "</details>"]
            else:
                out += ["", f"### {MARKS['FAIL']} {title}", "", f"> {_cell(p.description)}", "", *diagram]
    return "\n".join(out) + "\n"
