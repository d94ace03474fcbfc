"""Property tests for the front end: precedence, constant evaluation, and no crash on arbitrary text."""
import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from kvmverify.check.exprs import const_eval
from kvmverify.diagnostics import DiagnosticError
from kvmverify.lang import ast
from kvmverify.lang.parser import parse

# loosest first; (precedence, associativity)
BINARY = {"->": (2, "right"), "||": (3, "left"), "&&": (4, "left"), "==": (5, "none"), "!=": (5, "none"),
          "<": (5, "none"), "<=": (5, "none"), ">": (5, "none"), ">=": (5, "none"), "|": (6, "left"),
          "^": (7, "left"), "&": (8, "left"), "<<": (9, "left"), ">>": (9, "left"), "+": (10, "left"),
          "-": (10, "left"), "*": (11, "left")}
UNARY_PREC, ATOM_PREC, TERNARY_PREC = 12, 13, 1


def trees(depth: int = 4):
    leaf = st.integers(0, 50).map(lambda v: ("int", v))
    return st.recursive(leaf, lambda sub: st.one_of(
        st.tuples(st.just("bin"), st.sampled_from(sorted(BINARY)), sub, sub),
        st.tuples(st.just("un"), st.sampled_from(["!", "-", "~"]), sub),
        st.tuples(st.just("ite"), sub, sub, sub),
    ), max_leaves=12)


def prec(t) -> int:
    return {"int": ATOM_PREC, "un": UNARY_PREC, "ite": TERNARY_PREC}.get(t[0]) or BINARY[t[1]][0]


def minimal(t) -> str:
    """Print with only the parentheses the grammar's precedence needs."""
    match t:
        case ("int", v):
            return str(v)
        case ("un", op, x):
            inner = minimal(x)
            return f"{op}{inner}" if prec(x) >= UNARY_PREC else f"{op}({inner})"
        case ("ite", c, a, b):
            cs = minimal(c) if prec(c) > TERNARY_PREC + 1 else f"({minimal(c)})"
            bs = minimal(b) if prec(b) >= TERNARY_PREC else f"({minimal(b)})"
            return f"{cs} ? {minimal(a)} : {bs}"
        case ("bin", op, l, r):
            p, assoc = BINARY[op]
            lok = prec(l) > p or (prec(l) == p and assoc == "left")
            rok = prec(r) > p or (prec(r) == p and assoc == "right")
            ls = minimal(l) if lok else f"({minimal(l)})"
            rs = minimal(r) if rok else f"({minimal(r)})"
            return f"{ls} {op} {rs}"


def full(t) -> str:
    match t:
        case ("int", v):
            return str(v)
        case ("un", op, x):
            return f"({op}{full(x)})"
        case ("ite", c, a, b):
            return f"({full(c)} ? {full(a)} : {full(b)})"
        case ("bin", op, l, r):
            return f"({full(l)} {op} {full(r)})"


def reference(t) -> int:
    match t:
        case ("int", v):
            return v
        case ("un", "!", x):
            return int(not reference(x))
        case ("un", "-", x):
            return -reference(x)
        case ("un", "~", x):
            return ~reference(x)
        case ("ite", c, a, b):
            return reference(a) if reference(c) else reference(b)
        case ("bin", op, l, r):
            a, b = reference(l), reference(r)
            if op in ("<<", ">>"):
                b = b % 8
            return {"->": lambda: int(not a or bool(b)), "||": lambda: int(bool(a) or bool(b)),
                    "&&": lambda: int(bool(a) and bool(b)), "==": lambda: int(a == b), "!=": lambda: int(a != b),
                    "<": lambda: int(a < b), "<=": lambda: int(a <= b), ">": lambda: int(a > b),
                    ">=": lambda: int(a >= b), "|": lambda: a | b, "^": lambda: a ^ b, "&": lambda: a & b,
                    "<<": lambda: a << b, ">>": lambda: a >> b, "+": lambda: a + b, "-": lambda: a - b,
                    "*": lambda: a * b}[op]()


def bounded_shifts(t):
    """Shift amounts stay small so that constants stay small: `x << (e % 8)` is written as `x << (e & 7)`."""
    match t:
        case ("bin", op, l, r) if op in ("<<", ">>"):
            return ("bin", op, bounded_shifts(l), ("bin", "&", bounded_shifts(r), ("int", 7)))
        case ("bin", op, l, r):
            return ("bin", op, bounded_shifts(l), bounded_shifts(r))
        case ("un", op, x):
            return ("un", op, bounded_shifts(x))
        case ("ite", c, a, b):
            return ("ite", bounded_shifts(c), bounded_shifts(a), bounded_shifts(b))
    return t


def strip(node):
    """An AST without spans, to compare structure."""
    if dataclasses.is_dataclass(node):
        return (type(node).__name__,) + tuple(strip(getattr(node, f.name)) for f in dataclasses.fields(node)
                                              if f.name != "span")
    if isinstance(node, tuple):
        return tuple(strip(x) for x in node)
    return node


def value_of(text: str):
    f = parse(f"param P = {text}\n", "t.kv")
    (decl,) = f.decls
    assert isinstance(decl, ast.ParamDecl)
    return decl.value


@settings(max_examples=300, deadline=None)
@given(trees())
def test_minimal_parentheses_parse_like_full_ones(t):
    t = bounded_shifts(t)
    assert strip(value_of(minimal(t))) == strip(value_of(full(t)))


@settings(max_examples=300, deadline=None)
@given(trees())
def test_constant_evaluation_matches_reference(t):
    t = bounded_shifts(t)
    ref = reference(("bin", "+", t, ("int", 0)))
    assert const_eval(value_of(minimal(t)), {}) == ref


TOKENS = ["model", "m", "var", "x", ":", "0", "..", "3", "=", "actor", "a", "{", "}", "action", "f", "(", ")",
          "when", "x", "<", ":=", "+", "1", "invariant", "i", "forall", "v", ".", "[", "]", "use", '"m.kv"',
          "slot", "*", "register", "R", "at", "@", "struct", "S", "size", "u32", "type", "T", "set", "of",
          "choose", "where", "write", "assert", "cover", "expect", "violated", "\n", "0x4b564d02", "true", "!"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_arbitrary_token_soup_gives_diagnostics_not_crashes(tokens):
    from kvmverify.check.checker import check
    from kvmverify.check.loader import Loaded
    from kvmverify.ir.lower import lower
    text = " ".join(tokens)
    try:
        f = parse(text, "soup.kv")
        lower(check(Loaded(f, (f,))))
    except DiagnosticError as e:
        assert e.diagnostics and all(d.code.startswith("KV") for d in e.diagnostics)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_gives_diagnostics_not_crashes(text):
    try:
        parse(text, "t.kv")
    except DiagnosticError as e:
        assert all(d.code.startswith("KV1") for d in e.diagnostics)
