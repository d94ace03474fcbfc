"""Counterexamples in the Informal Trace Format (ITF) of Apalache and Quint (Apalache ADR-015).

A trace is `{"#meta", "params", "vars", "states", "loop"?}`; every state holds a value for every name in `params`
and `vars`, and `#meta.index`. Values: booleans and strings as JSON, integers as JSON numbers when
|x| < 2**53 and `{"#bigint": "..."}` otherwise, sets `{"#set": [...]}`, arrays `{"#map": [[key, value], ...]}`
(nested for arrays of arrays), registers and structs as records `{field: value}` (bits outside every field, if
any are set, under `"__other_bits"`), enum values as their names.

Each state also says which step led to it: `#meta.action` (the label), `#meta.actor`, `#meta.args`, and, for
tools that follow Quint's model-based-testing convention, the variables `mbt::actionTaken` (`"init"` or
`actor.action`) and `mbt::nondetPicks` (one `{"tag": "Some"|"None", "value": ...}` per parameter name of the
model's actions). The last step of a step-property trace whose failed check stopped the step has no state; it
is recorded in the top-level `#meta.kvmverify.stopped_step`.

Everything here is deterministic: the same model, flags and trace give the same bytes (no timestamps).
"""
from __future__ import annotations

import json
from typing import Any

from .. import __version__
from ..check.types import (NONE_VALUE, BitsT, BoolT, EnumT, IntT, OptionT, SetT, Type, domain_lo, domain_size,
                           first_value)
from ..engines.shared.result import PropertyResult
from ..ir import nodes as ir
from ..trace.views import queue_items, views

FORMAT_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"
ACTION_TAKEN = "mbt::actionTaken"
NONDET_PICKS = "mbt::nondetPicks"
OTHER_BITS = "__other_bits"
MAX_SAFE = (1 << 53) - 1


class ItfError(ValueError):
    """A value or trace that does not fit the model; `path` says where in the JSON document."""

    def __init__(self, message: str, path: str = ""):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.reason = message


# ------------------------------------------------------------------------------------------------ values
def enc_int(v: int) -> Any:
    return v if -MAX_SAFE <= v <= MAX_SAFE else {"#bigint": str(v)}


def dec_int(x: Any, path: str) -> int:
    if isinstance(x, bool):
        raise ItfError(f"expected an integer, got {json.dumps(x)}", path)
    if isinstance(x, int):
        return x
    if isinstance(x, dict) and set(x) == {"#bigint"} and isinstance(x["#bigint"], str):
        try:
            return int(x["#bigint"], 10)
        except ValueError:
            pass
    raise ItfError(f"expected an integer (a number or {{\"#bigint\": \"...\"}}), got {_short(x)}", path)


