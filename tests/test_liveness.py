"""Liveness under fairness: lasso traces are real runs whose loop loops and is fair; fairness is honoured; the SCC
search agrees with a brute-force search on random graphs and random models; bounded searches never prove."""
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_cli
from kvmverify.check.checker import check
from kvmverify.check.loader import Loaded
from kvmverify.engines.explicit import liveness as L
from kvmverify.engines.explicit import Explorer
from kvmverify.engines.shared.limits import Interrupt, Limits
from kvmverify.engines.explicit.liveness import Graph, LassoSearch, tarjan
from kvmverify.ir.lower import lower
from kvmverify.ir.simplify import evaluate
from kvmverify.lang.parser import parse


def system_of(text: str):
    f = parse(text, "m.kv")
    return lower(check(Loaded(f, (f,))))


def result_of(ts, name: str, limits: Limits = Limits()):
    r = Explorer(ts).run(limits)
    return next(x for x in r.results if x.prop.name == name), r


# ------------------------------------------------------------------------------------------ lasso validity


def enabled(ex: Explorer, state, action: int) -> bool:
    return any(t is not None for t in ex.step(state, action))


def assert_valid_lasso(ts, trace, name: str) -> None:
    """The trace is a run from an initial state, its loop closes, it violates the property, and it is fair."""
    ex = Explorer(ts)
    steps = trace.steps
    assert steps[0].action is None and steps[0].state in ts.init
    for prev, cur in zip(steps, steps[1:]):
        assert cur.state in ex.step(prev.state, cur.action), "each step replays through the successor function"
    assert trace.loop is not None and 0 <= trace.loop < len(steps)
    loop_states = [s.state for s in steps[trace.loop:]]
    if trace.loop_action is None:  # a deadlock: the last state has no successor and stays
        assert trace.loop == len(steps) - 1
        assert not [t for _, t in ex.successors(steps[-1].state)[0] if t is not None]
        taken = set()
    else:
        assert steps[trace.loop].state in ex.step(steps[-1].state, trace.loop_action), "the loop loops"
        taken = {s.action for s in steps[trace.loop + 1:]} | {trace.loop_action}
    # some instance: premise at the marked step, goal false from there on (the whole loop included: a premise
    # inside the loop comes back after the loop states before it)
    k = dict(trace.violation.detail)["premise_step"]
    live = next(lv for lv in ts.liveness if ts.properties[lv.prop].name == name)
    assert any(evaluate(i.premise, steps[k].state) and
               not any(evaluate(i.goal, s.state) for s in steps[min(k, trace.loop):]) for i in live.instances)
    for a in ts.actions:
        if a.strong:
            assert a.id in taken or not any(enabled(ex, s, a.id) for s in loop_states), a.label
        elif a.fair:
            assert a.id in taken or not all(enabled(ex, s, a.id) for s in loop_states), a.label


# ------------------------------------------------------------------------------------------ small models

STARVE = """model starve
var x : 0 .. 1 = 0
var y : bool = false
actor a {
    FAIRNESS action finish() when x == 0 GUARD { x := 1 }
    action toggle() { y := !y }
}
property done: x == 0 leads_to x == 1
"""


def starve(fairness: str, guard: str = "") -> str:
    return STARVE.replace("FAIRNESS ", fairness + " " if fairness else "").replace(" GUARD", guard)


def test_a_lasso_that_only_starves_a_fair_action_is_not_a_violation():
    r, _ = result_of(system_of(starve("fair")), "done")
    assert r.status == "holds"
    assert r.coverage.describe() == "exhaustive, fair lassos searched in 4 states"


def test_without_fair_the_same_model_is_violated_by_a_lasso():
    ts = system_of(starve(""))
    r, _ = result_of(ts, "done")
    assert r.status == "violated"
    assert [ts.actions[s.action].action for s in r.trace.steps[1:]] == ["toggle"]
    assert (r.trace.loop, ts.actions[r.trace.loop_action].action) == (0, "toggle")
    assert_valid_lasso(ts, r.trace, "done")


