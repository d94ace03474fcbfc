"""The command line: `main(argv, stdout, stderr) -> exit code`. Nothing below this module prints.

Exit codes:
  0  every property holds (or is as its `expect` annotation says) within the stated coverage
  1  a property is violated, a cover is vacuous, or a result differs from its `expect` annotation
  2  the model or the command line is wrong (diagnostics on stderr)
  3  internal error in kvmverify (please report it)
  4  no violation found, but some result is undecided because a bound stopped the search (--max-states,
     --max-depth, --timeout, --max-memory): the output says how far it got
  130 interrupted (Ctrl-C); the partial result is printed
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from typing import TextIO

from . import __version__
from .check.checker import parse_param_override
from .diagnostics import NO_SPAN, Diagnostic, DiagnosticError, Sources, render
from .engines import DEFAULT_DEPTH, DEFAULT_MAX_K, ENGINES, Options, run_engine
from .engines.explicit import Interrupt, Limits
from .engines.replay import Disagreement
from .export.json_result import result_json
from .pipeline import compile_model
from .trace.text import render_result, render_trace

EXIT_OK, EXIT_VIOLATED, EXIT_USAGE, EXIT_INTERNAL, EXIT_BOUND, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


class _UsageError(Exception):
    def __init__(self, status: int, message: str = ""):
        self.status, self.message = status, message


class _Parser(argparse.ArgumentParser):
    """argparse that reports to our streams and never calls sys.exit."""

    def __init__(self, *args, out: TextIO, **kw):
        super().__init__(*args, **kw)
        self._out = out

    def _print_message(self, message: str, file=None) -> None:
        if message:
            self._out.write(message)

    def exit(self, status: int = 0, message: str | None = None):
        raise _UsageError(status, message or "")

    def error(self, message: str):
        raise _UsageError(EXIT_USAGE, f"kvmverify: error: {message}\n{self.format_usage()}")


def _positive_int(text: str) -> int:
    try:
        v = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
    return v


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}")
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return v


def build_parser(stdout: TextIO) -> _Parser:
    p = _Parser(prog="kvmverify", description="Model checker for KVM paravirtual protocols.", out=stdout)
    p.add_argument("--version", action="version", version=f"kvmverify {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=lambda **kw: _Parser(out=stdout, **kw))
    c = sub.add_parser("check", help="check every property of one or more models",
                       description="Check every property of the given .kv models (a directory: every .kv in it).")
    c.add_argument("paths", nargs="+", metavar="MODEL", help=".kv file or directory")
    c.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="override a `param` of the model (repeatable), e.g. --param NVCPU=3")
    c.add_argument("--max-states", type=_positive_int, metavar="N", help="stop after N distinct states (exit 4)")
    c.add_argument("--max-depth", type=_positive_int, metavar="K",
                   help="explore runs of at most K steps; results say 'no violation up to depth K'")
    c.add_argument("--timeout", type=_seconds, metavar="SECONDS", help="stop after this long (exit 4)")
    c.add_argument("--max-memory", type=_positive_int, metavar="MB",
                   help="stop when the process uses more than MB megabytes (exit 4)")
    c.add_argument("--engine", choices=ENGINES, default="auto",
                   help="explicit: exhaustive search; bmc: z3 bounded model checking to --depth; induction: "
                        "k-induction up to --max-k; pdr: z3 Spacer proofs; auto (default): explicit search with a "
                        "state budget, then PDR for what it left open")
    c.add_argument("--depth", type=_positive_int, metavar="K",
                   help=f"bmc: check runs of at most K steps (default {DEFAULT_DEPTH})")
    c.add_argument("--max-k", type=_positive_int, metavar="K",
                   help=f"induction: try k = 1 .. K (default {DEFAULT_MAX_K})")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    c.add_argument("--no-traces", action="store_true", help="only the summary lines, no counterexamples")
    c.add_argument("-q", "--quiet", action="store_true", help="no timing line and no warnings on stderr")
    return p


def _overrides(texts: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    bad = []
    for t in texts:
        kv = parse_param_override(t)
        if kv is None:
            bad.append(Diagnostic("KV501", "error", f"--param {t}: expected NAME=VALUE with an integer or "
                                  "true/false", NO_SPAN, "e.g. --param NVCPU=3"))
        else:
            out[kv[0]] = kv[1]
    if bad:
        raise DiagnosticError(bad)
    return out


# which engines read which flag: a flag the chosen engine would ignore is a usage error, never silently dropped
_ENGINE_FLAGS = {"depth": ("bmc",), "max_k": ("induction",), "max_states": ("explicit", "auto"),
                 "max_depth": ("explicit", "auto"), "max_memory": ("explicit", "auto")}


def _engine_options(args) -> Options:
    bad = []
    for flag, engines in _ENGINE_FLAGS.items():
        if getattr(args, flag) is not None and args.engine not in engines:
            name = "--" + flag.replace("_", "-")
            bad.append(Diagnostic("KV503", "error", f"{name} does not apply to --engine {args.engine}", NO_SPAN,
                                  f"{name} is read by --engine {' and '.join(engines)}"))
    if bad:
        raise DiagnosticError(bad)
    limits = Limits(args.max_states, args.max_depth, args.timeout, args.max_memory)
    return Options(limits, args.depth if args.depth is not None else DEFAULT_DEPTH,
                   args.max_k if args.max_k is not None else DEFAULT_MAX_K)


def _model_files(paths: list[str]) -> list[str]:
    files: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            found = sorted(os.path.join(root, f) for root, _, names in os.walk(p) for f in names if f.endswith(".kv"))
            files.extend(found)
            if not found:
                raise DiagnosticError([Diagnostic("KV001", "error", f"no .kv files in directory '{p}'", NO_SPAN)])
        else:
            files.append(p)
    return files


def _check(args, stdout: TextIO, stderr: TextIO, interrupt: Interrupt) -> int:
    overrides = _overrides(args.param)
    options = _engine_options(args)
    worst = EXIT_OK
    reports = []
    for path in _model_files(args.paths):
        sources = Sources()
        try:
            compiled = compile_model(path, overrides, sources)
        except DiagnosticError as e:
            stderr.write(render(e.diagnostics, sources))
            worst = _combine(worst, EXIT_USAGE)
            continue
        if compiled.warnings and not args.quiet:
            stderr.write(render(compiled.warnings, sources))
        ts = compiled.system
        started = time.monotonic()
        try:
            result = run_engine(ts, args.engine, options, interrupt)
        except Disagreement as e:
            stderr.write(f"kvmverify: internal error: {e}\n  the z3 trace:\n{render_trace(ts, e.z3_trace)}\n"
                         f"  what the explicit interpreter replayed of it:\n{render_trace(ts, e.replayed)}\n"
                         "  this is a bug in kvmverify; please report it with the model\n")
            worst = _combine(worst, EXIT_INTERNAL)
            continue
        elapsed = time.monotonic() - started
        if args.json:
            reports.append(result_json(ts, result, path))
        else:
            stdout.write(render_result(ts, result, traces=not args.no_traces))
        if not args.quiet:
            rate = result.stats.states / elapsed if elapsed > 0 else 0.0
            what = f"{result.stats.states} states" if result.stats.states else result.engine
            speed = f" ({rate:,.0f} states/s)" if result.stats.states else ""
            stderr.write(f"kvmverify: {path}: {what} in {elapsed:.2f} s{speed}\n")
        code = EXIT_INTERRUPTED if result.bound == "interrupted" else result.exit_code
        worst = _combine(worst, code)
        if interrupt.set:
            break
    if args.json:
        doc = reports[0] if len(reports) == 1 else {"models": reports}
        stdout.write(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    return worst


def _combine(a: int, b: int) -> int:
    """The exit code of several models: the most serious one."""
    rank = {EXIT_OK: 0, EXIT_BOUND: 1, EXIT_VIOLATED: 2, EXIT_USAGE: 3, EXIT_INTERRUPTED: 4, EXIT_INTERNAL: 5}
    return max(a, b, key=lambda c: rank.get(c, 6))


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser(stdout)
    try:
        args = parser.parse_args(argv)
    except _UsageError as e:
        (stdout if e.status == 0 else stderr).write(e.message)
        return e.status
    if args.command is None:
        stderr.write(parser.format_usage())
        return EXIT_USAGE
    interrupt = Interrupt()
    previous = None
    try:
        previous = signal.signal(signal.SIGINT, lambda *_: setattr(interrupt, "set", True))
    except ValueError:  # not the main thread (e.g. under some test runners): Ctrl-C keeps its default
        previous = None
    try:
        return _check(args, stdout, stderr, interrupt)
    except DiagnosticError as e:
        stderr.write(render(e.diagnostics, Sources()))
        return EXIT_USAGE
    except KeyboardInterrupt:
        stderr.write("kvmverify: interrupted\n")
        return EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001 - the last line of defence: never a traceback for a user
        if os.environ.get("KVMVERIFY_DEBUG"):
            raise
        stderr.write(f"kvmverify: internal error: {type(e).__name__}: {e}\n"
                     "  this is a bug in kvmverify; rerun with KVMVERIFY_DEBUG=1 for the traceback and report it\n")
        return EXIT_INTERNAL
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def entry() -> int:
    return main(sys.argv[1:])
