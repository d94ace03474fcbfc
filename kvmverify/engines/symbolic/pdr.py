"""PDR/IC3 proofs with z3's Spacer engine on constrained Horn clauses.

    Inv(s)  <- init(s)
    Inv(t)  <- Inv(s) /\\ trans(s, t)
    false   <- Inv(s) /\\ bad(s)

`unsat` means the query is unreachable: Spacer's interpretation of `Inv` is an inductive invariant that excludes
every bad state, printed back in model terms. `sat` means a bad state is reachable; the shortest trace to it is
then found by BMC (and replayed like every z3 trace).
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import z3

from ...ir import nodes as ir
from ...ir.deps import action_vars, expr_vars
from ...ir.simplify import operands
from . import encode as E
from .watchdog import trusted
from .bmc import BMC, property_results, safety_and_covers
from ..explicit.search import Explorer
from ..shared.limits import Interrupt, Ticker
from ..shared.result import CheckResult, Coverage, Stats, Trace
from .show import show_formula


_QUERIES = itertools.count()


# Spacer configurations to fall back on when a query ends in an internal failure of Spacer rather than an
# answer: z3 5.4.1's lemma simplification fails an assertion ("Failed to find a lemma for ...", the query raising
# 'unreachable') on `c := c | 300` over a u8 with the invariant `!d || c == 44` (tests/test_trust.py), and
# 'Stuck on a lemma' was seen with propagation off. Without interpolating unsat cores (iuc=0), or with the clauses
# bit-blasted, the same query is answered. Every answer is certified like the first configuration's.
FALLBACKS: tuple[tuple[tuple[str, object], ...], ...] = ((), (("spacer.iuc", 0),), (("xform.bit_blast", True),))


def _fixedpoint(timeout: float | None, seed: int = 0, fallback: int = 0) -> z3.Fixedpoint:
    fp = z3.Fixedpoint()
    fp.set(engine="spacer")
    fp.set("spacer.random_seed", seed)
    for key, value in FALLBACKS[fallback]:
        fp.set(key, value)
    # Without these, z3 may solve a query by inlining or slicing Inv away and then report `true` as its
    # invariant (found by tests/test_engine_agreement.py; `certify` rejects such an invariant)
    fp.set("xform.inline_linear", False, "xform.inline_eager", False, "xform.slice", False)
    # Spacer's incremental clause solver looped until the time limit on a 3-action model whose proof takes 0.04 s
    # without it (tests/test_engine_agreement.py found it)
    fp.set("spacer.use_inc_clause", False)
    if timeout is not None:
        fp.set(timeout=max(int(timeout * 1000), 1))
    return fp


@dataclass(frozen=True)
class Obligation:
    """One piece of a property: a conjunct of an invariant, a disjunct of a cover, or the checks of a step
    property in one action instance. `bad(enc, s)` says state s (or the transition leaving it) fails it."""

    prop: ir.Property
    seed: frozenset[int]
    expr: ir.Expr | None = None  # state properties: the conjunct/disjunct
    action: ir.ActionInstance | None = None  # step properties


def obligations(ts: ir.TransitionSystem, p: ir.Property) -> list[Obligation]:
    if p.is_invariant:
        return [Obligation(p, frozenset(expr_vars(c)), expr=c) for c in operands(p.expr, "and")]
    if p.is_cover:
        return [Obligation(p, frozenset(expr_vars(c)), expr=c) for c in operands(p.expr, "or")]
    out = []
    for a in ts.actions:
        if _checks(a.body, p.id):
            r, _ = action_vars(a)
            out.append(Obligation(p, frozenset(r), action=a))
    return out


def _checks(stmts, pid: int) -> bool:
    for st in stmts:
        match st:
            case ir.Check(prop, _, _, _, _, _) if prop == pid:
                return True
            case ir.If(_, then, else_, _):
                if _checks(then, pid) or _checks(else_, pid):
                    return True
            case ir.Choose(_, _, _, _, body):
                if _checks(body, pid):
                    return True
    return False


def _bad(enc: E.Encoding, ob: Obligation, s: E.Step) -> z3.BoolRef:
    if ob.action is not None:
        a = ob.action
        viol = enc.body(a, s).viol.get(ob.prop.id, z3.BoolVal(False))
        return z3.And(s.act == a.id, enc.cond(a.guard, s, {}, {}), viol)
    c = enc.cond(ob.expr, s, {}, {})
    return z3.Not(c) if ob.prop.is_invariant else c


def chc(enc: E.Encoding, obs: list[Obligation], variables: frozenset[int], timeout: float | None = None,
        seed: int = 0, fallback: int = 0):
    """The Horn clauses for 'no obligation in `obs` ever fails' over the cone `variables`, with the query.

    Only the actions that write a variable of the cone take part (the others stutter on it). Components no
    transition changes and every initial state agrees on (unused register fields, struct padding) are constants,
    not arguments of Inv."""
    ts = enc.ts
    actions = [a for a in ts.actions if action_vars(a)[1] & variables]
    # fresh names per query: Spacer has answered 'safe' for a reachable bad state after earlier queries in the
    # same process had used the same constant names with other sorts (certify caught it)
    tag = f"h{next(_QUERIES)}_"
    s, t = enc.step(0, tag), enc.step(1, tag)
    f = E.trans(enc, s, t, actions, variables)
    keep, consts = [], []
    for var in sorted(variables):
        for j, c in enumerate(enc.comps[var]):
            values = {(v[var] if c.signed else (v[var] >> c.lo) & ((1 << c.width) - 1)) for v in ts.init}
            if (var, j) in f.frozen and len(values) == 1:
                value = z3.BitVecVal(values.pop(), c.width)
                consts += [(s.comps[var][j], value), (t.comps[var][j], value)]
            else:
                keep.append((var, j))
    flat_s = [s.comps[v][j] for v, j in keep]
    flat_t = [t.comps[v][j] for v, j in keep]
    inv = z3.Function("Inv", *[x.sort() for x in flat_s], z3.BoolSort())
    fp = _fixedpoint(timeout, seed, fallback)
    fp.register_relation(inv)
    query = z3.Or([_bad(enc, ob, s) for ob in obs])

    def fix(e: z3.BoolRef) -> z3.BoolRef:
        return z3.simplify(z3.substitute(e, *consts) if consts else e)

    init = z3.Or([z3.And([s.comps[v][j] == z3.BitVecVal(
        values[v] if enc.comps[v][j].signed else (values[v] >> enc.comps[v][j].lo) & ((1 << enc.comps[v][j].width) - 1),
        enc.comps[v][j].width) for v, j in keep]) for values in ts.init]) if keep else z3.BoolVal(True)
    valid_s = z3.And([_valid_comp(enc, s, v) for v in sorted(variables)])
    valid_t = z3.And([_valid_comp(enc, t, v) for v in sorted(variables)])
    fp.declare_var(*flat_s, *flat_t, s.act, *s.chosen.values())
    base, step, bad = fix(z3.And(init, valid_s)), fix(z3.And(f.trans, valid_t)), fix(z3.And(query, valid_s))
    fp.rule(inv(*flat_s), base)
    fp.rule(inv(*flat_t), z3.And(inv(*flat_s), step))
    return Horn(fp, inv, z3.And(inv(*flat_s), bad), keep, flat_s, flat_t, base, z3.And(fix(valid_s), step), bad)


@dataclass
class Horn:
    """The Horn clauses of one PDR query, and their bodies, kept to check the invariant Spacer returns."""

    fp: z3.Fixedpoint
    inv: z3.FuncDeclRef
    query: z3.BoolRef
    keep: list[tuple[int, int]]  # (var, component) arguments of Inv, in order
    flat_s: list[z3.BitVecRef]
    flat_t: list[z3.BitVecRef]
    init: z3.BoolRef
    step: z3.BoolRef
    bad: z3.BoolRef


class UncheckedInvariant(Exception):
    """Spacer's invariant is not inductive or does not exclude the bad states (a bug in z3 or in kvmverify)."""


