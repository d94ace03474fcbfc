"""ITF export (schema-valid, deterministic, faithful) and `kvmverify replay` (valid runs, edited models, bad files)."""
from __future__ import annotations

import json
import os

import jsonschema
import pytest

from export_support import BUGGY, BUGGY_UNANNOTATED, MAILBOX, REPO, run, write_models
from kvmverify.check.types import BitsT, IntT, SetT
from kvmverify.diagnostics import Sources
from kvmverify.engines.explicit import explore
from kvmverify.engines.shared.result import PropertyResult, Step, Trace
from kvmverify.export import itf
from kvmverify.pipeline import compile_model
from kvmverify.trace.replay import replay

SCHEMAS = os.path.join(REPO, "kvmverify", "export", "schemas")


def schema(name: str) -> jsonschema.Draft202012Validator:
    with open(os.path.join(SCHEMAS, name)) as f:
        doc = json.load(f)
    jsonschema.Draft202012Validator.check_schema(doc)
    return jsonschema.Draft202012Validator(doc)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("itf")
    models = write_models(d, buggy=BUGGY)
    out = d / "out"
    code, stdout, _ = run("check", models["buggy"], "--trace-format", "itf", "--out", str(out), "-q")
    assert code == 0, stdout  # both violations are expected
    return d, models["buggy"], out


def test_one_file_per_violated_property_and_every_file_is_schema_valid(exported):
    _, _, out = exported
    files = sorted(os.listdir(out))
    assert files == ["buggy.deadlock.itf.json", "buggy.one_unread.itf.json", "buggy.slot_box.data.itf.json"]
    generic, strict = schema("itf.schema.json"), schema("itf-kvmverify.schema.json")
    for name in files:
        with open(out / name) as f:
            doc = json.load(f)
        assert list(generic.iter_errors(doc)) == []
        assert list(strict.iter_errors(doc)) == []
        assert doc["#meta"]["format"] == "ITF"
        assert [s["#meta"]["index"] for s in doc["states"]] == list(range(len(doc["states"])))
        assert doc["states"][0]["mbt::actionTaken"] == "init"
        assert doc["params"] == ["BUG"] and all(s["BUG"] == 1 for s in doc["states"])


def test_the_schemas_reject_malformed_traces():
    generic, strict = schema("itf.schema.json"), schema("itf-kvmverify.schema.json")
    assert list(generic.iter_errors({"vars": ["x"], "states": [{"x": {"#set": 1}}]}))
    assert list(generic.iter_errors({"vars": ["x"], "states": [{"x": {"#bigint": "12a"}}]}))
    assert list(generic.iter_errors({"states": []}))
    assert list(strict.iter_errors({"vars": ["x"], "states": [{"#meta": {"index": 0}, "x": 1}]}))


def test_steps_carry_actor_action_and_arguments(exported):
    _, _, out = exported
    with open(out / "buggy.slot_box.data.itf.json") as f:
        doc = json.load(f)
    metas = [s["#meta"] for s in doc["states"]]
    assert [m["action"] for m in metas] == ["init", "guest.enable()", "host.post(x=1)", "host.post(x=2)"]
    assert metas[2] == {"index": 2, "action": "host.post(x=1)", "actor": "host", "name": "post", "args": {"x": 1}}
    assert doc["states"][3]["mbt::nondetPicks"]["x"] == {"tag": "Some", "value": 2}
    last = doc["states"][-1]
    # registers and structs are records of their fields, sets #set, arrays #map, enums their names
    assert last["db"] == {"enabled": 1, "vector": 0xF3, "reserved": 0}
    assert last["box"] == {"flags": 1, "data": 2}
    assert last["seen"] == {"#set": []}
    assert last["phase"] == "Busy"
    assert last["sent"] == {"#map": [[1, True], [2, True]]}
    kv = doc["#meta"]["kvmverify"]
    assert kv["property"]["name"] == "slot:box.data" and kv["property"]["location"]["line"] == 25
    assert kv["violation"]["detail"] == {"held": 1, "wrote": 2}
    assert kv["expected"] == "violated"


