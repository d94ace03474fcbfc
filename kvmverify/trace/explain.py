"""A failed check in words: which field broke which rule (msr:), the values an assert read, the value a slot or
type check saw. One function for every format (text, HTML, SARIF, JUnit, Mermaid, the job summary)."""
from __future__ import annotations

from ..check.types import FieldLayout, Layout, show_value
from ..engines.shared.result import Violation
from ..ir import nodes as ir


def show_detail(ts: ir.TransitionSystem, label: str, value: int) -> str:
    """A detail value as the model writes it: a state variable's own type (bool, enum), else a number."""
    sv = next((v for v in ts.vars if v.name == label), None)
    if sv is not None and sv.layout is None:
        return show_value(sv.type, value)
    return str(value) if value < 1024 else hex(value)


def _bits(f: FieldLayout) -> str:
    return f"bit {f.lo}" if f.width == 1 else f"bits {f.hi}..{f.lo}"


def _binary(v: int, width: int) -> str:
    return f"0b{v:0{width}b}" if width <= 8 else hex(v)


def msr_reasons(ts: ir.TransitionSystem, layout: Layout, value: int) -> list[str]:
    """Each field of a register write that breaks its rule: `reserved bits 5..4 must be 0, written 0b01`."""
    params = {n: v for n, v, _ in ts.params}
    out = []
    for f in layout.fields:
        got = (value >> f.lo) & ((1 << f.width) - 1)
        if f.must_be is not None and got != f.must_be:
            out.append(f"{f.name} {_bits(f)} must be {f.must_be}, written {_binary(got, f.width)}")
        elif f.must_be is None and f.requires is not None and not params.get(f.requires, 0) and got != 0:
            out.append(f"{f.name} {_bits(f)} needs {f.requires}, which is false here: must be 0, written "
                       f"{_binary(got, f.width)}")
    return out


def violation_text(ts: ir.TransitionSystem, prop: ir.Property | None, v: Violation) -> str:
    """The message of a failed check with what explains it; liveness keeps its own words (its detail is for
    programs: the step the premise holds at is drawn in the trace)."""
    if prop is not None and prop.kind in ir.LIVENESS_KINDS:
        return v.message
    detail = dict(v.detail)
    if prop is not None and prop.kind == "msr" and "value" in detail:
        layout = next((lo for lo in ts.layouts if f"msr:{lo.name}" == prop.name), None)
        reasons = msr_reasons(ts, layout, detail["value"]) if layout is not None else []
        if reasons:
            return f"{v.message}: {'; '.join(reasons)} (value {hex(detail['value'])})"
    shown = ", ".join(f"{k}={show_detail(ts, k, x)}" for k, x in v.detail)
    if prop is not None and prop.kind == "assert" and shown:
        return f"{v.message} (it read {shown})"
    return v.message + (f" ({shown})" if shown else "")
