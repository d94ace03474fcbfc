"""The reference semantics (kvmverify/semantics/reference.py, an interpreter of the checked AST) against what
the engines run, step by step on generated models: the lowered IR (interpreted directly), the generated Python
successor function, and the z3 encoding of one transition. For every reachable state (up to a bound) and every
action instance: the same successor states, the same step properties violated, the same state properties.

KVMVERIFY_PROPERTY_EXAMPLES=N runs a longer campaign on fresh models."""
import os
import random
from collections import Counter, deque

import pytest
import z3

from kvmverify.check.checker import check
from kvmverify.check.loader import Loaded
from kvmverify.diagnostics import DiagnosticError
from kvmverify.difftest.model import generate, kv_text
from kvmverify.engines.explicit import Explorer
from kvmverify.engines.symbolic import encode as E
from kvmverify.ir.lower import lower
from kvmverify.lang.parser import parse
from kvmverify.semantics.code import ProcessStep
from kvmverify.semantics.reference import Reference, from_ir, instance_key, to_ir
from test_engine_props import reference_step

CAMPAIGN = int(os.environ.get("KVMVERIFY_PROPERTY_EXAMPLES", "0"))
SEEDS = range(10_000, 10_000 + (CAMPAIGN or 60)) if not CAMPAIGN else random.Random().sample(range(10**9), CAMPAIGN)
MAX_STATES = 300


def compiled(text: str):
    f = parse(text, "reference.kv")
    model = check(Loaded(f, (f,)))
    return model, lower(model)


def reference_successors(ref: Reference, ts, model, flat):
    """instance key -> (Counter of next flat states, set of violated property names)."""
    state = from_ir(ts, model, flat)
    out = {}
    for action, args in ref.instances():
        paths = ref.step(action, args, state)
        if paths:
            out[instance_key(action, args)] = (
                Counter(to_ir(ts, model, p.state) for p in paths if p.state is not None),
                set().union(*(p.violated for p in paths)))
    return out


def engine_successors(ex: Explorer, ts, flat):
    out, viol = ex.successors(flat)
    by = {}
    keys = {a.id: (a.actor, a.action, tuple(v for _, v, _ in a.args)) for a in ts.actions}
    for k, t in out:
        nxt, _ = by.setdefault(keys[k], (Counter(), set()))
        if t is not None:
            nxt[t] += 1
    for k, cid, _, _ in viol:
        by.setdefault(keys[k], (Counter(), set()))[1].add(ts.properties[ex.c.checks[cid].prop].name)
    return by


def reference_state_property(ref: Reference, model, p, state) -> bool | None:
    """Is the state property's bit set (an invariant false, a cover or a sanity finding's target reached), as the
    reference semantics says; None for step and liveness properties."""
    match p.kind:
        case "invariant" | "cover":
            holds = ref.holds(next(d for d in model.props if d.name == p.name).expr, state)
            return not holds if p.kind == "invariant" else holds
        case "deadlock":
            return ref.deadlocked(state)
        case "enabled":
            return any(ref.enabled_in(a, args, state) for a, args in ref.instances() if enabled_name(a) == p.name)
        case "premise":
            inv, _, k = p.name.removeprefix("premise:").partition("#")
            return ref.premises(inv, state)[int(k) - 1 if k else 0]
    return None


def enabled_name(a) -> str:
    if isinstance(a, ProcessStep):
        return f"enabled:{a.process.name}@{a.point}"
    return f"enabled:{a.actor}.{a.decl.name}"


def same(a: dict, b: dict) -> bool:
    """Equal, but for instances that neither move nor violate anything (a guard that folded to false)."""
    live = lambda d: {k: v for k, v in d.items() if v[0] or v[1]}  # noqa: E731
    return live(a) == live(b)


def z3_successors(enc: E.Encoding, ts, flat, action):
    """The states z3's transition relation allows from `flat` by one instance, and the step properties it says
    that instance can violate there."""
    s, t = enc.step(0, "ref"), enc.step(1, "ref")
    f = E.trans(enc, s, t, actions=[action])
    solver = z3.Solver()
    solver.add(enc.state_eq(s, flat), s.act == action.id, enc.valid(t))
    nexts = set()
    solver.push()
    solver.add(f.trans)
    while solver.check() == z3.sat and len(nexts) < 64:
        nxt = enc.state_value(solver.model(), t)
        nexts.add(nxt)
        solver.add(z3.Not(enc.state_eq(t, nxt)))
    solver.pop()
    bad = {ts.properties[p].name for p, cond in f.bad.items() if solver.check(cond) == z3.sat}
    return nexts, bad


DRAWS = 20


@pytest.mark.parametrize("seed", SEEDS)
def test_every_stage_steps_as_the_reference_semantics(seed):
    for draw in range(seed, seed + 100 * DRAWS, 100):  # a model the checker refuses is drawn again
        text = kv_text(generate(draw))
        try:
            model, ts = compiled(text)
            break
        except DiagnosticError:
            continue
    else:
        pytest.fail(f"{DRAWS} draws from seed {seed} were all refused by the checker")
    seed = draw
    ref, ex = Reference(model), Explorer(ts, symmetry=False)
    assert to_ir(ts, model, ref.initial()) == ts.init[0], text
    enc = E.Encoding(ts) if seed % 4 == 0 else None  # z3 on a quarter of the models: it is the slow side
    seen, queue = {ts.init[0]}, deque([ts.init[0]])
    while queue and len(seen) < MAX_STATES:
        flat = queue.popleft()
        want = reference_successors(ref, ts, model, flat)
        assert same(engine_successors(ex, ts, flat), want), (text, from_ir(ts, model, flat))
        ir_succ, ir_viol = reference_step(ts, flat)  # the IR interpreted directly, independent of codegen
        assert {t for _, t in ir_succ} == {t for c, _ in want.values() for t in c}, text
        assert {ts.properties[p].name for _, p in ir_viol} == set().union(*(v for _, v in want.values())), text
        state = from_ir(ts, model, flat)
        mask = ex.c.props(flat)
        for p in ts.properties:
            bit = reference_state_property(ref, model, p, state)
            if bit is not None:
                assert bool(mask >> p.id & 1) == bit, (text, p.name, state)
        if enc is not None and len(seen) < 40:
            for a in ts.actions:
                key = (a.actor, a.action, tuple(v for _, v, _ in a.args))
                nexts, bad = z3_successors(enc, ts, flat, a)
                r_next, r_viol = want.get(key, (Counter(), set()))
                assert nexts == set(r_next), (text, key, from_ir(ts, model, flat))
                assert bad == r_viol, (text, key, from_ir(ts, model, flat))
        for nxt, _ in want.values():
            for t in nxt:
                if t not in seen:
                    seen.add(t)
                    queue.append(t)