def test_weak_fairness_is_not_enough_when_the_action_is_disabled_again_and_again():
    ts = system_of(starve("fair", " && y"))
    r, _ = result_of(ts, "done")
    assert r.status == "violated"
    assert_valid_lasso(ts, r.trace, "done")
    assert result_of(system_of(starve("strong fair", " && y")), "done")[0].status == "holds"


def test_a_deadlock_is_a_run_that_stays_forever():
    ts = system_of("model d\nvar x : 0 .. 2 = 0\nactor a { fair action go() when x < 2 { x := x + 1 } }\n"
                   "property back: x == 2 leads_to x == 0\nproperty again: always eventually x == 1\n")
    for name in ("back", "again"):
        r, _ = result_of(ts, name)
        assert r.status == "violated"
        assert r.trace.loop == 2 and r.trace.loop_action is None
        assert_valid_lasso(ts, r.trace, name)


def test_forall_instances_and_always_eventually():
    text = """model inst
type T = 0 .. 2
var on[T] : bool = false
actor a {
    fair action set(t: T) when !on[t] && t != 2 { on[t] := true }
    fair action clear(t: T) when on[t] { on[t] := false }
}
property each: forall t: T. !on[t] leads_to on[t]
property flips: forall t: T. always eventually !on[t]
"""
    ts = system_of(text)
    each, _ = result_of(ts, "each")
    assert each.status == "violated" and "for t=2:" in each.trace.violation.message
    assert_valid_lasso(ts, each.trace, "each")
    assert result_of(ts, "flips")[0].status == "holds"


def test_bounded_search_never_proves_liveness():
    counter = system_of("model c\nvar x : 0 .. 3000 = 0\nactor a { fair action inc() when x < 3000 { x := x + 1 } }\n"
                        "property top: x == 0 leads_to x == 3000\n")
    assert result_of(counter, "top")[0].status == "holds"
    for ts, limits in ((system_of(starve("fair")), Limits(max_depth=1)), (counter, Limits(max_states=1500))):
        r, res = result_of(ts, next(p for p in ts.properties if p.kind == "liveness").name, limits)
        assert r.status == "unknown" and r.coverage.kind == "bounded"
        assert res.exit_code == 4
        assert any("never proves a liveness property" in n for n in res.notes)


def test_a_premise_that_never_holds_is_reported_as_vacuous():
    ts = system_of("model v\nvar x : 0 .. 3 = 0\nactor a { fair action go() when x < 2 { x := x + 1 } }\n"
                   "terminal x == 2\n"
                   "property never: x == 3 leads_to x == 0\nproperty sometimes: x == 1 leads_to x == 2\n")
    r, res = result_of(ts, "never")
    assert r.status == "holds" and res.exit_code == 0
    assert res.notes == ("never holds vacuously: its premise holds in none of the 3 reachable states",)


def test_an_interrupt_during_the_lasso_search_stops_it(monkeypatch):
    """SIGINT after the concrete graph is built: the lasso search stops at once, liveness is unknown, the run says
    it was interrupted (exit 130 in the CLI) and that the safety results are exhaustive."""
    interrupt = Interrupt()
    explore = L.explore_graph

    def then_interrupt(*args):
        out = explore(*args)
        interrupt.set = True
        return out

    monkeypatch.setattr(L, "explore_graph", then_interrupt)
    ts = system_of(starve("") + "invariant small: x <= 1\n")
    res = Explorer(ts).run(Limits(), interrupt)
    r = next(x for x in res.results if x.prop.name == "done")
    assert r.status == "unknown" and r.coverage.bound == "interrupted"
    assert res.bound == "interrupted"
    assert "the liveness search was stopped by an interrupt (SIGINT); the safety results are exhaustive" in res.notes
    assert next(x for x in res.results if x.prop.name == "small").coverage.describe() == "exhaustive, 4 states, depth 2"


