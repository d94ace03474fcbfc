"""A state as the model's author wrote it: the derived state variables of the code-level constructs mapped back.

The lowering stores a queue `q` as elements `q@0 ..` and a length `len(q)`, a process's program counter as an
enum variable named after the instance (`guest(0)`), an option as a number (-1 for `none`). Every output (text,
JSON, ITF, HTML, Mermaid, SARIF) shows them through this module: `q = [3, 1]`, `guest(0) = @wait`, `none`,
`some(2)`. A `View` is one such shown variable (one element of an array of queues is one view).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..check.types import NONE_VALUE, OptionT, show_value
from ..ir import nodes as ir


@dataclass(frozen=True)
class View:
    name: str  # done[0], guest(0), area[1]
    var: str  # the declared variable (the process, for a program counter)
    keys: tuple[str, ...]  # its index values as shown: ("0",); a program counter: the instance's arguments
    kind: str  # "plain" | "queue" | "pc"
    slots: tuple[int, ...]  # plain, pc: (the state variable,); queue: (its length, then its elements)


def index_keys(sv: ir.StateVar) -> tuple[str, ...]:
    """The index values of a state variable as shown in its name (for a queue element: without the position)."""
    match sv.role:
        case "queue":
            inner = sv.name[len(sv.var):sv.name.rfind("@")]
        case "qlen":
            inner = sv.name[len(sv.var) + 4:-1]
        case "pc":
            inner = sv.name[len(sv.var):]
            return tuple(x for x in inner[1:-1].split(", ") if x) if inner else ()
        case _:
            inner = sv.name[len(sv.var):]
    return tuple(re.findall(r"\[([^\]]*)\]", inner))


_CACHE: dict[int, tuple[ir.TransitionSystem, tuple[View, ...]]] = {}


def views(ts: ir.TransitionSystem) -> tuple[View, ...]:
    """The shown variables of the system, in the order of its state variables."""
    hit = _CACHE.get(id(ts))
    if hit is not None and hit[0] is ts:
        return hit[1]
    if len(_CACHE) > 64:
        _CACHE.clear()
    found = _views(ts)
    _CACHE[id(ts)] = (ts, found)
    return found


def _views(ts: ir.TransitionSystem) -> tuple[View, ...]:
    out: dict[tuple[str, tuple[str, ...], str], list[int]] = {}
    names: dict[tuple, str] = {}
    for i, sv in enumerate(ts.vars):
        keys = index_keys(sv)
        kind = "queue" if sv.role in ("queue", "qlen") else sv.role or "plain"
        key = (sv.var, keys, kind)
        slots = out.setdefault(key, [])
        if sv.role == "qlen":
            slots.insert(0, i)
        else:
            slots.append(i)
        if sv.role == "qlen":
            names[key] = sv.name[4:-1]
        elif sv.role != "queue":
            names.setdefault(key, sv.name)
    return tuple(View(names.get(k, k[0]), k[0], k[1], k[2], tuple(v)) for k, v in out.items())


def queue_items(ts: ir.TransitionSystem, v: View, state: tuple[int, ...]) -> list[int]:
    n = state[v.slots[0]]
    return [state[i] for i in v.slots[1:1 + n]]


def shown(ts: ir.TransitionSystem, v: View, state: tuple[int, ...]) -> str:
    """A queue, a program counter or a plain variable as text (registers: see trace/text.py's `decoded`)."""
    match v.kind:
        case "queue":
            elem = ts.vars[v.slots[1]].type
            return "[" + ", ".join(show_value(elem, x) for x in queue_items(ts, v, state)) + "]"
        case "pc":
            return "@" + show_value(ts.vars[v.slots[0]].type, state[v.slots[0]])
    sv = ts.vars[v.slots[0]]
    return show_value(sv.type, state[v.slots[0]])


def is_blank(ts: ir.TransitionSystem, v: View, state: tuple[int, ...]) -> bool:
    """Left out of a listing of the initial state: a plain variable at 0, an option at `none`, an empty queue (a
    program counter is always listed: where each process starts)."""
    x = state[v.slots[0]]
    if isinstance(ts.vars[v.slots[0]].type, OptionT) and v.kind == "plain":
        return x == NONE_VALUE  # some(0) is listed
    return v.kind != "pc" and x == 0
