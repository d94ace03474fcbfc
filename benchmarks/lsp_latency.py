#!/usr/bin/env python3
"""The diagnostics round trip of `kvmverify lsp`, run as a script, never as a test (issue 15's target: under
200 ms on apf_int after a change).

    python benchmarks/lsp_latency.py                       # 40 changes of models/apf_int.kv
    python benchmarks/lsp_latency.py --changes 100 --model models/memtype.kv

A real server (`python -m kvmverify lsp`, through tests/lsp_support.py's JSON-RPC client) opens the model; then,
N times, one incremental didChange (a character typed into, then removed from, the first comment: the file stays
valid, so every change is compiled in full: parse, check, layout and decision-table lint, lowering) and the time
until the publishDiagnostics of that version arrives. Changes are sent one at a time (each waits for its
diagnostics and a pause), so none is skipped as superseded. Then N hover, definition, completion and references
requests on the type of the model's first `var`, and, for comparison, the compile in process
(pipeline.compile_model on the text, no protocol). Prints the median, p95, min and max of each in ms.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

from lsp_support import LspClient  # noqa: E402


def figures(ms: list[float]) -> str:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"median {statistics.median(ordered):6.1f} ms   p95 {p95:6.1f} ms   min {ordered[0]:6.1f} ms   "
            f"max {ordered[-1]:6.1f} ms")


def round_trips(model: str, changes: int, pause: float) -> tuple[list[float], dict[str, list[float]]]:
    """The diagnostics round trips, then the round trips of requests at the model's first `var`'s type name."""
    text = open(model, encoding="utf-8").read()
    client = LspClient(cwd=ROOT)
    try:
        u = client.open(model, text)
        client.diagnostics(u, version=1)
        out = []
        for version in range(2, changes + 2):
            typed = version % 2 == 0  # type an "x" after the first "//", then take it back
            edit = (0, 2, 0, 2, "x") if typed else (0, 2, 0, 3, "")
            started = time.perf_counter()
            client.change(u, version, edit=edit)
            client.diagnostics(u, version=version)
            out.append((time.perf_counter() - started) * 1000)
            time.sleep(pause)
        line = next(i for i, t in enumerate(text.split("\n")) if t.startswith("var "))
        col = text.split("\n")[line].index(":") + 2
        requests: dict[str, list[float]] = {"hover": [], "definition": [], "completion": [], "references": []}
        for _ in range(changes):
            for method in requests:
                extra = {"context": {"includeDeclaration": True}} if method == "references" else {}
                started = time.perf_counter()
                client.at(f"textDocument/{method}", u, line, col, **extra)
                requests[method].append((time.perf_counter() - started) * 1000)
        return out, requests
    finally:
        client.close()


def in_process(model: str, runs: int) -> list[float]:
    from kvmverify.diagnostics import Sources
    from kvmverify.pipeline import compile_model
    text = open(model, encoding="utf-8").read()
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        compile_model(model, {}, Sources(overlay={os.path.realpath(model): text}))
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "apf_int.kv"))
    ap.add_argument("--changes", type=int, default=40)
    ap.add_argument("--pause", type=float, default=0.05, help="seconds between changes")
    args = ap.parse_args()
    if not args.model.endswith(".kv") or args.changes < 1:
        ap.error("give a .kv model and at least one change")
    print(f"{os.path.relpath(args.model, ROOT)}: {args.changes} changes; Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}")
    changes, requests = round_trips(args.model, args.changes, args.pause)
    print(f"  didChange -> publishDiagnostics  {figures(changes)}")
    for method, ms in requests.items():
        print(f"  {method + ' request':<32} {figures(ms)}")
    print(f"  compile_model in process         {figures(in_process(args.model, args.changes))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
