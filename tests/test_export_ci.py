"""The CI gate: several models at once, the summary table, exit codes with `expect`, JUnit, SARIF, colour,
progress."""
from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from export_support import BUGGY, BUGGY_UNANNOTATED, MAILBOX, REPO, WRONG_EXPECT, run, write_models
from kvmverify.diagnostics import Sources
from kvmverify.engines.explicit import Explorer
from kvmverify.engines.shared.limits import Progress
from kvmverify.pipeline import compile_model

SARIF_SCHEMA = os.path.join(REPO, "kvmverify", "export", "schemas", "sarif-schema-2.1.0.json")


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    d = tmp_path_factory.mktemp("gate")
    models = write_models(d / "models", a_ok=MAILBOX, b_buggy=BUGGY, c_unannotated=BUGGY_UNANNOTATED,
                          d_wrong_expect=WRONG_EXPECT)
    code, stdout, stderr = run("check", str(d / "models"), "--junit", str(d / "junit.xml"),
                               "--sarif", str(d / "out.sarif"), "--no-traces")
    return d, models, code, stdout, stderr


def test_a_directory_gives_one_summary_table_and_the_worst_exit_code(gate):
    d, models, code, stdout, _ = gate
    assert code == 1
    table = stdout[stdout.index("summary\n"):].splitlines()
    assert table[1].split() == ["model", "property", "verdict", "coverage"]
    rows = [line.split(None, 3) for line in table[2:]]
    # four models, four properties, msr:DOORBELL, layout:DOORBELL (its gap), deadlock, enabled:* and premise:* each
    assert len(rows) == 4 * 9
    by = {(os.path.basename(r[1]), r[2]): (r[0], r[3]) for r in rows}
    assert by[("b_buggy.kv", "slot:box.data")][0] == "ok"
    assert by[("b_buggy.kv", "slot:box.data")][1].startswith("violated (expected)")
    assert by[("c_unannotated.kv", "slot:box.data")][0] == "FAIL"
    # an `expect violated` property that holds is a failure
    assert by[("d_wrong_expect.kv", "slot:box.data")][0] == "FAIL"
    assert "holds (expected violated)" in by[("d_wrong_expect.kv", "slot:box.data")][1]
    assert " s\n" not in stdout  # no wall-clock time on stdout


def test_exit_codes_per_model(tmp_path):
    models = write_models(tmp_path, ok=MAILBOX, buggy=BUGGY, wrong=WRONG_EXPECT, bad="model x\nvar y : nope = 0\n")
    assert run("check", models["ok"], "-q")[0] == 0
    assert run("check", models["buggy"], "-q")[0] == 0
    assert run("check", models["wrong"], "-q")[0] == 1
    assert run("check", models["ok"], models["bad"], "-q")[0] == 2


def test_times_are_opt_in(tmp_path):
    models = write_models(tmp_path, ok=MAILBOX, buggy=BUGGY)
    _, stdout, _ = run("check", models["ok"], models["buggy"], "--times", "-q")
    assert stdout.splitlines()[-1].endswith(" s") and "time" in stdout


def test_junit_has_one_testcase_per_model_and_property(gate):
    d, models, *_ = gate
    root = ET.parse(d / "junit.xml").getroot()
    assert root.tag == "testsuites" and root.attrib == {}  # the Ant schema allows no attribute there
    suites = root.findall("testsuite")
    # 11 testcases a model: 4 properties, msr:, layout:, deadlock, enabled: for its 3 actions, premise: for its one
    # implication; failures: c_unannotated's slot:, one_unread and deadlock (the lost message), d's slot:
    assert [sum(int(s.get(k)) for s in suites) for k in ("tests", "failures", "errors", "skipped")] == [44, 4, 0, 0]
    assert [os.path.basename(s.get("name")) for s in suites] == ["a_ok.kv", "b_buggy.kv", "c_unannotated.kv",
                                                                "d_wrong_expect.kv"]
    cases = {(os.path.basename(s.get("name")), c.get("name")): c for s in suites for c in s.findall("testcase")}
    fail = cases[("c_unannotated.kv", "slot:box.data")].find("failure")
    assert fail is not None and fail.get("type") == "violated"
    assert "host.post(x=2)   <- violates slot:box.data" in fail.text and "box.data: 1 -> 2" in fail.text
    assert cases[("b_buggy.kv", "slot:box.data")].find("failure") is None
    buggy = next(s for s in suites if s.get("name").endswith("b_buggy.kv"))
    assert "expected violation\nslot:box.data violated (expected)" in buggy.find("system-out").text
    wrong = cases[("d_wrong_expect.kv", "slot:box.data")].find("failure")
    assert wrong is not None and "expected violated" in wrong.get("message")
    assert {c.get("time") for c in cases.values()} == {"0.000"}  # wall-clock times only with --times


def test_junit_reports_a_model_that_does_not_compile(tmp_path):
    models = write_models(tmp_path, bad="model x\nvar y : nope = 0\n")
    code, _, _ = run("check", models["bad"], "--junit", str(tmp_path / "j.xml"), "-q")
    assert code == 2
    case = ET.parse(tmp_path / "j.xml").getroot().find("testsuite/testcase")
    assert case.get("name") == "(model)" and "KV" in case.find("error").text


