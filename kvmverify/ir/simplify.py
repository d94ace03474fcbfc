"""Smart constructors for IR expressions: constant folding and the reference semantics of every operator.

`apply_op` is the meaning of an `ir.Op`; the compiled explicit engine and the z3 encodings must agree with it.
"""
from __future__ import annotations

from ..check.types import c_div, c_mod
from . import nodes as ir

TRUE = ir.Const(1)
FALSE = ir.Const(0)
MAX_SHIFT = 4096


def const_value(e: ir.Expr) -> int | None:
    return e.value if isinstance(e, ir.Const) else None


def _wrap(v: int, width: int | None) -> int:
    return v & ((1 << width) - 1) if width is not None else v


def apply_op(op: str, args: tuple[int, ...], width: int | None) -> int:
    """The meaning of every operator. Values are mathematical integers; an operator with `width` (its result is a
    `uN` bit vector) takes its result modulo 2**width. Division is by a positive constant (the checker ensures it)
    and truncates as in C. A shift amount is never negative here (the checker, or the derived property
    `shift_ok`, stops the step first); shifting by `width` or more gives 0, as z3's bit-vector shifts do."""
    a = args[0]
    b = args[1] if len(args) > 1 else 0
    match op:
        case "add":
            return _wrap(a + b, width)
        case "sub":
            return _wrap(a - b, width)
        case "mul":
            return _wrap(a * b, width)
        case "div":
            return _wrap(c_div(a, b), width)
        case "mod":
            return _wrap(c_mod(a, b), width)
        case "shl":
            if b < 0:
                raise ValueError("negative shift amount")
            if width is not None and b >= width:
                return 0
            if b > MAX_SHIFT:  # an unbounded integer shifted this far: the checker allows amounts up to 64
                raise ValueError("shift amount too large")
            return _wrap(a << b, width)
        case "shr":
            if b < 0:
                raise ValueError("negative shift amount")
            return a >> b
        case "band":
            return _wrap(a & b, width)
        case "bor":
            return _wrap(a | b, width)
        case "bxor":
            return _wrap(a ^ b, width)
        case "neg":
            return _wrap(-a, width)
        case "bnot":
            return _wrap(~a, width)
        case "not":
            return int(not a)
        case "and":
            return int(all(args))
        case "or":
            return int(any(args))
        case "implies":
            return int(not a or bool(b))
        case "eq":
            return int(a == b)
        case "ne":
            return int(a != b)
        case "lt":
            return int(a < b)
        case "le":
            return int(a <= b)
        case "gt":
            return int(a > b)
        case "ge":
            return int(a >= b)
        case "ite":
            return args[1] if a else args[2]
        case "popcount":
            return bin(a).count("1")
    raise ValueError(f"unknown operator {op}")


def mk(op: str, *args: ir.Expr, width: int | None = None) -> ir.Expr:
    values = [const_value(a) for a in args]
    if all(v is not None for v in values):
        try:
            return ir.Const(apply_op(op, tuple(values), width))  # type: ignore[arg-type]
        except ValueError:  # a negative shift: left for `shift_ok` to stop, never evaluated
            return ir.Op(op, tuple(args), width)
    match op:
        case "and":
            return conj(args)
        case "or":
            return disj(args)
        case "not":
            return negate(args[0])
        case "implies":
            if values[0] == 0 or values[1] == 1:
                return TRUE
            if values[0] == 1:
                return args[1]
        case "ite":
            if values[0] is not None:
                return args[1] if values[0] else args[2]
            if args[1] == args[2]:
                return args[1]
    return ir.Op(op, tuple(args), width)


def operands(e: ir.Expr, op: str) -> list[ir.Expr]:
    """The operands of a nest of `op` ("and": conjuncts, "or": disjuncts); [e] if e is not one."""
    if isinstance(e, ir.Op) and e.op == op:
        return [x for a in e.args for x in operands(a, op)]
    return [e]


def conj(parts) -> ir.Expr:
    out = []
    for p in parts:
        v = const_value(p)
        if v == 0:
            return FALSE
        if v is None:
            out.extend(p.args if isinstance(p, ir.Op) and p.op == "and" else [p])
    if not out:
        return TRUE
    return out[0] if len(out) == 1 else ir.Op("and", tuple(out))


def disj(parts) -> ir.Expr:
    out = []
    for p in parts:
        v = const_value(p)
        if v is not None and v != 0:
            return TRUE
        if v is None:
            out.extend(p.args if isinstance(p, ir.Op) and p.op == "or" else [p])
    if not out:
        return FALSE
    return out[0] if len(out) == 1 else ir.Op("or", tuple(out))


