"""Many generated models through SPIN and every engine (difftest/compare.py), on all cores, and the agreement
table: `scripts/difftest N` prints it; tests/test_spin_difftest.py runs a short campaign and requires 100%."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from .compare import Outcome, compare, difftest_compiler
from .model import generate
from .promela import TooBig


_COMPILER: list = []  # per worker process: found once


def one(args: tuple[int, bool]) -> Outcome | None:
    seed, z3_engines = args
    if not _COMPILER:
        _COMPILER.append(difftest_compiler())
    try:
        return compare(seed, generate(seed), z3_engines=z3_engines, compiler=_COMPILER[0])
    except TooBig:
        return None


@dataclass
class Campaign:
    models: int = 0  # accepted and compared
    skipped: int = 0  # refused by the checker, or too large for a Promela file: drawn again
    states: int = 0
    compared: dict[str, int] = field(default_factory=dict)  # engine pair -> facts compared
    models_by_pair: dict[str, int] = field(default_factory=dict)
    disagreements: list[tuple[int, str]] = field(default_factory=list)  # (seed, what)

    def add(self, o: Outcome | None) -> None:
        if o is None or not o.accepted:
            self.skipped += 1
            return
        self.models += 1
        self.states += o.states
        for pair, n in o.compared.items():
            self.compared[pair] = self.compared.get(pair, 0) + n
            self.models_by_pair[pair] = self.models_by_pair.get(pair, 0) + 1
        self.disagreements.extend((o.seed, d) for d in o.disagreements)

    def table(self) -> str:
        bad: dict[str, int] = {}
        for _, d in self.disagreements:
            pair = d.split(":", 1)[0]
            bad[pair] = bad.get(pair, 0) + 1
        rows = ["| engines | models | facts compared | disagreements | agreement |", "|---|---:|---:|---:|---:|"]
        for pair in sorted(self.compared):
            n, b = self.compared[pair], bad.get(pair, 0)
            rows.append(f"| {pair} | {self.models_by_pair[pair]} | {n} | {b} | {100.0 * (n - b) / n:.2f} % |")
        head = (f"{self.models} models compared ({self.states} states in all; {self.skipped} drawn again: refused "
                "by the checker or too large for Promela)")
        return head + "\n" + "\n".join(rows) + "\n"


def run(seeds: list[int], z3_every: int = 0, jobs: int | None = None, want: int | None = None) -> Campaign:
    """Compare the models of `seeds` (z3 engines on every `z3_every`-th, 0: none) until `want` were compared."""
    out = Campaign()
    jobs = jobs or os.cpu_count() or 1
    work = [(s, bool(z3_every) and i % z3_every == 0) for i, s in enumerate(seeds)]
    with ProcessPoolExecutor(jobs) as pool:
        for o in pool.map(one, work, chunksize=4):
            if want is not None and out.models >= want:
                break
            out.add(o)
    return out