def test_a_lasso_search_checks_its_limit_while_it_decomposes():
    """The stop callback is asked while SCCs are enumerated, not only between properties."""
    n = 5000  # a chain of one-state components: 5000 SCCs
    g = graph_of(0, [])
    for s in range(n):
        g.tgt.append(min(s + 1, n - 1))
        g.act.append(0)
        g.off.append(len(g.tgt))
    calls = []

    def stop():
        calls.append(1)
        return "timeout" if len(calls) > 2 else None

    search = LassoSearch(g, [0], 0, stop)
    try:
        search.find([0], bytearray([1]) * n)
    except L.Stopped as e:
        assert e.args == ("timeout",)
    else:
        raise AssertionError("the search ran to the end")
    assert len(calls) == 3


def test_a_bounded_search_still_reports_a_real_lasso():
    ts = system_of(starve(""))
    assert result_of(ts, "done", Limits(max_depth=1))[0].status == "unknown"  # the loop's 2nd state: not expanded
    r, res = result_of(ts, "done", Limits(max_depth=2))
    assert r.status == "violated" and r.coverage.kind == "bounded"
    assert_valid_lasso(ts, r.trace, "done")


def test_lasso_text_and_json(tmp_path):
    model = tmp_path / "starve.kv"
    model.write_text(starve(""))
    code, out, _ = run_cli("check", str(model), "-q")
    assert code == 1
    assert "FAIL violated  done       lasso: 0-step prefix, 2-step loop" in out
    assert "  -- loop starts here --\n  0  initial state" in out
    assert "  2  a.toggle()   back to step 0\n       y: true -> false\n" in out
    code, out, _ = run_cli("check", str(model), "-q", "--json")
    import json
    done = next(p for p in json.loads(out)["models"][0]["properties"] if p["name"] == "done")
    assert done["kind"] == "liveness" and done["status"] == "violated"
    assert done["trace"]["loop"] == 0 and done["trace"]["loop_action"]["label"] == "a.toggle()"
    assert done["trace"]["violation"]["detail"] == {"premise_step": 0}


# ------------------------------------------------------------------------------------------ brute force


def brute_force_violated(n, edges, weak, strong, premise, goal) -> bool:
    """Is there a fair infinite run from a premise-and-not-goal state that avoids goal? By enumerating every set
    of states a run could visit infinitely often (strongly connected, inside not-goal, reachable)."""
    out = {s: [(a, t) for (u, a, t) in edges if u == s] for s in range(n)}
    en = {s: {a for a, _ in out[s]} for s in range(n)}
    good = [s for s in range(n) if s not in goal]

    def reach(src, inside):
        seen, todo = {src}, [src]
        while todo:
            v = todo.pop()
            for _, w in out[v]:
                if w in inside and w not in seen:
                    seen.add(w)
                    todo.append(w)
        return seen

    reachable = set()
    for s in good:
        if s in premise:
            reachable |= reach(s, set(good))
    for size in range(1, len(good) + 1):
        for subset in itertools.combinations(good, size):
            S = set(subset)
            if not S <= reachable:
                continue
            inner = [(u, a, t) for (u, a, t) in edges if u in S and t in S]
            if size == 1:
                (v,) = subset
                if out[v] and not inner:
                    continue
            elif any(reach(v, S) != S for v in S):
                continue
            taken = {a for _, a, _ in inner}
            if all(a in taken or any(a not in en[s] for s in S) for a in weak) and \
                    all(a in taken or all(a not in en[s] for s in S) for a in strong):
                return True
    return False


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 6))
    nact = draw(st.integers(1, 3))
    triples = [(u, a, t) for u in range(n) for a in range(nact) for t in range(n)]
    edges = sorted(draw(st.lists(st.sampled_from(triples), max_size=12, unique=True)))
    kinds = draw(st.lists(st.sampled_from(["none", "weak", "strong"]), min_size=nact, max_size=nact))
    premise = set(draw(st.lists(st.integers(0, n - 1), max_size=n)))
    goal = set(draw(st.lists(st.integers(0, n - 1), max_size=n)))
    return n, edges, kinds, premise, goal