def negate(e: ir.Expr) -> ir.Expr:
    v = const_value(e)
    if v is not None:
        return ir.Const(int(not v))
    if isinstance(e, ir.Op) and e.op == "not":
        return e.args[0]
    return ir.Op("not", (e,))


def evaluate(e: ir.Expr, state: tuple[int, ...], env: dict[str, int] | None = None) -> int:
    """The value of an expression, by the reference semantics (slow; for tests and trace replay)."""
    match e:
        case ir.Const(v):
            return v
        case ir.Var(i):
            return state[i]
        case ir.Local(name):
            return (env or {})[name]
        case ir.Op(op, args, width):
            if op == "and":  # short-circuit like the compiled code, so that no operand is evaluated in vain
                return int(all(evaluate(a, state, env) for a in args))
            if op == "or":
                return int(any(evaluate(a, state, env) for a in args))
            return apply_op(op, tuple(evaluate(a, state, env) for a in args), width)
        case ir.Extract(arg, lo, width):
            return (evaluate(arg, state, env) >> lo) & ((1 << width) - 1)
        case ir.Insert(base, lo, width, value):
            mask = ((1 << width) - 1) << lo
            return (evaluate(base, state, env) & ~mask) | ((evaluate(value, state, env) << lo) & mask)
        case ir.Select(options, index, base):
            return evaluate(options[evaluate(index, state, env) - base], state, env)
    raise TypeError(f"not an IR expression: {e!r}")


def vars_read(e: ir.Expr) -> list[int]:
    """The state variables an expression reads, in first-read order."""
    out: dict[int, None] = {}

    def walk(x: ir.Expr) -> None:
        match x:
            case ir.Var(i):
                out[i] = None
            case ir.Op(_, args, _):
                for a in args:
                    walk(a)
            case ir.Extract(arg, _, _):
                walk(arg)
            case ir.Insert(base, _, _, value):
                walk(base)
                walk(value)
            case ir.Select(options, index, _):
                walk(index)
                for o in options:
                    walk(o)
    walk(e)
    return list(out)


def false_conjuncts(e: ir.Expr, state: tuple[int, ...]) -> list[ir.Expr]:
    """The parts of a (possibly quantifier-expanded) conjunction that are false in `state`."""
    parts = e.args if isinstance(e, ir.Op) and e.op == "and" else (e,)
    return [p for p in parts if not evaluate(p, state)]


def shift_definedness(e: ir.Expr, risky: set) -> ir.Expr:
    """When evaluating `e` shifts by no negative amount: the condition, over the state, that the derived
    property `shift_ok` checks before a statement runs. `risky` holds the amounts whose types admit negative
    values (the shifts a set operation builds never do). Evaluation order is the engines': `&&`, `||`, `->`
    and `?:` evaluate an operand only when the ones before it let them, so an amount they skip does not count."""
    match e:
        case ir.Const() | ir.Var() | ir.Local():
            return TRUE
        case ir.Op("and" | "or" | "implies" as op, args, _):
            out, before = [], []
            for a in args:
                d = shift_definedness(a, risky)
                if before:
                    guard = conj(before) if op != "or" else conj([negate(b) for b in before])
                    d = mk("implies", guard, d) if op != "implies" else mk("implies", before[0], d)
                out.append(d)
                before.append(a)
            return conj(out)
        case ir.Op("ite", (c, a, b), _):
            return conj([shift_definedness(c, risky), mk("ite", c, shift_definedness(a, risky), shift_definedness(b, risky))])
        case ir.Op("shl" | "shr", (a, n), _):
            here = mk("ge", n, ir.Const(0)) if n in risky else TRUE
            return conj([shift_definedness(a, risky), shift_definedness(n, risky), here])
        case ir.Op(_, args, _):
            return conj([shift_definedness(a, risky) for a in args])
        case ir.Extract(arg, _, _):
            return shift_definedness(arg, risky)
        case ir.Insert(base, _, _, value):
            return conj([shift_definedness(base, risky), shift_definedness(value, risky)])
        case ir.Select(options, index, base):
            inner = [shift_definedness(o, risky) for o in options]
            chosen = TRUE if all(d == TRUE for d in inner) else ir.Select(tuple(inner), index, base)
            return conj([shift_definedness(index, risky), chosen])
    raise TypeError(f"not an IR expression: {e!r}")
