"""One generated model through SPIN and through every kvmverify engine: what agrees and what does not.

For the explicit engine (no symmetry: SPIN does not reduce): the number of states (SPIN's `states, stored`),
of transitions (SPIN's count less one: it counts the initial state as reached), the depth, and for every
property its verdict and the length of its shortest counterexample (SPIN: the BFS depth of the first
violation the probe saw). The compiled engine (engines/compiled, built with tcc where it is installed: it
compiles a small model in milliseconds) must give the explicit engine's counts, verdicts and lengths exactly,
and SPIN's. For BMC (to the diameter), PDR and k-induction: each verdict and length against the explicit one
(k-induction may stay undecided, never contradict).
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

from ..check.checker import check
from ..check.loader import Loaded
from ..diagnostics import DiagnosticError
from ..engines import Options, run_engine
from ..engines.shared.limits import Limits
from ..engines.compiled.build import Compiler, NoCompiler, find_compiler
from ..ir.lower import lower
from ..lang.parser import parse
from .model import Model, kv_text
from .promela import promela_program
from .spin import fast_compiler, run_spin


@dataclass
class Outcome:
    seed: int
    accepted: bool  # kvmverify's checker took the model and it has at most MAX_STATES states (else drawn again)
    states: int = 0
    disagreements: list[str] = field(default_factory=list)
    compared: dict[str, int] = field(default_factory=dict)  # engine pair -> properties compared
    undecided: dict[str, int] = field(default_factory=dict)  # engine pair -> verdicts a z3 engine left open
    undecided_why: list[str] = field(default_factory=list)  # what the engine said of them (BMC's, PDR's notes)


def verdicts(result) -> dict[str, tuple[str, int | None]]:
    return {r.prop.name: (r.status, r.trace.length if r.trace is not None else None) for r in result.results}


TOOL = {"spin": "SPIN", "explicit": "kvmverify", "compiled": "kvmverify's compiled engine"}
MAX_BMC_DEPTH = 40
# a model past this many states is drawn again: seed 6146099 (934 bytes: two u8 counters and a process pair)
# took 300 s and 17 GB in the Python search, and its worker died of a MemoryError under the campaign's ulimit
MAX_STATES = 2_000_000
Z3_TIMEOUT = 60.0  # an engine that runs out of time may leave a verdict unknown, never give another one


def bmc_expected(want: dict, depth: int) -> dict:
    """What BMC to `depth` must say, given the explicit verdicts: a violation no longer than depth, else
    'no violation up to depth' (holds); a cover reached within depth, else undecided."""
    out = {}
    for name, (status, length) in want.items():
        if status in ("violated", "reached") and length <= depth:
            out[name] = (status, length)
        else:
            out[name] = ("holds", None) if status in ("violated", "holds") else ("unknown", None)
    return out


def spin_verdicts(ts, first: dict[str, int]) -> dict[str, tuple[str, int | None]]:
    out = {}
    for p in ts.properties:
        d = first.get(p.name)
        if p.is_cover:
            out[p.name] = ("reached", d) if d is not None else ("vacuous", None)
        else:
            out[p.name] = ("violated", d) if d is not None else ("holds", None)
    return out


def system(text: str):
    f = parse(text, "difftest.kv")
    return lower(check(Loaded(f, (f,))))


def spin_counts(s, explicit) -> tuple[tuple[str, int, int], ...]:
    """(what, SPIN's, kvmverify's): SPIN counts one more transition, the one into its initial state."""
    return (("states", s.states, explicit.stats.states), ("transitions", s.transitions - 1, explicit.stats.transitions),
            ("depth", s.depth, explicit.stats.depth))


def spin_differs(s, explicit, ts, want: dict) -> bool:
    got = spin_verdicts(ts, s.first)
    return any(a != b for _, a, b in spin_counts(s, explicit)) or any(got.get(n) != v for n, v in want.items())


def difftest_compiler() -> Compiler | None:
    """tcc when it is installed (milliseconds per model), else the default compiler; None without any."""
    try:
        if shutil.which("tcc"):
            return find_compiler({"CC": "tcc", "PATH": os.environ.get("PATH", "")}, allow_tcc=True)
        return find_compiler()
    except NoCompiler:
        return None


def compare(seed: int, model: Model, z3_engines: bool = True, spin: bool = True,
            compiler: Compiler | None = None) -> Outcome:
    text = kv_text(model)
    try:
        ts = system(text)
    except DiagnosticError:
        return Outcome(seed, False)
    out = Outcome(seed, True)
    explicit = run_engine(ts, "explicit", Options(symmetry=False, limits=Limits(max_states=MAX_STATES)))
    if explicit.bound is not None:
        return Outcome(seed, False)  # too large to compare exhaustively: drawn again
    want = verdicts(explicit)
    out.states = explicit.stats.states

    def agree(pair: str, got: dict, expected: dict, undecided_ok: bool = False, notes: tuple[str, ...] = ()
              ) -> None:
        """Each expected verdict against the one `got`. A z3 engine may leave a property undecided (its time
        limit, k-induction's k, an invariant z3 could not certify): counted apart, never a contradiction."""
        open_ = []
        for name, v in expected.items():
            g = got.get(name)
            if undecided_ok and g is not None and g[0] == "unknown" and v[0] != "unknown":
                open_.append(name)
                continue
            out.compared[pair] = out.compared.get(pair, 0) + 1
            if g != v:
                out.disagreements.append(f"{pair}: {name}: {g} != {v}")
        if open_:
            out.undecided[pair] = out.undecided.get(pair, 0) + len(open_)
            if notes:  # once per model: the engine's notes name the properties themselves
                out.undecided_why.append(f"{pair}: {len(open_)} open ({'; '.join(notes)})")

    def counts(pair: str, a, b) -> None:
        for what, x, y in (("states", a[0], b[0]), ("transitions", a[1], b[1]), ("depth", a[2], b[2])):
            out.compared[pair] = out.compared.get(pair, 0) + 1
            if x != y:
                a_name, b_name = (TOOL.get(t, t) for t in pair.split("~"))
                out.disagreements.append(f"{pair}: {what}: {a_name} {x}, {b_name} {y}")

    def counted(result) -> tuple[int, int, int]:
        return result.stats.states, result.stats.transitions, result.stats.depth

    mine = counted(explicit)
    compiled = None
    if compiler is not None:
        from ..engines.compiled import CheckerCrash, run_compiled
        from ..engines.shared.replay import Disagreement
        try:
            compiled = run_compiled(ts, symmetry=False, compiler=compiler)
            suspect = counted(compiled) != mine or verdicts(compiled) != want
        except (CheckerCrash, Disagreement):
            if compiler.kind != "tcc":
                raise
            suspect = True
        if compiler.kind == "tcc" and suspect:
            # tcc has miscompiled pan.c (four seeds in 5,000): the system compiler's checker decides
            compiled = run_compiled(ts, symmetry=False, compiler=find_compiler())
        counts("compiled~explicit", counted(compiled), mine)
        agree("compiled~explicit", verdicts(compiled), want)
    if spin:
        program = promela_program(model)
        s = run_spin(program)
        if spin_differs(s, explicit, ts, want) and fast_compiler():
            s = run_spin(program, fast=False)  # tcc has miscompiled pan.c: the system compiler's pan decides
        theirs = (s.states, s.transitions - 1, s.depth)
        counts("spin~explicit", theirs, mine)
        agree("spin~explicit", spin_verdicts(ts, s.first), want)
        if compiled is not None:
            counts("spin~compiled", theirs, counted(compiled))
            agree("spin~compiled", spin_verdicts(ts, s.first), verdicts(compiled))
    if z3_engines:
        # a step property fails on a transition leaving the deepest state: one more than the diameter
        depth = min(explicit.stats.depth + 1, MAX_BMC_DEPTH)
        bmc = run_engine(ts, "bmc", Options(depth=depth, limits=Limits(timeout=Z3_TIMEOUT)))
        agree("bmc~explicit", verdicts(bmc), bmc_expected(want, depth), undecided_ok=True, notes=bmc.notes)
        pdr = run_engine(ts, "pdr", Options(limits=Limits(timeout=Z3_TIMEOUT)))
        agree("pdr~explicit", verdicts(pdr), want, undecided_ok=True, notes=pdr.notes)
        kind = run_engine(ts, "induction", Options(max_k=3, limits=Limits(timeout=Z3_TIMEOUT)))
        agree("induction~explicit", verdicts(kind), want, undecided_ok=True)
    return out
