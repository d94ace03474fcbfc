"""Code-level models (docs/language.md, "Processes and procedures" to "Sanity findings"): where process steps end,
queues and options as written, transition properties, deadlock and the other sanity findings, their agreement
across engines, independent parts and symmetry, `--property`/`--exclude`, and the limits that keep a model
from blowing up (exponential enabledness, nested division in the generated code)."""
from __future__ import annotations

import json
import pytest

from conftest import run_cli
from kvmverify.check.checker import check
from kvmverify.check.loader import Loaded
from kvmverify.engines import Options, run_engine
from kvmverify.engines.explicit import Explorer
from kvmverify.ir.lower import lower
from kvmverify.ir.sanity import MAX_ENABLED_NODES
from kvmverify.lang.parser import parse
from kvmverify.semantics.reference import Reference, from_ir
from test_reference import engine_successors, reference_state_property, reference_successors, same


def compiled(text: str):
    f = parse(text, "code.kv")
    model = check(Loaded(f, (f,)))
    return model, lower(model)


def verdicts(result) -> dict[str, tuple[str, int | None]]:
    return {r.prop.name: (r.status, r.trace.length if r.trace else None) for r in result.results}


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / f"{name}.kv"
    path.write_text(text)
    return str(path)


def agrees_with_reference(text: str) -> int:
    """Every reachable state: the generated successor function and the state properties as the reference
    semantics says (tests/test_reference.py does this on generated models). Returns the number of states."""
    model, ts = compiled(text)
    ref, ex = Reference(model), Explorer(ts, symmetry=False)
    seen, todo = {ts.init[0]}, [ts.init[0]]
    while todo:
        flat = todo.pop()
        want = reference_successors(ref, ts, model, flat)
        assert same(engine_successors(ex, ts, flat), want), from_ir(ts, model, flat)
        state, mask = from_ir(ts, model, flat), ex.c.props(flat)
        for p in ts.properties:
            bit = reference_state_property(ref, model, p, state)
            if bit is not None:
                assert bool(mask >> p.id & 1) == bit, (p.name, state)
        for nxt, _ in want.values():
            for t in nxt:
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
    return len(seen)


# ------------------------------------------------------------------------------------------ where steps end
LABELLED = """model steps
var x : 0 .. 3 = 0
process p() {
    a: x := 1
       x := 2
    b: x := 3
}
cover three: x == 3
"""


def test_a_labelled_body_steps_from_label_to_label_and_traces_name_the_points(tmp_path):
    code, out, _ = run_cli("check", write(tmp_path, "steps", LABELLED), "--json")
    m = json.loads(out)["models"][0]
    assert code == 0 and m["stats"]["states"] == 3 and m["stats"]["action_instances"] == 2
    trace = next(p for p in m["properties"] if p["name"] == "three")["trace"]
    assert [s["action"]["label"] for s in trace["steps"][1:]] == ["p@a", "p@b"]
    assert [s["state"]["values"] for s in trace["steps"]] == [{"x": 0, "p": "a"}, {"x": 2, "p": "b"},
                                                              {"x": 3, "p": "done"}]
    assert agrees_with_reference(LABELLED) == 3


def test_a_body_without_labels_takes_one_statement_per_step(tmp_path):
    text = LABELLED.replace("a: ", "").replace("   x := 2", "x := 2").replace("b: ", "")
    code, out, _ = run_cli("check", write(tmp_path, "plain", text))
    assert code == 0 and "p@start" not in out and "4 states, 3 transitions, depth 3" in out
    assert agrees_with_reference(text) == 4


def test_procedures_are_inlined_with_their_arguments_evaluated_once():
    text = """model procs
var x : 0 .. 7 = 1
var y : 0 .. 7 = 0
proc add(n: 0 .. 7) { x := x + n
    y := n }
actor a { action twice() when x < 4 { add(x) } }
invariant even_steps: y == 0 || x == 2 * y
"""
    _, ts = compiled(text)
    r = run_engine(ts, "explicit")
    assert verdicts(r)["even_steps"] == ("holds", None) and r.stats.states == 3  # x: 1, 2, 4
    assert agrees_with_reference(text) == 3


