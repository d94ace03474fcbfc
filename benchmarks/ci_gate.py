#!/usr/bin/env python3
"""The CI gate's two forms against each other (issue 14's target: `pytest models/` within 1.5x of
`kvmverify check models/`), run as a script, never as a test.

    python benchmarks/ci_gate.py              # models/, 3 runs of each, the median
    python benchmarks/ci_gate.py --runs 5 models/apf_int.kv

Each run is a fresh process from the repository root, as CI runs it (`python -m kvmverify check PATH -q` and
`python -m pytest PATH -q -p no:cacheprovider`), alternating the two so that a busy second core slows both alike.
Prints every run's wall time, the medians, their ratio and whether it meets the target.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = 1.5


def timed(argv: list[str]) -> tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    started = time.monotonic()
    r = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started, r.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 allow_abbrev=False)
    ap.add_argument("paths", nargs="*", default=["models/"])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    commands = {"kvmverify check": [sys.executable, "-m", "kvmverify", "check", *args.paths, "-q"],
                "pytest": [sys.executable, "-m", "pytest", *args.paths, "-q", "-p", "no:cacheprovider"]}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for n in range(args.runs):
        for name, argv in commands.items():
            seconds, code = timed(argv)
            times[name].append(seconds)
            print(f"run {n + 1}: {name:<16} {seconds:6.2f} s  (exit {code})")
    check, plugin = (statistics.median(times[k]) for k in commands)
    ratio = plugin / check
    print(f"median: kvmverify check {check:.2f} s, pytest {plugin:.2f} s: {ratio:.2f}x "
          f"({'within' if ratio <= TARGET else 'NOT within'} the {TARGET}x target) for {' '.join(args.paths)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
