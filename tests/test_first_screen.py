"""A clean first screen for `kvmverify check models/`: a shared file's warning once per run, expected results one
line each, traces only for unexpected results unless --traces all; and the packaging hygiene a new user meets
first (the licence text, --max-memory where there is no /proc)."""
from __future__ import annotations

import os

from export_support import BUGGY, BUGGY_UNANNOTATED, MAILBOX, REPO, run, write_models
from kvmverify.engines.shared import limits


def test_a_shared_files_warning_is_printed_once_per_run():
    code, _, err = run("check", "models/apf_int_bugs", "--no-traces")
    assert code == 0
    assert err.count("warning[KV406]") == 1  # spec/msr.kv, used by all five models


def test_a_directory_prints_only_the_unexpected_traces(tmp_path):
    write_models(tmp_path, a_buggy=BUGGY, b_broken=BUGGY_UNANNOTATED)
    code, out, _ = run("check", str(tmp_path), "-q")
    assert code == 1
    assert "slot:box.data violated -- " + str(tmp_path / "b_broken.kv") in out
    assert "violated (expected) --" not in out  # a_buggy's expected violations: one line each, no trace
    _, every, _ = run("check", str(tmp_path), "-q", "--traces", "all")
    assert every.count("violated (expected) --") == 3 and every.count("violated --") == 3  # deadlock: the lost message
    _, none, _ = run("check", str(tmp_path), "-q", "--traces", "none")
    assert " violated --" not in none and "violated (expected) --" not in none
    _, single, _ = run("check", str(tmp_path / "a_buggy.kv"), "-q")  # one file: every trace, as before
    assert single.count("violated (expected) --") == 3


def test_the_license_is_the_gpl_2_text():
    text = open(os.path.join(REPO, "LICENSE"), encoding="utf-8").read()
    assert text.split("\n")[0].strip() == "GNU GENERAL PUBLIC LICENSE" and "Version 2, June 1991" in text
    assert "TERMS AND CONDITIONS FOR COPYING, DISTRIBUTION AND MODIFICATION" in text


def test_memory_without_proc_falls_back_to_getrusage(monkeypatch):
    real_open = open

    def no_proc(path, *a, **kw):
        if str(path).startswith("/proc/"):
            raise FileNotFoundError(path)
        return real_open(path, *a, **kw)
    monkeypatch.setattr("builtins.open", no_proc)
    rss = limits.current_rss_mb()
    assert rss is not None and rss == limits.peak_rss_mb() and rss > 10


def test_max_memory_is_refused_where_memory_cannot_be_read(tmp_path, monkeypatch):
    model = write_models(tmp_path, ok=MAILBOX)["ok"]
    monkeypatch.setattr("kvmverify.cli.current_rss_mb", lambda: None)
    code, out, err = run("check", model, "--max-memory", "100")
    assert (code, out) == (2, "") and "error[KV508]" in err and "cannot be enforced" in err
    assert run("check", model, "-q")[0] == 0  # without the flag nothing needs it
