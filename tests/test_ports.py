"""The benchmark ports (benchmarks/ports/) store exactly kvmverify's states: the shared-queue model in Promela and
Murphi, apf_int in Murphi (its Promela port is checked in test_spin_difftest.py), at small sizes. benchmarks/
peers.py compares speed and memory only where the state counts agree, and prints them side by side."""
import re
import shutil
import subprocess

import pytest

from benchmarks.ports.apf_int_murphi import murphi as apf_murphi
from benchmarks.ports.shared_queue_murphi import murphi as sq_murphi
from benchmarks.ports.shared_queue_pml import promela as sq_promela
from kvmverify.diagnostics import Sources
from kvmverify.difftest.promela import Program
from kvmverify.difftest.spin import run_spin
from kvmverify.engines import Options, run_engine
from kvmverify.pipeline import compile_model
from spin_support import need_spin


def kvmverify_counts(path, params):
    r = run_engine(compile_model(path, params, Sources()).system, "explicit", Options(symmetry=False))
    return r.stats.states, r.stats.transitions


def rumur_counts(text, tmp_path):
    if shutil.which("rumur") is None or shutil.which("cc") is None:
        pytest.skip("rumur is not installed (apt-get install rumur; benchmarks/peers.py installs it)")
    (tmp_path / "m.m").write_text(text)
    subprocess.run(["rumur", "--deadlock-detection", "off", "--threads", "1", "--output", "m.c", "m.m"],
                   cwd=tmp_path, check=True, capture_output=True)
    subprocess.run(["cc", "-std=c11", "-O0", "-pthread", "-o", "m", "m.c"], cwd=tmp_path, check=True,
                   capture_output=True)
    out = subprocess.run(["./m"], cwd=tmp_path, capture_output=True, text=True, timeout=300).stdout
    found = re.search(r"(\d+) states, (\d+) rules fired", out)
    assert found, out[-2000:]
    assert "No error found" in out
    return int(found.group(1)), int(found.group(2))


@pytest.mark.parametrize("params", [(2, 2, 2), (2, 3, 2)])
def test_the_shared_queue_ports_have_kvmverifys_states(params, tmp_path):
    want = kvmverify_counts("benchmarks/ports/shared_queue.kv", dict(zip(("NVCPU", "NTOKEN", "QLEN"), params)))
    need_spin()
    s = run_spin(Program(sq_promela(*params), "int kv_probe(void) { return 0; }\n", []))
    assert (s.states, s.transitions - 1) == want
    assert rumur_counts(sq_murphi(*params), tmp_path) == want


def test_the_murphi_port_of_apf_int_has_kvmverifys_states(tmp_path):
    assert rumur_counts(apf_murphi(1, 2), tmp_path) == kvmverify_counts("models/apf_int.kv", {"NVCPU": 1,
                                                                                               "NTOKEN": 2})
