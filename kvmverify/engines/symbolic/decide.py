"""Decision tables and `check` properties, decided by z3 over every input at once.

`table_findings` lints each table: an input that matches no rule is an error (KV340: a first-match table must
give every input a value), a rule that no input reaches is a warning (KV341: shadowed by the rules above it, or
its own condition is unsatisfiable). `decide_checks` proves each `check` for every value of its inputs or finds
an input that breaks it. Inputs are z3 bit-vectors with range constraints (registers and u64 included: nothing
is enumerated). Every input z3 reports is re-evaluated by the reference semantics (`ir.simplify.evaluate`)
before it is shown; a disagreement is an internal error (exit 3), never a silent wrong answer.
"""
from __future__ import annotations

import itertools

import z3

from ...check.types import Type, show_value
from ...diagnostics import Diagnostic
from ...ir import nodes as ir
from ...ir.simplify import evaluate
from .bvterms import Term, signed_bits
from .encode import Encoding, type_range
from ..shared.replay import Disagreement
from ..shared.result import Coverage, PropertyResult, Witness

# ---------------------------------------------------------------------------------------------- inputs as z3

_QUERIES = itertools.count()


def input_terms(inputs: tuple[tuple[str, Type], ...], tag: str) -> tuple[dict[str, Term], list[z3.BoolRef]]:
    """One bit-vector per input, read as a Term like a state variable is, and the constraints of its type."""
    terms, domain = {}, []
    tag = f"{tag}#{next(_QUERIES)}"  # unique names: no constant shared with another query in this process
    for name, t in inputs:
        lo, hi = type_range(t)
        if lo < 0:
            bv = z3.BitVec(f"{tag}!{name}", signed_bits(lo, hi))
            terms[name] = Term(bv, lo, hi)
            domain += [bv >= lo, bv <= hi]
            continue
        width = max(hi.bit_length(), 1)
        bv = z3.BitVec(f"{tag}!{name}", width)
        terms[name] = Term(z3.ZeroExt(1, bv), lo, hi)
        if hi < (1 << width) - 1:
            domain.append(z3.ULE(bv, hi))
    return terms, domain


def input_values(model: z3.ModelRef, terms: dict[str, Term]) -> dict[str, int]:
    out = {}
    for name, term in terms.items():
        v = model.eval(term.bv, model_completion=True).as_long()
        width = term.bv.size()
        out[name] = v - (1 << width) if term.lo < 0 and v >= 1 << (width - 1) else v
    return out


def cond(enc: Encoding, e: ir.Expr, terms: dict[str, Term]) -> z3.BoolRef:
    return enc.cond(e, None, {}, terms)  # type: ignore[arg-type]  # no state: inputs only


def input_count(inputs: tuple[tuple[str, Type], ...]) -> int:
    n = 1
    for _, t in inputs:
        lo, hi = type_range(t)
        n *= hi - lo + 1
    return n


def show_input(t: Type, v: int) -> str:
    """A value as the model writes it; a register or struct also with its non-zero fields."""
    layout = getattr(t, "layout", None)
    if layout is None:
        return show_value(t, v)
    fields = [(f.name, (v >> f.lo) & ((1 << f.width) - 1)) for f in layout.fields]
    shown = ", ".join(f"{n}={x:#x}" if x > 9 else f"{n}={x}" for n, x in fields if x)
    return f"{v:#x} ({shown})" if shown else f"{v:#x}"


def show_inputs(inputs: tuple[tuple[str, Type], ...], values: dict[str, int]) -> tuple[tuple[str, str], ...]:
    return tuple((n, show_input(t, values[n])) for n, t in inputs)


# ---------------------------------------------------------------------------------------------- tables


def first_match(table: ir.Table, values: dict[str, int]) -> ir.TableRule | None:
    return next((r for r in table.rules if evaluate(r.when, (), values)), None)


def describe_call(table: ir.Table, values: dict[str, int]) -> str:
    """`f(a=1, b=true) = (x=WB, y=false) by rule r (file:line)`, or that no rule matches."""
    args = ", ".join(f"{n}={show_input(t, values[n])}" for n, t in table.inputs)
    rule = first_match(table, values)
    if rule is None:
        return f"{table.name}({args}) matches no rule"
    shown = [show_value(t, evaluate(v, (), values)) for (_, t), v in zip(table.outputs, rule.values)]
    if len(table.outputs) == 1 and table.outputs[0][0] == "":
        result = shown[0]
    else:
        result = "(" + ", ".join(f"{n}={s}" for (n, _), s in zip(table.outputs, shown)) + ")"
    return f"{table.name}({args}) = {result} by rule {rule.name} ({rule.span.file}:{rule.span.line})"