def test_values_round_trip_including_bigints_and_stray_register_bits():
    assert itf.encode_value(IntT(0, 1 << 60), 1 << 60) == {"#bigint": str(1 << 60)}
    assert itf.decode_value(IntT(0, 1 << 60), {"#bigint": str(1 << 60)}, "x") == 1 << 60
    assert itf.decode_value(SetT(IntT(3, 5)), {"#set": [5, 3]}, "x") == 0b101
    ts = compile_model_text(MAILBOX).system
    db = next(v for v in ts.vars if v.name == "db")
    raw = 1 | 0xF3 << 8 | 1 << 3  # bit 3 belongs to no field
    enc = itf.encode_value(db.type, raw)
    assert enc[itf.OTHER_BITS] == 8 and itf.decode_value(db.type, enc, "x") == raw
    assert isinstance(db.type, BitsT)


def compile_model_text(text: str, overrides=None, tmp="/tmp"):
    import tempfile
    d = tempfile.mkdtemp(prefix="kvitf-")
    path = write_models(d, m=text)["m"]
    return compile_model(path, overrides or {}, Sources())


def test_every_state_decodes_back_to_the_engine_state():
    c = compile_model_text(BUGGY_UNANNOTATED)
    result = explore(c.system)
    for r in result.results:
        if r.trace is None:
            continue
        doc = json.loads(itf.dumps(itf.trace_document(c.system, r, "m.kv")))
        assert [itf.decode_state(c.system, s, "s") for s in doc["states"]] == [s.state for s in r.trace.steps]


def test_export_is_byte_identical_across_runs(tmp_path):
    models = write_models(tmp_path, buggy=BUGGY)
    outs = []
    for k in range(2):
        out = tmp_path / f"out{k}"
        run("check", models["buggy"], "--trace-format", "itf,json,text,html", "--out", str(out), "-q")
        outs.append({n: (out / n).read_bytes() for n in sorted(os.listdir(out))})
    assert outs[0] == outs[1] and len(outs[0]) == 12


# ------------------------------------------------------------------------------------------------ replay
def test_replay_reproduces_the_trace(exported):
    _, model, out = exported
    code, stdout, _ = run("replay", model, str(out / "buggy.slot_box.data.itf.json"))
    assert code == 0, stdout
    assert "valid run of the model: all 4 step(s) replayed" in stdout
    assert "slot:box.data: still violated by this trace" in stdout
    code, stdout, _ = run("replay", model, str(out / "buggy.one_unread.itf.json"), "--json")
    rep = json.loads(stdout)
    assert code == 0 and rep["reproduced"] and "one_unread" in rep["steps"][-1]["violates"]


def test_replay_on_a_fixed_model_says_the_property_is_no_longer_violated(exported, tmp_path):
    _, _, out = exported
    # the fix: the slot is now an invariant-free mailbox whose host may only post into an empty box, but the
    # trace still runs because the bug switch is kept; so remove the switch from the guard instead
    fixed = BUGGY.replace("(box.data == 0 || BUG)", "(box.data == 0 || BUG) && !sent[1] || box.data == 0 && "
                          "db.enabled == 1 && !sent[x]")
    model = write_models(tmp_path, buggy=fixed)["buggy"]
    code, stdout, _ = run("replay", model, str(out / "buggy.slot_box.data.itf.json"))
    assert code == 1
    assert "not a valid run of the model: step 3 fails (host.post(x=2) is not enabled in the state before it)" \
        in stdout


def test_replay_when_the_step_still_runs_but_no_longer_violates(exported, tmp_path):
    _, _, out = exported
    # the guest's consume now also clears the flags, and the invariant is weakened: the trace runs unchanged
    weakened = BUGGY.replace("invariant one_unread: !(sent[1] && sent[2]) || seen != {} || box.data == 0",
                             "invariant one_unread: true")
    model = write_models(tmp_path, buggy=weakened)["buggy"]
    code, stdout, _ = run("replay", model, str(out / "buggy.one_unread.itf.json"))
    assert code == 1
    assert "valid run of the model" in stdout and "one_unread: no longer violated by this trace" in stdout


