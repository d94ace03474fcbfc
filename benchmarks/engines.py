"""Compare the engines on apf_int and its bug variants: wall time and what each one concluded.

    PYTHONPATH=. python3 benchmarks/engines.py            # the standard table (a few minutes)
    PYTHONPATH=. python3 benchmarks/engines.py --quick    # apf_int (1,1), (1,2) and the bug variants only
    PYTHONPATH=. python3 benchmarks/engines.py --timeout 120

Prints a Markdown table (docs/engines.md keeps the last one measured). A cell that hit the timeout says so;
nothing here is asserted: speed targets live in benchmarks, verdicts in tests.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

from kvmverify.diagnostics import Sources
from kvmverify.engines import Options, run_engine
from kvmverify.engines.shared.limits import Limits
from kvmverify.pipeline import compile_model

APF = "models/apf_int.kv"
BUGS = ["enable_before_vector", "host_ignores_token_slot", "inject_with_if_off", "sti_before_flags_clear"]


def summary(result) -> str:
    counts = Counter(r.status for r in result.results)
    parts = [f"{n} {s}" for s, n in sorted(counts.items())]
    violated = sorted((r.prop.name, r.trace.length) for r in result.results if r.status == "violated" and r.trace)
    if violated:
        parts.append("shortest: " + ", ".join(f"{n}={k}" for n, k in violated))
    kinds = sorted({r.coverage.kind for r in result.results if r.status == "holds"})
    if kinds:
        parts.append("holds by " + "/".join(kinds))
    if result.bound:
        parts.append(f"stopped by {result.bound}")
    return "; ".join(parts)


def measure(path: str, params: dict[str, int], engine: str, timeout: float, depth: int = 20,
            max_k: int = 10) -> tuple[float, str]:
    ts = compile_model(path, params, Sources()).system
    started = time.monotonic()
    result = run_engine(ts, engine, Options(Limits(timeout=timeout), depth, max_k))
    return time.monotonic() - started, summary(result)


def rows(quick: bool, timeout: float):
    for nv, nt in [(1, 1), (1, 2)]:
        for engine, kw in [("explicit", {}), ("bmc", {"depth": 15}), ("induction", {"max_k": 6}), ("pdr", {})]:
            yield f"apf_int ({nv},{nt})", engine, kw, APF, {"NVCPU": nv, "NTOKEN": nt}
    for bug in BUGS:
        for engine, kw in [("explicit", {}), ("bmc", {"depth": 10}), ("pdr", {})]:
            yield f"{bug}", engine, kw, f"models/apf_int_bugs/{bug}.kv", {}
    if quick:
        return
    for depth in (10, 20):
        yield "apf_int (2,2)", "bmc", {"depth": depth}, APF, {"NVCPU": 2, "NTOKEN": 2}
    for nv in (2, 3, 4):
        if nv == 2:
            yield f"apf_int ({nv},2)", "explicit", {}, APF, {"NVCPU": nv, "NTOKEN": 2}
        for engine, kw in [("induction", {"max_k": 6}), ("pdr", {})]:
            yield f"apf_int ({nv},2)", engine, kw, APF, {"NVCPU": nv, "NTOKEN": 2}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 allow_abbrev=False)
    ap.add_argument("--quick", action="store_true", help="skip the (2,2) BMC and the NVCPU=2..4 proofs")
    ap.add_argument("--timeout", type=float, default=300.0, help="per run, seconds (default 300)")
    args = ap.parse_args(argv)
    print("| model (NVCPU,NTOKEN) | engine | options | time (s) | result |")
    print("|---|---|---|---:|---|")
    for label, engine, kw, path, params in rows(args.quick, args.timeout):
        seconds, text = measure(path, params, engine, args.timeout, **kw)
        opts = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in kw.items())
        print(f"| {label} | {engine} | {opts} | {seconds:.2f} | {text} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
