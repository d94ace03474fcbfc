"""What the text says where the AST cannot: inside a declaration being typed (one that does not parse), the locals
bound before the cursor and the expression before a `.`, read from the text itself."""
from __future__ import annotations

import re

from ..diagnostics import DiagnosticError, Span
from ..lang import ast
from ..lang.parser import parse
from .syntax import FileSyntax, Symbol

MAX_CHAIN = 400  # characters of `a[i].b(c)` read back from a `.`
HEADER = re.compile(r"\b(?:action|def|decide)\s+[A-Za-z_]\w*\s*\(|\bon\s+write\s+([A-Za-z_]\w*)\s*\(")
BINDS = re.compile(r"\b(?:let\s+([A-Za-z_]\w*)\s*=|(?:choose|for)\s+([A-Za-z_]\w*)\s*:\s*([A-Za-z_]\w*)?)")
QUANT = re.compile(r"\b(?:forall|exists)\s+((?:[A-Za-z_]\w*\s*:\s*[A-Za-z_]\w*\s*,?\s*)+)\.")
PARAM = re.compile(r"([A-Za-z_]\w*)\s*(?::\s*([A-Za-z_]\w*))?")
COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/|\"[^\"\n]*\"", re.S)


def region(fs: FileSyntax, line: int) -> tuple[int, int] | None:
    """The (first, last) line of the broken declaration holding `line`."""
    return next(((a, b) for a, b in fs.broken if a <= line <= b), None)


def _blank(text: str) -> str:
    """Comments and strings replaced by spaces (offsets kept), so that nothing in them binds a name."""
    return COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)


def text_locals(fs: FileSyntax, line: int, col: int) -> dict[str, Symbol]:
    """The names the current item (action, handler, def, table) of a broken declaration binds before (line, col):
    its parameters, then `let`, `choose`, `for` and quantifier binders. Each is a symbol whose node carries the type
    written for it (as a plain name), enough for the fields of `value.` or `x.`."""
    span = region(fs, line)
    if span is None:
        return {}
    start = fs.text.offset(span[0], 1)
    text = _blank(fs.text.text[start:fs.text.offset(line, col)])
    headers = list(HEADER.finditer(text))
    out: dict[str, Symbol] = {}
    if headers:
        h = headers[-1]
        close = text.find(")", h.end())
        params = [m for m in PARAM.finditer(text, h.end(), close if close >= 0 else len(text))]
        for i, m in enumerate(params):
            value_of = h.group(1) if h.group(1) and m.group(2) is None and i == len(params) - 1 else None
            out[m.group(1)] = _local(fs, start + m.start(1), m.group(1), m.group(2), value_of)
        text_from = h.end()
    else:
        text_from = 0
    for m in BINDS.finditer(text, text_from):
        name = m.group(1) or m.group(2)
        at = m.start(1) if m.group(1) else m.start(2)
        out[name] = _local(fs, start + at, name, m.group(3), None)
    for m in QUANT.finditer(text, text_from):
        for p in PARAM.finditer(m.group(1)):
            out[p.group(1)] = _local(fs, start + m.start(1) + p.start(1), p.group(1), p.group(2), None)
    return out


def _local(fs: FileSyntax, offset: int, name: str, type_name: str | None, register: str | None) -> Symbol:
    line, col = fs.text.point(offset)
    span = Span(fs.path, line, col, line, col + len(name))
    typ = ast.ExprType(span, ast.Name(span, type_name)) if type_name else None
    return Symbol(name, "local", fs.path, span, span, "the declaration being typed", ast.Param(span, name, typ),
                  register=register, visible=span)


def chain_before(prefix: str) -> str | None:
    """The expression written just before the `.` that ends `prefix` (`area[0]` of `x := area[0].`)."""
    if not prefix.endswith("."):
        return None
    i = len(prefix) - 1
    stop = max(0, i - MAX_CHAIN)
    while i > stop:
        c = prefix[i - 1]
        if c.isalnum() or c == "_" or c == ".":
            i -= 1
        elif c in ")]":
            depth, j = 0, i - 1
            while j >= stop:
                if prefix[j] in ")]":
                    depth += 1
                elif prefix[j] in "([":
                    depth -= 1
                    if depth == 0:
                        break
                j -= 1
            if j < stop:
                return None
            i = j
        else:
            break
    chain = prefix[i:-1].strip()
    return chain if chain and (chain[0].isalpha() or chain[0] == "_") else None


def parse_expr(text: str) -> ast.Expr | None:
    """`text` as an expression (by the language's own parser), or None."""
    try:
        tree = parse(f"check __lsp_expr: {text}\n", "<completion>")
    except (DiagnosticError, RecursionError):
        return None
    decl = tree.decls[0] if len(tree.decls) == 1 else None
    return decl.expr if isinstance(decl, ast.CheckDecl) else None