def table_findings(ts: ir.TransitionSystem, timeout: float | None = 30.0) -> list[Diagnostic]:
    """KV340 for each table with an unmatched input (one example input), KV341 for each rule that never fires."""
    enc = Encoding(ts)
    out: list[Diagnostic] = []
    for table in ts.tables:
        terms, domain = input_terms(table.inputs, table.name)
        whens = [cond(enc, r.when, terms) for r in table.rules]
        solver = z3.Solver()
        if timeout is not None:
            solver.set("timeout", int(timeout * 1000))
        solver.add(*domain)
        for i, rule in enumerate(table.rules):
            fires = z3.And(whens[i], *[z3.Not(w) for w in whens[:i]])
            if solver.check(fires) != z3.unsat:
                continue
            if solver.check(whens[i]) == z3.unsat:
                why, hint = "its condition holds for no input", "correct the condition, or delete the rule"
            else:
                overlap = [r.name for r, w in zip(table.rules[:i], whens)
                           if solver.check(z3.And(w, whens[i])) == z3.sat]
                why = f"every input it matches is taken by an earlier rule ({', '.join(overlap)})"
                hint = "delete it, or move it above the rules that shadow it"
            out.append(Diagnostic("KV341", "warning", f"rule {rule.name} of {table.name} never fires: {why}",
                                  rule.span, hint))
        if solver.check(*[z3.Not(w) for w in whens]) == z3.sat:
            values = input_values(solver.model(), terms)
            if first_match(table, values) is not None:
                raise Disagreement("decide", _table_prop(table), f"z3 says input {values} matches no rule of "
                                   f"{table.name}; the reference semantics matches one", None, None)
            shown = ", ".join(f"{n}={v}" for n, v in show_inputs(table.inputs, values))
            out.append(Diagnostic("KV340", "error", f"decision table {table.name} gives no value for some inputs, "
                                  f"e.g. {shown}", table.span,
                                  "end the table with a rule without `when` (the default), or widen the conditions"))
    return out


def _table_prop(table: ir.Table) -> ir.Property:
    return ir.Property(-1, table.name, "check", None, table.span, "decision table")


# ---------------------------------------------------------------------------------------------- checks


def decide_checks(ts: ir.TransitionSystem, timeout: float | None = None) -> tuple[PropertyResult, ...]:
    """Each `check`, proved for all inputs or refuted by one input (replayed by the reference semantics)."""
    enc = Encoding(ts)
    tables = {t.name: t for t in ts.tables}
    expects = {name: verdict for name, verdict, _ in ts.expects}
    out = []
    for c in ts.checks:
        terms, domain = input_terms(c.inputs, c.prop.name)
        n = input_count(c.inputs)
        solver = z3.Solver()
        if timeout is not None:
            solver.set("timeout", max(int(timeout * 1000), 1))
        solver.add(*domain, z3.Not(cond(enc, c.expr, terms)))
        answer = solver.check()
        expected = expects.get(c.prop.name)
        if answer == z3.unsat:
            out.append(PropertyResult(c.prop, "holds", Coverage("all-inputs", states=n), None, expected))
            continue
        if answer == z3.unknown:
            why = solver.reason_unknown()
            bound = "timeout" if "timeout" in why or "canceled" in why else None
            out.append(PropertyResult(c.prop, "unknown", Coverage("all-inputs", states=n, bound=bound or why),
                                      None, expected))
            continue
        values = input_values(solver.model(), terms)
        if evaluate(c.expr, (), values):
            raise Disagreement("decide", c.prop, f"z3's input {values} does not break {c.prop.name} by the "
                               "reference semantics", None, None)
        calls = []
        for call in c.calls:
            args = {n: evaluate(a, (), values) for (n, _), a in zip(tables[call.table].inputs, call.args)}
            calls.append(describe_call(tables[call.table], args))
        witness = Witness(show_inputs(c.inputs, values), tuple(dict.fromkeys(calls)))
        out.append(PropertyResult(c.prop, "violated", Coverage("all-inputs", states=n), None, expected, witness))
    return tuple(out)
