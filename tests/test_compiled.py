"""The compiled engine (engines/compiled): exact agreement with the Python engine on every shipped and corpus
model (counts, depth, verdicts, traces: the whole printed result), with and without symmetry; every trace it
reports replayed; the build cache; no compiler; limits; determinism across hash seeds and thread counts; a crash
of the checker as an internal error; --dump-generated. Most tests compile with tcc where it is installed (a
model in milliseconds); the thread tests need gcc or clang (tcc's checkers have one thread)."""
import glob
import io
import os
import shlex
import signal
import stat
import subprocess
import sys
import time

import pytest

from kvmverify.cli import main
from kvmverify.diagnostics import Sources
from kvmverify.difftest.compare import compare, difftest_compiler
from kvmverify.difftest.model import generate
from kvmverify.difftest.promela import TooBig
from kvmverify.engines import Options, run_engine
from kvmverify.engines.compiled import CheckerCrash, driver, program, run_compiled
from kvmverify.engines.compiled.build import NoCompiler, build, find_compiler
from kvmverify.engines.shared.limits import Interrupt, Limits
from kvmverify.engines.shared.replay import Disagreement
from kvmverify.ir.select import safety_only
from kvmverify.pipeline import compile_model
from kvmverify.trace.text import render_result

MODELS = sorted(glob.glob("models/**/*.kv", recursive=True) + glob.glob("tests/corpus/*.kv"))
SMALLER = {"models/apf_int.kv": {"NVCPU": 1}}  # its default (2,2) takes the Python liveness search 15 s


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Checkers go to a cache of the test session's own, never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def cc(monkeypatch, system_cc):
    """The fastest compiler here for the engine called directly (tcc where installed: a model in milliseconds);
    $CC names the system compiler, the one the command line uses (it refuses tcc: TCC_REFUSED)."""
    compiler = difftest_compiler()
    if compiler is None:
        pytest.skip("no C compiler (gcc, clang or tcc)")
    monkeypatch.setenv("CC", " ".join(system_cc.argv))
    return compiler


@pytest.fixture
def system_cc():
    try:
        return find_compiler({"PATH": os.environ.get("PATH", "")})
    except NoCompiler as e:
        pytest.skip(f"no C compiler: {e}")


@pytest.fixture
def threaded_cc(system_cc):
    return system_cc


def system(path, params=None):
    return compile_model(path, params if params is not None else SMALLER.get(path, {}), Sources()).system


def shown(ts, result) -> str:
    return render_result(ts, result).replace(f"{result.engine} engine", "ENGINE engine", 1)


@pytest.mark.parametrize("path", MODELS)
def test_the_compiled_engine_prints_what_the_python_engine_prints(path, cc):
    ts = system(path)
    for symmetry in (True, False):
        want = run_engine(ts, "explicit", Options(symmetry=symmetry))
        got = run_engine(ts, "compiled", Options(symmetry=symmetry))
        assert (got.stats.states, got.stats.transitions, got.stats.depth) == \
            (want.stats.states, want.stats.transitions, want.stats.depth)
        assert [(r.prop.name, r.status, r.trace.length if r.trace else None) for r in got.results] == \
            [(r.prop.name, r.status, r.trace.length if r.trace else None) for r in want.results]
        assert shown(ts, got) == shown(ts, want)  # the same traces, step by step


def test_generated_models_agree_without_spin(cc):
    """The differential test's models (every construct the language has), compiled against the Python engine;
    tests/test_spin_difftest.py adds SPIN and compares 200 of them."""
    compared = 0
    for seed in range(20_000, 20_040):
        try:
            out = compare(seed, generate(seed), z3_engines=False, spin=False, compiler=cc)
        except TooBig:
            continue
        if out.accepted:
            compared += 1
            assert not out.disagreements, (seed, out.disagreements)
            assert out.compared["compiled~explicit"] >= 3
    assert compared >= 25


WIDE = """model wide
type Tok = 0 .. 99
type Small = 0 .. 3
struct big size 4096 {
    head: u32 @ 0
    pad: u8[4088] @ 4
    tail: u32 @ 4092
}
var s : set of Tok = {}
var b : big = 0
var n : 0 .. 3 = 0
var w : -5 .. 200 = 0
actor a {
    action add(t: Small) when !(t in s) && n < 3 { s := s + {t * 30}; n := n + 1 }
    action pick() { choose t: Tok where t in s { s := s - {t}; b.tail := t } }
    action bump() when b.head < 2 { b.head := b.head + 1 }
    action swing() when w < 190 { w := (w * 7 - 11) % 13 + card(s) * 60 }
}
invariant few: card(s) <= 3
invariant tail_in_range: b.tail <= 99
cover far: w > 100
"""


