"""The editor files (editors/vscode/): valid JSON that points at files that exist, and a TextMate grammar whose
keywords are exactly the language's (read off kvmverify/lang/grammar.lark), so that it cannot go stale when the
grammar grows. The grammar is also run, by a small TextMate matcher (first match wins, earliest position first, as
the real engines do; the patterns use only what Python's re and Oniguruma read alike), on a model."""
import json
import re

import pytest

from conftest import ROOT

from kvmverify.lsp.keywords import grammar_keywords

VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = json.loads((VSCODE / "syntaxes" / "kv.tmLanguage.json").read_text(encoding="utf-8"))
KEYWORD_SCOPES = ("keyword.", "storage.", "constant.language.")


def test_the_extension_files_are_valid_and_point_at_each_other():
    package = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    config = json.loads((VSCODE / "language-configuration.json").read_text(encoding="utf-8"))
    (language,) = package["contributes"]["languages"]
    (grammar,) = package["contributes"]["grammars"]
    assert language["extensions"] == [".kv"] and grammar["language"] == language["id"]
    assert grammar["scopeName"] == GRAMMAR["scopeName"] == "source.kv"
    for rel in (language["configuration"], grammar["path"], package["main"]):
        assert (VSCODE / rel).is_file(), rel
    assert config["comments"] == {"lineComment": "//", "blockComment": ["/*", "*/"]}
    assert [["{", "}"], ["[", "]"], ["(", ")"]] == config["brackets"]
    assert package["contributes"]["configuration"]["properties"]["kvmverify.server.command"]["default"] == \
        ["kvmverify", "lsp"]
    assert "kvmverify.check" in (VSCODE / "extension.js").read_text(encoding="utf-8")


def test_grammar_keywords_are_read_off_the_lark_grammar():
    words = grammar_keywords()
    assert {"model", "register", "must_be", "leads_to", "strong", "fair", "violated", "symmetric", "forall"} <= words
    assert not words & {"NAME", "common", "bool", "u64", "b", "s"}


def test_the_textmate_keywords_are_the_language_keywords():
    listed = set()
    for pattern in GRAMMAR["repository"]["keywords"]["patterns"]:
        assert pattern["name"].startswith(KEYWORD_SCOPES), pattern["name"]
        body = re.fullmatch(r"\\b\(([a-z_|]+)\)\\b", pattern["match"])
        assert body, pattern["match"]
        listed |= set(body.group(1).split("|"))
    assert listed == grammar_keywords()
    for pattern in GRAMMAR["repository"]["declarations"]["patterns"]:  # these win over #keywords: no others
        words = re.match(r"\\b\(([a-z_|]+)\)", pattern["match"])
        assert words is None or set(words.group(1).split("|")) <= grammar_keywords()


# ---------------------------------------------------------------------------------------------- a TextMate matcher


def _patterns(items):
    for p in items:
        if "include" in p:
            yield from _patterns(GRAMMAR["repository"][p["include"][1:]]["patterns"])
        else:
            yield p


PATTERNS = [(re.compile(p.get("match") or p["begin"]), p) for p in _patterns(GRAMMAR["patterns"])]


def tokenize(text: str) -> list[tuple[str, str]]:
    """(text, scope) for every scoped piece of `text`; unscoped text is left out."""
    out, in_block = [], None
    for line in text.split("\n"):
        pos = 0
        while pos < len(line):
            if in_block is not None:
                end = re.compile(in_block["end"]).search(line, pos)
                stop = end.end() if end else len(line)
                out.append((line[pos:stop], in_block["name"]))
                pos = stop
                in_block = None if end else in_block
                continue
            found = [(m.start(), i, m, p) for i, (rx, p) in enumerate(PATTERNS) if (m := rx.search(line, pos))]
            if not found:
                break
            _, _, m, p = min(found, key=lambda f: (f[0], f[1]))
            if "begin" in p:
                in_block, pos = p, m.start()
                continue
            if "captures" in p:
                out.extend((m.group(int(k)), c["name"]) for k, c in p["captures"].items() if m.group(int(k)))
            else:
                out.append((m.group(), p["name"]))
            pos = max(m.end(), pos + 1)
    return out


@pytest.mark.parametrize("keyword", sorted(grammar_keywords()))
def test_every_keyword_is_highlighted_as_one_and_only_as_a_whole_word(keyword):
    assert tokenize(keyword)[0] == (keyword, tokenize(keyword)[0][1])
    assert tokenize(keyword)[0][1].startswith(KEYWORD_SCOPES)
    assert not any(s.startswith(KEYWORD_SCOPES) for _, s in tokenize(f"{keyword}x x{keyword} {keyword}_1"))


def test_a_model_is_highlighted_as_the_language_reads_it():
    scopes = tokenize(
        'register R at 0x4b564d02 : 64 { enabled @ 0 requires F }\n'
        '/* a block comment: action var\n   still */ var en[Vcpu] : R = 0 // the register, an action\n'
        'strong fair action sti(v: Vcpu) when en[v].enabled == 1 && "//" != "" { x := 0b1_0 }\n'
        'property p: forall v: Vcpu. live[v] leads_to card(s) == 0\n')
    assert ("register", "storage.type.kv") in scopes and ("R", "entity.name.type.kv") in scopes
    assert ("at", "keyword.other.kv") in scopes and ("0x4b564d02", "constant.numeric.kv") in scopes
    assert ("enabled", "variable.other.member.declaration.kv") in scopes
    assert ("/* a block comment: action var", "comment.block.kv") in scopes
    assert ("   still */", "comment.block.kv") in scopes
    assert ("en", "variable.other.declaration.kv") in scopes
    assert ("// the register, an action", "comment.line.double-slash.kv") in scopes
    assert [t for t, s in scopes if t == "action"] == ["action"]  # not the ones in the comments
    assert ("strong", "storage.modifier.kv") in scopes and ("sti", "entity.name.function.kv") in scopes
    assert ("enabled", "variable.other.member.kv") in scopes and ('"//"', "string.quoted.double.kv") in scopes
    assert ("0b1_0", "constant.numeric.kv") in scopes and (":=", "keyword.operator.assignment.kv") in scopes
    assert ("leads_to", "keyword.other.temporal.kv") in scopes and ("card", "support.function.kv") in scopes


def test_a_shipped_spec_is_highlighted_field_by_field():
    scopes = tokenize((ROOT / "spec" / "msr.kv").read_text(encoding="utf-8"))
    fields = [t for t, s in scopes if s == "variable.other.member.declaration.kv"]
    assert fields == ["enabled", "send_always", "delivery_vmexit", "delivery_int", "reserved", "gpa", "vector",
                      "reserved", "ack", "ignored", "flags", "token", "pad", "enabled"]
    assert [t for t, s in scopes if s == "entity.name.type.kv"] == ["MSR_KVM_ASYNC_PF_EN", "MSR_KVM_ASYNC_PF_INT",
                                                                    "MSR_KVM_ASYNC_PF_ACK", "kvm_vcpu_pv_apf_data"]
    assert ("u32", "support.type.kv") in scopes and ("must_be", "keyword.other.kv") in scopes
