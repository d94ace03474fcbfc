"""Positions and paths. kvmverify spans count lines and columns from 1, columns in code points (as lark does); LSP
counts both from 0, columns in the code units of the encoding the client and server agreed on (UTF-16 unless the
client offers another): a column after an emoji or any character beyond the BMP differs between the two."""
from __future__ import annotations

import bisect
import os
import re
from typing import Callable
from urllib.parse import quote, unquote, urlparse

from lsprotocol import types as lsp

from ..diagnostics import Span

UNITS: dict[str, Callable[[str], int]] = {
    "utf-8": lambda s: len(s.encode("utf-8", "surrogatepass")),
    "utf-16": lambda s: len(s.encode("utf-16-le", "surrogatepass")) // 2,
    "utf-32": len,
}
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Text:
    """A file's text, its lines split on "\\n" only (lark's line count; "\\r" is part of a line's last column)."""

    def __init__(self, text: str):
        self.text = text
        self.lines = text.split("\n")
        self.starts = [0]
        for line in self.lines[:-1]:
            self.starts.append(self.starts[-1] + len(line) + 1)

    def offset(self, line: int, col: int) -> int:
        """The offset of 1-based (line, col), clamped into the text."""
        line = min(max(line, 1), len(self.lines))
        return self.starts[line - 1] + min(max(col, 1) - 1, len(self.lines[line - 1]))

    def point(self, offset: int) -> tuple[int, int]:
        """The 1-based (line, col) of an offset."""
        offset = min(max(offset, 0), len(self.text))
        i = bisect.bisect_right(self.starts, offset) - 1
        return i + 1, offset - self.starts[i] + 1

    def slice(self, span: Span) -> str:
        return self.text[self.offset(span.line, span.col):self.offset(span.end_line, span.end_col)]

    def position(self, line: int, col: int, encoding: str = "utf-16") -> lsp.Position:
        """1-based (line, code point col) -> an LSP position, clamped into the text."""
        line = min(max(line, 1), len(self.lines))
        text = self.lines[line - 1]
        return lsp.Position(line - 1, UNITS.get(encoding, UNITS["utf-16"])(text[:max(col, 1) - 1]))

    def range(self, span: Span, encoding: str = "utf-16") -> lsp.Range:
        start = self.position(span.line, span.col, encoding)
        end = self.position(span.end_line, span.end_col, encoding)
        if (end.line, end.character) < (start.line, start.character):
            end = start
        return lsp.Range(start, end)

    def from_position(self, pos: lsp.Position, encoding: str = "utf-16") -> tuple[int, int]:
        """An LSP position -> 1-based (line, code point col), clamped into the text."""
        line = min(max(pos.line, 0), len(self.lines) - 1)
        text = self.lines[line]
        count = UNITS.get(encoding, UNITS["utf-16"])
        if encoding == "utf-32":
            return line + 1, min(max(pos.character, 0), len(text)) + 1
        units = col = 0
        while col < len(text) and units < pos.character:
            units += count(text[col])
            col += 1
        return line + 1, col + 1

    def word_at(self, line: int, col: int) -> tuple[str, int, int] | None:
        """The identifier at or just before 1-based (line, col): (word, first col, col after it)."""
        if not 1 <= line <= len(self.lines):
            return None
        text = self.lines[line - 1]
        for m in WORD.finditer(text):
            if m.start() + 1 <= col <= m.end() + 1:
                return m.group(), m.start() + 1, m.end() + 1
        return None


def contains(span: Span, line: int, col: int, end_inclusive: bool = True) -> bool:
    end = (span.end_line, span.end_col)
    return (span.line, span.col) <= (line, col) and ((line, col) <= end if end_inclusive else (line, col) < end)


def uri_to_path(uri: str) -> str:
    """The real path of a file: URI; other schemes (an editor's untitled buffer) get a path of their own below the
    working directory, so that `use` paths in them resolve from there and no file on disk is read for them."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        path = unquote(parsed.path)
        if os.name == "nt" and re.match(r"^/[A-Za-z]:", path):  # pragma: no cover - file:///C:/x
            path = path[1:]
        return os.path.realpath(path)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", parsed.path or uri).strip("_") or "untitled"
    return os.path.join(os.path.realpath(os.getcwd()), f".{parsed.scheme or 'buffer'}", name)


def path_to_uri(path: str) -> str:
    return "file://" + quote(os.path.abspath(path))
