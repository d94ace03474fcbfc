#!/usr/bin/env python3
"""The CI gate's two forms against each other (issue 14's target: `pytest models/` within 1.5x of
`kvmverify check models/`), run as a script, never as a test.

    python benchmarks/ci_gate.py              # models/, 3 runs of each, the median
    python benchmarks/ci_gate.py --runs 5 models/apf_int.kv

Each run is a fresh process from the repository root, as CI runs it (`python -m kvmverify check PATH -q` and
`python -m pytest PATH -q -p no:cacheprovider`), alternating them so that a busy second core slows all alike.
pytest runs twice: as in a CI venv made with docs/ci.md's install line, where kvmverify's is the only pytest
plugin (other plugins' autoloading off, kvmverify's named with -p: the target is measured so), and as in this
development checkout, where hypothesis's and pytest-benchmark's plugins load too (hypothesis's imports all of
hypothesis at the end of the session, about 0.8 s that are not kvmverify's). Prints every run's wall time, the
medians, their ratios and whether the CI form meets the target.
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


def timed(argv: list[str], only_kvmverify: bool) -> tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    if only_kvmverify:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    started = time.monotonic()
    r = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started, r.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 allow_abbrev=False)
    ap.add_argument("paths", nargs="*", default=["models/"])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    pytest = [sys.executable, "-m", "pytest", *args.paths, "-q", "-p", "no:cacheprovider"]
    commands = {"kvmverify check": ([sys.executable, "-m", "kvmverify", "check", *args.paths, "-q"], False),
                "pytest (CI venv)": ([*pytest, "-p", "kvmverify.pytest_plugin"], True),
                "pytest (this env)": (pytest, False)}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for n in range(args.runs):
        for name, (argv, only) in commands.items():
            seconds, code = timed(argv, only)
            times[name].append(seconds)
            print(f"run {n + 1}: {name:<18} {seconds:6.2f} s  (exit {code})")
    check, ci, here = (statistics.median(times[k]) for k in commands)
    print(f"median: kvmverify check {check:.2f} s; pytest as in CI {ci:.2f} s: {ci / check:.2f}x "
          f"({'within' if ci / check <= TARGET else 'NOT within'} the {TARGET}x target); pytest in this "
          f"environment {here:.2f} s: {here / check:.2f}x; for {' '.join(args.paths)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
