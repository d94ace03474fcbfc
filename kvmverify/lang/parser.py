"""Text -> AST. The lark parse tree is turned into `ast` dataclasses here and goes no further."""
from __future__ import annotations

import dataclasses
import functools
import re
from importlib import resources

import lark
from lark import Token, Transformer, v_args

from ..diagnostics import Diagnostic, DiagnosticError, Span
from . import ast

MAX_INT_DIGITS = 80  # 2**256 has 78 decimal digits; anything longer is a typo, not a KVM constant


@functools.cache
def _lark() -> lark.Lark:
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text(encoding="utf-8")
    # cache=True keeps the LALR tables in the temp dir, keyed by a hash of grammar and options: building them
    # takes most of a small model's check time; lark only logs (and rebuilds) when the cache cannot be used
    return lark.Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True, cache=True)


def _span(file: str, meta_or_token) -> Span:
    m = meta_or_token
    if isinstance(m, Token):
        return Span(file, m.line or 0, m.column or 0, m.end_line or m.line or 0, m.end_column or m.column or 0)
    if getattr(m, "empty", True) and not hasattr(m, "line"):
        return Span(file, 0, 0, 0, 0)
    return Span(file, m.line, m.column, m.end_line, m.end_column)


class _IntTooLarge(Exception):
    def __init__(self, token: Token):
        self.token = token


def _int(tok: Token) -> int:
    text = str(tok).replace("_", "")
    if len(text) > MAX_INT_DIGITS:
        raise _IntTooLarge(tok)
    if text.startswith(("0x", "0X")):
        return int(text[2:] or "0", 16)
    if text.startswith(("0b", "0B")):
        return int(text[2:] or "0", 2)
    return int(text, 10)


def _stmts(block) -> tuple:
    return tuple(block) if block is not None else ()


