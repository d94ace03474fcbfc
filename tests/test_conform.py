"""kvmverify conform: a recorded KVM trace against models/apf_int.kv's `observe` declarations.

Logs are random runs of the model printed as a host would trace them (tests/conform_support.py): they must
conform; mutated (a 'page ready' for a token never 'not present', a second 'page ready' before the guest's ACK,
a 'not present' repeated while outstanding, a fault's events swapped) they must not, at the mutated line."""
import json
import os
import random
import subprocess
import sys

import pytest

from conform_support import (compile_apf, ready_before_not_present, ready_never_not_present, random_run,
                             render, render_numbered, second_not_present, second_ready_before_ack)
from conftest import ROOT, check_golden, run_cli, schema_validator
from kvmverify.conform.log import FTRACE, TRACE_CMD, parse_trace
from kvmverify.conform.run import conform
from kvmverify.diagnostics import Sources

MODEL = "models/apf_int.kv"
ASYNCPF = "tests/data/conform/asyncpf.trace-cmd.txt"
ASYNCPF_TRACEFS = "tests/data/conform/asyncpf.tracefs.txt"
EARLY_READY = "tests/data/conform/early-ready.trace-cmd.txt"


@pytest.fixture(scope="module")
def apf():
    return compile_apf()


def _run(tmp_path, text: str, *params: str):
    path = tmp_path / "trace.txt"
    path.write_text(text)
    overrides = dict(p.split("=") for p in params)
    return conform(MODEL, str(path), {k: int(v) for k, v in overrides.items()}, Sources())


# ------------------------------------------------------------------------------------------------ reading logs
def test_both_text_formats_read_the_same_events_with_noise_skipped_and_counted(apf):
    lines = random_run(3, 150, compiled=apf).lines
    a = parse_trace(render(lines, "trace-cmd", noise=25, seed=1), "a.txt")
    b = parse_trace(render(lines, "ftrace", noise=25, seed=1), "b.txt")
    assert (a.format, b.format) == (TRACE_CMD, FTRACE)
    strip = [(e.name, e.fields, e.comm, e.pid, e.cpu) for e in a.events]
    assert strip == [(e.name, e.fields, e.comm, e.pid, e.cpu) for e in b.events]
    assert len(a.events) == len(lines) + sum(1 for e in a.events if e.name in ("kvm_exit", "kvm_entry", "kvm_fpu"))
    assert b.skipped >= 12  # the tracefs header, its comment lines and the CPU buffer markers


def test_fields_are_read_as_the_kernel_prints_them():
    log = parse_trace("cpus=1\n"
                      "  CPU 0/KVM-7 [000] 1.000001: kvm_msr: msr_write 4b564d07 = 0x1\n"
                      "  CPU 0/KVM-7 [000] 1.000002: kvm_msr: msr_read 4b564d02 = 0x0 (#GP)\n"
                      "  CPU 0/KVM-7 [000] 1.000003: kvm_async_pf_ready: token 0xffffffff gva 0\n"
                      "  kworker/0:1-9 [002] 1.000004: kvm_async_pf_completed: gva 0x7f00 address 0x7fab pfn 0x12\n"
                      "  CPU 0/KVM-7 [000] 1.000005: kvm_async_pf_repeated_fault: gva = 0x7f00, gfn = 0x7\n"
                      "  CPU 0/KVM-7 (   6) [000] 1.000006: kvm:kvm_async_pf_not_present: token 0x1000 gva 0x7f00\n",
                      "t.txt")
    f = [e.fields for e in log.events]
    assert f[0] == {"write": 1, "ecx": 0x4B564D07, "data": 1, "exception": 0, "cpu": 0, "pid": 7}
    assert f[1]["write"] == 0 and f[1]["exception"] == 1
    assert f[2]["token"] == 0xFFFFFFFF and f[2]["gva"] == 0
    assert f[3] == {"gva": 0x7F00, "address": 0x7FAB, "pfn": 0x12, "cpu": 2, "pid": 9}
    assert f[4]["gfn"] == 7 and log.events[5].name == "kvm_async_pf_not_present"  # record-tgid, system prefix