def certify(h: Horn, formula: z3.BoolRef, timeout: float | None) -> bool:
    """Soundness first: check Spacer's answer independently. The invariant (over de Bruijn variables) must hold
    initially, be preserved by every transition, and exclude every bad state. True: checked; False: z3 ran out
    of time checking it (the proof is then not reported); raises UncheckedInvariant if it is wrong."""
    deadline = time.monotonic() + timeout if timeout is not None else 0.0

    def at(flat):
        return z3.substitute_vars(formula, *flat) if flat else formula

    def clauses(f: z3.BoolRef) -> list[z3.BoolRef]:
        return list(f.children()) if z3.is_and(f) else [f]

    at_s = at(h.flat_s)
    # one incremental solver per check; consecution clause by clause (Inv(s) /\ step /\ !clause(t)), which is
    # far cheaper than negating the whole invariant at once
    for what, base, goals in (("initiation", h.init, clauses(at_s)),
                              ("consecution", z3.And(at_s, h.step), clauses(at(h.flat_t))),
                              ("safety", z3.And(at_s, h.bad), [z3.BoolVal(False)])):
        solver = z3.Solver()
        solver.add(base)
        for goal in goals:
            if timeout is not None:
                solver.set(timeout=max(int((deadline - time.monotonic()) * 1000), 1))
            r = solver.check(z3.Not(goal))
            if not trusted():
                return False
            if r == z3.sat:
                raise UncheckedInvariant(f"the PDR invariant fails its {what} check")
            if r == z3.unknown:
                return False
    return True


