"""apf_int's liveness property: it holds under the model's fairness, each fairness annotation is needed, and a guest
that never ACKs gives a replayable lasso in which a completion waits forever."""
import json
import pathlib
import re

import pytest

from conftest import ROOT, run_cli
from kvmverify.diagnostics import Sources
from kvmverify.engines.explicit import Explorer
from kvmverify.pipeline import compile_model
from test_liveness import assert_valid_lasso

PROP = "ready_follows_not_present"


def liveness_result(path: str, **params):
    ts = compile_model(path, params, Sources()).system
    r = Explorer(ts).run()
    return ts, next(x for x in r.results if x.prop.name == PROP)


def test_holds_under_the_models_fairness():
    for nvcpu, ntoken, states in ((1, 1, 137), (1, 2, 887), (2, 1, 18769)):
        _, r = liveness_result("models/apf_int.kv", NVCPU=nvcpu, NTOKEN=ntoken)
        assert r.status == "holds"
        # concrete states: liveness does not use the symmetry reduction (2 vCPUs: 9453 orbits, 18769 states)
        assert r.coverage.describe() == f"exhaustive, fair lassos searched in {states} states"


def test_guest_that_never_acks_leaves_a_completion_waiting_forever():
    ts, r = liveness_result("models/apf_int_bugs/guest_never_acks.kv")
    assert r.status == "violated" and r.as_expected
    t = r.trace
    assert (t.length, t.loop) == (8, 7)
    assert [ts.actions[s.action].action for s in t.steps[1:]] == [
        "set_vector", "enable", "not_present", "page_ready_wakeall", "apf_pf", "page_ready_irq", "work_done", "cli"]
    assert ts.actions[t.loop_action].action == "sti"
    assert t.violation.message.startswith("for v=0, t=1: the premise holds at step 6")
    assert_valid_lasso(ts, t, PROP)
    # the host still holds 'page ready pending' and token 1 is completed but never delivered, around the loop
    names = [sv.name for sv in ts.vars]
    for s in t.steps[t.loop:]:
        assert s.state[names.index("ready_pending[0]")] == 1
        assert s.state[names.index("life[0][1]")] == 2  # Completed


# Each fairness annotation of apf_int is needed: drop it (or weaken `strong fair` to `fair`) and a lasso appears.
ANNOTATIONS = [
    ("fair action work_done", "action work_done", 1),
    ("fair action page_in_after_halt", "action page_in_after_halt", 2),
    ("strong fair action page_ready(", "action page_ready(", 1),
    ("strong fair action page_ready(", "fair action page_ready(", 1),
    ("strong fair action sti", "fair action sti", 1),
    ("strong fair action apf_pf", "fair action apf_pf", 1),
    ("strong fair action page_ready_irq", "fair action page_ready_irq", 1),
]


@pytest.mark.parametrize("old, new, nvcpu", ANNOTATIONS, ids=[a[1] for a in ANNOTATIONS])
def test_each_fairness_annotation_is_needed(tmp_path, old, new, nvcpu):
    text = (ROOT / "models" / "apf_int.kv").read_text()
    assert text.count(old) == 1
    text = text.replace(old, new).replace('use "../spec/msr.kv"', f'use "{ROOT / "spec" / "msr.kv"}"')
    model = tmp_path / "apf_int.kv"
    model.write_text(text)
    ts, r = liveness_result(str(model), NVCPU=nvcpu, NTOKEN=3 - nvcpu)
    assert r.status == "violated"
    assert_valid_lasso(ts, r.trace, PROP)


def test_the_exported_lasso_replays_and_a_broken_loop_does_not(tmp_path):
    code, _, _ = run_cli("check", "models/apf_int_bugs/guest_never_acks.kv", "-q", "--trace-format", "itf",
                         "--out", str(tmp_path))
    assert code == 0
    (itf,) = tmp_path.glob(f"*{PROP}.itf.json")
    doc = json.loads(itf.read_text())
    assert doc["loop"] == 7 and doc["#meta"]["kvmverify"]["loop_action"]["name"] == "sti"
    code, out, _ = run_cli("replay", "models/apf_int_bugs/guest_never_acks.kv", str(itf), "-q")
    assert code == 0
    doc["loop"] = 6  # the last state does not step back to state 6 by `sti`
    broken = tmp_path / "broken.itf.json"
    broken.write_text(json.dumps(doc))
    code, out, _ = run_cli("replay", "models/apf_int_bugs/guest_never_acks.kv", str(broken))
    assert code != 0
    assert "guest.sti(v=0) does not take the last state back to step 6" in out


def test_2010_synthetic_halt_ends_unless_migration_records_it():
    ts = compile_model("models/apf_halt_2010.kv", {}, Sources()).system
    r = next(x for x in Explorer(ts).run().results if x.prop.name == "synthetic_halt_ends")
    assert r.status == "holds" and r.coverage.describe() == "exhaustive, fair lassos searched in 4688 states"
    ts = compile_model("models/apf_halt_2010_bugs/synthetic_halt_in_mp_state.kv", {}, Sources()).system
    r = next(x for x in Explorer(ts).run().results if x.prop.name == "synthetic_halt_ends")
    assert r.status == "violated" and r.as_expected
    assert (r.trace.length, r.trace.loop, ts.actions[r.trace.loop_action].action) == (2, 2, "migrate")
    assert_valid_lasso(ts, r.trace, "synthetic_halt_ends")


def test_lasso_trace_text_golden():
    from conftest import check_golden
    code, out, _ = run_cli("check", "models/apf_int_bugs/guest_never_acks.kv", "-q")
    assert code == 0
    check_golden("trace_guest_never_acks.txt", out)
