"""kvmverify conform's fast paths against the plain computations they stand for, and the witness's own checks.

A 100,000-event log is read, matched, searched, rebuilt and replayed in under 2 s because events of one text
share their fields and matches, the rebuild follows numbered part states, the replayer remembers successors per
state and bindings are read from the events identifiers first appear in (docs/benchmarks.md). Each shortcut is
checked here against what it replaces; and the checks that stand between a witness and the user (replay through
the interpreter, the observed steps in log order) are shown to catch a witness that was tampered with."""
import random

import pytest
from conform_support import compile_apf, random_run, render, second_not_present
from hypothesis import given
from hypothesis import strategies as st

from kvmverify.conform.log import parse_trace
from kvmverify.conform.match import match_events
from kvmverify.conform.run import (
    _bind,
    _bindings,
    _observed_problem,
    _Replayer,
    conform,
)
from kvmverify.conform.search import ConformSearch
from kvmverify.diagnostics import Sources
from kvmverify.engines.explicit.search import Explorer
from kvmverify.ir.observe import lower_observations

MODEL = "models/apf_int.kv"


@pytest.fixture(scope="module")
def apf():
    return compile_apf()


@pytest.fixture(scope="module")
def runs(apf, tmp_path_factory):
    """Conforming runs of random logs (both text formats), kept with their witness's columns."""
    out = []
    for seed in (41, 42, 43):
        path = tmp_path_factory.mktemp("logs") / f"run{seed}.txt"
        path.write_text(render(random_run(seed, 400, compiled=apf).lines, "trace-cmd" if seed % 2 else "ftrace",
                               noise=10, seed=seed))
        run = conform(MODEL, str(path), {}, Sources())
        assert run.status == "conforms" and run.replay_problem is None
        out.append(run)
    return out


def _steps(run):
    return [(s.action, s.state, ev) for s, ev in zip(run.witness.steps, run.step_events)]


# ------------------------------------------------------------------------------------------------ reading
def test_fields_end_at_the_last_non_blank_and_may_be_empty():
    log = parse_trace("cpus=1\n"
                      "  CPU 0/KVM-7 [000] 1.000001: kvm_async_pf_ready:   token 0x1000 gva 0x0   \t \n"
                      "  CPU 0/KVM-7 [000] 1.000002: kvm_userspace_exit:\n"
                      "  CPU 0/KVM-7 [000] 1.000003: kvm_userspace_exit:   \n", "t.txt")
    assert [e.fields for e in log.events] == [{"token": 0x1000, "gva": 0, "cpu": 0, "pid": 7},
                                              {"cpu": 0, "pid": 7}, {"cpu": 0, "pid": 7}]


def test_events_of_one_text_share_fields_but_each_task_and_cpu_has_its_own():
    log = parse_trace("cpus=2\n"
                      "  CPU 0/KVM-7 [000] 1.000001: kvm_async_pf_ready: token 0xffffffff gva 0\n"
                      "  CPU 1/KVM-8 [001] 1.000002: kvm_async_pf_ready: token 0xffffffff gva 0\n"
                      "  CPU 0/KVM-7 [000] 1.000003: kvm_async_pf_ready: token 0xffffffff gva 0\n"
                      "  CPU 0/KVM-7 [001] 1.000004: kvm_async_pf_ready: token 0xffffffff gva 0\n", "t.txt")
    e = log.events
    assert [(x.fields["cpu"], x.fields["pid"], x.cpu, x.pid) for x in e] == [(0, 7, 0, 7), (1, 8, 1, 8),
                                                                            (0, 7, 0, 7), (1, 7, 1, 7)]
    assert e[0].fields is e[2].fields and e[0].fields is not e[3].fields


