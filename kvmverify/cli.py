"""The command line: `main(argv, stdout, stderr) -> exit code`. Nothing below this module prints.

Exit codes:
  0  every property holds (or is as its `expect` annotation says) within the stated coverage
  1  a property is violated (a deadlock too), a cover or a sanity finding (enabled:, premise:) is vacuous, or a
     result differs from its `expect` annotation (an `expect violated` property that now holds is a failure too)
  2  the model or the command line is wrong (diagnostics on stderr)
  3  internal error in kvmverify (please report it), e.g. a counterexample that does not replay or a crash of the
     compiled checker
  4  no violation found, but some result is undecided because a bound stopped the search (--max-states,
     --max-depth, --timeout, --max-memory): the output says how far it got
  130 interrupted (Ctrl-C); the partial result is printed
With several models, the most serious code of any of them (2 > 1 > 4 > 0).

`kvmverify replay MODEL TRACE.itf.json`:
  0  the trace is still a run of the model and still violates its property
  1  it is not a run of the model any more, or no longer violates the property
  2  the trace file or the model is malformed (KV6xx / model diagnostics on stderr)

stdout never carries wall-clock times (unless `--times` asks for them); progress and timings go to stderr.
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
from .diagnostics import NO_SPAN, Diagnostic, DiagnosticError, Sources, did_you_mean, render
from .engines import DEFAULT_DEPTH, DEFAULT_MAX_K, ENGINES, Options, run_engine
from .engines.shared.limits import Interrupt, Limits, current_rss_mb
from .engines.shared.replay import Disagreement
from .export.files import NameAllocator, append_text, check_output_dir, check_output_file, write_atomic
from .export.json_result import document as json_document
from .export.json_result import run_json
from .export.run import ModelRun
from .export.summary import markdown_summary, text_table
from .export.traces import TRACE_FORMATS, export_traces
from .pipeline import compile_model
from .progress import ProgressReporter
from .trace.text import TRACES, Style, render_result, render_trace


EXIT_OK, EXIT_VIOLATED, EXIT_USAGE, EXIT_INTERNAL, EXIT_BOUND, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


class _UsageError(Exception):
    def __init__(self, status: int, message: str = ""):
        self.status, self.message = status, message


class _Parser(argparse.ArgumentParser):
    """argparse that reports to our streams and never calls sys.exit."""

    def __init__(self, *args, out: TextIO, **kw):
        kw.setdefault("allow_abbrev", False)  # `--max-state` is an error, not silently `--max-states`
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
                   help="explicit: exhaustive search (Python); compiled: the same search as a C program built by "
                        "the system's C compiler ($CC, else cc, gcc or clang; cached under ~/.cache/kvmverify) "
                        "and run on every core; bmc: z3 bounded model checking to --depth; induction: "
                        "k-induction up to --max-k; pdr: z3 Spacer proofs; auto (default): independent parts one "
                        "at a time, else the Python search for a small model and the compiled one for a bigger one "
                        "(the Python one, with a note, without a C compiler), with a state budget, then PDR for "
                        "what the budget left open")
    c.add_argument("--depth", type=_positive_int, metavar="K",
                   help=f"bmc: check runs of at most K steps (default {DEFAULT_DEPTH})")
    c.add_argument("--max-k", type=_positive_int, metavar="K",
                   help=f"induction: try k = 1 .. K (default {DEFAULT_MAX_K})")
    c.add_argument("--no-symmetry", action="store_true",
                   help="explore every state, not one per orbit of the `symmetric` types")
    c.add_argument("--threads", type=_positive_int, metavar="N",
                   help="compiled: search with N threads (default: one per core); the result is the same for "
                        "any N")
    c.add_argument("--dump-generated", metavar="FILE",
                   help="compiled: also write the generated C program to FILE (compile it with "
                        "cc -O2 -pthread -I <the path it names>)")
    c.add_argument("--parts", action="store_true",
                   help="explicit: explore the model's independent parts one at a time (safety only; the state "
                        "count is their product)")
    c.add_argument("--property", action="append", default=[], metavar="NAME",
                   help="check and report only the properties whose names match NAME, a shell glob (repeatable): "
                        "--property deadlock --property 'slot:*'")
    c.add_argument("--exclude", action="append", default=[], metavar="NAME",
                   help="leave out the properties whose names match NAME, a shell glob (repeatable): "
                        "--exclude 'enabled:*'")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    c.add_argument("--traces", choices=TRACES, default=None,
                   help="which counterexamples to print: all, unexpected (the failures only) or none; default: all "
                        "for one model file, unexpected for a directory or several files")
    c.add_argument("--no-traces", action="store_true", help="only the summary lines, no counterexamples "
                   "(--traces none)")
    c.add_argument("-q", "--quiet", action="store_true",
                   help="no timing line, no progress and no warnings on stderr")
    c.add_argument("--trace-format", type=_trace_formats, default=None, metavar="FMT[,FMT]",
                   help="text | itf | html | json | mermaid (comma-separated for several): with --out, one file "
                        "per violated property in each format (default: text)")
    c.add_argument("--out", metavar="DIR", help="write each counterexample to a file in DIR")
    c.add_argument("--junit", metavar="FILE", help="write a JUnit XML report (one testcase per model and property)")
    c.add_argument("--sarif", metavar="FILE", help="write a SARIF 2.1.0 report (violations and lint findings)")
    c.add_argument("--no-color", action="store_true", help="plain text even on a terminal (also: NO_COLOR=1)")
    c.add_argument("--times", action="store_true", help="add a time column to the summary table, and real times and "
                   "the run's timestamp to the JUnit report (not deterministic)")
    r = sub.add_parser("replay", help="re-run an exported ITF trace against a model",
                       description="Re-execute TRACE (an .itf.json file from `check --trace-format itf`) on MODEL: "
                                   "is it still a run of the model, and does it still violate its property?")
    r.add_argument("model", metavar="MODEL", help=".kv file")
    r.add_argument("trace", metavar="TRACE", help=".itf.json trace file")
    r.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="override a parameter (the trace's own parameter values are used otherwise)")
    r.add_argument("--property", metavar="NAME", help="the property to check (default: the one the trace names)")
    r.add_argument("--json", action="store_true", help="print the replay report as JSON")
    r.add_argument("--no-color", action="store_true", help="plain text even on a terminal (also: NO_COLOR=1)")
    r.add_argument("-q", "--quiet", action="store_true", help="no warnings on stderr")
    f = sub.add_parser("conform", help="does a recorded KVM trace conform to the model? (its `observe` declarations)",
                       description="Search for a run of MODEL that explains TRACE, the text of `trace-cmd report` or "
                                   "of /sys/kernel/tracing/trace: every event an `observe` declaration names is one "
                                   "step of that action, the model's other actions happen in between (docs/conform.md).")
    f.add_argument("model", metavar="MODEL", help=".kv file with `observe` declarations")
    f.add_argument("trace", metavar="TRACE", help="trace text (trace-cmd report > FILE, or a copy of the tracefs trace file)")
    f.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="override a `param` of the model (repeatable), e.g. --param NTOKEN=3")
    f.add_argument("--format", choices=("auto", "trace-cmd", "tracefs"), default="auto",
                   help="the trace's text format (default: from its header)")
    f.add_argument("--max-states", type=_positive_int, metavar="N", default=None,
                   help="stop (exit 4) when the states possible before one event pass N (default 1000000)")
    f.add_argument("--timeout", type=_seconds, metavar="SECONDS", help="stop after this long (exit 4)")
    f.add_argument("--no-symmetry", action="store_true",
                   help="try every free value of a `symmetric` type for a new identifier, not one per class")
    f.add_argument("--json", action="store_true", help="print the result as JSON")
    f.add_argument("--out", metavar="DIR", help="write the witness run to a file in DIR (see --trace-format)")
    f.add_argument("--trace-format", type=_trace_formats, default=None, metavar="FMT[,FMT]",
                   help="text | itf | html | json | mermaid (comma-separated) for --out (default: text)")
    f.add_argument("--no-color", action="store_true", help="plain text even on a terminal (also: NO_COLOR=1)")
    f.add_argument("-q", "--quiet", action="store_true", help="no timing line and no warnings on stderr")
    sub.add_parser("lsp", help="run the language server for editors (stdio; needs pygls: pip install -e '.[lsp]' in a checkout)",
                   description="Serve the Language Server Protocol on stdin/stdout: diagnostics, hover, definition, "
                               "references, symbols, completion and a check action for .kv files (docs/editors.md).")
    k = sub.add_parser("completion", help="print a shell completion script: eval \"$(kvmverify completion bash)\"",
                       description="Print a completion script for bash or zsh, generated from this very command "
                                   "line (every subcommand, flag and choice), e.g. `kvmverify completion bash > "
                                   "~/.local/share/bash-completion/completions/kvmverify`.")
    k.add_argument("shell", choices=("bash", "zsh"), help="the shell to complete for")
    return p


# file and directory arguments, for the completion script (shtab's names for its file/directory completers)
_PATH_ARGS = {"paths": "file", "model": "file", "trace": "file", "junit": "file", "sarif": "file", "out": "dir"}


def _completion(args, stdout: TextIO) -> int:
    import shtab
    parser = build_parser(stdout)
    for action in _all_actions(parser):
        kind = _PATH_ARGS.get(action.dest)
        if kind is not None:
            action.complete = shtab.FILE if kind == "file" else shtab.DIRECTORY  # type: ignore[attr-defined]
    stdout.write(shtab.complete(parser, shell=args.shell))
    return EXIT_OK


def _all_actions(parser: argparse.ArgumentParser):
    for action in parser._actions:
        yield action
        for sub in (getattr(action, "choices", None) or {}).values() if isinstance(action,
                                                                                  argparse._SubParsersAction) else ():
            yield from _all_actions(sub)


def _trace_formats(text: str) -> tuple[str, ...]:
    items = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [t for t in items if t not in TRACE_FORMATS]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"unknown trace format {', '.join(bad) or repr(text)}; "
                                         f"choose from {', '.join(TRACE_FORMATS)}")
    return tuple(dict.fromkeys(items))


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
_ENGINE_FLAGS = {"depth": ("bmc",), "max_k": ("induction",), "max_states": ("explicit", "compiled", "auto"),
                 "max_depth": ("explicit", "compiled", "auto"), "max_memory": ("explicit", "compiled", "auto"),
                 "no_symmetry": ("explicit", "compiled", "auto"), "parts": ("explicit",),
                 "threads": ("compiled", "auto"), "dump_generated": ("compiled",)}


def _engine_options(args) -> Options:
    bad = []
    for flag, engines in _ENGINE_FLAGS.items():
        if getattr(args, flag) not in (None, False) and args.engine not in engines:
            name = "--" + flag.replace("_", "-")
            bad.append(Diagnostic("KV504", "error", f"{name} does not apply to --engine {args.engine}", NO_SPAN,
                                  f"{name} is read by --engine {_either(engines)}"))
    if bad:
        raise DiagnosticError(bad)
    if args.max_memory is not None and current_rss_mb() is None:
        raise DiagnosticError([Diagnostic("KV508", "error", "--max-memory: this system reports no memory use "
                                          "(no /proc/self/statm and no resource.getrusage), so the limit cannot be "
                                          "enforced", NO_SPAN, "drop --max-memory, or bound the run with "
                                          "--max-states or --timeout")])
    limits = Limits(args.max_states, args.max_depth, args.timeout, args.max_memory)
    return Options(limits, args.depth if args.depth is not None else DEFAULT_DEPTH,
                   args.max_k if args.max_k is not None else DEFAULT_MAX_K, symmetry=not args.no_symmetry,
                   parts=args.parts, threads=args.threads or None)


def _either(names) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


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


def _use_color(args, stream: TextIO) -> bool:
    if getattr(args, "no_color", False) or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _progress_for(args, stderr: TextIO, label: str) -> ProgressReporter | None:
    """A live line on a terminal; a plain line every 10 s without one or with CI set (a CI log); none with -q."""
    if args.quiet:
        return None
    isatty = getattr(stderr, "isatty", None)
    tty = bool(isatty and isatty()) and not os.environ.get("CI")
    return ProgressReporter(stderr, label, tty, getattr(args, "max_states", None))


def _check(args, stdout: TextIO, stderr: TextIO, interrupt: Interrupt) -> int:
    overrides = _overrides(args.param)
    options = _engine_options(args)
    formats = args.trace_format or ("text",)
    if args.trace_format and any(f != "text" for f in args.trace_format) and not args.out:
        raise DiagnosticError([Diagnostic("KV503", "error", f"--trace-format {','.join(args.trace_format)} writes "
                                          "files: give the directory with --out DIR", NO_SPAN,
                                          "e.g. --trace-format itf,html --out traces/")])
    if args.out:  # before any search: a long run must not end in an unwritable report
        check_output_dir(args.out)
    for flag, path in (("--junit", args.junit), ("--sarif", args.sarif)):
        if path:
            check_output_file(path, flag)
    style = Style(_use_color(args, stdout))
    files = _model_files(args.paths)
    if args.dump_generated:
        if len(files) != 1:
            raise DiagnosticError([Diagnostic("KV514", "error", f"--dump-generated writes the C program of one "
                                              f"model; {len(files)} models were given", NO_SPAN,
                                              "give one model file")])
        check_output_file(args.dump_generated, "--dump-generated")
    traces = "none" if args.no_traces else args.traces or (
        "all" if len(files) == 1 and not os.path.isdir(args.paths[0]) else "unexpected")
    shown: set[tuple] = set()  # diagnostics already printed: a spec/ file's warning once per run
    diagnostics: list[Diagnostic] = []
    worst = EXIT_OK
    runs: list[ModelRun] = []
    codes: list[int] = []
    names = NameAllocator()

    def report(diags, sources: Sources, printed: bool = True) -> None:
        fresh = [d for d in diags if _key(d) not in shown]
        shown.update(map(_key, fresh))
        diagnostics.extend(fresh)
        if printed and fresh:
            stderr.write(render(fresh, sources))

    matched: set[str] = set()  # --property/--exclude patterns that matched a property of some model
    for path in files:
        run = ModelRun(path)
        runs.append(run)
        code = _check_one(run, args, options, overrides, interrupt, stderr, report, matched, len(files) == 1)
        codes.append(code)
        worst = _combine(worst, code)
        if run.result is not None:
            if not args.json:
                stdout.write(render_result(run.system, run.result, traces=traces, style=style, sources=run.sources))
            if args.out:
                written = export_traces(run, formats, args.out, names)
                if written and not args.quiet:
                    stderr.write("".join(f"kvmverify: wrote {w}\n" for w in written))
            if not args.quiet:
                stderr.write(_timing_line(run))
        if interrupt.set:
            break
    never = [p for p in (*args.property, *args.exclude) if p not in matched]
    if never and len(files) > 1 and any(run.system is not None for run in runs):
        from .ir.select import all_names
        names = {n for run in runs if run.system is not None for n in all_names(run.system)}
        report(_unmatched_diagnostics(never, args, names), Sources())
        worst = _combine(worst, EXIT_USAGE)
    if args.json:
        doc = json_document([run_json(run, c) for run, c in zip(runs, codes)], diagnostics, worst)
        stdout.write(json.dumps(doc, indent=2) + "\n")
    elif len(files) > 1:
        stdout.write("\n" + text_table(runs, style, args.times))
    if args.junit:
        from .export.junit import junit_xml
        write_atomic(args.junit, junit_xml(runs, args.times))
    if args.sarif:
        from .export.sarif import sarif_json
        write_atomic(args.sarif, sarif_json(runs))
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        append_text(os.environ["GITHUB_STEP_SUMMARY"], markdown_summary(runs, worst))
    return worst


def _check_one(run: ModelRun, args, options: Options, overrides, interrupt: Interrupt, stderr: TextIO,
               report, matched: set[str] | None = None, alone: bool = True) -> int:
    """Compile and search one model into `run`; its exit code."""
    try:
        compiled = compile_model(run.path, overrides, run.sources)
    except DiagnosticError as e:
        report(e.diagnostics, run.sources)
        run.errors = tuple(d for d in e.diagnostics if d.is_error)
        run.warnings = tuple(d for d in e.diagnostics if not d.is_error)
        return EXIT_USAGE
    run.warnings = tuple(compiled.warnings)
    report(compiled.warnings, run.sources, printed=not args.quiet)
    ts = compiled.system
    patterns = (*args.property, *args.exclude)
    if patterns:
        from .ir.select import select, unmatched
        missing = unmatched(ts, patterns)
        if matched is not None:
            matched.update(p for p in patterns if p not in missing)
        if missing and alone:  # one model: a pattern that selects nothing is a mistake, said before any search
            from .ir.select import all_names
            raise DiagnosticError(_unmatched_diagnostics(missing, args, set(all_names(ts))))
        ts = select(ts, args.property, args.exclude)
    run.system = ts
    progress = _progress_for(args, stderr, run.path)
    started = time.monotonic()
    from .engines.compiled import BuildError, CheckerCrash, NoCompiler, Unsupported
    try:
        if args.dump_generated:
            from .engines.compiled import program
            from .engines.compiled.build import RUNTIME
            write_atomic(args.dump_generated, f"/* runtime: {RUNTIME} (build: cc -O2 -pthread -I {RUNTIME} "
                         f"{os.path.basename(args.dump_generated)} -o checker) */\n" + program(ts).generated.source)
        result = run.result = run_engine(ts, args.engine, options, interrupt, progress)
    except (Unsupported, NoCompiler) as e:
        code, what = ("KV512", f"the compiled engine cannot check model {ts.name}: {e}") \
            if isinstance(e, Unsupported) else ("KV513", f"--engine compiled: {e}")
        hint = "--engine explicit checks it in Python" if isinstance(e, Unsupported) else \
            "install a C compiler (gcc or clang), set CC, or use --engine explicit"
        run.errors = (Diagnostic(code, "error", what, NO_SPAN, hint),)
        report(run.errors, run.sources)
        return EXIT_USAGE
    except (BuildError, CheckerCrash) as e:
        stderr.write(f"kvmverify: internal error: {e}\n"
                     f"  this is a bug in kvmverify; please report it with the model (--dump-generated FILE writes "
                     "the C program)\n")
        run.errors = (Diagnostic("KV902", "error", f"internal error: {e}", NO_SPAN),)
        report(run.errors, run.sources, printed=False)
        return EXIT_INTERNAL
    except Disagreement as e:
        label = "compiled checker's" if "compiled" in e.engine else "z3"
        both = "" if e.z3_trace is None else (
            f"  the {label} trace:\n{render_trace(ts, e.z3_trace)}\n"
            f"  what the explicit interpreter replayed of it:\n{render_trace(ts, e.replayed)}\n")
        stderr.write(f"kvmverify: internal error: {e}\n{both}"
                     "  this is a bug in kvmverify; please report it with the model\n")
        run.errors = (Diagnostic("KV900", "error", f"internal error: {e}", NO_SPAN),)
        report(run.errors, run.sources, printed=False)
        return EXIT_INTERNAL
    finally:
        if progress is not None:
            progress.close()
    run.seconds = time.monotonic() - started
    return EXIT_INTERRUPTED if result.bound == "interrupted" else result.exit_code


def _unmatched_diagnostics(patterns: list[str], args, names: set[str]) -> list[Diagnostic]:
    """KV509 for each --property/--exclude pattern that matches no property of the models checked."""
    known = sorted(names)
    out = []
    for p in patterns:
        flag = "--property" if p in args.property else "--exclude"
        out.append(Diagnostic("KV509", "error", f"{flag} {p}: no property matches it", NO_SPAN,
                              did_you_mean(p, known) or ("properties: " + ", ".join(known[:12]) +
                                                         (", ..." if len(known) > 12 else ""))))
    return out


def _timing_line(run: ModelRun) -> str:
    result = run.result
    assert result is not None
    parts = next((r.coverage.parts for r in result.results if r.coverage.parts), None)
    visited = sum(parts) if parts else result.stats.states  # independent parts: the states really visited
    rate = visited / run.seconds if run.seconds > 0 else 0.0
    what = f"{result.stats.states} states" if result.stats.states else result.engine
    if parts:
        what += f" ({visited} visited in {len(parts)} independent parts)"
    speed = f" ({rate:,.0f} states/s)" if result.stats.states else ""
    return f"kvmverify: {run.path}: {what} in {run.seconds:.2f} s{speed}\n"


def _replay(args, stdout: TextIO, stderr: TextIO) -> int:
    from .trace.replay import (KV_TRACE_BAD_PARAM, ParamUse, load_trace, render_report, replay, report_json,
                               show_param, trace_params)
    doc = load_trace(args.trace)
    doc_params = trace_params(doc, args.trace)
    params = {**doc_params, **_overrides(args.param)}
    sources = Sources()
    try:
        compiled = compile_model(args.model, params, sources)
    except DiagnosticError as e:
        gone = [d for d in e.diagnostics if d.code == "KV502"]
        if gone and len(gone) == len([d for d in e.diagnostics if d.is_error]):
            names = [n for n in params if any(f"'{n}'" in d.message for d in gone)]
            raise DiagnosticError([Diagnostic(KV_TRACE_BAD_PARAM, "error", f"the trace was found with parameter "
                                              f"'{n}', which the model no longer declares", NO_SPAN,
                                              "edit the trace's params, or replay on the model it came from")
                                   for n in names] or e.diagnostics)
        stderr.write(render(e.diagnostics, sources))
        return EXIT_USAGE
    if compiled.warnings and not args.quiet:
        stderr.write(render(compiled.warnings, sources))
    ts = compiled.system
    if args.property is not None and ts.prop(args.property) is None:
        names = [p.name for p in ts.properties]
        raise DiagnosticError([Diagnostic("KV507", "error", f"--property {args.property}: the model has no property "
                                          f"'{args.property}'", NO_SPAN,
                                          did_you_mean(args.property, names) or "properties: " + ", ".join(names))])
    from_trace, from_flag = set(doc_params), set(_overrides(args.param))
    applied = [ParamUse(name, shown, show_param(compiled.model, name, compiled.model.param_defaults[name]),
                        "--param" if name in from_flag else "the trace" if name in from_trace else "the model")
               for name, _, shown in ts.params]
    report = replay(ts, doc, args.trace, args.property)
    report.params = applied
    if args.json:
        stdout.write(json.dumps(report_json(report, args.trace), indent=2) + "\n")
    else:
        stdout.write(render_report(report, args.trace, Style(_use_color(args, stdout))))
    return EXIT_OK if report.reproduced else EXIT_VIOLATED


def _conform(args, stdout: TextIO, stderr: TextIO, interrupt: Interrupt) -> int:
    # a long log makes millions of small objects and no cycles: the cyclic collector would only rescan them (the
    # report and the files are written while they are alive); they are freed by reference counting at the end
    import gc
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _conform_command(args, stdout, stderr, interrupt)
    finally:
        if enabled:
            gc.enable()


def _conform_command(args, stdout: TextIO, stderr: TextIO, interrupt: Interrupt) -> int:
    from .conform.report import error_json as conform_error_json
    from .conform.report import render as render_conform
    from .conform.report import result_json as conform_json
    from .conform.report import witness_files
    from .conform.run import DEFAULT_MAX_STATES, conform
    overrides = _overrides(args.param)
    if args.trace_format and not args.out:
        raise DiagnosticError([Diagnostic("KV503", "error", f"--trace-format {','.join(args.trace_format)} writes "
                                          "files: give the directory with --out DIR", NO_SPAN,
                                          "e.g. --trace-format itf,html --out witness/")])
    if args.out:
        check_output_dir(args.out)
    fmt = {"trace-cmd": "trace-cmd report", "tracefs": "tracefs trace"}.get(args.format, "auto")
    started = time.monotonic()
    sources = Sources()
    try:
        run = conform(args.model, args.trace, overrides, sources, fmt,
                      args.max_states if args.max_states is not None else DEFAULT_MAX_STATES, args.timeout,
                      interrupt, symmetry=not args.no_symmetry)
    except DiagnosticError as e:
        stderr.write(render(e.diagnostics, sources))
        if args.json:
            stdout.write(json.dumps(conform_error_json(list(e.diagnostics), EXIT_USAGE), indent=2) + "\n")
        return EXIT_USAGE
    if run.warnings and not args.quiet:
        stderr.write(render(run.warnings, run.sources))
    code = {"conforms": EXIT_OK, "not-conform": EXIT_VIOLATED}.get(run.status, EXIT_BOUND)
    if run.outcome.bound == "interrupted":
        code = EXIT_INTERRUPTED
    if run.replay_problem is not None:
        code = EXIT_INTERNAL
    if args.json:
        stdout.write(json.dumps(conform_json(run, code), indent=2) + "\n")
    else:
        stdout.write(render_conform(run, Style(_use_color(args, stdout))))
    if args.out:
        written = witness_files(run, args.trace_format or ("text",), args.out, code)
        if written and not args.quiet:
            stderr.write("".join(f"kvmverify: wrote {w}\n" for w in written))
    if not args.quiet:
        seconds = time.monotonic() - started
        n = len(run.matched.events)
        stderr.write(f"kvmverify: {run.log.path}: {n} observed events in {seconds:.2f} s "
                     f"({n / seconds if seconds > 0 else 0:,.0f} events/s)\n")
    return code


def _lsp(stderr: TextIO) -> int:
    try:
        from .lsp.server import serve  # pygls is an optional extra: imported only here
    except ImportError as e:
        missing = (e.name or "pygls").split(".")[0]
        stderr.write(f"kvmverify: error: the language server needs pygls ({missing} is not installed)\n"
                     "  install it with: pip install 'pygls>=2.0,<3' 'lsprotocol>=2025.0.0'\n"
                     "  (or, from a kvmverify checkout: pip install -e '.[lsp]')\n")
        return EXIT_USAGE
    return serve()


def _key(d: Diagnostic) -> tuple:
    return (d.code, d.span, d.message)


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

    def on_sigint(*_) -> None:
        # the first Ctrl-C asks the search to stop and report; a second one stops at once (KeyboardInterrupt)
        interrupt.set = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = None
    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread (e.g. under some test runners): Ctrl-C keeps its default
        previous = None
    try:
        if args.command == "replay":
            return _replay(args, stdout, stderr)
        if args.command == "lsp":
            return _lsp(stderr)
        if args.command == "completion":
            return _completion(args, stdout)
        if args.command == "conform":
            return _conform(args, stdout, stderr, interrupt)
        return _check(args, stdout, stderr, interrupt)
    except DiagnosticError as e:
        stderr.write(render(e.diagnostics, Sources()))
        if args.command == "check" and args.json:  # --json has one shape, whatever went wrong
            stdout.write(json.dumps(json_document([], list(e.diagnostics), EXIT_USAGE), indent=2) + "\n")
        elif args.command == "conform" and args.json:  # its own shape: a result or, here, `"status": "error"`
            from .conform.report import error_json as conform_error_json
            stdout.write(json.dumps(conform_error_json(list(e.diagnostics), EXIT_USAGE), indent=2) + "\n")
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
