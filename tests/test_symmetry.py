"""Symmetry reduction (`symmetric type`): the same verdicts as the full search, one state per orbit, concrete
traces, and a diagnostic for every model that tells the values of a symmetric type apart."""
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvmverify.check.checker import check
from kvmverify.check.loader import Loaded
from kvmverify.engines.explicit import Explorer
from kvmverify.ir.lower import lower
from kvmverify.lang.parser import parse

from conftest import run_cli


def system_of(text: str):
    f = parse(text, "sym.kv")
    return lower(check(Loaded(f, (f,))))


def verdicts(result) -> dict[str, str]:
    return {r.prop.name: r.status for r in result.results}


def assert_concrete_run(ex: Explorer, trace) -> None:
    """Every step of a trace is a transition of the unreduced system by the action it names."""
    assert trace.steps[0].state in ex.ts.init
    for prev, step in zip(trace.steps, trace.steps[1:]):
        if step.state is not None:
            assert step.state in ex.step(prev.state, step.action)


def reachable(ex: Explorer) -> set:
    seen, todo = set(ex.ts.init), list(ex.ts.init)
    while todo:
        for _, t in ex.successors(todo.pop())[0]:
            if t is not None and t not in seen:
                seen.add(t)
                todo.append(t)
    return seen


def orbits(ts, states: set) -> set:
    """Orbits by brute force: the least image of each state under every permutation of the slices."""
    (sym,) = ts.symmetries
    def image(s, order):
        t = list(s)
        for k, target in enumerate(order):
            for a, b in zip(sym.slices[k], sym.slices[target]):
                t[b] = s[a]
        return tuple(t)
    return {min(image(s, order) for order in itertools.permutations(range(len(sym.slices)))) for s in states}


# Three interchangeable workers share a counter; each moves Idle -> Busy -> Done, taking a shared lock.
WORKERS = """
model workers
param N = 3
symmetric type W = 0 .. N - 1
type Phase = {Idle, Busy, Done}
var phase[W] : Phase = Idle
var hits[W] : 0..2 = 0
var lock : bool = false
var done : 0..3 = 0
actor w {
  action start(i: W) when phase[i] == Idle && !lock { phase[i] := Busy  lock := true }
  action finish(i: W) when phase[i] == Busy {
    phase[i] := Done  lock := false  hits[i] := hits[i] + 1
    if done < 3 { done := done + 1 }
  }
  action again(i: W) when phase[i] == Done && hits[i] < 2 { phase[i] := Idle }
  action race(i: W, j: W) when i != j && phase[i] == Busy && phase[j] == Idle { hits[j] := 0 }
}
invariant one_busy: forall i: W, j: W. (phase[i] == Busy && phase[j] == Busy) -> i == j
invariant never_three: done < 3
cover all_done: forall i: W. phase[i] == Done
terminal forall i: W. phase[i] == Done && hits[i] == 2
"""


def test_workers_orbits_and_verdicts_match_the_full_search():
    ts = system_of(WORKERS)
    assert [s.type_name for s in ts.symmetries] == ["W"]
    full = Explorer(ts, symmetry=False).run()
    reduced = Explorer(ts).run()
    assert verdicts(full) == verdicts(reduced) == {"one_busy": "holds", "never_three": "violated",
                                                   "all_done": "reached", "type_ok": "holds", "deadlock": "holds",
                                                   "enabled:w.start": "reached", "enabled:w.finish": "reached",
                                                   "enabled:w.again": "reached", "enabled:w.race": "reached",
                                                   "premise:one_busy": "reached"}
    assert (full.stats.states, reduced.stats.states) == (256, 63)
    assert reduced.stats.states == len(orbits(ts, reachable(Explorer(ts, symmetry=False))))
    assert full.stats.depth == reduced.stats.depth
    assert reduced.reduction == "symmetry of W" and full.reduction is None
    for r in reduced.results:
        if r.trace is not None:
            assert_concrete_run(Explorer(ts), r.trace)
    # BFS over orbits still finds a shortest counterexample
    lengths = {r.prop.name: r.trace.length for r in full.results if r.trace is not None}
    assert lengths == {r.prop.name: r.trace.length for r in reduced.results if r.trace is not None}


# The same workers as processes: each one's program counter is part of its slice of the state.
PROC_WORKERS = """
model proc_workers
symmetric type W = 0 .. 2
var lock : bool = false
var hits[W] : 0 .. 2 = 0
process worker(i: W) {
    idle: while hits[i] < 2 {
        await !lock
        lock := true
        busy: hits[i] := hits[i] + 1
        lock := false
    }
}
invariant one_busy: forall i: W, j: W. (at(worker(i), busy) && at(worker(j), busy)) -> i == j
cover all_twice: forall i: W. hits[i] == 2
"""


def test_process_counters_are_permuted_with_their_instance():
    ts = system_of(PROC_WORKERS)
    (sym,) = ts.symmetries
    assert [ts.vars[i].name for i in sym.slices[1]] == ["hits[1]", "worker(1)"]
    full = Explorer(ts, symmetry=False).run()
    reduced = Explorer(ts).run()
    assert verdicts(full) == verdicts(reduced)
    assert {k: v for k, v in verdicts(full).items() if ":" not in k} == {
        "one_busy": "holds", "all_twice": "reached", "type_ok": "holds", "deadlock": "holds"}
    assert (full.stats.states, reduced.stats.states) == (160, 40)
    assert reduced.stats.states == len(orbits(ts, reachable(Explorer(ts, symmetry=False))))
    for r in reduced.results:
        if r.trace is not None:
            assert_concrete_run(Explorer(ts), r.trace)