@pytest.mark.parametrize("seed", [51, 52])
def test_matches_made_once_per_text_are_those_of_every_event(apf, seed):
    """match_events shares the matches of events that share their fields: the same as matching each event's own
    copy of them."""
    obs = lower_observations(apf.model, apf.system)
    gen = random_run(seed, 300, compiled=apf)
    mutated, _ = second_not_present(gen.lines, random.Random(seed))
    for lines in (gen.lines, mutated):
        events = parse_trace(render(lines, noise=10, seed=seed), "t.txt").events
        assert len({id(e.fields) for e in events}) < len(events)  # the shortcut is taken
        shared = match_events(apf.system, obs, events)
        own = match_events(apf.system, obs, [e._replace(fields=dict(e.fields)) for e in events])
        assert shared.matches == own.matches and shared.live == own.live
        assert (shared.unobserved, shared.filtered) == (own.unobserved, own.filtered)


# ------------------------------------------------------------------------------------------------ the search
_BINDING = st.tuples(st.tuples(st.sampled_from(["Token", "Vcpu"]), st.integers(0, 5)), st.integers(0, 3),
                     st.sampled_from([(), (("Vcpu", 0),), (("Vcpu", 1),)]))


@given(st.lists(_BINDING, max_size=6, unique_by=lambda b: b[0]), st.lists(_BINDING, max_size=3),
       st.sets(st.tuples(st.sampled_from(["Token", "Vcpu"]), st.integers(0, 5)), max_size=4))
def test_rekey_is_the_sorted_bindings_less_the_dying(key, fresh, dying):
    search = ConformSearch.__new__(ConformSearch)  # rekey reads nothing of the instance
    key = tuple(sorted(key))
    assert search.rekey(key, tuple(fresh), frozenset(dying)) == \
        tuple(sorted(b for b in (*key, *fresh) if b[0] not in dying))


# ------------------------------------------------------------------------------------------------ the witness
def test_the_replayer_answers_as_the_interpreter(apf, runs):
    explorer, replayer = Explorer(apf.system, symmetry=False), _Replayer(apf.system)
    states = {s.state for run in runs for s in run.witness.steps}
    for state in sorted(states)[:300]:
        for inst in range(len(apf.system.actions)):
            assert replayer.step(state, inst) == explorer.step(state, inst)


def test_equal_states_of_the_forward_witness_are_one_object(runs):
    """What keeps the replay of a long witness cheap: its look-ups find the very object they keep."""
    for run in runs:
        states = [s.state for s in run.witness.steps]
        assert len({id(s) for s in states}) == len(set(states)) < len(states)


def test_bindings_read_from_first_appearances_are_those_of_every_event(runs):
    for run in runs:
        insts, _, evs = zip(*_steps(run))
        every, _ = _bind(run, [(ev, inst) for inst, ev in zip(insts, evs) if ev is not None])
        expected = tuple(sorted(every.values(), key=lambda b: (b.first, b.namespace, b.raw)))
        assert _bindings(run, insts, evs) == run.bindings == expected
        assert len(expected) > 10
        run.replay_problem = "a witness that is not checked reads every event"
        try:
            assert _bindings(run, insts, evs) == expected
        finally:
            run.replay_problem = None


def test_a_tampered_witness_is_caught(runs):
    run = runs[0]
    steps = _steps(run)
    assert _observed_problem(run, steps) is None
    at = [i for i, (_, _, ev) in enumerate(steps) if ev is not None]
    a, b = at[3], at[4]
    swapped = list(steps)
    swapped[a], swapped[b] = (steps[a][0], steps[a][1], steps[b][2]), (steps[b][0], steps[b][1], steps[a][2])
    assert _observed_problem(run, swapped) == f"event {steps[b][2]} explained out of order"
    unexplained = list(steps)
    unexplained[a] = (steps[a][0], steps[a][1], None)
    assert _observed_problem(run, unexplained).endswith("is observed but explains no event")
    internal = next(inst for inst, _, ev in steps if ev is None and inst is not None)
    wrong = list(steps)
    wrong[a] = (internal, steps[a][1], steps[a][2])
    assert "which no matching observation names" in _observed_problem(run, wrong)
    assert _observed_problem(run, steps[:at[-1]]) == "the witness explains too few events"