@v_args(meta=True)
class _ToAst(Transformer):
    def __init__(self, file: str):
        super().__init__()
        self.file = file

    def s(self, meta) -> Span:
        return _span(self.file, meta)

    # --- expressions
    def int_lit(self, meta, c):
        return ast.IntLit(self.s(meta), _int(c[0]))

    def true_lit(self, meta, c):
        return ast.BoolLit(self.s(meta), True)

    def false_lit(self, meta, c):
        return ast.BoolLit(self.s(meta), False)

    def name(self, meta, c):
        return ast.Name(self.s(meta), str(c[0]))

    def index(self, meta, c):
        return ast.Index(self.s(meta), c[0], c[1])

    def field(self, meta, c):
        return ast.Field(self.s(meta), c[0], str(c[1]))

    def call(self, meta, c):
        return ast.Call(self.s(meta), str(c[0]), tuple(c[1] or ()))

    def args(self, meta, c):
        return list(c)

    def unary(self, meta, c):
        return ast.Unary(self.s(meta), str(c[0]), c[1])

    def binop(self, meta, c):
        return ast.Binary(self.s(meta), str(c[1]), c[0], c[2])

    def compare(self, meta, c):
        return ast.Binary(self.s(meta), str(c[1]), c[0], c[2])

    def _bin(op):  # noqa: N805 - a small factory for the fixed-operator rules
        def rule(self, meta, c):
            return ast.Binary(self.s(meta), op, c[0], c[1])
        return rule

    member = _bin("in")
    lor = _bin("||")
    land = _bin("&&")
    implies = _bin("->")
    bor = _bin("|")
    bxor = _bin("^")
    band = _bin("&")

    def leads_to(self, meta, c):
        return ast.LeadsTo(self.s(meta), c[0], c[2])

    def always_eventually(self, meta, c):
        return ast.AlwaysEventually(self.s(meta), c[2])

    def ternary(self, meta, c):
        return ast.Ternary(self.s(meta), c[0], c[1], c[2])

    def set_lit(self, meta, c):
        return ast.SetLit(self.s(meta), tuple(x for x in c if x is not None))

    def record_item(self, meta, c):
        return ast.RecordItem(self.s(meta), str(c[0]), c[1])

    def record_lit(self, meta, c):
        return ast.RecordLit(self.s(meta), tuple(c))

    def binder(self, meta, c):
        return ast.Binder(self.s(meta), str(c[0]), ast.Name(_span(self.file, c[1]), str(c[1])))

    def binders(self, meta, c):
        return tuple(c)

    def quant(self, meta, c):
        return ast.Quant(self.s(meta), str(c[0]), c[1], c[2])

    # --- types
    def set_type(self, meta, c):
        return ast.SetType(self.s(meta), c[0])

    def range_type(self, meta, c):
        return ast.RangeType(self.s(meta), c[0], c[1])

    def expr_type(self, meta, c):
        return ast.ExprType(self.s(meta), c[0])

    # --- statements
    def block(self, meta, c):
        return tuple(c)

    def assign(self, meta, c):
        return ast.Assign(self.s(meta), c[0], c[1])

    def if_stmt(self, meta, c):
        cond, then, rest = c
        if isinstance(rest, ast.If):
            rest = (rest,)
        return ast.If(self.s(meta), cond, _stmts(then), _stmts(rest))

    def assert_stmt(self, meta, c):
        name, cond, msg = c
        return ast.Assert(self.s(meta), str(name) if name is not None else None, cond,
                          str(msg)[1:-1] if msg is not None else None)

    def for_stmt(self, meta, c):
        return ast.For(self.s(meta), str(c[0]), c[1], _stmts(c[2]))

    def let_stmt(self, meta, c):
        return ast.Let(self.s(meta), str(c[0]), c[1])

    def choose_stmt(self, meta, c):
        return ast.Choose(self.s(meta), str(c[0]), c[1], c[2], _stmts(c[3]))

    def write_stmt(self, meta, c):
        return ast.Write(self.s(meta), str(c[0]), tuple(c[1] or ()))

    def skip_stmt(self, meta, c):
        return ast.Skip(self.s(meta))

    # --- declarations
    def model_decl(self, meta, c):
        return ast.ModelDecl(self.s(meta), str(c[0]))

    def use_decl(self, meta, c):
        return ast.UseDecl(self.s(meta), str(c[0])[1:-1])

    def param_decl(self, meta, c):
        return ast.ParamDecl(self.s(meta), str(c[0]), c[1])

    def override_decl(self, meta, c):
        return ast.OverrideDecl(self.s(meta), str(c[0]), c[1])

    def type_decl(self, meta, c):
        symmetric, name, typ = c
        return ast.TypeDecl(self.s(meta), str(name), typ, symmetric is not None)

    def requires(self, meta, c):
        return ("requires", str(c[0]))

    def must_be(self, meta, c):
        return ("must_be", _int(c[0]))

    def reg_field(self, meta, c):
        name, hi, lo, *attrs = c
        hi_v = _int(hi)
        lo_v = _int(lo) if lo is not None else hi_v
        requires = next((v for k, v in attrs if k == "requires"), None)
        must_be = next((v for k, v in attrs if k == "must_be"), None)
        return ast.RegField(self.s(meta), str(name), hi_v, lo_v, requires, must_be)

    def register_decl(self, meta, c):
        name, addr, width, *fields = c
        return ast.RegisterDecl(self.s(meta), str(name), _int(addr), _int(width), tuple(fields))

    def word_decl(self, meta, c):
        name, width, *fields = c
        return ast.WordDecl(self.s(meta), str(name), _int(width), tuple(fields))

    def struct_field(self, meta, c):
        name, ctype, count, offset = c
        return ast.StructField(self.s(meta), str(name), str(ctype), _int(count) if count is not None else None,
                               _int(offset))

    def struct_decl(self, meta, c):
        name, size, *fields = c
        return ast.StructDecl(self.s(meta), str(name), _int(size), tuple(fields))

    def var_index(self, meta, c):
        return c[0]

    def var_decl(self, meta, c):
        name, *rest = c
        *indices, typ, init = rest
        return ast.VarDecl(self.s(meta), str(name), tuple(indices), typ, init)

    def slot_any(self, meta, c):
        return "*"

    def slot_field(self, meta, c):
        return str(c[0])

    def slot_path(self, meta, c):
        return (str(c[0]), tuple(c[1:]))

    def slot_decl(self, meta, c):
        (var, path), empty, filler, emptier = c
        return ast.SlotDecl(self.s(meta), var, path, empty, str(filler), str(emptier),
                            _span(self.file, filler), _span(self.file, emptier))

    def param(self, meta, c):
        return ast.Param(self.s(meta), str(c[0]), c[1])

    def params(self, meta, c):
        return tuple(c)

    def action_decl(self, meta, c):
        fair, name, params, guard, body = c
        return ast.ActionDecl(self.s(meta), str(name), tuple(params or ()), guard, _stmts(body), fair is not None,
                              fair is not None and str(fair).startswith("strong"))

    def handler_decl(self, meta, c):
        reg, params, body = c
        return ast.HandlerDecl(self.s(meta), str(reg), tuple(params or ()), _stmts(body))

    def actor_decl(self, meta, c):
        name, *items = c
        return ast.ActorDecl(self.s(meta), str(name),
                             tuple(i for i in items if isinstance(i, ast.ActionDecl)),
                             tuple(i for i in items if isinstance(i, ast.HandlerDecl)),
                             tuple(dataclasses.replace(i, actor=str(name)) for i in items
                                   if isinstance(i, ast.ProcessDecl)))

    def def_decl(self, meta, c):
        return ast.DefDecl(self.s(meta), str(c[0]), tuple(c[1] or ()), c[2])

    def decide_decl(self, meta, c):
        name, params, outputs, *rules = c
        return ast.DecideDecl(self.s(meta), str(name), tuple(params or ()), outputs[0], outputs[1], tuple(rules))

    def single_output(self, meta, c):
        return (False, (ast.Param(self.s(meta), "", c[0]),))

    def tuple_outputs(self, meta, c):
        return (True, tuple(c))

    def rule(self, meta, c):
        return ast.Rule(self.s(meta), str(c[0]), c[1], c[2])

    def single_value(self, meta, c):
        return (c[0],)

    def tuple_value(self, meta, c):
        return tuple(c)

    def check_decl(self, meta, c):
        return ast.CheckDecl(self.s(meta), str(c[0]), c[1])

    def invariant_decl(self, meta, c):
        return ast.InvariantDecl(self.s(meta), str(c[0]), c[1])

    def liveness_decl(self, meta, c):
        return ast.LivenessDecl(self.s(meta), str(c[0]), c[1])

    def cover_decl(self, meta, c):
        return ast.CoverDecl(self.s(meta), str(c[0]), c[1])

    def expect_decl(self, meta, c):
        prop = str(c[1])
        if prop.startswith('"'):
            prop = prop[1:-1]
        return ast.ExpectDecl(self.s(meta), str(c[0]), prop)

    # --- observations (kvmverify conform)
    def observe_field(self, meta, c):
        return ast.ObserveField(self.s(meta), str(c[0]))

    def observe_fields(self, meta, c):
        return tuple(c)

    def observe_arg(self, meta, c):
        return ast.ObserveArg(self.s(meta), str(c[0]), c[1])

    def observe_args(self, meta, c):
        return tuple(c)

    def observe_decl(self, meta, c):
        event, fields, when, actor, action, args = c
        target = Span(self.file, actor.line, actor.column, action.end_line, action.end_column)
        return ast.ObserveDecl(self.s(meta), str(event), tuple(fields or ()), when, str(actor), str(action),
                               tuple(args or ()), target)

    # --- code-level constructs: processes, procedures, queues, options, transition properties
    def process_decl(self, meta, c):
        fair, name, params, body = c
        return ast.ProcessDecl(self.s(meta), str(name), tuple(params or ()), _stmts(body), fair is not None,
                               fair is not None and str(fair).startswith("strong"), str(name))

    def proc_decl(self, meta, c):
        name, params, body = c
        return ast.ProcDecl(self.s(meta), str(name), tuple(params or ()), _stmts(body))

    def transition_decl(self, meta, c):
        return ast.TransitionDecl(self.s(meta), str(c[0]), c[1])

    def terminal_decl(self, meta, c):
        return ast.TerminalDecl(self.s(meta), c[0])

    def while_stmt(self, meta, c):
        return ast.While(self.s(meta), c[0], _stmts(c[1]))

    def await_stmt(self, meta, c):
        return ast.Await(self.s(meta), c[0])

    def atomic_stmt(self, meta, c):
        return ast.Atomic(self.s(meta), _stmts(c[0]))

    def label_stmt(self, meta, c):
        return ast.Label(self.s(meta), str(c[0]))

    def call_stmt(self, meta, c):
        return ast.CallStmt(self.s(meta), str(c[0]), tuple(c[1] or ()))

    def queue_type(self, meta, c):
        return ast.QueueType(self.s(meta), c[0], c[1])

    def option_type(self, meta, c):
        return ast.OptionType(self.s(meta), c[0])

    def list_lit(self, meta, c):
        return ast.ListLit(self.s(meta), tuple(x for x in c if x is not None))

    def start(self, meta, c):
        return tuple(c)


