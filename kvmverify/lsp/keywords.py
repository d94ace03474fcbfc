"""The language's keywords, read off the grammar (kvmverify/lang/grammar.lark) so that completion and the editor
grammars (editors/vscode/syntaxes/kv.tmLanguage.json, checked against this by tests/test_editors.py) cannot go
stale. No lsprotocol here: the editor tests run without the `lsp` extra."""
from __future__ import annotations

import functools
import re
from importlib import resources


@functools.cache
def grammar_keywords() -> frozenset[str]:
    """The quoted words of the grammar and the words of its keyword terminals (the regular expressions that end
    in a word boundary, e.g. `/(strong\\s+)?fair\\b/`)."""
    grammar = resources.files("kvmverify.lang").joinpath("grammar.lark").read_text(encoding="utf-8")
    grammar = re.sub(r"//[^\n]*", "", grammar)
    words = set(re.findall(r'"([a-z_]+)"', grammar))
    for regex in re.findall(r"^[A-Z_]+(?:\.\d+)?\s*:\s*/(.*)\\b/", grammar, re.M):
        words |= set(re.findall(r"[a-z_]{2,}", re.sub(r"\\[a-zA-Z]", "", regex)))
    return frozenset(words)