def test_cli_reports_what_the_counts_mean():
    code, out, _ = run_cli("check", "models/apf_int.kv", "--param", "NVCPU=2", "--param", "NTOKEN=1", "-q",
                           "--engine", "explicit")  # auto would explore the independent vCPUs one at a time
    assert code == 0
    assert "  ok   holds     no_vector_zero               exhaustive, 9453 states (up to symmetry of Vcpu), depth 24" \
        in out.splitlines()
    assert "  9453 states (up to symmetry of Vcpu), 49818 transitions, depth 24" in out.splitlines()
    code, out, _ = run_cli("check", "models/apf_int.kv", "--param", "NVCPU=2", "--param", "NTOKEN=1", "-q",
                           "--engine", "explicit", "--no-symmetry")
    assert code == 0 and "  18769 states, 98914 transitions, depth 24" in out.splitlines()


ASYMMETRIC = {
    # the guard singles out value 0
    "guard": ("action a(i: W) when i == 0 { x[i] := 1 }", "", "KV316", "w.a(i=0) has no counterpart"),
    # a property looks at one element only
    "property": ("action a(i: W) { x[i] := 1 }", "invariant p: x[0] == 0", "KV316", "property 'p' tells"),
    # a symmetric value stored in the state
    "stored": ("action a(i: W) { owner := i }", "", "KV315", "'owner' holds values of symmetric type W"),
}


def asym_model(action: str, prop: str) -> str:
    owner = "var owner : W = 0\n" if "owner" in action else ""
    return (f"model m\nsymmetric type W = 0..2\nvar x[W] : 0..1 = 0\n{owner}"
            f"actor w {{\n  {action}\n}}\n{prop}\n")


def test_asymmetric_models_are_rejected_with_a_located_diagnostic(tmp_path):
    for name, (action, prop, code_, text) in ASYMMETRIC.items():
        path = tmp_path / f"{name}.kv"
        path.write_text(asym_model(action, prop))
        code, out, err = run_cli("check", str(path))
        assert code == 2, name
        assert f"error[{code_}]" in err and text in err, (name, err)
        assert "Traceback" not in err


def test_only_ranges_and_enums_can_be_symmetric(tmp_path):
    path = tmp_path / "b.kv"
    path.write_text("model m\nsymmetric type B = bool\nvar x : bool = false\nactor a { action t() { x := !x } }\n")
    code, _, err = run_cli("check", str(path))
    assert code == 2 and "error[KV314]: only a range or an enum can be symmetric; B is bool" in err


# ------------------------------------------------------------------------------------ random symmetric models
LOCAL = ["c[i]", "d[i]"]


def local_int():
    return st.one_of(st.sampled_from(LOCAL + ["g"]), st.integers(0, 2).map(str))


def local_bool():
    cmp = st.tuples(local_int(), st.sampled_from(["==", "!=", "<", ">="]), local_int()).map(" ".join)
    return st.one_of(cmp, st.sampled_from(["f[i]", "!f[i]", "i != j", "c[i] == c[j]", "f[j]"]))


def sym_statements():
    target = st.sampled_from(["c[i]", "d[i]", "g", "c[j]"])
    value = st.tuples(local_int(), st.sampled_from(["+", "-"]), st.integers(0, 1)).map(
        lambda t: f"({t[0]} {t[1]} {t[2]}) % 3")
    assign = st.tuples(target, value).map(lambda t: f"{t[0]} := {t[1]}")
    flip = st.sampled_from(["f[i] := !f[i]", "f[j] := f[i]", "for k: P { d[k] := 0 }"])
    simple = st.one_of(assign, flip)
    return st.one_of(simple, st.tuples(local_bool(), simple, simple).map(
        lambda t: f"if {t[0]} {{ {t[1]} }} else {{ {t[2]} }}"))


@st.composite
def symmetric_models(draw):
    n = draw(st.integers(2, 3))
    actions = []
    for k in range(draw(st.integers(1, 3))):
        guard = draw(local_bool())
        body = " ".join(draw(st.lists(sym_statements(), min_size=1, max_size=3)))
        actions.append(f"  action a{k}(i: P, j: P) when {guard} {{ {body} }}")
    inv = draw(st.sampled_from(["forall i: P. c[i] != 2", "exists i: P. !f[i]", "g < 2",
                                "forall i: P, j: P. c[i] == c[j] || f[i]"]))
    return (f"model rnd\nsymmetric type P = 0..{n - 1}\nvar c[P] : 0..2 = 0\nvar d[P] : 0..2 = 0\n"
            f"var f[P] : bool = false\nvar g : 0..2 = 0\nactor p {{\n" + "\n".join(actions) +
            f"\n}}\ninvariant inv: {inv}\ncover c2: exists i: P. c[i] == 2 && d[i] == 1\n")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(symmetric_models())
def test_reduction_preserves_verdicts_and_shortest_lengths(text):
    ts = system_of(text)
    full = Explorer(ts, symmetry=False).run()
    reduced = Explorer(ts).run()
    assert verdicts(full) == verdicts(reduced), text
    assert reduced.stats.states == len(orbits(ts, reachable(Explorer(ts, symmetry=False))))
    assert reduced.stats.depth == full.stats.depth
    for f, r in zip(full.results, reduced.results):
        assert (f.trace is None) == (r.trace is None)
        if r.trace is not None:
            assert f.trace.length == r.trace.length, (r.prop.name, text)
            assert_concrete_run(Explorer(ts), r.trace)