# ------------------------------------------------------------------------------------------ queues and options
FIFO = """model fifo
var q : queue[2] of 0 .. 3 = [3]
var o : option 0 .. 3 = none
actor a {
    action put(v: 0 .. 3) when !full(q) && v != 0 { push(q, v) }
    action take() when !empty(q) && o == none {
        o := some(head(q))
        pop(q)
    }
    action drop() when o != none { o := none }
    action over() when len(q) == 2 && o == some(3) { push(q, 1) }
}
cover two: len(q) == 2 && o == some(3)
"""


def test_queues_and_options_show_as_written_in_text_and_json(tmp_path):
    path = write(tmp_path, "fifo", FIFO)
    code, out, _ = run_cli("check", path)
    assert code == 1 and "FAIL violated  queue:q    shortest trace: 4 step(s)" in out
    assert "q = [3] (all else 0 / none)" in out  # o is none, not 0
    assert "q: [3] -> [3, 1]" in out and "o: none -> some(3)" in out
    assert "push onto q, which is full (2 elements)" in out
    _, out, _ = run_cli("check", path, "--json")
    m = json.loads(out)["models"][0]
    steps = next(p for p in m["properties"] if p["name"] == "two")["trace"]["steps"]
    assert [s["state"]["values"] for s in steps] == [{"q": [3], "o": None}, {"q": [3, 1], "o": None},
                                                     {"q": [1], "o": 3}, {"q": [1, 1], "o": 3}]
    assert agrees_with_reference(FIFO) == 52


def test_a_transition_property_compares_with_the_state_before_the_step():
    text = """model tr
var x : 0 .. 3 = 0
actor a {
    action up() when x < 3 { x := x + 1 }
    action reset() when x == 3 { x := 0 }
}
transition only_up: old(x) <= x || old(x) == 3
transition never_down: old(x) <= x
"""
    _, ts = compiled(text)
    for engine in ("explicit", "bmc", "pdr"):
        v = verdicts(run_engine(ts, engine, Options(depth=6)))
        assert v["only_up"][0] == "holds" and v["never_down"] == ("violated", 4), engine
    assert agrees_with_reference(text) == 4


# ------------------------------------------------------------------------------------------ sanity findings
DEAD = """model dead
var x : 0 .. 2 = 0
var y : bool = false
actor a {
    action inc() when x < 2 { x := x + 1 }
    action never() when x == 2 && y { y := false }
}
"""


def test_a_model_that_gets_stuck_fails_without_a_property_and_its_dead_action_is_reported(tmp_path):
    code, out, _ = run_cli("check", write(tmp_path, "dead", DEAD))
    assert code == 1
    assert "FAIL violated  deadlock         shortest trace: 2 step(s)" in out
    assert "FAIL vacuous   enabled:a.never  never reached" in out
    assert "no step is enabled here; no action's guard holds" in out
    assert "a.never is never enabled: no reachable state satisfies its guard" in out
    # a model that means to stop there says so, and the dead action is acknowledged with `expect`
    fixed = DEAD + "terminal x == 2\nexpect vacuous enabled:a.never\n"
    code, out, _ = run_cli("check", write(tmp_path, "fixed", fixed))
    assert code == 0 and "ok   holds     deadlock" in out
    assert agrees_with_reference(DEAD) == 3


def test_processes_that_all_run_to_their_end_are_not_a_deadlock():
    _, ts = compiled(LABELLED)
    assert verdicts(run_engine(ts, "explicit"))["deadlock"] == ("holds", None)
    _, ts = compiled(LABELLED.replace("b: x := 3", "b: await x == 3"))
    assert verdicts(run_engine(ts, "explicit"))["deadlock"] == ("violated", 1)


def test_a_step_that_a_fatal_check_stops_counts_as_enabled_in_every_engine():
    """`go` overflows x in its non-tail `if` before `await false`: attempted there (type_ok reports it), not
    stuck; the deadlock comes one step later, once `clear` made b false (SPIN campaign, seed 20418)."""
    text = """model stops
var x : 0 .. 3 = 3
var b : bool = true
actor a {
    action go() {
        if b { x := x + 1 }
        await false
    }
    action clear() when b { b := false }
}
"""
    _, ts = compiled(text)
    for engine in ("explicit", "bmc", "pdr", "induction"):
        v = verdicts(run_engine(ts, engine, Options(depth=4)))
        assert v["deadlock"] == ("violated", 1) and v["type_ok"] == ("violated", 1), engine
    assert agrees_with_reference(text) == 2


