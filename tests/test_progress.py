"""Progress that works in CI: every phase reports through the callback (explicit search, liveness graph, fair
lassos, BMC, k-induction, PDR), the reporter rewrites one line on a terminal and prints a plain line every few
seconds elsewhere, and its heartbeat keeps a silent phase (one long z3 query) visible."""
from __future__ import annotations

import io
import time
from types import SimpleNamespace

import pytest

from export_support import MAILBOX, FakeTTY, write_models
from kvmverify.cli import _progress_for
from kvmverify.diagnostics import Sources
from kvmverify.engines import Options, run_engine
from kvmverify.engines.shared.limits import Limits, Progress
from kvmverify.pipeline import compile_model
from kvmverify.progress import ProgressReporter


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    return compile_model("tests/corpus/handshake.kv", {}, Sources()).system


@pytest.fixture(scope="module")
def mailbox(tmp_path_factory):
    path = write_models(tmp_path_factory.mktemp("p"), m=MAILBOX)["m"]
    return compile_model(path, {}, Sources()).system


def phases(ts, engine: str, monkeypatch) -> list[Progress]:
    import kvmverify.engines.explicit.liveness as liveness
    import kvmverify.engines.explicit.search as search
    monkeypatch.setattr(search, "PROGRESS_EVERY", 1)
    monkeypatch.setattr(liveness, "PROGRESS_EVERY", 1)
    seen: list[Progress] = []
    run_engine(ts, engine, Options(Limits()), None, seen.append)
    return seen


def test_the_explicit_search_and_the_liveness_phase_report(system, monkeypatch):
    seen = phases(system, "explicit", monkeypatch)
    names = list(dict.fromkeys(p.phase for p in seen))
    assert names == ["search", "liveness graph", "fair lassos"]
    lassos = [p for p in seen if p.phase == "fair lassos"]
    assert lassos[0].detail.split(" for ")[0] in {p.name for p in system.properties}


@pytest.mark.parametrize("engine, phase, detail", [("bmc", "bmc", "depth 0 of 20, "),
                                                   ("induction", "k-induction", "k=1 of 10, "),
                                                   ("pdr", "pdr", "query 1: ")])
def test_the_z3_engines_report_each_query(mailbox, monkeypatch, engine, phase, detail):
    seen = phases(mailbox, engine, monkeypatch)
    mine = [p for p in seen if p.phase == phase]
    assert mine and mine[0].detail.startswith(detail)


def test_a_terminal_gets_one_live_line_with_rate_depth_memory_and_eta():
    err = FakeTTY()
    rep = ProgressReporter(err, "m.kv", tty=True, max_states=400_000, tty_delay=0.0)
    rep.last_write -= 1  # as if the last line were a second old
    rep(Progress(200_000, 12, 900_000, 2.0))
    rep.close()
    text = err.getvalue()
    assert text.startswith("\r\x1b[Km.kv: 0:00, search, 200,000 states, 100,000 states/s, depth 12, 50% of "
                           "--max-states, ETA 0:02, ")
    assert text.rstrip("\r\x1b[K").endswith(" MB") and text.endswith("\r\x1b[K")  # memory, then cleared


def test_without_a_terminal_a_plain_line_every_interval_even_when_the_engine_is_silent():
    err = io.StringIO()
    rep = ProgressReporter(err, "m.kv", tty=False, plain_every=0.1)
    rep(Progress(0, 3, 0, 0.01, "bmc", "depth 3 of 20, 4 open"))  # then a long z3 query: no more calls
    time.sleep(0.55)
    rep.close()
    lines = err.getvalue().splitlines()
    assert len(lines) >= 3 and all(line.startswith("kvmverify: m.kv: 0:00, bmc (depth 3 of 20, 4 open)")
                                   for line in lines)
    assert "\r" not in err.getvalue()


def test_which_reporter(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    args = SimpleNamespace(quiet=False, max_states=None)
    for stream, tty in ((FakeTTY(), True), (io.StringIO(), False)):
        rep = _progress_for(args, stream, "m")
        assert rep is not None and rep.tty is tty and rep.every == (0.2 if tty else 10.0)
        rep.close()
    monkeypatch.setenv("CI", "true")
    rep = _progress_for(args, FakeTTY(), "m")
    assert rep is not None and not rep.tty  # CI logs get plain lines, not carriage returns
    rep.close()
    assert _progress_for(SimpleNamespace(quiet=True, max_states=None), FakeTTY(), "m") is None