def test_replay_names_the_first_step_that_leads_elsewhere(exported, tmp_path):
    _, _, out = exported
    changed = BUGGY.replace("box.flags := 1\n", "box.flags := 0\n")
    model = write_models(tmp_path, buggy=changed)["buggy"]
    code, stdout, _ = run("replay", model, str(out / "buggy.slot_box.data.itf.json"))
    assert code == 1
    assert "step 2 fails (host.post(x=1) leads elsewhere: box.flags is 0 in the model, 1 in the trace)" in stdout


def test_replay_of_a_stopped_step(tmp_path):
    c = compile_model_text(BUGGY_UNANNOTATED)
    r = next(x for x in explore(c.system).results if x.prop.name == "slot:box.data")
    # pretend the last step was stopped by a fatal check: the model does not stop there, so replay says so
    steps = (*r.trace.steps[:-1], Step(r.trace.steps[-1].action, None))
    doc = itf.trace_document(c.system, PropertyResult(r.prop, "violated", r.coverage,
                                                       Trace(steps, None, r.trace.violation)), "m.kv")
    assert doc["#meta"]["kvmverify"]["stopped_step"]["action"] == "host.post(x=2)"
    assert list(schema("itf-kvmverify.schema.json").iter_errors(json.loads(itf.dumps(doc)))) == []
    rep = replay(c.system, json.loads(itf.dumps(doc)), "t.itf.json")
    assert not rep.valid and "no longer stops on a failed check" in rep.first_problem.problem


@pytest.mark.parametrize("content, code, needle", [
    (None, "KV601", "cannot read trace file"),
    ("{not json", "KV602", "not JSON"),
    ('{"states": 3}', "KV603", "not an ITF trace"),
    ('{"vars": [], "states": [{"#meta": {"index": 0}}]}', "KV604", "variable 'db' is missing"),
])
def test_malformed_traces_are_coded_diagnostics(exported, tmp_path, content, code, needle):
    _, model, _ = exported
    path = tmp_path / "t.itf.json"
    if content is not None:
        path.write_text(content)
    rc, stdout, stderr = run("replay", model, str(path))
    assert rc == 2 and stdout == ""
    assert f"error[{code}]" in stderr and needle in stderr


def test_a_trace_naming_an_unknown_action_or_parameter(exported, tmp_path):
    _, model, out = exported
    doc = json.loads((out / "buggy.slot_box.data.itf.json").read_text())
    doc["states"][2]["#meta"]["args"] = {"x": 7}
    bad = tmp_path / "a.itf.json"
    bad.write_text(json.dumps(doc))
    rc, _, stderr = run("replay", model, str(bad))
    assert rc == 2 and "error[KV605]" in stderr and "no action instance host.post(x=7)" in stderr
    doc = json.loads((out / "buggy.slot_box.data.itf.json").read_text())
    doc["params"].append("NVCPU")
    doc["states"][0]["NVCPU"] = 2
    bad.write_text(json.dumps(doc))
    rc, _, stderr = run("replay", model, str(bad))
    assert rc == 2 and "error[KV606]" in stderr and "'NVCPU'" in stderr
    doc = json.loads((out / "buggy.slot_box.data.itf.json").read_text())
    doc["states"][1]["box"]["data"] = "x"
    bad.write_text(json.dumps(doc))
    rc, _, stderr = run("replay", model, str(bad))
    assert rc == 2 and "error[KV604]" in stderr and "states[1].box.data" in stderr


def test_a_lasso_trace_carries_its_loop_index():
    """No engine finds lasso (liveness) traces yet; the writer already takes `Trace.loop` to ITF `loop`."""
    import dataclasses
    c = compile_model_text(MAILBOX)
    ts = c.system
    r = next(x for x in explore(ts).results if x.trace is not None)  # the cover both_seen: a real run
    steps = r.trace.steps
    lasso = dataclasses.replace(r, trace=Trace(steps=steps, loop=len(steps) - 1))
    doc = json.loads(itf.dumps(itf.trace_document(ts, lasso, "m.kv")))
    assert doc["loop"] == len(steps) - 1 and len(doc["states"]) == len(steps)
    for name in ("itf.schema.json", "itf-kvmverify.schema.json"):
        with open(os.path.join(SCHEMAS, name)) as f:
            s = json.load(f)
        jsonschema.validators.validator_for(s)(s).validate(doc)
    assert "loop" not in json.loads(itf.dumps(itf.trace_document(ts, r, "m.kv")))
