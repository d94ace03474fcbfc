"""`check --json` has one shape (`{"version", "exit_code", "models", "diagnostics"}`) for one model, several,
a model that does not compile and a command-line error; values are typed; every document validates against the
shipped schema (kvmverify/export/schemas/result.schema.json)."""
from __future__ import annotations

import json

import pytest

from conftest import schema_validator
from export_support import BUGGY, MAILBOX, run, write_models
from kvmverify.export.json_result import SCHEMA_FILE


@pytest.fixture(scope="module")
def validator():
    return schema_validator(SCHEMA_FILE)


def check_json(validator, *argv: str) -> tuple[int, dict]:
    code, out, err = run("check", *argv, "--json", "-q")
    doc = json.loads(out)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert errors == [], errors[:5]
    assert doc["version"] == 1 and doc["exit_code"] == code
    return code, doc


def test_one_model_several_models_and_errors_have_the_same_shape(validator, tmp_path):
    models = write_models(tmp_path, ok=MAILBOX, buggy=BUGGY, bad="model x\nvar y : nope = 0\n")
    code, one = check_json(validator, models["ok"])
    assert code == 0 and [m["model"] for m in one["models"]] == ["mailbox"]
    code, many = check_json(validator, str(tmp_path))
    assert code == 2 and [m["compiled"] for m in many["models"]] == [False, True, True]
    assert many["models"][0] == {"file": models["bad"], "compiled": False, "model": None, "exit_code": 2,
                                 "properties": []}
    codes = [d["code"] for d in many["diagnostics"]]
    assert "KV201" in codes and codes.count("KV405") == 2  # two models' lint (different files), the error
    code, usage = check_json(validator, models["ok"], "--param", "NOPE")  # refused before any model is read
    assert code == 2 and usage["models"] == [] and usage["diagnostics"][0]["code"] == "KV501"


def test_values_are_typed(validator, tmp_path):
    models = write_models(tmp_path, buggy=BUGGY)
    _, doc = check_json(validator, models["buggy"])
    m = doc["models"][0]
    assert m["params"] == {"BUG": True}
    slot = next(p for p in m["properties"] if p["name"] == "slot:box.data")
    last = slot["trace"]["steps"][-1]["state"]
    values, hexes = last["values"], last["hex"]
    assert values["sent[2]"] is True and values["phase"] == "Busy" and values["seen"] == []
    assert values["box.data"] == 2 and hexes["box.data"] == "0x2"
    assert values["db.vector"] == 0xF3 and hexes["db.vector"] == "0xf3"
    assert "phase" not in hexes and "sent[2]" not in hexes  # only bit vectors have a hex form
    v = slot["trace"]["violation"]
    assert v["detail"] == {"held": 1, "wrote": 2}
    assert v["text"] == "host wrote box.data while it held an event guest had not consumed (held=1, wrote=2)"


def test_liveness_bounded_check_and_cti_results_validate(validator, tmp_path):
    check_json(validator, "tests/corpus/handshake.kv")  # a lasso (loop, loop_action)
    check_json(validator, "models/apf_int.kv", "--max-depth", "3")  # bounded, undecided covers
    check_json(validator, "models/memtype.kv")  # decision-table checks over every input
    model = write_models(tmp_path, ok=MAILBOX)["ok"]
    code, doc = check_json(validator, model, "--engine", "induction", "--max-k", "1")
    assert code == 4 and doc["models"][0]["counterexample_to_induction"]["trace"]["length"] == 1


def test_the_trace_format_json_file_is_typed_too(tmp_path):
    models = write_models(tmp_path, buggy=BUGGY)
    code, _, _ = run("check", models["buggy"], "-q", "--trace-format", "json", "--out", str(tmp_path / "t"))
    assert code == 0
    doc = json.loads((tmp_path / "t" / "buggy.slot_box.data.json").read_text())
    assert doc["version"] == 1 and doc["params"] == {"BUG": True}
    assert doc["trace"]["steps"][0]["state"]["values"]["sent[1]"] is False
