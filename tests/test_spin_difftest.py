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