def test_wide_values_sets_of_100_and_a_4096_byte_struct(cc, tmp_path):
    """Values wider than 64 bits: a set of 100 elements (dynamic membership: shifts by a variable amount), a
    4096-byte struct of which two fields change (the rest is not stored), C division of negative numbers."""
    path = tmp_path / "wide.kv"
    path.write_text(WIDE)
    ts = system(str(path))
    prog = program(ts)
    assert prog.packing.nbytes <= 8  # the struct's 4088 bytes of padding are not stored
    want = run_engine(ts, "explicit", Options())
    got = run_engine(ts, "compiled", Options())
    assert shown(ts, got) == shown(ts, want)
    assert got.stats.states > 200


def test_every_reported_path_is_replayed_by_the_interpreter(cc, monkeypatch):
    """A report whose path does not lead where the checker says is an internal error, never a trace."""
    ts = system("models/apf_int_bugs/host_ignores_token_slot.kv")
    real = driver.parse_report

    def corrupt(lines):
        r = real(lines)
        sid, (root, positions, words) = next(iter(r.paths.items()))
        r.paths[sid] = (root, [positions[0] + 1, *positions[1:]], words)
        return r
    monkeypatch.setattr(driver, "parse_report", corrupt)
    with pytest.raises(Disagreement):
        run_compiled(ts, compiler=cc)


