"""Every export end to end on the real model: the broken variants of apf_int (models/apf_int_bugs), whose state
has arrays of registers, structs, sets and enums. Also: byte-identical output under two PYTHONHASHSEED values
(in subprocesses), atomic writes, and colour in the replay report."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import jsonschema
import pytest

from export_support import REPO, run
from kvmverify.diagnostics import DiagnosticError
from kvmverify.export import files

SCHEMAS = os.path.join(REPO, "kvmverify", "export", "schemas")
BUGS = os.path.join("models", "apf_int_bugs")
# (variant, property) for every expected violation of the variants, with the shortest trace's length
VIOLATIONS = {
    ("enable_before_vector", "no_vector_zero"): 2,
    ("host_ignores_token_slot", "slot_area.token"): 6,
    ("host_ignores_token_slot", "waiter_has_completion"): 10,
    ("inject_with_if_off", "np_only_if_interrupts_on"): 4,
    ("inject_with_if_off", "slot_area.flags"): 4,
    ("sti_before_flags_clear", "slot_area.flags"): 5,
    ("sti_before_flags_clear", "waiter_has_completion"): 10,
    ("guest_never_acks", "ready_follows_not_present"): 8,  # a lasso: 8 steps, the last returns to step 7
}
FORMATS = (".itf.json", ".html", ".json", ".txt")


def schema(name: str):
    with open(os.path.join(SCHEMAS, name)) as f:
        s = json.load(f)
    return jsonschema.validators.validator_for(s)(s)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("apf")
    code, stdout, stderr = run("check", BUGS, "--trace-format", "itf,html,json,text", "--out", str(d / "traces"),
                               "--junit", str(d / "junit.xml"), "--sarif", str(d / "out.sarif"), "--no-traces")
    return d, code, stdout, stderr


def test_one_file_per_violation_and_format(exported):
    d, code, _, stderr = exported
    assert code == 0, stderr  # every violation is an expected one
    assert sorted(os.listdir(d / "traces")) == sorted(f"{v}.{p}{ext}" for v, p in VIOLATIONS for ext in FORMATS)
    mode = stat.S_IMODE(os.stat(d / "traces" / "enable_before_vector.no_vector_zero.html").st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # not the 0600 of the temp file it was written to


def test_itf_files_are_schema_valid_and_encode_arrays_of_registers(exported):
    d = exported[0]
    generic, strict = schema("itf.schema.json"), schema("itf-kvmverify.schema.json")
    for (variant, prop), length in VIOLATIONS.items():
        doc = json.loads((d / "traces" / f"{variant}.{prop}.itf.json").read_text())
        generic.validate(doc)
        strict.validate(doc)
        assert doc["#meta"]["kvmverify"]["length"] == length
        assert len(doc["states"]) in (length, length + 1)  # a step property's failing step has no state
        assert doc["states"][0]["NVCPU"] == 1 and doc["states"][0]["WAKE_ALL"] == 0xFFFFFFFF
    doc = json.loads((d / "traces" / "enable_before_vector.no_vector_zero.itf.json").read_text())
    last = doc["states"][-1]
    assert last["en"] == {"#map": [[0, {"enabled": 1, "send_always": 0, "delivery_vmexit": 0, "delivery_int": 1,
                                        "reserved": 0, "gpa": 0}]]}
    assert last["waiting"] == {"#map": [[0, {"#set": []}]]}
    assert last["life"] == {"#map": [[0, {"#map": [[1, "Free"], [2, "Free"]]}]]}
    assert last["#meta"] == {"index": 2, "action": "host.page_ready_wakeall(v=0)", "actor": "host",
                             "name": "page_ready_wakeall", "args": {"v": 0}}
    assert doc["#meta"]["kvmverify"]["params"]["BUG_ENABLE_BEFORE_VECTOR"] is True


@pytest.mark.parametrize("variant,prop", sorted(VIOLATIONS))
def test_every_trace_replays_on_its_model(exported, variant, prop):
    trace = exported[0] / "traces" / f"{variant}.{prop}.itf.json"
    code, stdout, stderr = run("replay", os.path.join(BUGS, f"{variant}.kv"), str(trace), "-q")
    assert (code, stderr) == (0, "")
    assert stdout.endswith("still violated by this trace\n")


def test_replay_on_the_fixed_protocol_fails_at_the_bad_step(exported):
    trace = exported[0] / "traces" / "host_ignores_token_slot.slot_area.token.itf.json"
    code, stdout, _ = run("replay", "models/apf_int.kv", str(trace), "--param", "BUG_HOST_IGNORES_SLOT=false", "-q")
    assert code == 1
    assert stdout.splitlines()[-1] == ("not a valid run of the model: step 6 fails (host.page_ready_wakeall(v=0) "
                                       "is not enabled in the state before it)")


def test_replay_report_colour(exported):
    trace = str(exported[0] / "traces" / "inject_with_if_off.slot_area.flags.itf.json")
    model = os.path.join(BUGS, "inject_with_if_off.kv")
    _, plain, _ = run("replay", model, trace, "-q")
    _, tty, _ = run("replay", model, trace, "-q", tty=True)
    _, nocolor, _ = run("replay", model, trace, "-q", "--no-color", tty=True)
    assert "\x1b[" not in plain and nocolor == plain
    assert "\x1b[32mok  \x1b[0m   4  host.not_present(v=0, t=2)" in tty
    assert "\x1b[1;31m   violates np_only_if_interrupts_on, slot:area.flags\x1b[0m" in tty


def test_sarif_is_valid_and_reports_a_shared_lint_finding_once(exported):
    d = exported[0]
    doc = json.loads((d / "out.sarif").read_text())
    schema("sarif-schema-2.1.0.json").validate(doc)
    results = doc["runs"][0]["results"]
    lint = [r for r in results if not r["ruleId"].startswith("property/")]
    assert [(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]) for r in lint] == [
        ("KV406", "spec/msr.kv")]  # spec/msr.kv is used by all 4 variants
    props = [r for r in results if r["ruleId"].startswith("property/")]
    assert len(props) == len(VIOLATIONS) and all(r["suppressions"][0]["kind"] == "inSource" for r in props)
    flows = {r["properties"]["property"]: r["codeFlows"][0]["threadFlows"][0]["locations"] for r in props}
    assert len(flows["no_vector_zero"]) == 3  # initial state + 2 steps


def test_summary_table_coverage_says_what_each_verdict_covers(exported):
    stdout = exported[2]
    table = stdout[stdout.index("summary\n"):].splitlines()
    # 13 properties, msr:MSR_KVM_ASYNC_PF_EN and _INT, layout:, deadlock and the folded enabled:* and premise:* lines
    assert len(table) == 2 + 5 * 19

    def row(model: str, prop: str) -> list[str]:
        (line,) = [t for t in table if f"models/apf_int_bugs/{model}.kv " in t and f" {prop} " in t]
        return line.split(None, 2)[2].split("  ")

    def cells(model: str, prop: str) -> list[str]:
        return [c.strip() for c in row(model, prop) if c.strip()]
    assert cells("enable_before_vector", "no_vector_zero") == [
        "no_vector_zero", "violated (expected)", "shortest trace: 2 step(s)"]
    assert cells("inject_with_if_off", "cover wakeall_delivered") == [
        "cover wakeall_delivered", "reached", "reached in 3 step(s)"]
    assert cells("inject_with_if_off", "pf_sees_flags") == ["pf_sees_flags", "holds", "exhaustive, 983 states, depth 14"]


def test_byte_identical_under_two_hash_seeds(tmp_path):
    """Same models and flags -> the same stdout and the same bytes in every file, whatever PYTHONHASHSEED."""
    outputs = []
    for seed in ("0", "2654435761"):
        d = tmp_path / f"seed{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": os.pathsep.join(
            p for p in (REPO, os.environ.get("PYTHONPATH")) if p)}
        env.pop("NO_COLOR", None)
        r = subprocess.run([sys.executable, "-m", "kvmverify", "check", BUGS, "-q", "--trace-format",
                            "itf,html,json,text", "--out", str(d / "traces"), "--junit", str(d / "junit.xml"),
                            "--sarif", str(d / "out.sarif")], cwd=REPO, env=env, capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr.decode()[-2000:]
        written = {os.path.relpath(os.path.join(root, f), d): open(os.path.join(root, f), "rb").read()
                   for root, _, fs in os.walk(d) for f in fs}
        outputs.append((r.stdout, written))
    assert len(outputs[0][1]) == 4 * len(VIOLATIONS) + 2
    assert outputs[0] == outputs[1]


def test_an_interrupted_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "report.sarif"
    target.write_text("old report\n")

    def fail(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(files.os, "replace", fail)
    with pytest.raises(DiagnosticError, match="disk full"):  # KV506, not a traceback
        files.write_atomic(str(target), "new report\n")
    assert target.read_text() == "old report\n"
    assert os.listdir(tmp_path) == ["report.sarif"]
    monkeypatch.undo()
    files.write_atomic(str(tmp_path / "new" / "dir" / "r.xml"), "<x/>\n")  # parent directories are made
    assert (tmp_path / "new" / "dir" / "r.xml").read_text() == "<x/>\n"
