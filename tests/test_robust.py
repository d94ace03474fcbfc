"""Robustness: honoured limits with partial results, Ctrl-C, determinism across hash seeds, hostile models,
atomic output files, and the documented exit codes."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, run_cli
from kvmverify import cli


def _cli(args, seed=0, **kw):
    env = dict(os.environ, PYTHONHASHSEED=str(seed))
    return subprocess.run([sys.executable, "-m", "kvmverify", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300, **kw)


# ------------------------------------------------------------------------------------------------- limits
def test_max_states_gives_a_partial_result():
    code, out, _ = run_cli("check", "models/apf_int.kv", "--max-states", "5000", "--no-traces")
    assert code == cli.EXIT_BOUND
    m = re.search(r"^  (\d+) states.*, depth (\d+)$", out, re.M)
    states, depth = int(m.group(1)), int(m.group(2))
    assert 5000 <= states < 5000 + 64 * 40  # checked every 64 expansions at the latest, and at each one once over
    assert f"note: search stopped by max-states after {states} states; every state up to depth {depth} checked" in out
    assert (f"note: no violation in {states} states explored (bound hit: max-states): no_vector_zero, "
            "ready_matches_not_present, waiter_has_completion, slot:area.flags, slot:area.token, "
            "np_only_if_interrupts_on") in out


def test_a_violation_found_before_the_bound_is_not_listed_as_unviolated():
    code, out, _ = run_cli("check", "models/apf_int_bugs/enable_before_vector.kv", "--param", "NVCPU=2",
                           "--max-states", "500", "--no-traces")
    assert code == cli.EXIT_BOUND  # the expected violation was found; the rest is undecided
    notes = [line for line in out.splitlines() if "bound hit" in line]
    assert len(notes) == 1 and "no_vector_zero" not in notes[0] and "pf_sees_flags" in notes[0]


def test_timeout_gives_a_partial_result_in_json():
    code, out, _ = run_cli("check", "models/apf_int.kv", "--param", "NTOKEN=3", "--engine", "explicit", "--timeout",
                           "0.3", "--json", "-q")
    doc = json.loads(out)["models"][0]
    assert code == cli.EXIT_BOUND and doc["bound"] == "timeout"
    assert doc["stats"]["states"] > 0
    assert any(n.startswith(f"no violation in {doc['stats']['states']} states explored (bound hit: timeout)")
               for n in doc["notes"])
    assert {p["status"] for p in doc["properties"] if p["kind"] == "invariant"} == {"unknown"}


def test_sigint_prints_the_partial_result_and_exits_130():
    env = dict(os.environ, PYTHONHASHSEED="0")
    p = subprocess.Popen([sys.executable, "-m", "kvmverify", "check", "models/apf_int.kv", "--param", "NVCPU=2",
                          "--param", "NTOKEN=3", "--engine", "explicit", "--no-traces"], cwd=ROOT, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # the layout warning is printed once the model is compiled, just before the search starts
    for line in p.stderr:
        if "warning[KV406]" in line:
            break
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == cli.EXIT_INTERRUPTED == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "note: search stopped by an interrupt (SIGINT) after" in out
    assert "(bound hit: interrupted): no_vector_zero" in out
    assert "undecided; no violation up to depth" in out


# ------------------------------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("model", ["models/apf_int.kv", "models/apf_int_bugs/enable_before_vector.kv"])
@pytest.mark.parametrize("fmt", [[], ["--json"]])
def test_byte_identical_under_two_hash_seeds(model, fmt):
    args = ["check", model, "--param", "NVCPU=1", "--param", "NTOKEN=2", "-q", *fmt]
    a, b = _cli(args, seed=0), _cli(args, seed=12345)
    assert a.returncode == b.returncode and a.returncode in (0, 1)
    assert a.stdout == b.stdout and a.stderr == b.stderr
    assert len(a.stdout) > 500


# ------------------------------------------------------------------------------------------------- hostile
def test_a_huge_parameter_is_refused_quickly():
    started = time.monotonic()
    code, _, err = run_cli("check", "models/apf_int.kv", "--param", "NVCPU=1000")
    assert code == cli.EXIT_USAGE
    assert "error[KV317]: the model grounds to 17000 action instances over 13000 state variables" in err
    assert time.monotonic() - started < 60  # a hang guard, not a speed target: unguarded, this takes hours


def test_a_64_bit_variable_gets_a_bounded_run(tmp_path):
    model = tmp_path / "counter.kv"
    model.write_text("model counter\ntype Big = 0 .. 18446744073709551615\nvar x : Big = 0\n"
                     "actor a { action inc() when x < 18446744073709551615 { x := x + 1 } }\n"
                     "invariant small: x < 100000000\n")
    code, out, _ = run_cli("check", str(model), "--max-states", "2000", "--no-traces")
    assert code == cli.EXIT_BOUND
    assert "no violation in 2000 states explored (bound hit: max-states): small" in out


# ------------------------------------------------------------------------------------------------- docs
def test_documented_exit_codes_match_the_cli():
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| (\d+) +\| `(EXIT_\w+)` +\|", doc, re.M))
    constants = {str(getattr(cli, n)): n for n in dir(cli) if n.startswith("EXIT_")}
    assert table == constants
    docstring = set(re.findall(r"^  (\d+) ", cli.__doc__, re.M))
    assert docstring == set(constants)


def test_a_failed_declaration_is_reported_once_not_at_every_use():
    # NVCPU=0 empties `type Vcpu = 0 .. NVCPU - 1`; the arrays, actions and properties over Vcpu say nothing more
    code, _, err = run_cli("check", "models/apf_int.kv", "--param", "NVCPU=0", "-q")
    errors = [line for line in err.splitlines() if ": error[" in line]
    assert code == 2 and errors == ["models/apf_int.kv:38:23: error[KV306]: empty range 0..-1"]
    assert "too small?" in err


def test_uses_of_a_broken_var_def_and_type_are_not_reported_again(tmp_path):
    path = tmp_path / "m.kv"
    path.write_text("model m\ntype T = 0 .. nope\nvar a : T = 0\nvar b : bool = 3\ndef f(x: bool) = x + 1\n"
                    "actor p { action go() when b && f(true) { a := 1 } }\ninvariant i: a == 0 && !b\n")
    code, _, err = run_cli("check", str(path), "-q")
    errors = [line.split(": ", 1)[1] for line in err.splitlines() if ": error[" in line]
    assert code == 2 and len(errors) == 3, err  # T's bound, b's initial value, f's body: nothing about a, b, f later
    assert [e.split("]")[0] for e in errors] == ["error[KV306", "error[KV301", "error[KV301"]


def test_the_deepest_nesting_is_located_past_comments_and_strings():
    from kvmverify.lang.parser import deepest_nesting
    text = '// ((((((\nuse "((((.kv"\n/* {{{{\n}}}} */ x := (a[(b)])\n  f((((c))))\n'
    assert deepest_nesting(text) == (4, 5, 7)  # the 4th ( of f((((c))))
    assert deepest_nesting("no brackets") == (0, 1, 1)


def test_independent_parts_output_is_byte_identical_under_two_hash_seeds():
    """Parts, their order and the interleaved lasso do not depend on set or dict order."""
    args = ["check", "models/apf_int_bugs/guest_never_acks.kv", "--param", "NVCPU=2", "--param", "NTOKEN=1", "-q",
            "--json"]
    a, b = _cli(args, seed=0), _cli(args, seed=12345)
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout and '"parts": [' in a.stdout