def _valid_comp(enc: E.Encoding, s: E.Step, var: int) -> z3.BoolRef:
    lo, hi = enc.ranges[var]
    cs = enc.comps[var]
    if len(cs) > 1:
        return z3.BoolVal(True)
    c, bv = cs[0], s.comps[var][0]
    if c.signed:
        return z3.And(bv >= lo, bv <= hi)
    return z3.ULE(bv, hi) if hi < (1 << c.width) - 1 else z3.BoolVal(True)


def invariant_of(h: Horn) -> z3.BoolRef:
    """Spacer's interpretation of Inv (`get_answer`: the whole inductive frame; the lemmas of the last level
    alone, `get_cover_delta(-1)`, need not be inductive) over de Bruijn variables, Var(i) = argument i."""
    answer = h.fp.get_answer()
    body = answer.body() if z3.is_quantifier(answer) else answer
    if not (z3.is_eq(body) and body.arg(0).decl().eq(h.inv)):
        return h.fp.get_cover_delta(-1, h.inv)  # no arguments, or a shape we do not know: the lemmas
    app, phi = body.arg(0), body.arg(1)
    if not z3.is_quantifier(answer):
        return phi
    n = answer.num_vars()
    position = [0] * n
    for i in range(app.num_args()):
        position[z3.get_var_index(app.arg(i))] = i
    return z3.substitute_vars(phi, *[z3.Var(position[j], answer.var_sort(n - 1 - j)) for j in range(n)])


UNCERTIFIED_RETRIES = 2


def pdr_prove(enc: E.Encoding, obs: list[Obligation], timeout: float | None = None) -> tuple[str, str | None]:
    """('proved', invariant text) | ('reachable', None) | ('unknown', reason) | ('uncertified', reason: Spacer's
    invariant failed the independent check, in every configuration tried), over the obligations' cone.

    An invariant that fails certification is asked for again with other Spacer seeds: a wrong answer has been
    seen only after many other queries in the same process (z3's shared context), and another seed then gave a
    certified proof (benchmarks/agreement.py on the virtio variants). A query whose invariant fails with every seed,
    or that ends in an internal failure of Spacer, is asked again in the FALLBACKS configurations."""
    started = time.monotonic()
    seed, fallback = 0, 0
    while True:
        left = None if timeout is None else max(timeout - (time.monotonic() - started), 0.001)
        status, info = _prove_once(enc, obs, left, seed, fallback)
        if status == "uncertified" and seed < UNCERTIFIED_RETRIES:
            seed += 1
        elif status in ("failed", "uncertified") and fallback + 1 < len(FALLBACKS):
            # another configuration takes another path through Spacer (an invariant that failed certification
            # came back with three seeds in a row once, deep in a campaign: seed 5143801)
            seed, fallback = 0, fallback + 1
        else:
            break
    if status == "failed":
        return "unknown", f"Spacer failed internally ({info}) in every configuration tried"
    return status, info