def graph_of(n, edges) -> Graph:
    g = Graph()
    for s in range(n):
        for (u, a, t) in edges:
            if u == s:
                g.tgt.append(t)
                g.act.append(a)
        g.off.append(len(g.tgt))
    return g


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_scc_lasso_search_agrees_with_brute_force(case):
    n, edges, kinds, premise, goal = case
    weak = {a for a, k in enumerate(kinds) if k == "weak"}
    strong = {a for a, k in enumerate(kinds) if k == "strong"}
    fair_bit = [1 << a if k != "none" else 0 for a, k in enumerate(kinds)]
    g = graph_of(n, edges)
    member = bytearray(1 if s not in goal else 0 for s in range(n))
    sources = [s for s in range(n) if s in premise and s not in goal]
    lasso = LassoSearch(g, fair_bit, sum(1 << a for a in strong)).find(sources, member)
    assert (lasso is not None) == brute_force_violated(n, edges, weak, strong, premise, goal), case
    if lasso is None:
        return
    # the lasso is made of graph edges, avoids goal, and its loop is fair
    assert lasso.source in sources
    cur = lasso.source
    for a, w in lasso.stem + lasso.loop:
        assert (cur, a, w) in edges and w not in goal
        cur = w
    entry = lasso.stem[-1][1] if lasso.stem else lasso.source
    assert cur == entry
    loop_states = [entry] + [w for _, w in lasso.loop]
    en = {s: {a for (u, a, _) in edges if u == s} for s in range(n)}
    if not lasso.loop:
        assert not en[entry]
    taken = {a for a, _ in lasso.loop}
    assert all(a in taken or any(a not in en[s] for s in loop_states) for a in weak)
    assert all(a in taken or all(a not in en[s] for s in loop_states) for a in strong)


def test_tarjan_is_iterative():
    """A 200,000-state cycle: one SCC, no recursion limit."""
    n = 200_000
    g = graph_of(0, [])
    for s in range(n):
        g.tgt.append((s + 1) % n)
        g.act.append(0)
        g.off.append(len(g.tgt))
    from array import array
    comps = list(tarjan([0], lambda s: True, g, array("i", [-1]) * n, array("i", [0]) * n, bytearray(n)))
    assert [len(c) for c in comps] == [n]


# random .kv models: the engine's verdict against brute force over the reachable graph

@st.composite
def live_models(draw):
    upd = st.sampled_from(["x := (x + 1) % 3", "x := 0", "y := !y", "x := 2", "y := false",
                           "choose c: 0..2 where c != x { x := c }"])
    guards = st.sampled_from(["true", "x == 0", "x != 2", "y", "!y", "x == 1 || y"])
    fairness = st.sampled_from(["", "fair ", "strong fair "])
    preds = st.sampled_from(["x == 0", "x == 1", "x == 2", "y", "!y", "x != 1 && y"])
    acts = [f"    {draw(fairness)}action a{i}() when {draw(guards)} {{ {draw(upd)} }}"
            for i in range(draw(st.integers(1, 3)))]
    prop = draw(st.one_of(st.tuples(preds, preds).map(lambda t: f"{t[0]} leads_to {t[1]}"),
                          preds.map(lambda p: f"always eventually {p}")))
    return ("model r\nvar x : 0 .. 2 = 0\nvar y : bool = false\nactor p {\n" + "\n".join(acts) +
            f"\n}}\nproperty live: {prop}\n")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(live_models())
def test_engine_verdicts_agree_with_brute_force_on_random_models(text):
    ts = system_of(text)
    ex = Explorer(ts)
    ids, todo, edges = {ts.init[0]: 0}, [ts.init[0]], []
    while todo:
        s = todo.pop()
        for a, t in ex.successors(s)[0]:
            if t is None:
                continue
            if t not in ids:
                ids[t] = len(ids)
                todo.append(t)
            edges.append((ids[s], a, ids[t]))
    (inst,) = ts.liveness[0].instances
    premise = {i for s, i in ids.items() if evaluate(inst.premise, s)}
    goal = {i for s, i in ids.items() if evaluate(inst.goal, s)}
    weak = {a.id for a in ts.actions if a.fair and not a.strong}
    strong = {a.id for a in ts.actions if a.strong}
    expected = brute_force_violated(len(ids), sorted(set(edges)), weak, strong, premise, goal)
    r, _ = result_of(ts, "live")
    assert r.status == ("violated" if expected else "holds"), text
    if expected:
        assert_valid_lasso(ts, r.trace, "live")
