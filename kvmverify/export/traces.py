"""`check --trace-format FMT[,FMT] --out DIR`: one file per violated property and format."""
from __future__ import annotations

import json
import os

from .files import NameAllocator, trace_stem, write_atomic
from .json_result import JSON_VERSION, trace_json, typed_params
from .run import ModelRun

TRACE_FORMATS = ("text", "itf", "html", "json", "mermaid")
TRACE_SUFFIX = {"text": ".txt", "itf": ".itf.json", "html": ".html", "json": ".json", "mermaid": ".mmd"}


def trace_text(run: ModelRun, r, fmt: str) -> str:
    from ..trace.text import violation_report
    assert run.system is not None and r.trace is not None
    ts = run.system
    if fmt == "itf":
        from . import itf
        return itf.dumps(itf.trace_document(ts, r, run.path))
    if fmt == "html":
        from .html import trace_html
        return trace_html(ts, r, run.sources, run.path)
    if fmt == "mermaid":
        from .mermaid import sequence_diagram
        return sequence_diagram(ts, r)
    if fmt == "json":
        doc = {"version": JSON_VERSION, "file": run.path, "model": ts.name, "params": typed_params(ts),
               "property": r.prop.name, "status": r.status, "expected": r.expected,
               "trace": trace_json(ts, r.trace, r.prop)}
        return json.dumps(doc, indent=2) + "\n"
    return violation_report(ts, r, run.sources) + "\n"


def export_traces(run: ModelRun, formats: tuple[str, ...], out_dir: str, names: NameAllocator) -> list[str]:
    """One file per violated property and format; returns the paths written."""
    assert run.system is not None and run.result is not None
    written = []
    for r in run.result.results:
        if r.status != "violated" or r.trace is None:
            continue
        stem = trace_stem(run.path, r.prop.name)
        for fmt in formats:
            path = os.path.join(out_dir, names.take(stem, TRACE_SUFFIX[fmt]))
            write_atomic(path, trace_text(run, r, fmt))
            written.append(path)
    return written