def _prove_once(enc: E.Encoding, obs: list[Obligation], timeout: float | None, seed: int, fallback: int = 0
                ) -> tuple[str, str | None]:
    variables = E.cone(enc.ts, set().union(*(ob.seed for ob in obs)))
    started = time.monotonic()
    h = chc(enc, obs, variables, timeout, seed, fallback)
    try:
        r = h.fp.query(h.query)
    except z3.Z3Exception as e:  # z3 reports a timeout or cancellation as an exception from query()
        msg = e.value.decode() if isinstance(getattr(e, "value", None), bytes) else str(e)
        if msg == "canceled" or not trusted():
            return "unknown", "time limit"
        return "failed", msg
    if not trusted():
        return "unknown", "time limit"
    if r == z3.unsat:
        left = None if timeout is None else max(timeout - (time.monotonic() - started), 0.001)
        # the last level's lemmas are the short readable invariant when they are inductive on their own (they
        # usually are); otherwise Spacer's whole answer, which must be
        lemmas = h.fp.get_cover_delta(-1, h.inv)
        try:
            checked = certify(h, lemmas, left)
            formula = lemmas
        except UncheckedInvariant:
            checked = False
        if not checked:
            formula = invariant_of(h)
            try:
                if not certify(h, formula, left):
                    return "unknown", "z3 could not check the invariant PDR found (time limit, or unknown)"
            except UncheckedInvariant as e:
                # Spacer said 'safe' but its invariant does not check: claim nothing (seen after many z3 queries
                # in one process, never on a fresh run of the same model)
                return "uncertified", f"{e}, so it is not reported as a proof (a z3 or kvmverify bug: please report)"
        comps = [enc.comps[v][j] for v, j in h.keep]
        return "proved", show_formula(formula, [c.name for c in comps], comps, enc.ts)
    if r == z3.sat:
        return "reachable", None
    return "unknown", h.fp.reason_unknown()


def shortest_trace(bmc: BMC, p: ir.Property, max_depth: int) -> Trace | None:
    found, _, _ = bmc.search([p], max_depth)
    return found[p.id][1] if p.id in found else None


MAX_TRACE_DEPTH = 200


