"""The flagship model: exact state counts, every property's verdict, and the buggy variants' shortest traces."""
import json

import pytest

from conftest import check_golden, run_cli

APF = "models/apf_int.kv"


def check_json(*args: str) -> tuple[int, dict]:
    code, out, err = run_cli("check", *args, "--json", "-q")
    assert "Traceback" not in err
    doc = json.loads(out)
    assert len(doc["models"]) == 1
    return code, doc["models"][0]


def verdicts(doc: dict) -> dict[str, str]:
    """The verdicts but the sanity findings `enabled:` and `premise:` (see test_sanity_findings_all_reached)."""
    return {p["name"]: p["status"] for p in doc["properties"] if p["kind"] not in ("enabled", "premise")}


@pytest.mark.parametrize("nvcpu, ntoken, symmetry, states, transitions, depth", [
    (1, 1, True, 137, 361, 12),
    (1, 2, True, 887, 2692, 15),
    (1, 3, True, 5723, 19597, 18),
    (2, 1, False, 18769, 98914, 24),
    # the vCPUs never interact, so the orbits of two vCPUs are the unordered pairs of one vCPU's 137 states
    (2, 1, True, 137 * 138 // 2, 49818, 24),
])
def test_exact_state_counts(nvcpu, ntoken, symmetry, states, transitions, depth):
    flags = ("--engine", "explicit") + (() if symmetry else ("--no-symmetry",))  # auto would split the vCPUs
    code, doc = check_json(APF, "--param", f"NVCPU={nvcpu}", "--param", f"NTOKEN={ntoken}", *flags)
    assert code == 0
    assert doc["stats"] == {"states": states, "transitions": transitions, "depth": depth,
                            "action_instances": doc["stats"]["action_instances"],
                            "state_variables": doc["stats"]["state_variables"]}
    # a second run gives the same numbers
    assert doc["reduction"] == ("symmetry of Vcpu" if symmetry and nvcpu > 1 else None)
    assert check_json(APF, "--param", f"NVCPU={nvcpu}", "--param", f"NTOKEN={ntoken}", *flags)[1]["stats"] == doc["stats"]


def test_headline_model_holds_exhaustively():
    """auto explores the two independent vCPUs one at a time: 887 x 887 states, the whole model's exact count."""
    code, doc = check_json(APF)
    assert code == 0
    assert doc["engine"] == "auto (explicit, independent parts)"
    assert doc["stats"]["states"] == 887 * 887 == 786769
    assert doc["stats"]["transitions"] == 4775608
    assert verdicts(doc) == {
        "no_vector_zero": "holds", "ready_matches_not_present": "holds", "waiter_has_completion": "holds",
        "not_present_delivered": "reached", "ready_delivered": "reached", "wakeall_delivered": "reached",
        "two_tokens_waiting": "reached", "synthetic_halt": "reached",
        "slot:area.flags": "holds", "slot:area.token": "holds", "np_only_if_interrupts_on": "holds",
        "pf_sees_flags": "holds", "msr:MSR_KVM_ASYNC_PF_EN": "holds", "msr:MSR_KVM_ASYNC_PF_INT": "holds",
        "ready_follows_not_present": "holds", "layout:kvm_vcpu_pv_apf_data": "violated", "deadlock": "holds",
    }
    # every action is enabled somewhere, every premise of an implication in an invariant holds somewhere
    sanity = {p["name"]: p["status"] for p in doc["properties"] if p["kind"] in ("enabled", "premise")}
    assert set(sanity.values()) == {"reached"}
    assert sorted(sanity) == sorted(
        [f"enabled:host.{a}" for a in ("not_present", "halt_on_fault", "page_in_after_halt", "work_done",
                                       "page_ready", "page_ready_wakeall")]
        + [f"enabled:guest.{a}" for a in ("set_vector", "enable", "disable", "cli", "sti", "apf_pf",
                                          "page_ready_irq")]
        + [f"premise:{i}" for i in ("no_vector_zero", "ready_matches_not_present", "waiter_has_completion")])
    for p in doc["properties"]:
        if p["status"] == "holds" and p["kind"] != "liveness":
            assert p["coverage"]["text"] == "exhaustive, 786769 states (887 x 887: independent parts), depth 30"
    live = next(p for p in doc["properties"] if p["kind"] == "liveness")
    assert live["coverage"]["text"] == ("exhaustive, fair lassos searched in 786769 states (887 x 887: independent "
                                        "parts)")


def test_the_whole_graph_search_of_the_headline_model():
    """The same verdicts from one search of the whole graph: 887 * 888 / 2 orbits of its 786,769 states under
    swapping the vCPUs; liveness in the concrete graph (a lasso must come back to the very same state)."""
    code, doc = check_json(APF, "--engine", "explicit")
    assert code == 0
    assert doc["stats"]["states"] == 887 * 888 // 2 and doc["stats"]["transitions"] == 2390496
    assert verdicts(doc) == verdicts(check_json(APF)[1])
    live = next(p for p in doc["properties"] if p["kind"] == "liveness")
    assert live["coverage"]["text"] == "exhaustive, fair lassos searched in 786769 states"


# (variant file, {violated property: shortest trace length})
BUGS = [
    ("host_ignores_token_slot", {"slot:area.token": 6, "waiter_has_completion": 10}),
    ("enable_before_vector", {"no_vector_zero": 2}),
    ("sti_before_flags_clear", {"slot:area.flags": 5, "waiter_has_completion": 10}),
    ("inject_with_if_off", {"np_only_if_interrupts_on": 4, "slot:area.flags": 4}),
]


@pytest.mark.parametrize("name, violated", BUGS)
def test_bug_variant_gives_its_shortest_counterexample(name, violated):
    code, doc = check_json(f"models/apf_int_bugs/{name}.kv")
    assert code == 0, "every verdict is the one the variant's `expect` lines announce"
    got = {p["name"]: p["trace"]["length"] for p in doc["properties"]
           if p["status"] == "violated" and p["kind"] != "layout"}
    assert got == violated
    for p in doc["properties"]:
        if p["status"] == "violated" and p["kind"] != "layout":
            assert p["as_expected"] and p["expected"] == "violated"
            steps = p["trace"]["steps"]
            assert steps[0]["action"] is None and all(s["action"] for s in steps[1:])


@pytest.mark.parametrize("param, prop, length", [
    ("BUG_HOST_IGNORES_SLOT", "slot:area.token", 6),
    ("BUG_ENABLE_BEFORE_VECTOR", "no_vector_zero", 2),
    ("BUG_STI_BEFORE_FLAGS_CLEAR", "slot:area.flags", 5),
    ("BUG_INJECT_WITH_IF_OFF", "np_only_if_interrupts_on", 4),
])
def test_bug_switches_fail_the_flagship_without_expect(param, prop, length):
    code, doc = check_json(APF, "--param", "NVCPU=1", "--param", f"{param}=true")
    assert code == 1
    violated = {p["name"]: p["trace"]["length"] for p in doc["properties"]
           if p["status"] == "violated" and p["kind"] != "layout"}
    assert violated[prop] == length


def test_slot_overwrite_trace_text_golden():
    code, out, _ = run_cli("check", "models/apf_int_bugs/host_ignores_token_slot.kv", "-q")
    assert code == 0
    check_golden("trace_host_ignores_token_slot.txt", out)


def test_vector_zero_trace_text_golden():
    code, out, _ = run_cli("check", "models/apf_int_bugs/enable_before_vector.kv", "-q")
    assert code == 0
    check_golden("trace_enable_before_vector.txt", out)
