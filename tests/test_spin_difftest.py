"""SPIN as an outside oracle. Generated models (kvmverify/difftest/model.py: ranges, u8 with every operator and
wrap-around, arrays with dynamic indices, enums, sets, a register with a must_be field and its write handler,
a slot, if/else, choose, for, let, asserts, invariants, covers) are written as .kv and, independently, as
Promela; SPIN's state and transition counts, depth, and every property's first violation depth (BFS) must be
kvmverify's explicit engine's, the compiled engine's must be both, and BMC, PDR and k-induction must agree with
the explicit engine.
scripts/difftest N runs a campaign; the default run is the same 200 models every time."""
import os
import subprocess
import sys

import pytest

from benchmarks.ports.apf_int_pml import promela
from kvmverify.diagnostics import Sources
from kvmverify.difftest.campaign import run
from kvmverify.difftest.compare import difftest_compiler
from kvmverify.difftest.promela import Program
from kvmverify.difftest.spin import run_spin
from kvmverify.engines import Options, run_engine
from kvmverify.pipeline import compile_model
from spin_support import need_spin

MODELS = int(os.environ.get("KVMVERIFY_SPIN_MODELS", "200"))


def test_generated_models_agree_with_spin_and_with_each_engine(tmp_path, monkeypatch):
    need_spin()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # 200 compiled checkers: not in the user's cache
    c = run(list(range(10_000, 10_000 + 2 * MODELS)), z3_every=12, want=MODELS)
    assert c.models == MODELS, c.table()
    assert not c.disagreements, c.table() + "\n".join(f"seed {s}: {d}" for s, d in c.disagreements[:20])
    # every pair was exercised: SPIN and the compiled engine on every model, the z3 engines on every 12th
    assert c.models_by_pair["spin~explicit"] == MODELS
    if difftest_compiler() is not None:
        assert c.models_by_pair["compiled~explicit"] == c.models_by_pair["spin~compiled"] == MODELS
    assert all(c.models_by_pair.get(p, 0) >= MODELS // 12 for p in ("bmc~explicit", "pdr~explicit"))
    assert c.states > 20 * MODELS  # the models have behaviour, not one state each


@pytest.mark.parametrize("nvcpu, ntoken", [(1, 2), (1, 3), (2, 1)])
def test_the_promela_port_of_apf_int_has_kvmverifys_states(nvcpu, ntoken):
    need_spin()
    s = run_spin(Program(promela(nvcpu, ntoken), "int kv_probe(void) { return 0; }\n", []))
    ts = compile_model("models/apf_int.kv", {"NVCPU": nvcpu, "NTOKEN": ntoken}, Sources()).system
    r = run_engine(ts, "explicit", Options(symmetry=False))
    assert (s.states, s.transitions - 1) == (r.stats.states, r.stats.transitions)


def test_the_campaign_script_prints_the_agreement_table():
    need_spin()
    r = subprocess.run([sys.executable, "scripts/difftest", "6", "--seed", "500", "--z3-every", "3", "--jobs", "1"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "| spin~explicit | 6 |" in r.stdout and "| pdr~explicit |" in r.stdout


def test_a_step_stopped_by_type_ok_is_not_followed_into_an_index_out_of_range():
    """A 5,000-model campaign once ended in the Promela writer's KeyError: on the path choose k = 0, `a[0] := k - 1`
    fails type_ok (the step stops there), and the writer went on to read a[a[0]] = a[-1]. The path ends at the
    failed check, as in kvmverify; SPIN and the explicit engine then agree on the model."""
    need_spin()
    from kvmverify.difftest.compare import compare
    from kvmverify.difftest.model import Action, Model, T, Var
    m = Model(vars=[Var("a", T("int", 0, 2), ("int", 0), 3)],
              actions=[Action("p", "act0", None, ("bool", True), [
                  ("choose", "k", 0, 2, ("bool", True), [
                      ("assign", ("elem", "a", ("int", 0)), ("bin", "-", ("local", "k"), ("int", 1))),
                      ("assign", ("elem", "a", ("elem", "a", ("int", 0))), ("int", 1))])])],
              invariants=[("inv0", ("bin", "<=", ("elem", "a", ("int", 0)), ("int", 2)))], covers=[], slot=None,
              register=False, asserts=[])
    o = compare(1, m, z3_engines=False)
    assert o.accepted and not o.disagreements and o.compared["spin~explicit"] >= 4


def _dies_on_seed_3(args):
    seed = args[0]
    if seed == 3:
        os._exit(9)  # as the OOM killer would
    from kvmverify.difftest.campaign import Outcome
    return None if seed % 2 else Outcome(seed, True)


def test_a_model_that_kills_its_worker_is_reported_with_its_seed(monkeypatch):
    """A campaign went down with its process pool when one model's worker was killed (out of memory); now the
    culprit is found, reported as a disagreement with its seed, and the campaign goes on."""
    import kvmverify.difftest.campaign as C
    monkeypatch.setattr(C, "one", _dies_on_seed_3)
    c = C.run(list(range(10)), jobs=2)
    assert c.models == 5 and c.skipped == 4
    assert c.disagreements == [(3, "crash: the worker process died (killed: out of memory, or a crash in native "
                                   "code)")]


def _shift_model():
    from kvmverify.difftest.model import Action, Model, T, Var
    return Model(vars=[Var("y", T("int", -3, 3), ("int", 3), None), Var("c", T("u8", 0, 0), ("int", 1), None),
                       Var("x", T("int", 0, 5), ("int", 0), None)],
                 actions=[Action("p", "act0", None, ("bin", ">", ("var", "y"), ("int", -2)), [
                     ("assign", ("var", "y"), ("bin", "-", ("int", 0), ("int", 3))),
                     ("if", ("bin", "!=", ("bin", "<<", ("var", "c"), ("var", "y")), ("int", 0)),
                      [("assign", ("var", "x"), ("int", 1))], [("assign", ("var", "x"), ("int", 2))])]),
                     Action("p", "act1", None, ("bool", True), [("assign", ("var", "y"), ("int", 3))])],
                 invariants=[("inv0", ("bin", "<=", ("var", "x"), ("int", 5)))], covers=[], slot=None,
                 register=False, asserts=[])


def test_a_shift_by_an_amount_constant_on_its_path_is_checked_in_promela_too():
    """Campaign seed 3144129: `y := 0 - 3`, then `c << y` in the same step. On that path the amount is the
    constant -3; the Promela writer tested only non-constant amounts, so SPIN never saw shift_ok fail (and counted
    transitions the step does not have) where kvmverify and the reference semantics stop the step at once."""
    need_spin()
    from kvmverify.difftest.compare import compare
    o = compare(1, _shift_model(), z3_engines=True)
    assert o.accepted and not o.disagreements, o.disagreements
    assert o.compared["spin~explicit"] >= 5


def test_a_disagreement_with_tccs_pan_is_confirmed_with_the_system_compiler(monkeypatch):
    """tcc miscompiled SPIN's pan.c on campaign seeds 3141698, 3144609, 3145270 and 3146799 (10 states stored where
    gcc's pan, the reference semantics and kvmverify have 7): a disagreement found with tcc's pan is confirmed
    with the system compiler's before it counts; one the system compiler's pan confirms is reported."""
    need_spin()
    import dataclasses
    import kvmverify.difftest.compare as C
    real = C.run_spin
    fast_calls = []

    def tcc_off_by_three(program, workdir=None, timeout=120.0, fast=True):
        r = real(program, workdir, timeout, fast=False)
        fast_calls.append(fast)
        return dataclasses.replace(r, states=r.states + 3) if fast else r

    monkeypatch.setattr(C, "run_spin", tcc_off_by_three)
    monkeypatch.setattr(C, "fast_compiler", lambda: True)
    o = C.compare(1, _shift_model(), z3_engines=False)
    assert not o.disagreements and fast_calls == [True, False]

    monkeypatch.setattr(C, "run_spin", lambda program, workdir=None, timeout=120.0, fast=True: dataclasses.replace(
        real(program, fast=False), states=1000))
    o = C.compare(1, _shift_model(), z3_engines=False)
    assert o.disagreements[0].startswith("spin~explicit: states: SPIN 1000")


def test_a_tcc_built_checker_that_fails_is_confirmed_with_the_system_compiler(monkeypatch):
    """The campaign builds the compiled engine's checkers with tcc (milliseconds per model); what tcc may
    miscompile, a crash, a trace that does not replay or other counts, is run again with the system compiler's
    build before it counts as a disagreement."""
    import dataclasses

    import kvmverify.engines.compiled as compiled_engine
    from kvmverify.difftest.compare import compare
    from kvmverify.engines.compiled.build import NoCompiler, find_compiler
    try:
        system_cc = find_compiler()
    except NoCompiler:
        pytest.skip("no C compiler")
    real = compiled_engine.run_compiled
    used = []

    def tcc_crashes(ts, *args, compiler=None, **kw):
        used.append(compiler.kind)
        if compiler.kind == "tcc":
            raise compiled_engine.CheckerCrash("the compiled checker was killed by signal 11 (SIGSEGV)")
        return real(ts, *args, compiler=compiler, **kw)

    monkeypatch.setattr(compiled_engine, "run_compiled", tcc_crashes)
    fake_tcc = dataclasses.replace(system_cc, kind="tcc")  # the system compiler under tcc's name
    o = compare(1, _shift_model(), z3_engines=False, spin=False, compiler=fake_tcc)
    assert not o.disagreements and used == ["tcc", system_cc.kind] and o.compared["compiled~explicit"] > 3