# Friendlier names for the terminals lark reports as expected.
_TOKEN_NAMES = {
    "NAME": "a name", "INT": "an integer", "STRING": "a string", "LBRACE": "'{'", "RBRACE": "'}'",
    "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'", "COLON": "':'", "COMMA": "','",
    "SEMICOLON": "';'", "EQUAL": "'='", "DOT": "'.'", "$END": "end of file", "CMP_OP": "a comparison",
    "ADD_OP": "'+' or '-'", "MUL_OP": "'*', '/' or '%'", "UNARY_OP": "'!', '-' or '~'", "SHIFT_OP": "'<<' or '>>'",
    "QUANT": "'forall' or 'exists'", "VERDICT": "'violated', 'holds' or 'vacuous'", "FAIR": "'fair' or 'strong fair'", "SYMMETRIC": "'symmetric'",
    "LEADS_TO": "'leads_to'", "ALWAYS": "'always'", "EVENTUALLY": "'eventually'",
    "DERIVED_NAME": "a derived property name (msr:REG)", "MORETHAN": "'>'", "LESSTHAN": "'<'", "QMARK": "'?'", "STAR": "'*'",
}


def _describe_expected(expected: set[str]) -> str:
    names = set()
    for t in expected:
        if t in _TOKEN_NAMES:
            names.add(_TOKEN_NAMES[t])
            continue
        try:
            pattern = _lark().get_terminal(t).pattern
        except KeyError:
            names.add(t)
            continue
        names.add(f"'{pattern.value}'" if pattern.type == "str" else t.lower())
    listed = sorted(names)
    if len(listed) > 8:
        listed = listed[:8] + ["…"]
    return ", ".join(listed)


