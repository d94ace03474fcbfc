"""The command line: exit codes, bounds, JSON, determinism across hash seeds."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, run_cli

SMALL = ["models/apf_int.kv", "--param", "NVCPU=1", "--param", "NTOKEN=1"]


def test_exit_0_when_everything_holds():
    code, out, _ = run_cli("check", *SMALL)
    assert code == 0
    assert "ok   holds     slot:area.token              exhaustive, 137 states, depth 12" in out


def test_exit_1_on_violation():
    code, out, _ = run_cli("check", *SMALL, "--param", "BUG_ENABLE_BEFORE_VECTOR=true")
    assert code == 1
    assert "FAIL violated  no_vector_zero" in out


def test_exit_1_when_an_expected_violation_does_not_happen(tmp_path):
    model = tmp_path / "fixed.kv"
    model.write_text(f'model fixed\nuse "{ROOT}/models/apf_int.kv"\noverride NVCPU = 1\noverride NTOKEN = 1\n'
                     'expect violated no_vector_zero\n')
    code, out, _ = run_cli("check", str(model))
    assert code == 1
    assert "holds     no_vector_zero" in out and "(expected violated)" in out


def test_vacuous_cover_fails(tmp_path):
    model = tmp_path / "vac.kv"
    model.write_text("model vac\nvar x : 0..3 = 0\nactor a { action up() when x < 2 { x := x + 1 } }\n"
                     "cover three: x == 3\n")
    code, out, _ = run_cli("check", str(model))
    assert code == 1
    assert "FAIL vacuous   cover three  never reached; exhaustive, 3 states, depth 2" in out


def test_max_states_bound_is_reported_and_exits_4():
    code, out, _ = run_cli("check", "models/apf_int.kv", "--max-states", "5000")
    assert code == 4
    assert "undecided; no violation up to depth" in out
    assert "note: search stopped by max-states after" in out


def test_max_depth_bound_is_stated_in_every_result():
    code, out, _ = run_cli("check", "models/apf_int.kv", "--max-depth", "3", "--json", "-q")
    doc = json.loads(out)["models"][0]
    assert code == 4  # covers deeper than 3 steps stay undecided within the bound
    statuses = {p["name"]: (p["status"], p["coverage"]["text"]) for p in doc["properties"]}
    assert statuses["no_vector_zero"][0] == "holds"
    assert statuses["no_vector_zero"][1].startswith("no violation up to depth 3")
    assert statuses["ready_delivered"][0] == "unknown"
    assert doc["stats"]["depth"] == 3


def test_timeout_stops_cleanly():
    code, out, _ = run_cli("check", "models/apf_int.kv", "--param", "NTOKEN=3", "--engine", "explicit",
                           "--timeout", "0.5")
    assert code == 4
    assert "search stopped by timeout" in out


def test_max_memory_guard_stops_cleanly():
    code, out, _ = run_cli("check", "models/apf_int.kv", "--param", "NTOKEN=3", "--engine", "explicit",
                           "--max-memory", "1")
    assert code == 4
    assert "search stopped by max-memory" in out


def test_json_document_shape():
    code, out, _ = run_cli("check", *SMALL, "--json", "-q")
    top = json.loads(out)
    assert (top["version"], top["exit_code"], len(top["models"]), top["diagnostics"][0]["code"]) == (1, 0, 1, "KV406")
    doc = top["models"][0]
    assert code == 0 and doc["exit_code"] == 0
    assert doc["model"] == "apf_int" and doc["params"]["NVCPU"] == 1
    assert doc["stats"]["states"] == 137
    first = doc["properties"][0]
    assert set(first) == {"name", "kind", "status", "as_expected", "expected", "description", "location",
                          "coverage", "trace", "input", "findings"}
    assert first["location"] == {"file": "models/apf_int.kv", "line": 199, "column": 1}


def test_several_models_and_directories():
    code, out, _ = run_cli("check", "models/apf_int_bugs", *SMALL[0:1], "--param", "NVCPU=1", "--no-traces", "-q")
    assert code == 0
    assert out.count("model apf_int") == 6


def test_version():
    code, out, _ = run_cli("--version")
    assert code == 0 and out.startswith("kvmverify ")


def _run(args, seed):
    env = dict(os.environ, PYTHONHASHSEED=str(seed))
    return subprocess.run([sys.executable, "-m", "kvmverify", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_output_is_byte_identical_across_hash_seeds(extra):
    args = ["check", "models/apf_int_bugs/host_ignores_token_slot.kv", "-q", *extra]
    a, b = _run(args, 1), _run(args, 4242)
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout and a.stdout


def test_console_script_and_module_entry_points():
    r = _run(["check", *SMALL, "-q", "--no-traces"], 0)
    assert r.returncode == 0 and "137 states" in r.stdout


def test_a_spec_file_alone_checks_cleanly_and_shows_its_layout_warning():
    code, out, err = run_cli("check", "spec/msr.kv")
    assert code == 0 and "Traceback" not in err and "internal error" not in err
    assert "warning[KV406]: struct kvm_vcpu_pv_apf_data is 68 bytes, larger than its declared size 64" in err
    assert "0 action instances, 0 state variables" in out