def test_malformed_lines_are_located_diagnostics(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("cpus=1\n"
                    "  CPU 0/KVM-7 [000] 1.000001: kvm_msr: msr_write 4b564d07 = 0x1\n"
                    "this is not a trace line\n"
                    "  CPU 0/KVM-7 [000] oops: kvm_msr: msr_write 4b564d07 = 0x1\n"
                    "  CPU 0/KVM-7 [000] 1.000003: kvm_async_pf_ready: token 0x1000\n"
                    "CPU:1 [LOST 12 EVENTS]\n")
    code, out, err = run_cli("conform", MODEL, str(path), "-q")
    assert code == 2 and out == "" and "Traceback" not in err
    shown = err.replace(str(tmp_path), "TMP")
    check_golden("conform_malformed.txt", shown)


def test_unreadable_inputs(tmp_path):
    code, _, err = run_cli("conform", MODEL, str(tmp_path / "none.txt"))
    assert code == 2 and "error[KV701]: no such file" in err
    (tmp_path / "empty.txt").write_text("# tracer: nop\n#\n")
    code, _, err = run_cli("conform", MODEL, str(tmp_path / "empty.txt"))
    assert code == 2 and "error[KV703]" in err
    (tmp_path / "trace.dat").write_bytes(b"\x17\x08\x44tracing6\x00")
    code, _, err = run_cli("conform", MODEL, str(tmp_path / "trace.dat"))
    assert code == 2 and "binary trace.dat" in err and "trace-cmd report -i" in err
    code, _, err = run_cli("conform", "spec/msr.kv", ASYNCPF)
    assert code == 2 and "error[KV365]" in err


# ------------------------------------------------------------------------------------------------ conformance
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_runs_of_the_model_conform(tmp_path, apf, seed):
    gen = random_run(seed, 500, compiled=apf)
    fmt = "trace-cmd" if seed % 2 else "ftrace"
    run = _run(tmp_path, render(gen.lines, fmt, noise=20, seed=seed))
    assert run.status == "conforms" and run.replay_problem is None
    observed = [ln for ln in gen.lines if ln.action]
    assert run.outcome.processed == len(observed) == len(run.matched.events)
    assert run.matched.unobserved["kvm_async_pf_completed"] == sum(1 for ln in gen.lines if ln.event == "kvm_async_pf_completed")
    # every observed step of the witness is the action its line printed
    labels = [run.system.actions[s.action].action for s, ev in zip(run.witness.steps, run.step_events)
              if ev is not None]
    assert labels == [ln.action for ln in observed]


MUTATIONS = {"ready_never_not_present": ready_never_not_present, "second_ready_before_ack": second_ready_before_ack,
             "second_not_present": second_not_present, "ready_before_not_present": ready_before_not_present}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_mutated_logs_do_not_conform_at_the_mutated_line(tmp_path, apf, mutation, seed):
    gen = random_run(seed, 500, compiled=apf)
    mutated = MUTATIONS[mutation](gen.lines, random.Random(seed))
    assert mutated is not None
    lines, at = mutated
    text, numbers = render_numbered(lines, "trace-cmd", noise=10, seed=seed)
    run = _run(tmp_path, text)
    assert run.status == "not-conform"
    assert run.matched.events[run.outcome.processed].line == numbers[at]
    assert run.failure is not None and run.failure.candidates


def test_more_live_tokens_than_the_model_has(tmp_path):
    lines = ["cpus=1"] + [f"  CPU 0/KVM-7 [000] 1.00000{i}: {e}" for i, e in enumerate([
        "kvm_msr: msr_write 4b564d06 = 0xf3", "kvm_msr: msr_write 4b564d02 = 0x1009",
        "kvm_async_pf_ready: token 0xffffffff gva 0", "kvm_msr: msr_write 4b564d07 = 0x1",
        "kvm_async_pf_not_present: token 0x1000 gva 0x1000", "kvm_async_pf_not_present: token 0x2000 gva 0x2000",
        "kvm_async_pf_not_present: token 0x3000 gva 0x3000", "kvm_async_pf_ready: token 0x1000 gva 0x1000",
        "kvm_msr: msr_write 4b564d07 = 0x1", "kvm_async_pf_ready: token 0x2000 gva 0x2000",
        "kvm_msr: msr_write 4b564d07 = 0x1", "kvm_async_pf_ready: token 0x3000 gva 0x3000",
        "kvm_msr: msr_write 4b564d07 = 0x1"])]
    text = "\n".join(lines) + "\n"
    run = _run(tmp_path, text)
    assert run.status == "not-conform" and run.matched.events[run.outcome.processed].line == 8
    reasons = [r for c in run.failure.candidates for r in c.reasons]
    assert any("t = id(0x3000) is new, and every Token value is held by a live id: t=1 by 0x1000, t=2 by 0x2000; "
               "the log has 3 live at once here, the model 2" in r for r in reasons), reasons
    assert _run(tmp_path, text, "NTOKEN=3").status == "conforms"


def test_the_kvm_unit_tests_asyncpf_scenario_conforms_in_both_formats():
    for path in (ASYNCPF, ASYNCPF_TRACEFS):
        run = conform(MODEL, path, {}, Sources())
        assert run.status == "conforms" and run.outcome.processed == 13 and run.replay_problem is None
        assert [b.shown_raw for b in run.bindings] == ["23617", "0x1000", "0x2000", "0x3000"]
        assert {b.value for b in run.bindings if b.namespace == "Token"} == {"1"}  # reused after each 'ready'


# ------------------------------------------------------------------------------------------------ the CLI
def test_golden_conforming_run():
    code, out, err = run_cli("conform", MODEL, ASYNCPF, "-q")
    assert code == 0 and err == ""
    check_golden("conform_asyncpf.txt", out)


def test_golden_run_that_does_not_conform():
    # the second 'page ready' is written before the guest's ACK of the first: the token slot is unread
    code, out, err = run_cli("conform", MODEL, EARLY_READY, "-q")
    assert code == 1 and err == ""
    check_golden("conform_early_ready.txt", out)


def test_exit_codes_and_the_closure_bound(tmp_path):
    assert run_cli("conform", MODEL, ASYNCPF, "-q")[0] == 0
    code, out, _ = run_cli("conform", MODEL, ASYNCPF, "-q", "--max-states", "3")
    assert code == 4 and "undecided: stopped at event 2" in out and "by max-states" in out
    assert run_cli("conform", MODEL, ASYNCPF, "--param", "NOPE=1")[0] == 2
    assert run_cli("conform", MODEL, ASYNCPF, "--trace-format", "itf")[0] == 2  # needs --out


def test_json_and_witness_files(tmp_path):
    code, out, _ = run_cli("conform", MODEL, ASYNCPF, "-q", "--json", "--out", str(tmp_path),
                           "--trace-format", "text,itf,html,json")
    assert code == 0
    doc = json.loads(out)
    assert doc["status"] == "conforms" and doc["events_explained"] == 13 and doc["model_steps"] == 19
    assert doc["witness"]["steps"][1]["log"]["line"] == 4 and doc["replayed"] is True
    assert {b["id"] for b in doc["bindings"]} == {23617, 0x1000, 0x2000, 0x3000}
    names = sorted(os.listdir(tmp_path))
    assert names == ["asyncpf.trace-cmd.witness.html", "asyncpf.trace-cmd.witness.itf.json",
                     "asyncpf.trace-cmd.witness.json", "asyncpf.trace-cmd.witness.txt"]
    itf = json.loads((tmp_path / "asyncpf.trace-cmd.witness.itf.json").read_text())
    assert len(itf["states"]) == 20 and itf["states"][1]["#meta"]["log"]["line"] == 4
    assert itf["states"][1]["mbt::actionTaken"] == "guest.set_vector"


@pytest.fixture(scope="module")
def conform_schema():
    from kvmverify.conform.report import SCHEMA_FILE
    return schema_validator(SCHEMA_FILE)


def _conform_json(validator, *argv: str) -> tuple[int, dict]:
    """`conform --json` on stdout: one document, valid against the shipped schema, with the command's exit code."""
    code, out, _ = run_cli("conform", *argv, "--json", "-q")
    doc = json.loads(out)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert errors == [], errors[:5]
    assert doc["version"] == 1 and doc["exit_code"] == code
    return code, doc


def test_json_results_validate_against_the_schema(tmp_path, conform_schema):
    code, ok = _conform_json(conform_schema, MODEL, ASYNCPF)
    assert (code, ok["status"], ok["replay_problem"]) == (0, "conforms", None)
    assert [d["code"] for d in ok["diagnostics"]] == ["KV406"]  # spec/msr.kv's 68-byte struct in a 64-byte area
    assert "failure" not in ok and ok["witness"]["length"] == ok["model_steps"] == 19
    assert ok["log"]["not_observed"]["kvm_exit"] == 12 and ok["log"]["lost"] == []

    code, bad = _conform_json(conform_schema, MODEL, EARLY_READY, "--out", str(tmp_path), "--trace-format", "json")
    assert (code, bad["status"], bad["events_explained"]) == (1, "not-conform", 7)
    f = bad["failure"]
    assert (f["event"], f["line"]) == (8, 15) and f["text"].endswith("token 0x2000 gva 0x7d10000")
    candidate = f["possible"][0]["candidates"][0]
    assert candidate["observe"] == "models/apf_int.kv:237:1" and candidate["declaration"].startswith(
        "observe kvm_async_pf_ready(token, pid) when token != WAKE_ALL")
    assert bad["witness"]["length"] == 9 and bad["witness"]["steps"][-1]["log"]["line"] == 14
    # the schema is strict: a not-conform without its failure, or a field it does not describe, is refused
    assert not conform_schema.is_valid({k: v for k, v in bad.items() if k != "failure"})
    assert not conform_schema.is_valid(dict(ok, failure=f)) and not conform_schema.is_valid(dict(ok, extra=1))
    # the --trace-format json file is the same document, exit code included
    assert json.loads((tmp_path / "early-ready.trace-cmd.witness.json").read_text()) == bad

    lines = (ROOT / ASYNCPF).read_text().splitlines(keepends=True)
    holed = tmp_path / "lost.txt"
    holed.write_text("".join(lines[:20] + ["CPU:1 [LOST 12 EVENTS]\n"] + lines[20:]))
    code, lost = _conform_json(conform_schema, MODEL, str(holed))
    assert code == 0 and lost["log"]["lost"] == [{"line": 21, "cpu": 1, "events": 12}]
    assert [(d["code"], d["severity"], d["location"]["file"], d["location"]["line"]) for d in lost["diagnostics"]
            if d["code"] == "KV704"] == [("KV704", "warning", str(holed), 21)]

    code, stopped = _conform_json(conform_schema, MODEL, ASYNCPF, "--max-states", "3")
    assert (code, stopped["status"], stopped["search"]["bound"]) == (4, "undecided", "max-states")


def test_json_errors_are_documents_too(tmp_path, conform_schema):
    """A model or trace that cannot be used, or a wrong command line: `"status": "error"` with the diagnostics
    (stderr has them rendered), never text on stdout."""
    (tmp_path / "bad.txt").write_text("cpus=1\nthis is not a trace line\n")
    cases = {"KV365": ("spec/msr.kv", ASYNCPF), "KV701": (MODEL, str(tmp_path / "none.txt")),
             "KV702": (MODEL, str(tmp_path / "bad.txt")), "KV502": (MODEL, ASYNCPF, "--param", "NOPE=1"),
             "KV503": (MODEL, ASYNCPF, "--trace-format", "itf")}
    for expected, argv in cases.items():
        code, doc = _conform_json(conform_schema, *argv)
        assert (code, doc["status"]) == (2, "error"), expected
        assert expected in [d["code"] for d in doc["diagnostics"] if d["severity"] == "error"], doc


def test_the_conform_schema_ships_with_the_package():
    import fnmatch
    import tomllib

    from kvmverify.conform.report import SCHEMA_FILE
    with open(ROOT / "pyproject.toml", "rb") as f:
        globs = tomllib.load(f)["tool"]["setuptools"]["package-data"]["kvmverify"]
    inside = os.path.relpath(SCHEMA_FILE, ROOT / "kvmverify")
    assert any(fnmatch.fnmatch(inside, g) for g in globs) and os.path.isfile(SCHEMA_FILE)


def test_output_is_deterministic_across_hash_seeds(tmp_path):
    outs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(ROOT))
        r = subprocess.run([sys.executable, "-m", "kvmverify", "conform", MODEL, ASYNCPF, "-q", "--json"],
                           capture_output=True, text=True, env=env, cwd=ROOT)
        outs.append(r.stdout)
    assert outs[0] == outs[1] and outs[0]