def test_sarif_is_valid_and_locates_violations_and_lint_findings(gate):
    d, models, *_ = gate
    with open(SARIF_SCHEMA) as f:
        schema = json.load(f)
    doc = json.loads((d / "out.sarif").read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    assert list(jsonschema.Draft4Validator(schema).iter_errors(doc)) == []
    results = doc["runs"][0]["results"]
    rules = [r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]]
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in results)
    lint = [r for r in results if r["ruleId"] == "KV405"]
    assert len(lint) == 4 and lint[0]["level"] == "warning"
    assert lint[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 6
    slot = [r for r in results if r["ruleId"].startswith("property/slot/slot:box.data")]
    assert len(slot) == 3  # b (suppressed: expected), c (a failure), d (expected violated, holds)
    by_file = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].rsplit("/", 1)[1]: r for r in slot}
    c = by_file["c_unannotated.kv"]
    assert c["locations"][0]["physicalLocation"]["region"]["startLine"] == 25
    assert c["locations"][0]["physicalLocation"]["region"]["startColumn"] == 1
    flow = c["codeFlows"][0]["threadFlows"][0]["locations"]
    assert [f["location"]["message"]["text"].split(" -- ")[0] for f in flow] == [
        "step 0: initial state", "step 1: guest.enable()", "step 2: host.post(x=1)", "step 3: host.post(x=2)"]
    assert flow[3]["state"] == {"box.data": {"text": "1 -> 2"}, "sent[2]": {"text": "false -> true"}}
    assert flow[3]["location"]["physicalLocation"]["region"]["startLine"] == 44  # the failed check: box.data := x
    assert "suppressions" not in c
    assert by_file["b_buggy.kv"]["suppressions"][0]["kind"] == "inSource"
    assert "codeFlows" not in by_file["d_wrong_expect.kv"]


def test_sarif_schema_catches_a_broken_document(gate):
    d, *_ = gate
    with open(SARIF_SCHEMA) as f:
        schema = json.load(f)
    doc = json.loads((d / "out.sarif").read_text())
    doc["runs"][0]["results"][0]["level"] = "fatal"
    assert list(jsonschema.Draft4Validator(schema).iter_errors(doc))


def test_relative_paths_stay_relative_in_sarif(tmp_path, monkeypatch):
    write_models(tmp_path / "models", buggy=BUGGY_UNANNOTATED)
    monkeypatch.chdir(tmp_path)
    run("check", "models", "--sarif", "s.sarif", "-q")
    doc = json.loads((tmp_path / "s.sarif").read_text())
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in doc["runs"][0]["results"]}
    assert uris == {"models/buggy.kv"}


def test_trace_formats_need_a_directory(tmp_path):
    models = write_models(tmp_path, buggy=BUGGY)
    code, _, stderr = run("check", models["buggy"], "--trace-format", "html")
    assert code == 2 and "error[KV503]" in stderr
    code, _, stderr = run("check", models["buggy"], "--trace-format", "svg", "--out", str(tmp_path))
    assert code == 2 and "unknown trace format svg" in stderr


def test_colour_only_on_a_terminal_and_never_with_no_color(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    models = write_models(tmp_path, buggy=BUGGY_UNANNOTATED)
    _, plain, _ = run("check", models["buggy"], "-q")
    _, tty, _ = run("check", models["buggy"], "-q", tty=True)
    _, nocolor, _ = run("check", models["buggy"], "-q", "--no-color", tty=True)
    assert "\x1b[" not in plain and "\x1b[" in tty and nocolor == plain
    assert "\x1b[1;31mFAIL" in tty
    assert "box.data: 1 -> \x1b[1;33m2\x1b[0m" in tty
    monkeypatch.setenv("NO_COLOR", "1")
    assert run("check", models["buggy"], "-q", tty=True)[1] == plain


def test_the_engine_reports_progress_through_a_callback(tmp_path):
    path = write_models(tmp_path, m=MAILBOX)["m"]
    ts = compile_model(path, {}, Sources()).system
    seen: list[Progress] = []
    import kvmverify.engines.explicit.search as explicit
    old = explicit.PROGRESS_EVERY
    explicit.PROGRESS_EVERY = 1  # every state
    try:
        Explorer(ts).run(progress=seen.append)
    finally:
        explicit.PROGRESS_EVERY = old
    assert seen and seen[0].states >= 1 and all(a.states <= b.states for a, b in zip(seen, seen[1:]))


def test_junit_and_sarif_are_deterministic(tmp_path):
    models = write_models(tmp_path / "m", buggy=BUGGY_UNANNOTATED, ok=MAILBOX)
    got = []
    for k in range(2):
        run("check", str(tmp_path / "m"), "--junit", str(tmp_path / f"j{k}.xml"), "--sarif", str(tmp_path / f"s{k}"),
            "-q")
        got.append(((tmp_path / f"j{k}.xml").read_bytes(), (tmp_path / f"s{k}").read_bytes()))
    assert got[0] == got[1]
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".kvmverify-")]  # no temp files left