def run_pdr(ts: ir.TransitionSystem, timeout: float | None = None, explorer: Explorer | None = None,
            skip: frozenset[int] = frozenset(), engine: str = "pdr", interrupt: Interrupt | None = None,
            progress=None
            ) -> tuple[dict[int, Trace], dict[int, Coverage], list[str]]:
    """Decide every property not in `skip`: traces for the failing ones, PDR coverage for the proved ones.

    Properties are split into obligations (conjuncts of invariants, disjuncts of covers, step properties per
    action instance); obligations with the same cone of influence are proved together, in one Spacer query
    over that cone only. A safety group that fails is split per property; a property found reachable gets its
    shortest trace from BMC over the whole system."""
    started = time.monotonic()
    deadline = started + timeout if timeout is not None else None
    enc = E.Encoding(ts)
    explorer = explorer or Explorer(ts)
    bmc = BMC(ts, explorer, engine, deadline)
    found: dict[int, Trace] = {}
    notes: list[str] = []
    todo = [p for p in safety_and_covers(ts) if p.id not in skip]
    obs = {p.id: obligations(ts, p) for p in todo}

    def left() -> float | None:
        return None if deadline is None else max(deadline - time.monotonic(), 0.001)

    def groups(props: list[ir.Property]) -> list[list[Obligation]]:
        by_cone: dict[frozenset[int], list[Obligation]] = {}
        for p in props:
            for ob in obs[p.id]:
                by_cone.setdefault(E.cone(ts, set(ob.seed)), []).append(ob)
        return [by_cone[k] for k in sorted(by_cone, key=lambda k: (len(k), sorted(k)))]

    invariants: dict[int, list[str]] = {p.id: [] for p in todo}
    # a property is proved only once every one of its obligations is: a stop after some of its groups were proved
    # leaves it undecided (a timeout once left a shared assert 'proved' by the group of its other site alone)
    proved_obs: dict[int, set[Obligation]] = {p.id: set() for p in todo}

    def complete(pid: int) -> bool:
        return set(obs[pid]) <= proved_obs[pid]  # as sets: `b || b` is two equal obligations

    failed: set[int] = set()
    unknown: set[int] = set()
    safety = [p for p in todo if not p.is_cover]
    work: list[list[ir.Property]] = ([safety] if safety else []) + [[p] for p in todo if p.is_cover]
    def stopped() -> str | None:
        if interrupt is not None and interrupt.set:
            return "interrupted (SIGINT)"
        if deadline is not None and time.monotonic() >= deadline:
            return "out of time"
        return None

    tick = Ticker(progress, "pdr")
    queries = 0
    while work:
        props = work.pop(0)
        for group in groups(props):
            if why := stopped():  # one note for what was never asked, not one per group
                rest = {ob.prop.id for g in [group, *(x for ps in work for x in groups(ps))] for ob in g}
                rest = sorted(rest - failed - {pid for pid in invariants if complete(pid)})
                unknown.update(rest)
                if rest:
                    notes.append(f"PDR {why} before it decided {', '.join(ts.properties[pid].name for pid in rest)}")
                work = []
                break
            queries += 1
            names = sorted({ob.prop.name for ob in group})
            tick(f"query {queries}: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}", force=True)
            status, info = pdr_prove(enc, group, left())
            members = sorted({ob.prop.id for ob in group})
            if status == "proved":
                for pid in members:
                    invariants[pid].append(info)
                for ob in group:
                    proved_obs[ob.prop.id].add(ob)
            elif status in ("reachable", "uncertified") and len(members) > 1:
                work.extend([ts.properties[pid]] for pid in members)  # one by one: which of them, if any
            elif status == "reachable":
                failed.add(members[0])
                if ts.properties[members[0]].is_cover:
                    break  # one reachable disjunct reaches the cover
            else:
                unknown.update(members)
                notes.append(f"PDR gave up on {', '.join(ts.properties[pid].name for pid in members)}: {info}")
    proved: dict[int, Coverage] = {}
    for p in todo:
        if p.id in failed:
            tick(f"shortest trace of {p.name} (BMC)", force=True)
            trace = shortest_trace(bmc, p, MAX_TRACE_DEPTH)
            if trace is not None:
                found[p.id] = trace
            else:
                notes.append(f"{p.name}: PDR found it {'reachable' if p.is_cover else 'violated'} but BMC "
                             f"found no trace within depth {MAX_TRACE_DEPTH} or the time limit")
        elif p.id not in unknown and invariants[p.id] and complete(p.id):
            proved[p.id] = Coverage("pdr", invariant="\n".join(dict.fromkeys(invariants[p.id])))
        elif not obs[p.id]:  # a step property no action checks (every write valid by construction): `true`
            proved[p.id] = Coverage("pdr", invariant="true")
    return found, proved, notes


def check_pdr(ts: ir.TransitionSystem, timeout: float | None = None, interrupt: Interrupt | None = None,
              progress=None) -> CheckResult:
    started = time.monotonic()
    found, proved, notes = run_pdr(ts, timeout, interrupt=interrupt, progress=progress)
    results = property_results(ts, found, proved, Coverage("pdr"))
    depth = max((t.length for t in found.values()), default=0)
    stats = Stats(0, 0, depth, time.monotonic() - started)
    # liveness is undecided by design (coverage "unsupported"), not because the time ran out
    gave_up = any(r.status == "unknown" and r.coverage.kind != "unsupported" for r in results)
    out_of_time = timeout is not None and time.monotonic() - started >= timeout
    bound = "timeout" if gave_up and out_of_time else None  # other reasons to give up are in the notes
    if interrupt is not None and interrupt.set and gave_up:
        bound = "interrupted"
    return CheckResult("pdr", results, stats, bound=bound, notes=tuple(dict.fromkeys(notes)))