def test_an_invariant_that_holds_only_vacuously_is_a_failure():
    text = """model vac
var x : 0 .. 2 = 0
actor a { action inc() when x < 2 { x := x + 1 } }
terminal x == 2
invariant never_three: x == 3 -> false
invariant small: x <= 2 && (x == 1 -> x < 2)
"""
    _, ts = compiled(text)
    v = verdicts(run_engine(ts, "explicit"))
    assert v["premise:never_three"] == ("vacuous", None) and v["premise:small"] == ("reached", 1)


TWO_PARTS = """model twoparts
var x : 0 .. 2 = 0
var y : 0 .. 3 = 0
actor a { action inc() when x < 2 { x := x + 1 } }
actor b { action inc() when y < 3 { y := y + 1 } }
"""


@pytest.mark.parametrize("extra, want", [("", ("violated", 5)), ("terminal y == 1\n", ("violated", 5)),
                                         ("terminal x == 2\n", ("holds", None)),
                                         ("actor c { action spin() { } }\n", ("holds", None))])
def test_deadlock_over_independent_parts_is_the_whole_search_verdict(extra, want):
    _, ts = compiled(TWO_PARTS + extra)
    whole = run_engine(ts, "explicit", Options(symmetry=False))
    parts = run_engine(ts, "auto", Options(symmetry=False, parts=True))
    assert verdicts(whole)["deadlock"] == verdicts(parts)["deadlock"] == want
    assert any("independent parts" in n for n in parts.notes)
    if want[0] == "violated":  # the concatenated trace is a real run that ends stuck
        trace = next(r for r in parts.results if r.prop.name == "deadlock").trace
        ex = Explorer(ts, symmetry=False)
        for prev, step in zip(trace.steps, trace.steps[1:]):
            assert step.state in ex.step(prev.state, step.action)
        assert not [t for _, t in ex.successors(trace.steps[-1].state)[0]]


# ------------------------------------------------------------------------------------------ symmetry, liveness
SYMMETRIC = """model sym
symmetric type V = 0 .. 2
var flag : bool = false
var got[V] : bool = false
var left : 0 .. 3 = 3
process task(v: V) {
    wait: await flag
    got[v] := true
    left := left - 1
}
actor host { action kick() when !flag { flag := true } }
invariant ok: forall v: V. got[v] -> flag && !at(task(v), wait)
cover all: left == 0
"""


def test_program_counters_over_a_symmetric_type_are_permuted_with_it():
    _, ts = compiled(SYMMETRIC)
    reduced = run_engine(ts, "explicit", Options(symmetry=True))
    full = run_engine(ts, "explicit", Options(symmetry=False))
    assert (reduced.stats.states, full.stats.states) == (5, 9)
    assert verdicts(reduced) == verdicts(full)
    assert verdicts(full)["deadlock"] == ("holds", None) and verdicts(full)["all"] == ("reached", 4)


LIVE = """model live
var x : 0 .. 1 = 0
var y : 0 .. 1 = 0
actor other { action spin() { y := 1 - y } }
fair process flip() {
    while true { x := 1 - x }
}
property toggles: always eventually x == 1
"""


def test_a_fair_process_is_fair_step_by_step():
    _, ts = compiled(LIVE)
    assert verdicts(run_engine(ts, "explicit"))["toggles"][0] == "holds"
    _, ts = compiled(LIVE.replace("fair process", "process"))
    r = run_engine(ts, "explicit")
    trace = next(x for x in r.results if x.prop.name == "toggles").trace
    assert verdicts(r)["toggles"][0] == "violated" and trace.loop is not None