def test_a_second_run_does_not_compile(cc, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "fresh"))
    source = program(system("tests/corpus/counter.kv")).generated.source
    first = build(source, cc)
    second = build(source, cc)
    assert first.compiled and not second.compiled and first.path == second.path
    assert str(first.path).startswith(str(tmp_path / "fresh" / "kvmverify" / "compiled"))
    # end to end: a compiler that logs its calls is called for the first run only
    log = tmp_path / "calls"
    wrapper = tmp_path / "logcc"
    wrapper.write_text(f"#!/bin/sh\ncase \" $* \" in *\" -o \"*) echo compiled >> {log};; esac\n"
                       f"exec {shlex.split(os.environ['CC'])[0]} \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("CC", str(wrapper))
    for _ in range(2):
        assert main(["check", "tests/corpus/counter.kv", "--engine", "compiled", "-q"], io.StringIO(),
                    io.StringIO()) == 0
    assert log.read_text().count("compiled") == 1


def test_without_a_compiler(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", "no-such-compiler-kvmverify")
    err = io.StringIO()
    assert main(["check", "tests/corpus/counter.kv", "--engine", "compiled"], io.StringIO(), err) == 2
    assert "KV513" in err.getvalue() and "no-such-compiler-kvmverify" in err.getvalue()
    # auto: a model bigger than the Python probe gets one note and the Python engine
    monkeypatch.delenv("CC")
    monkeypatch.setenv("PATH", str(tmp_path))  # no cc, gcc or clang
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", "models/apf_halt_2010_bugs/apf_when_nmi_allowed.kv", "--no-traces"], out, err)
    assert code == 0, err.getvalue()
    assert "explicit engine" in out.getvalue()
    assert out.getvalue().count("no C compiler on PATH") == 1
    assert "80262 states" in out.getvalue()


def test_auto_compiles_a_model_bigger_than_the_probe(cc, monkeypatch):
    out = io.StringIO()
    assert main(["check", "models/apf_halt_2010_bugs/apf_when_nmi_allowed.kv", "--no-traces", "-q"], out,
                io.StringIO()) == 0
    assert "auto (compiled) engine" in out.getvalue() and "80262 states" in out.getvalue()
    out = io.StringIO()
    assert main(["check", "models/apf_halt_2010.kv", "--no-traces", "-q"], out, io.StringIO()) == 0
    assert "explicit engine" in out.getvalue()  # small: the Python probe finished it


def test_limits_give_a_partial_result(cc, monkeypatch):
    path = "models/apf_halt_2010_bugs/apf_when_nmi_allowed.kv"
    out = io.StringIO()
    code = main(["check", path, "--engine", "compiled", "--max-states", "5000", "--no-traces"], out, io.StringIO())
    text = out.getvalue()
    assert code in (1, 4) and "search stopped by max-states after" in text
    assert "no violation up to depth" in text
    out = io.StringIO()
    main(["check", path, "--engine", "compiled", "--max-depth", "4", "--no-traces"], out, io.StringIO())
    assert "no violation up to depth 4" in out.getvalue()
    ts = system("models/apf_int.kv", {"NVCPU": 2, "NTOKEN": 3})
    started = time.monotonic()
    r = run_compiled(ts, Limits(timeout=1.5), symmetry=False, compiler=cc)
    assert r.bound == "timeout" and time.monotonic() - started < 20
    assert any("search stopped by timeout" in n for n in r.notes)
    assert all(x.status in ("unknown", "reached") for x in r.results if x.prop.kind != "layout")


def test_an_interrupt_stops_the_checker_and_reports(cc):
    ts = system("models/apf_int.kv", {"NVCPU": 2, "NTOKEN": 3})
    interrupt = Interrupt()
    seen = []

    def progress(p):
        if p.phase == "search":
            seen.append(p)
            interrupt.set = True  # Ctrl-C at the search's first progress report
    r = run_compiled(ts, Limits(), interrupt, progress, symmetry=False, compiler=cc)
    assert r.bound == "interrupted" and seen
    assert 0 < r.stats.states < 32_752_729


def test_ctrl_c_exits_130_with_the_partial_result(cc, tmp_path):
    env = {**os.environ, "CC": os.environ["CC"], "PYTHONPATH": os.getcwd()}
    p = subprocess.Popen([sys.executable, "-m", "kvmverify", "check", "models/apf_int.kv", "--param", "NTOKEN=3",
                          "--engine", "compiled", "--no-symmetry", "--no-traces"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(4)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "stopped by an interrupt (SIGINT)" in out


def test_the_output_is_the_same_for_any_hash_seed_and_thread_count(threaded_cc):
    env = {**os.environ, "CC": " ".join(threaded_cc.argv), "PYTHONPATH": os.getcwd()}
    outs = set()
    for seed, threads in (("0", "1"), ("1", "2"), ("12345", "2")):
        r = subprocess.run([sys.executable, "-m", "kvmverify", "check",
                            "models/apf_halt_2010_bugs/apf_when_nmi_allowed.kv", "--engine", "compiled",
                            "--threads", threads, "--no-color"], capture_output=True, text=True,
                           env={**env, "PYTHONHASHSEED": seed}, timeout=300)
        assert r.returncode in (0, 1), r.stderr
        outs.add(r.stdout)
    assert len(outs) == 1


def test_two_threads_number_states_as_one(threaded_cc):
    ts = system("models/apf_int.kv", {"NVCPU": 2, "NTOKEN": 2})
    ts = safety_only(ts)
    a = run_compiled(ts, Limits(), threads=1, compiler=threaded_cc, symmetry=False)
    b = run_compiled(ts, Limits(), threads=2, compiler=threaded_cc, symmetry=False)
    assert (a.stats.states, a.stats.transitions, a.stats.depth) == (786_769, 4_775_608, 30)
    assert shown(ts, a) == shown(ts, b)


def test_a_crash_of_the_checker_is_an_internal_error(cc, tmp_path, monkeypatch):
    crasher = tmp_path / "crash"
    crasher.write_text("#!/bin/sh\necho 'P 10 1 10 5 1000'\nkill -SEGV $$\n")
    crasher.chmod(crasher.stat().st_mode | stat.S_IEXEC)
    from kvmverify.engines.compiled import build as build_mod
    monkeypatch.setattr(driver, "build", lambda *a, **k: build_mod.Built(crasher, False, 0.0))
    with pytest.raises(CheckerCrash, match="SIGSEGV"):
        run_compiled(system("tests/corpus/counter.kv"), compiler=cc)
    err = io.StringIO()  # the command line builds with $CC, the system compiler (the cc fixture)
    assert main(["check", "tests/corpus/counter.kv", "--engine", "compiled"], io.StringIO(), err) == 3
    assert "internal error" in err.getvalue() and "SIGSEGV" in err.getvalue()


def test_dump_generated_writes_a_program_that_compiles_by_hand(cc, tmp_path, monkeypatch):
    target = tmp_path / "counter.c"
    assert main(["check", "tests/corpus/counter.kv", "--engine", "compiled", "--dump-generated", str(target), "-q"],
                io.StringIO(), io.StringIO()) == 0
    text = target.read_text()
    assert "kv_act0" in text and '#include "kv_search.c"' in text
    runtime = text.split("runtime: ", 1)[1].split(" ", 1)[0]
    exe = tmp_path / "checker"
    subprocess.run([*cc.argv, "-I", runtime, "-o", str(exe), str(target)], check=True, capture_output=True)
    report = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    assert report.splitlines()[-1] == "E" and any(line.startswith("R none 6 6 5 ") for line in report.splitlines())
    err = io.StringIO()
    assert main(["check", "tests/corpus/counter.kv", "--engine", "explicit", "--dump-generated", str(target)],
                io.StringIO(), err) == 2
    assert "KV504" in err.getvalue()


def test_a_construct_the_engine_does_not_handle_is_named(cc, tmp_path, monkeypatch):
    """Python counts the bits of a negative number's absolute value; for values past 64 bits the C code does
    not: the model is refused (KV512), never checked wrongly."""
    path = tmp_path / "negwide.kv"
    path.write_text("model negwide\nvar x : -100000000000000000000000 .. 5 = 0\n"
                    "actor a { action f() when x > -3 { x := x - 1 } }\n"
                    "invariant small: x <= 5\n")
    ts = system(str(path))
    err = io.StringIO()
    code = main(["check", str(path), "--engine", "compiled"], io.StringIO(), err)
    assert code == 2 and "KV512" in err.getvalue(), err.getvalue()
    assert "x" in err.getvalue()
    assert run_engine(ts, "explicit", Options()).stats.states == 4


def test_ctrl_c_before_the_checker_is_ready_explores_nothing(cc):
    interrupt = Interrupt()
    interrupt.set = True
    r = run_compiled(system("tests/corpus/counter.kv"), Limits(), interrupt, compiler=cc)
    assert r.bound == "interrupted" and r.stats.states <= 1
    assert all(x.status == "unknown" for x in r.results)


def test_a_timeout_while_compiling_is_a_partial_result(cc, tmp_path, monkeypatch):
    slow = tmp_path / "slowcc"
    real_cc = shlex.split(os.environ["CC"])[0]
    slow.write_text(f"#!/bin/sh\ncase \" $* \" in *\" -o \"*) sleep 3;; esac\nexec {real_cc} \"$@\"\n")
    slow.chmod(slow.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("CC", str(slow))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = io.StringIO()
    code = main(["check", "tests/corpus/counter.kv", "--engine", "compiled", "--timeout", "0.5"], out, io.StringIO())
    assert code == 4
    assert "stopped by timeout while compiling the checker" in out.getvalue()


def test_concurrent_builds_leave_one_whole_checker(cc, tmp_path, monkeypatch):
    """Two runs compiling the same model at once: both get a working checker (built apart, renamed in place)."""
    import threading
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "shared"))
    source = program(system("tests/corpus/handshake.kv")).generated.source
    built = []
    threads = [threading.Thread(target=lambda: built.append(build(source, cc))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({b.path for b in built}) == 1
    out = subprocess.run([str(built[0].path)], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "E"
    assert [p.name for p in (tmp_path / "shared" / "kvmverify" / "compiled").iterdir()] == [built[0].path.name]


def test_max_memory_stops_the_checker(cc, tmp_path):
    """--max-memory counts the checker's memory and kvmverify's own: a search that needs far more stops with a
    partial result (shared_queue (3,6,4): 31 M states, 0.7 GB)."""
    env = {**os.environ, "CC": os.environ["CC"], "PYTHONPATH": os.getcwd()}
    r = subprocess.run([sys.executable, "-m", "kvmverify", "check", "benchmarks/ports/shared_queue.kv", "--param",
                        "NVCPU=3", "--param", "NTOKEN=6", "--param", "QLEN=4", "--engine", "compiled",
                        "--max-memory", "160", "--no-traces"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 4, r.stderr
    assert "search stopped by max-memory after" in r.stdout


def test_tcc_is_refused_for_verdicts(monkeypatch, tmp_path):
    """tcc 0.9.27 takes `(x < 0) || (0 && ((!((x < 3) && 1)) ? 1 : 1))` for true at x = 0, as in a generated
    checker (campaign seed 7143321: a cover reached where it is not); a wrong "holds" would not show in a replayed
    trace, so no verdict comes from a tcc-built checker: CC=tcc is refused (KV513) and auto searches in Python."""
    import shutil
    if not shutil.which("tcc"):
        pytest.skip("tcc is not installed")
    monkeypatch.setenv("CC", "tcc")
    err = io.StringIO()
    assert main(["check", "tests/corpus/counter.kv", "--engine", "compiled"], io.StringIO(), err) == 2
    assert "KV513" in err.getvalue() and "tcc miscompiles" in err.getvalue()
    assert find_compiler({"CC": "tcc", "PATH": os.environ["PATH"]}, allow_tcc=True).kind == "tcc"