def test_the_conform_docs_show_real_output():
    """docs/conform.md's `$ kvmverify conform ...` block: each line it shows (but `...`) is in the real output, and
    its excerpt of a failure is in the golden failure."""
    import re
    text = (ROOT / "docs" / "conform.md").read_text()
    blocks = [body for _, body in re.findall(r"```(\w*)\n(.*?)```", text, re.S)]
    shown = next(b for b in blocks if b.startswith("$ kvmverify conform"))
    command, *lines = shown.splitlines()
    _, out, _ = run_cli(*command.split()[2:], "-q")
    for line in lines:
        if line.strip() != "...":
            assert line in out.splitlines(), line
    failure = next(b for b in blocks if b.startswith("  does not conform at event"))
    golden = (ROOT / "tests" / "golden" / "conform_early_ready.txt").read_text().splitlines()
    for line in failure.splitlines():
        if line.strip() != "...":
            assert line in golden, line


@pytest.mark.parametrize("seed", [21, 22])
def test_parts_and_symmetry_change_the_cost_never_the_verdict(tmp_path, apf, seed):
    """The search by independent parts and the symmetric choice of a new vCPU against the plain search over whole
    states trying every value: same verdict, same failing event, on a log that conforms and a mutated one."""
    from kvmverify.conform.match import match_events
    from kvmverify.conform.search import ConformSearch
    from kvmverify.ir.observe import lower_observations
    gen = random_run(seed, 300, compiled=apf)
    mutated, _ = second_not_present(gen.lines, random.Random(seed))
    obs = lower_observations(apf.model, apf.system)
    for lines in (gen.lines, mutated):
        log = parse_trace(render(lines), "t.txt")
        matched = match_events(apf.system, obs, log.events)
        verdicts = {(parts, sym): ConformSearch(apf.system, obs, symmetry=sym, parts=parts).run(matched)
                    for parts in (True, False) for sym in (True, False)}
        assert len({(o.status, o.processed) for o in verdicts.values()}) == 1
        assert len(verdicts[(True, True)].history[-1]) <= len(verdicts[(False, False)].history[-1])


def test_the_backward_witness_is_a_run_that_explains_the_log_too(apf):
    """The fallback when the forward rebuild reaches a state with no future: a run of the model (replayed by the
    interpreter) whose observed steps are the log's events, in order."""
    from kvmverify.conform.match import match_events
    from kvmverify.conform.search import ConformSearch
    from kvmverify.conform.witness import _backward
    from kvmverify.engines.explicit.search import Explorer
    from kvmverify.engines.shared.replay import path_problem
    from kvmverify.ir.observe import lower_observations
    gen = random_run(31, 300, compiled=apf)
    obs = lower_observations(apf.model, apf.system)
    matched = match_events(apf.system, obs, parse_trace(render(gen.lines), "t.txt").events)
    search = ConformSearch(apf.system, obs)
    outcome = search.run(matched)
    steps = _backward(search, outcome)
    assert path_problem(Explorer(apf.system), [s for _, s, _ in steps], [i for i, _, _ in steps[1:]]) is None
    assert [ev for _, _, ev in steps if ev is not None] == list(range(len(matched.events)))
    assert [apf.system.actions[i].action for i, _, ev in steps if ev is not None] == \
        [ln.action for ln in gen.lines if ln.action]