def _short(x: Any) -> str:
    text = json.dumps(x, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def encode_value(t: Type, v: int) -> Any:
    match t:
        case OptionT(elem):  # as Quint writes Option: a variant
            if v == NONE_VALUE:
                return {"tag": "None", "value": {"#tup": []}}
            return {"tag": "Some", "value": encode_value(elem, v)}
        case BoolT():
            return bool(v)
        case EnumT(_, members):
            return members[v] if 0 <= v < len(members) else enc_int(v)
        case IntT():
            return enc_int(v)
        case SetT(elem):
            lo = domain_lo(elem)
            return {"#set": [encode_value(elem, lo + i) for i in range(domain_size(elem)) if v >> i & 1]}
        case BitsT(_, layout) if layout is not None:
            rec: dict[str, Any] = {}
            covered = 0
            for f in layout.fields:
                mask = (1 << f.width) - 1
                rec[f.name] = enc_int((v >> f.lo) & mask)
                covered |= mask << f.lo
            if v & ~covered:
                rec[OTHER_BITS] = enc_int(v & ~covered)
            return rec
        case BitsT():
            return enc_int(v)
    return enc_int(v)


def decode_value(t: Type, x: Any, path: str) -> int:
    match t:
        case OptionT(elem):
            if not isinstance(x, dict) or x.get("tag") not in ("None", "Some") or "value" not in x:
                raise ItfError(f"expected an option {{\"tag\": \"None\"|\"Some\", \"value\": ...}}, got {_short(x)}",
                               path)
            return NONE_VALUE if x["tag"] == "None" else decode_value(elem, x["value"], f"{path}.value")
        case BoolT():
            if not isinstance(x, bool):
                raise ItfError(f"expected true or false, got {_short(x)}", path)
            return int(x)
        case EnumT(name, members):
            if isinstance(x, str):
                if x not in members:
                    raise ItfError(f"'{x}' is not a value of {name} ({', '.join(members)})", path)
                return members.index(x)
            v = dec_int(x, path)
            if not 0 <= v < len(members):
                raise ItfError(f"{v} is not a value of {name}", path)
            return v
        case IntT(lo, hi):
            v = dec_int(x, path)
            if not lo <= v <= hi:
                raise ItfError(f"{v} is outside {t} ({lo}..{hi})", path)
            return v
        case SetT(elem):
            if not isinstance(x, dict) or set(x) != {"#set"} or not isinstance(x["#set"], list):
                raise ItfError(f"expected a set {{\"#set\": [...]}}, got {_short(x)}", path)
            lo, out = domain_lo(elem), 0
            for i, e in enumerate(x["#set"]):
                out |= 1 << (decode_value(elem, e, f"{path}[{i}]") - lo)
            return out
        case BitsT(width, layout) if layout is not None:
            if not isinstance(x, dict) or any(k.startswith("#") for k in x):
                raise ItfError(f"expected a record of the fields of {layout.name}, got {_short(x)}", path)
            names = {f.name for f in layout.fields}
            extra = sorted(set(x) - names - {OTHER_BITS})
            if extra:
                raise ItfError(f"{layout.name} has no field '{extra[0]}'", path)
            out = 0
            for f in layout.fields:
                if f.name not in x:
                    raise ItfError(f"field '{f.name}' of {layout.name} is missing", path)
                fv = dec_int(x[f.name], f"{path}.{f.name}")
                if not 0 <= fv < 1 << f.width:
                    raise ItfError(f"{fv} does not fit in {f.width} bit(s)", f"{path}.{f.name}")
                out |= fv << f.lo
            if OTHER_BITS in x:
                out |= dec_int(x[OTHER_BITS], f"{path}.{OTHER_BITS}")
            if not 0 <= out < 1 << width:
                raise ItfError(f"the value does not fit in {width} bits", path)
            return out
        case BitsT(width):
            v = dec_int(x, path)
            if not 0 <= v < 1 << width:
                raise ItfError(f"{v} does not fit in {width} bits", path)
            return v
    return dec_int(x, path)


def shown_json(shown: str) -> Any:
    """An index or argument as the model shows it -> its JSON form: numbers, booleans, enum names."""
    if shown in ("true", "false"):
        return shown == "true"
    try:
        return enc_int(int(shown, 0))
    except ValueError:
        return shown


# ------------------------------------------------------------------------------------------------ state
def var_groups(ts: ir.TransitionSystem) -> list[tuple[str, list]]:
    """Declared variables (and processes, whose value is their counter) in model order, each with its views
    (trace/views.py): one per element of an array, of an array of queues, per process instance."""
    groups: dict[str, list] = {}
    for v in views(ts):
        groups.setdefault(v.var, []).append(v)
    return list(groups.items())


def _keys(v) -> tuple[Any, ...]:
    return tuple(shown_json(k) for k in v.keys)


def _encode_view(ts: ir.TransitionSystem, v, state: tuple[int, ...]) -> Any:
    if v.kind == "queue":
        elem = ts.vars[v.slots[1]].type
        return [encode_value(elem, x) for x in queue_items(ts, v, state)]
    return encode_value(ts.vars[v.slots[0]].type, state[v.slots[0]])


def encode_state(ts: ir.TransitionSystem, state: tuple[int, ...]) -> dict[str, Any]:
    """Queues are arrays (ITF sequences) head first; a process's counter is the name of its point."""
    out: dict[str, Any] = {}
    for name, group in var_groups(ts):
        if not group[0].keys:
            out[name] = _encode_view(ts, group[0], state)
            continue
        tree = _Node()
        for v in group:
            keys = _keys(v)
            node = tree
            for k in keys[:-1]:
                node = node.children.setdefault(json.dumps(k), (k, _Node()))[1]
            node.children[json.dumps(keys[-1])] = (keys[-1], _encode_view(ts, v, state))
        out[name] = _as_map(tree)
    return out


class _Node:
    """An inner level of a multi-dimensional array (leaves are encoded values, which may be dicts too)."""

    def __init__(self) -> None:
        self.children: dict[str, tuple[Any, Any]] = {}


def _as_map(node: _Node) -> dict:
    return {"#map": [[k, _as_map(v) if isinstance(v, _Node) else v] for k, v in node.children.values()]}


def decode_state(ts: ir.TransitionSystem, obj: Any, path: str) -> tuple[int, ...]:
    """An ITF state -> the model's state tuple. Raises ItfError naming the first thing that does not fit."""
    if not isinstance(obj, dict):
        raise ItfError(f"expected a state object, got {_short(obj)}", path)
    values: list[int | None] = [None] * len(ts.vars)
    for name, group in var_groups(ts):
        if name not in obj:
            raise ItfError(f"variable '{name}' is missing from the state", path)
        for v in group:
            node, where = obj[name], f"{path}.{name}"
            for k in _keys(v):
                node = _map_get(node, k, where)
                where += f"[{json.dumps(k)}]"
            if v.kind != "queue":
                values[v.slots[0]] = decode_value(ts.vars[v.slots[0]].type, node, where)
                continue
            elems = v.slots[1:]
            if not isinstance(node, list) or len(node) > len(elems):
                raise ItfError(f"expected a list of at most {len(elems)} elements, got {_short(node)}", where)
            t = ts.vars[elems[0]].type
            values[v.slots[0]] = len(node)
            for k, slot in enumerate(elems):
                values[slot] = decode_value(t, node[k], f"{where}[{k}]") if k < len(node) else first_value(t)
    return tuple(values)  # type: ignore[arg-type]


def _map_get(node: Any, key: Any, path: str) -> Any:
    if not isinstance(node, dict) or set(node) != {"#map"} or not isinstance(node["#map"], list):
        raise ItfError(f"expected a map {{\"#map\": [[key, value], ...]}}, got {_short(node)}", path)
    for pair in node["#map"]:
        if not isinstance(pair, list) or len(pair) != 2:
            raise ItfError(f"a map entry must be a [key, value] pair, got {_short(pair)}", path)
        k = pair[0]
        if k == key and isinstance(k, bool) == isinstance(key, bool):
            return pair[1]
        if isinstance(k, dict) and "#bigint" in k and not isinstance(key, (bool, str)):
            if dec_int(k, path) == key:
                return pair[1]
    raise ItfError(f"no entry for index {json.dumps(key)}", path)


# ------------------------------------------------------------------------------------------------ actions
def action_args(a: ir.ActionInstance) -> dict[str, Any]:
    return {n: shown_json(shown) for n, _, shown in a.args}


def arg_names(ts: ir.TransitionSystem) -> list[str]:
    return sorted({n for a in ts.actions for n, _, _ in a.args})


def action_meta(ts: ir.TransitionSystem, action: int | None) -> dict[str, Any]:
    if action is None:
        return {"action": "init"}
    a = ts.actions[action]
    return {"action": a.label, "actor": a.actor, "name": a.action, "args": action_args(a)}


def _picks(ts: ir.TransitionSystem, names: list[str], action: int | None) -> dict[str, Any]:
    args = action_args(ts.actions[action]) if action is not None else {}
    return {n: ({"tag": "Some", "value": args[n]} if n in args else {"tag": "None", "value": {"#tup": []}})
            for n in names}


# ------------------------------------------------------------------------------------------------ traces
def trace_document(ts: ir.TransitionSystem, r: PropertyResult, source: str) -> dict[str, Any]:
    """The ITF document for the trace of one property result (which must have a trace)."""
    assert r.trace is not None
    p, trace = r.prop, r.trace
    params = [name for name, _, _ in ts.params]
    names = arg_names(ts)
    vars_ = [name for name, _ in var_groups(ts)] + [ACTION_TAKEN, NONDET_PICKS]
    param_values = {name: shown_json(shown) for name, _, shown in ts.params}
    states = []
    stopped = None
    for i, step in enumerate(trace.steps):
        if step.state is None:
            stopped = {"index": i, **action_meta(ts, step.action)}
            continue
        st: dict[str, Any] = {"#meta": {"index": i, **action_meta(ts, step.action)}}
        st.update(param_values)
        st.update(encode_state(ts, step.state))
        st[ACTION_TAKEN] = "init" if step.action is None else (
            f"{ts.actions[step.action].actor}.{ts.actions[step.action].action}")
        st[NONDET_PICKS] = _picks(ts, names, step.action)
        states.append(st)
    kv: dict[str, Any] = {
        "version": __version__,
        "model": ts.name,
        "params": param_values,
        "property": {"name": p.name, "kind": p.kind, "description": p.description,
                     "location": {"file": p.span.file, "line": p.span.line, "column": p.span.col}},
        "status": r.status,
        "expected": r.expected,
        "length": trace.length,
    }
    if trace.violation is not None:
        v = trace.violation
        viol: dict[str, Any] = {"message": v.message, "detail": {k: enc_int(x) for k, x in v.detail}}
        if v.span is not None:
            viol["location"] = {"file": v.span.file, "line": v.span.line, "column": v.span.col}
        kv["violation"] = viol
    if stopped is not None:
        kv["stopped_step"] = stopped
    doc: dict[str, Any] = {
        "#meta": {
            "format": "ITF",
            "format-description": FORMAT_DESCRIPTION,
            "source": source,
            "status": r.status,
            "description": f"kvmverify: {p.name} {r.status} in model {ts.name}, {trace.length} step(s)",
            "kvmverify": kv,
        },
        "params": params,
        "vars": vars_,
        "states": states,
    }
    if trace.loop is not None:
        doc["loop"] = trace.loop
        # the step from the last state back to states[loop] (null: no action is enabled, the run stays there)
        kv["loop_action"] = action_meta(ts, trace.loop_action) if trace.loop_action is not None else None
    return doc


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