# ------------------------------------------------------------------------------------------ engines agree
def test_every_engine_agrees_on_the_fifo_worker_of_the_language_docs():
    from test_docs import DOCS, blocks
    text = next(b for lang, b in blocks(DOCS / "language.md") if lang == "kv" and "model fifo_worker" in b)
    _, ts = compiled(text)
    want = verdicts(run_engine(ts, "explicit"))
    assert set(want) >= {"one_at_a_time", "served_only_grows", "queue:inbox", "deadlock", "enabled:worker@idle",
                         "enabled:worker@busy", "enabled:guest.send", "premise:one_at_a_time"}
    decided = lambda v: {k: s for k, (s, _) in v.items() if s != "unknown"}  # noqa: E731
    for engine in ("bmc", "pdr", "induction"):
        got = decided(verdicts(run_engine(ts, engine, Options(depth=8, max_k=8))))
        assert got == {k: s for k, (s, _) in want.items() if k in got}, engine
        if engine == "pdr":
            assert got == {k: s for k, (s, _) in want.items()}
    assert agrees_with_reference(text) == 16


# ------------------------------------------------------------------------------------------ --property
def test_property_and_exclude_select_what_is_checked_in_every_output(tmp_path):
    path = write(tmp_path, "dead", DEAD)
    code, out, _ = run_cli("check", path, "--exclude", "enabled:*", "--exclude", "deadlock")
    assert code == 0 and "deadlock" not in out and "enabled" not in out and "type_ok" in out
    code, out, _ = run_cli("check", path, "--property", "dead*", "--json")
    props = [p["name"] for p in json.loads(out)["models"][0]["properties"]]
    assert code == 1 and props == ["deadlock"]
    code, out, err = run_cli("check", path, "--property", "nosuch*")
    assert code == 2 and "error[KV509]: --property nosuch*: no property matches it" in err
    assert "hint: properties: deadlock, enabled:a.inc, enabled:a.never, type_ok" in err


def test_bmc_stops_once_every_selected_property_is_decided(tmp_path):
    path = write(tmp_path, "dead", DEAD)
    code, out, _ = run_cli("check", path, "--engine", "bmc", "--depth", "20", "--property", "deadlock")
    assert code == 1 and "runs of up to 2 steps unrolled" in out
    code, out, _ = run_cli("check", path, "--engine", "bmc", "--depth", "20", "--property", "type_ok")
    assert code == 0 and "runs of up to 20 steps unrolled" in out  # nothing decides type_ok early


# ------------------------------------------------------------------------------------------ limits
def test_an_exponential_enabledness_is_left_out_with_a_note_not_a_hang():
    """`a[0]` built from itself 16 times before the `await`: the condition has 2^16 leaves (SPIN campaign, seed
    30022, took 24 GB before this limit)."""
    text = """model cap
var a[0 .. 1] : 0 .. 3 = 0
actor p {
    action mix() {
        for j: 0 .. 15 { a[0] := (a[0] + a[1] + a[0]) % 4 }
        await a[0] == 1
    }
    action bump() when a[1] < 3 { a[1] := a[1] + 1 }
}
"""
    _, ts = compiled(text)
    names = {p.name for p in ts.properties}
    assert "deadlock" not in names and "enabled:p.mix" not in names and "enabled:p.bump" in names
    r = run_engine(ts, "explicit")
    assert any(n.startswith("deadlock and enabled:p.mix are not checked") and str(MAX_ENABLED_NODES) in n
               for n in r.notes)


def test_nested_division_of_negative_values_is_written_once_in_the_generated_code():
    """C's truncating `%` on a signed value tests its sign: each level used to write its operand three times
    (SPIN campaign, seed 30480: a 3^12 blow-up); now through a helper, and still C's semantics."""
    text = """model mods
var x : -3 .. 3 = -3
var n : 0 .. 7 = 1
actor p {
    action down() { x := ((((x - 2) % 3) - 1) % 3 - 2) % 3 }
    action shift() { n := ((n << (x + 3)) >> 1) % 8 }
}
"""
    _, ts = compiled(text)
    source = Explorer(ts, symmetry=False).c.source
    assert "_mod((_mod((_mod((" in source and "_shl(" in source and len(source) < 5000
    assert agrees_with_reference(text) == 14