def _token_text(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    return repr(str(tok))


TOP_LEVEL = re.compile(r"^(model|use|param|override|type|register|word|struct|var|slot|actor|def|invariant|cover|"
                       r"expect|property|decide|check|observe|process|proc|transition|terminal|fair|strong)\b", re.M)


def chunks(text: str) -> list[str]:
    """The file cut before each line that starts (in column 1) with a declaration keyword, each chunk padded
    with the newlines before it so that line numbers stay those of the file."""
    starts = [m.start() for m in TOP_LEVEL.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    out = []
    for a, b in zip(starts, [*starts[1:], len(text)]):
        out.append("\n" * text.count("\n", 0, a) + text[a:b])
    return out


def _syntax_errors(text: str, file: str) -> list[Diagnostic]:
    """One diagnostic per broken declaration: errors after the first in a declaration are mostly its echoes."""
    diags = []
    for chunk in chunks(text):
        try:
            _lark().parse(chunk)
        except lark.exceptions.UnexpectedInput as e:
            diags.append(_syntax_diag(e, file))
    return diags


def parse(text: str, file: str) -> ast.File:
    """Parse one file. Raises DiagnosticError with the first syntax error of every broken declaration."""
    try:
        tree = _lark().parse(text)
    except lark.exceptions.UnexpectedInput as e:
        diags = _syntax_errors(text, file) or [_syntax_diag(e, file)]
        raise DiagnosticError(diags) from None
    try:
        decls = _ToAst(file).transform(tree)
    except lark.exceptions.VisitError as e:
        if isinstance(e.orig_exc, _IntTooLarge):
            tok = e.orig_exc.token
            raise DiagnosticError([Diagnostic(
                "KV104", "error", f"integer literal with {len(str(tok))} digits is too large", _span(file, tok),
                f"integer literals have at most {MAX_INT_DIGITS} digits")]) from None
        if isinstance(e.orig_exc, RecursionError):
            raise DiagnosticError([too_deep(file, text)]) from None
        raise
    except RecursionError:
        raise DiagnosticError([too_deep(file, text)]) from None
    return ast.File(file, decls)


def too_deep(file: str, text: str | None = None) -> Diagnostic:
    """KV105 at the deepest nesting of `text` (1:1 when it is not known)."""
    depth, line, col = deepest_nesting(text or "")
    where = f" ({depth} brackets deep here)" if depth else ""
    return Diagnostic("KV105", "error", f"the model nests expressions or statements too deeply{where}",
                      Span(file, line, col, line, col + 1),
                      "split deep expressions with `let` or `def`, deep `if`s into several actions")


_SKIP = re.compile(r'//[^\n]*|/\*.*?\*/|"[^"\n]*"', re.S)


def deepest_nesting(text: str) -> tuple[int, int, int]:
    """The greatest depth of ( [ { in `text` (comments and strings skipped), and the line and column where it is
    first reached; (0, 1, 1) for a text without brackets."""
    best, at, depth, line, col, i = 0, (1, 1), 0, 1, 1, 0
    while i < len(text):
        m = _SKIP.match(text, i)
        if m:
            chunk = m.group()
            newlines = chunk.count("\n")
            line, col = (line + newlines, len(chunk) - chunk.rfind("\n")) if newlines else (line, col + len(chunk))
            i = m.end()
            continue
        c = text[i]
        if c in "([{":
            depth += 1
            if depth > best:
                best, at = depth, (line, col)
        elif c in ")]}":
            depth = max(depth - 1, 0)
        if c == "\n":
            line, col = line + 1, 1
        else:
            col += 1
        i += 1
    return best, at[0], at[1]


def _syntax_diag(e: lark.exceptions.UnexpectedInput, file: str) -> Diagnostic:
    line, col = max(e.line, 1), max(e.column, 1)
    if isinstance(e, lark.exceptions.UnexpectedToken):
        tok = e.token
        expected = _describe_expected(set(e.expected) | set(getattr(e, "accepts", None) or ()))
        if tok.type == "$END":
            return Diagnostic("KV103", "error", "unexpected end of file", Span(file, line, col, line, col + 1),
                              f"expected {expected}")
        end = col + max(len(str(tok)), 1)
        hint = f"expected {expected}"
        if str(tok) == "@" and "AT" in e.expected:  # `register X @ 0x... : 64`: `@` places fields, `at` registers
            hint = "a register is placed with `at`: register NAME at 0x4b564d00 : 64 { ... }; `@` places its fields"
        return Diagnostic("KV101", "error", f"unexpected {_token_text(tok)}", Span(file, line, col, line, end), hint)
    if isinstance(e, lark.exceptions.UnexpectedCharacters):
        ch = e.char if hasattr(e, "char") else "?"
        if ch == "'":
            return Diagnostic("KV102", "error", "unexpected character \"'\": .kv has no primed (next-state) names",
                              Span(file, line, col, line, col + 1),
                              "invariants and properties are about one state; say 'later' with `P leads_to Q`")
        expected = _describe_expected(set(e.allowed or ()))
        return Diagnostic("KV102", "error", f"unexpected character {ch!r}", Span(file, line, col, line, col + 1),
                          f"expected {expected}" if expected else None)
    if isinstance(e, lark.exceptions.UnexpectedEOF):
        return Diagnostic("KV103", "error", "unexpected end of file", Span(file, line, col, line, col + 1),
                          f"expected {_describe_expected(set(e.expected))}")
    return Diagnostic("KV100", "error", str(e), Span(file, line, col, line, col + 1))  # pragma: no cover
