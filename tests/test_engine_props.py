"""Property tests for the explicit engine: on random small models, the compiled successor function agrees with
a direct interpretation of the IR (independent of the code generator), and so do the state counts."""
from collections import deque

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvmverify.check.checker import check
from kvmverify.check.loader import Loaded
from kvmverify.engines.explicit import Explorer
from kvmverify.ir import nodes as ir
from kvmverify.ir.lower import lower
from kvmverify.ir.simplify import evaluate
from kvmverify.lang.parser import parse

# ------------------------------------------------------------------------------------------ reference semantics


def run_path(stmts, i, state, env, viols):
    """Yield (next state or None, violations) for every path through stmts[i:]."""
    if i == len(stmts):
        yield tuple(state), viols
        return
    s = stmts[i]
    match s:
        case ir.Assign(var, value, _):
            st2 = list(state)
            st2[var] = evaluate(value, tuple(state), env)
            yield from run_path(stmts, i + 1, st2, env, viols)
        case ir.Let(name, value):
            yield from run_path(stmts, i + 1, state, {**env, name: evaluate(value, tuple(state), env)}, viols)
        case ir.Check(prop=prop, cond=cond, fatal=fatal):
            if evaluate(cond, tuple(state), env):
                yield from run_path(stmts, i + 1, state, env, viols)
            elif fatal:
                yield None, viols | {prop}
            else:
                yield from run_path(stmts, i + 1, state, env, viols | {prop})
        case ir.If(cond, then, else_, tail):
            branch = then if evaluate(cond, tuple(state), env) else else_
            if tail:
                yield from run_path(branch, 0, state, env, viols)
            else:
                for st2, v2 in run_path(branch, 0, state, env, viols):
                    if st2 is None:
                        yield None, v2
                    else:
                        yield from run_path(stmts, i + 1, list(st2), env, v2)
        case ir.Choose(name, lo, hi, where, body):
            chosen = False
            for value in range(lo, hi + 1):
                env2 = {**env, name: value}
                if evaluate(where, tuple(state), env2):
                    chosen = True
                    yield from run_path(body, 0, state, env2, viols)
            if not chosen:  # no successor, but the checks before the choose were made
                yield None, viols


def reference_step(ts, state):
    succ, viol = set(), set()
    for a in ts.actions:
        if evaluate(a.guard, state):
            for nxt, vs in run_path(a.body, 0, list(state), {}, frozenset()):
                if nxt is not None:
                    succ.add((a.id, nxt))
                viol |= {(a.id, p) for p in vs}
    return succ, viol


# ------------------------------------------------------------------------------------------ random models

VARS = {"x": "0..3", "y": "0..2", "b": "bool", "s": "set of 0..2", "e": "Color"}
INT_VARS = ["x", "y", "a[0]", "a[1]"]


def int_exprs():
    leaf = st.one_of(st.sampled_from(INT_VARS), st.integers(0, 4).map(str))
    return st.recursive(leaf, lambda sub: st.one_of(
        st.tuples(sub, st.sampled_from(["+", "-", "*", "%"]), sub).map(
            lambda t: f"({t[0]} {t[1]} {t[2] if t[1] != '%' else '3'})"),
        st.tuples(st.sampled_from(["card(s)", "(b ? 1 : 2)"]), st.just("")).map(lambda t: t[0]),
    ), max_leaves=4)


def bool_exprs():
    cmp = st.tuples(int_exprs(), st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), int_exprs()).map(
        lambda t: f"{t[0]} {t[1]} {t[2]}")
    leaf = st.one_of(cmp, st.sampled_from(["b", "!b", "1 in s", "e == Green", "e != Blue", "true"]))
    return st.recursive(leaf, lambda sub: st.tuples(sub, st.sampled_from(["&&", "||", "->"]), sub).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"), max_leaves=3)


def statements(depth=2):
    assign = st.one_of(
        st.tuples(st.sampled_from(["x", "y", "a[0]", "a[1]"]), int_exprs()).map(lambda t: f"{t[0]} := {t[1]}"),
        bool_exprs().map(lambda c: f"b := {c}"),
        st.sampled_from(["s := s + {1}", "s := s - {0}", "s := {}", "e := Blue", "e := Red",
                         "a[y % 2] := x", "assert named_{n}: x != 3".replace("{n}", "0")]),
    )
    if depth == 0:
        return assign
    inner = st.lists(statements(depth - 1), min_size=1, max_size=3).map(" ".join)
    return st.one_of(
        assign,
        st.tuples(bool_exprs(), inner, inner).map(lambda t: f"if {t[0]} {{ {t[1]} }} else {{ {t[2]} }}"),
        st.tuples(bool_exprs(), inner).map(lambda t: f"choose c: 0..2 where {t[0].replace('y', 'c')} {{ {t[1]} }}"),
    )


@st.composite
def models(draw):
    actions = []
    for n in range(draw(st.integers(1, 4))):
        guard = draw(bool_exprs())
        body = " ".join(draw(st.lists(statements(), min_size=1, max_size=3)))
        actions.append(f"  action act{n}() when {guard} {{ {body} }}")
    return random_model(actions, draw(bool_exprs()))


def random_model(actions: list[str], inv: str) -> str:
    """The generated models' frame: the variables of VARS and a[0..1], one actor with `actions`, an invariant
    and a cover."""
    decls = "\n".join(f"var {k} : {t} = {'false' if t == 'bool' else '{}' if t.startswith('set') else 'Red' if k == 'e' else '0'}"
                      for k, t in VARS.items())
    return (f"model random\ntype Color = {{Red, Green, Blue}}\n{decls}\nvar a[0..1] : 0..3 = 0\nactor p {{\n"
            + "\n".join(actions) + f"\n}}\ninvariant inv: {inv}\ncover c: x == 2\n")


def system_of(text: str):
    f = parse(text, "random.kv")
    return lower(check(Loaded(f, (f,))))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models())
def test_compiled_successors_match_the_ir_semantics(text):
    from kvmverify.diagnostics import DiagnosticError
    try:
        ts = system_of(text)
    except DiagnosticError as e:
        # The generator can repeat an assert name (KV202) or assign a constant that is out of range (KV301,
        # caught statically); every other rejection of a generated model is a checker bug.
        assert all(d.code == "KV202" or d.message.startswith("cannot assign") for d in e.diagnostics), e.diagnostics
        return
    ex = Explorer(ts)
    seen, queue = {ts.init[0]}, deque([ts.init[0]])
    while queue:
        s = queue.popleft()
        out, viol = ex.successors(s)
        compiled = {(k, t) for k, t in out if t is not None}
        compiled_viol = {(k, ex.c.checks[c].prop) for k, c, _, _ in viol}
        ref, ref_viol = reference_step(ts, s)
        assert compiled == ref, text
        assert compiled_viol == ref_viol, text
        for _, t in ref:
            if t not in seen:
                seen.add(t)
                queue.append(t)
    result = ex.run()
    assert result.stats.states == len(seen)
