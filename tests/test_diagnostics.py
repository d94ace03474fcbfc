"""Broken models: every error is a coded, located diagnostic with the source line and a caret; never a traceback.
Each case's stderr is compared with tests/golden/diag_<name>.txt (KVMVERIFY_UPDATE_GOLDEN=1 rewrites them)."""
import os
import pathlib
import re

import pytest

from conftest import ROOT, check_golden, run_cli

BROKEN = sorted(p.stem for p in (ROOT / "tests" / "broken").glob("*.kv"))
# cases that only produce warnings: the model still loads and is checked, and its layout: property is violated
WARNING_ONLY = {"struct_layout"}
DIAG_LINE = re.compile(r"^\S+:\d+:\d+: (error|warning)\[KV\d{3}\]: .+$")


@pytest.mark.parametrize("name", BROKEN)
def test_broken_model_diagnostics(name):
    code, out, err = run_cli("check", f"tests/broken/{name}.kv", "--no-traces")
    assert "Traceback" not in err
    assert code == (1 if name in WARNING_ONLY else 2)
    heads = [line for line in err.splitlines() if not line.startswith(" ") and not line.startswith("kvmverify:")]
    assert heads and all(DIAG_LINE.match(h) for h in heads), heads
    check_golden(f"diag_{name}.txt", "".join(line + "\n" for line in err.splitlines()
                                             if not line.startswith("kvmverify: ")))


def test_a_file_that_cannot_be_read():
    code, _, err = run_cli("check", "models/apf_int.kv/inner.kv")
    assert code == 2 and "error[KV001]: cannot read 'models/apf_int.kv/inner.kv': Not a directory" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file(tmp_path):
    model = tmp_path / "secret.kv"
    model.write_text("model secret\nvar x : bool = false\n")
    model.chmod(0)
    code, _, err = run_cli("check", str(model))
    assert code == 2 and "error[KV001]: cannot read" in err and "Permission denied" in err


def test_a_fifo_is_refused_instead_of_blocking(tmp_path):
    fifo = tmp_path / "pipe.kv"
    os.mkfifo(fifo)
    code, _, err = run_cli("check", str(fifo))
    assert code == 2 and "is not a regular file" in err


def test_use_paths_inside_the_project_do_not_warn():
    code, _, err = run_cli("check", "models/apf_int_bugs/enable_before_vector.kv", "--no-traces")
    assert code == 0 and "KV212" not in err


def test_use_path_out_of_the_project_warns_but_checks(tmp_path):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "kvmverify.toml").write_text("")
    (tmp_path / "shared.kv").write_text("type Bit = 0 .. 1\n")
    (tmp_path / "proj" / "m.kv").write_text('model m\nuse "../shared.kv"\nvar x : Bit = 0\n')
    code, _, err = run_cli("check", str(tmp_path / "proj" / "m.kv"))
    assert code == 0
    assert "warning[KV212]: `use` path '../shared.kv' leads out of the project" in err


def test_all_errors_of_a_phase_are_reported_together():
    code, _, err = run_cli("check", "tests/broken/unknown_names.kv")
    assert code == 2
    assert err.count("error[KV201]") == 5
    assert "hint: did you mean 'count'?" in err
    assert "hint: did you mean 'NVCPU'?" in err


def test_each_broken_declaration_reports_its_first_syntax_error():
    _, _, err = run_cli("check", "tests/broken/syntax_errors.kv")
    assert [line.split(": ")[0] for line in err.splitlines() if "error[" in line] == \
        ["tests/broken/syntax_errors.kv:6:5", "tests/broken/syntax_errors.kv:9:22"]


def test_spec_struct_overflow_is_flagged_by_the_layout_lint():
    code, _, err = run_cli("check", "models/apf_int.kv", "--param", "NVCPU=1", "--param", "NTOKEN=1")
    assert code == 0
    assert ("spec/msr.kv:41:5: warning[KV406]: struct kvm_vcpu_pv_apf_data is 68 bytes, larger than its declared "
            "size 64: field 'enabled' ends at byte 68") in err


def test_a_directory_without_models(tmp_path):
    code, _, err = run_cli("check", str(tmp_path))
    assert code == 2 and "error[KV001]" in err and "no .kv files in directory" in err


def test_using_a_directory(tmp_path):
    (tmp_path / "lib.kv").mkdir()
    model = tmp_path / "m.kv"
    model.write_text('model m\nuse "lib.kv"\nvar x : bool = false\n')
    code, _, err = run_cli("check", str(model))
    assert code == 2 and "error[KV001]" in err and "is a directory, not a model file" in err
    assert 'use "lib.kv"' in err  # located at the `use`, with the source line


def test_missing_model_file():
    code, _, err = run_cli("check", "models/no_such_model.kv")
    assert code == 2
    assert "models/no_such_model.kv:1:1: error[KV001]: no such file: 'models/no_such_model.kv'" in err


@pytest.mark.parametrize("args, message", [
    (["--param", "NVCPUS=3"], "--param NVCPUS: the model has no parameter 'NVCPUS'"),
    (["--param", "NVCPU"], "--param NVCPU: expected NAME=VALUE"),
    (["--param", "BUG_HOST_IGNORES_SLOT=7"], "--param BUG_HOST_IGNORES_SLOT: expected true or false"),
])
def test_bad_param_overrides(args, message):
    code, _, err = run_cli("check", "models/apf_int.kv", *args)
    assert code == 2 and message in err and "error[KV50" in err


@pytest.mark.parametrize("args", [["check"], ["frobnicate"], ["check", "x.kv", "--max-states", "lots"],
                                  ["check", "x.kv", "--timeout", "-1"], []])
def test_bad_command_lines_exit_2(args):
    code, out, err = run_cli(*args)
    assert code == 2 and "usage:" in err and "Traceback" not in err + out


def test_without_a_project_marker_the_working_directory_is_the_project(tmp_path, monkeypatch):
    # a fresh directory of models (no .git yet): a bug variant's `use "../m.kv"` stays inside the project
    (tmp_path / "models" / "m_bugs").mkdir(parents=True)
    (tmp_path / "models" / "m.kv").write_text("model m\ntype Bit = 0 .. 1\nvar x : Bit = 0\n")
    (tmp_path / "models" / "m_bugs" / "b.kv").write_text('model b\nuse "../m.kv"\n')
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("check", "models/m_bugs/b.kv")
    assert code == 0 and "KV212" not in err, err
