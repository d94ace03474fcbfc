"""Many generated models through SPIN and every engine (difftest/compare.py), on all cores, and the agreement
table: `scripts/difftest N` prints it; tests/test_spin_difftest.py runs a short campaign and requires 100%."""
from __future__ import annotations

import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from .compare import MAX_STATES, Outcome, compare, difftest_compiler
from .model import generate
from .promela import TooBig


_COMPILER: list = []  # per worker process: found once


def one(args: tuple[int, bool, bool]) -> Outcome | str | None:
    """The comparison of one seed's model; None when it is drawn again; the traceback's last line when comparing
    it failed (a bug of the generator, the Promela writer or an engine: reported with its seed, never lost). The
    compiled engine runs in the SPIN phase (`spin`), beside the explicit one."""
    seed, z3_engines, spin = args
    if spin and not _COMPILER:
        _COMPILER.append(difftest_compiler())
    signal.signal(signal.SIGALRM, _too_slow)
    signal.alarm(MODEL_SECONDS)  # a model that hangs (as seed 5146698 once did, 20 minutes) is reported, not waited for
    try:
        return compare(seed, generate(seed), z3_engines=z3_engines, spin=spin,
                       compiler=_COMPILER[0] if spin else None)
    except TooBig:
        return None
    except Exception as e:  # noqa: BLE001 -- one model's failure must not end a campaign of thousands
        return f"comparing the model raised {type(e).__name__}: {e}"
    finally:
        signal.alarm(0)


MODEL_SECONDS = 300


class TooSlow(Exception):
    def __str__(self) -> str:
        return f"more than {MODEL_SECONDS} s"


def _too_slow(signum, frame):
    raise TooSlow()


@dataclass
class Campaign:
    models: int = 0  # accepted and compared
    skipped: int = 0  # refused by the checker, or too large for a Promela file: drawn again
    states: int = 0
    compared: dict[str, int] = field(default_factory=dict)  # engine pair -> facts compared
    models_by_pair: dict[str, int] = field(default_factory=dict)
    disagreements: list[tuple[int, str]] = field(default_factory=list)  # (seed, what)
    undecided: dict[str, int] = field(default_factory=dict)  # engine pair -> verdicts a z3 engine left open
    undecided_why: list[tuple[int, str]] = field(default_factory=list)  # (seed, what the engine said)

    def add(self, o: Outcome | str | None, seed: int | None = None) -> None:
        if isinstance(o, str):
            self.disagreements.append((seed, f"crash: {o}"))
            return
        if o is None or not o.accepted:
            self.skipped += 1
            return
        self.models += 1
        self.states += o.states
        self.merge(o)

    def merge(self, o: Outcome) -> None:
        """The facts one model's comparison adds (its SPIN phase or its z3 phase)."""
        for pair in sorted(set(o.compared) | set(o.undecided)):
            self.compared[pair] = self.compared.get(pair, 0) + o.compared.get(pair, 0)
            self.undecided[pair] = self.undecided.get(pair, 0) + o.undecided.get(pair, 0)
            self.models_by_pair[pair] = self.models_by_pair.get(pair, 0) + 1
        self.disagreements.extend((o.seed, d) for d in o.disagreements)
        self.undecided_why.extend((o.seed, d) for d in o.undecided_why)

    def table(self) -> str:
        bad: dict[str, int] = {}
        for _, d in self.disagreements:
            pair = d.split(":", 1)[0]
            bad[pair] = bad.get(pair, 0) + 1
        rows = ["| engines | models | facts compared | disagreements | agreement | left undecided (z3) |",
                "|---|---:|---:|---:|---:|---:|"]
        for pair in sorted(self.compared):
            n, b = self.compared[pair], bad.get(pair, 0)
            agreement = f"{100.0 * (n - b) / n:.2f} %" if n else "-"
            rows.append(f"| {pair} | {self.models_by_pair[pair]} | {n} | {b} | {agreement} | "
                        f"{self.undecided.get(pair, 0)} |")
        head = (f"{self.models} models compared ({self.states} states in all; {self.skipped} drawn again: refused "
                f"by the checker, too large for Promela, or over {MAX_STATES:,} states)")
        return head + "\n" + "\n".join(rows) + "\n"


def outcomes(work: list[tuple[int, bool, bool]], jobs: int):
    """(seed, outcome of `one`) for each item of `work`, in order, on `jobs` processes. A model that kills its
    worker (out of memory under a ulimit, a crash inside z3) does not take the campaign down: the items that were
    running when the pool broke are run again one at a time, each in a process of its own; the one that dies again
    is reported as a crash with its seed, and the rest go on in a new pool."""
    done: dict[int, Outcome | str | None] = {}
    nxt = 0  # the next index to hand out, in order
    todo = list(range(len(work)))
    while todo:
        futures: list = []
        pool = ProcessPoolExecutor(jobs)
        try:
            futures = [(i, pool.submit(one, work[i])) for i in todo]
            for i, f in futures:
                done[i] = f.result()
                while nxt in done:
                    yield work[nxt][0], done.pop(nxt)
                    nxt += 1
            todo = []
        except BrokenProcessPool:
            # the pool runs its work in order: the suspects are the first ones it did not finish
            suspects = [i for i, g in futures if not (g.done() and g.exception() is None)][:jobs + 1]
            for i in suspects:
                with ProcessPoolExecutor(1) as alone:
                    try:
                        done[i] = alone.submit(one, work[i]).result()
                    except BrokenProcessPool:
                        done[i] = "the worker process died (killed: out of memory, or a crash in native code)"
            todo = [i for i in range(nxt, len(work)) if i not in done]
            while nxt in done:
                yield work[nxt][0], done.pop(nxt)
                nxt += 1
        finally:  # also when the caller stops early (`want` reached): what was not started is not run
            pool.shutdown(wait=True, cancel_futures=True)


def run(seeds: list[int], z3_every: int = 0, jobs: int | None = None, want: int | None = None) -> Campaign:
    """Compare the models of `seeds` with SPIN until `want` were compared, then run the z3 engines on every
    `z3_every`-th of the models compared (0: none). Chosen among the compared models, not among the seeds: a seed
    whose model is refused or too large for Promela would otherwise take its z3 turn with it."""
    out = Campaign()
    jobs = jobs or os.cpu_count() or 1
    compared = []
    for seed, o in outcomes([(s, False, True) for s in seeds], jobs):
        if want is not None and out.models >= want:
            break
        out.add(o, seed)
        if isinstance(o, Outcome) and o.accepted:
            compared.append(seed)
    z3_seeds = compared[::z3_every] if z3_every else []
    for seed, o in outcomes([(s, True, False) for s in z3_seeds], jobs):
        if not isinstance(o, Outcome):
            out.add(o, seed)
            continue
        out.merge(o)
    return out
