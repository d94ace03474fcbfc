"""`kvmverify lsp`, driven over stdio like an editor drives it (tests/lsp_support.py: JSON-RPC in plain JSON):
initialize, open documents, and what comes back (diagnostics with their codes, ranges in UTF-16 columns, hints and
related locations; hover; definition and references across `use`; completion; symbols; the check action)."""
import re
import sys

import pytest

pytest.importorskip("pygls")

from conftest import ROOT, run_cli  # noqa: E402
from lsp_support import LspClient, position_of, uri  # noqa: E402

APF = ROOT / "models" / "apf_int.kv"
MSR = ROOT / "spec" / "msr.kv"
APF_TEXT = APF.read_text(encoding="utf-8")
MSR_TEXT = MSR.read_text(encoding="utf-8")

COUNTER = """\
model counter
var x: 0 .. 3 = 0
actor a {
    action inc() when x < 3 { x := x + 1 }
}
invariant small: x < 2
cover three: x == 3
"""


@pytest.fixture(scope="module")
def server():
    c = LspClient()
    yield c
    c.close()


@pytest.fixture
def client(server):
    """The module's server, with no document open when a test starts."""
    yield server
    server.close_documents()


def compiled(client, path, text=None, version=1):
    """Open `path` and wait for its first compile: the hovers that show types need it."""
    u = client.open(path, text, version)
    client.diagnostics(u, version=version)
    return u


def rng(sl, sc, el, ec):
    return {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}}


def test_initialize_announces_every_feature(client):
    caps = client.initialized["capabilities"]
    assert caps["positionEncoding"] == "utf-16"
    assert caps["textDocumentSync"]["change"] == 2  # incremental
    assert caps["completionProvider"]["triggerCharacters"] == ["."]
    for feature in ("hoverProvider", "definitionProvider", "referencesProvider", "documentSymbolProvider"):
        assert caps[feature] is True
    assert caps["codeActionProvider"]["codeActionKinds"] == ["source"]
    assert caps["executeCommandProvider"]["commands"] == ["kvmverify.check"]
    assert client.initialized["serverInfo"]["name"] == "kvmverify"


def test_a_broken_model_gets_every_syntax_error_with_its_range(client, tmp_path):
    path = tmp_path / "broken.kv"
    path.write_text("model broken\n"
                    "var x: bool = \n"  # the value is missing: the declaration ends there
                    "var y: bool = false\n"
                    "invariant ok: x &&\n")  # so does this one
    u = client.open(path)
    diags = client.diagnostics(u)
    assert [(d["code"], d["range"], d["severity"]) for d in diags] == [
        ("KV103", rng(1, 12, 1, 13), 1), ("KV103", rng(3, 16, 3, 17), 1)]
    assert diags[0]["message"].startswith("unexpected end of file\nhint: expected '!', '-' or '~', '(', ")
    assert all(d["source"] == "kvmverify" for d in diags)
    _, _, err = run_cli("check", str(path))  # the same places `kvmverify check` reports (1-based, ASCII)
    shown = re.findall(r":(\d+):(\d+): error\[(KV\d+)\]", err)
    assert [(c, int(line) - 1, int(col) - 1) for line, col, c in shown] == \
        [(d["code"], d["range"]["start"]["line"], d["range"]["start"]["character"]) for d in diags]


def test_columns_are_utf16_and_hints_and_related_sites_are_given(client, tmp_path):
    text = ("model names\n"
            "var flag: bool = false\n"
            "/* 😀 */ invariant a: flg\n"  # KV201 after an emoji: 2 UTF-16 units, 1 code point
            "var flag: bool = true\n")  # KV202, whose message cites the first declaration
    u = client.open(tmp_path / "names.kv", text)
    diags = {d["code"]: d for d in client.diagnostics(u)}
    assert diags["KV201"]["range"] == rng(2, 22, 2, 25)
    assert diags["KV201"]["message"] == "unknown name 'flg'\nhint: did you mean 'flag'?"
    assert diags["KV202"]["range"] == rng(3, 0, 3, 21)
    (cited,) = diags["KV202"]["relatedInformation"]
    assert cited["location"] == {"uri": u, "range": rng(1, 0, 1, 3)}


def test_a_problem_in_a_used_file_sits_on_the_use_with_its_real_site_related(client):
    u = client.open(APF)
    (d,) = client.diagnostics(u)
    line, col = position_of(APF_TEXT, '"../spec/msr.kv"')
    assert (d["code"], d["severity"], d["range"]) == ("KV406", 2, rng(line, col, line, col + 16))
    assert d["message"].startswith("spec/msr.kv:41:5: struct kvm_vcpu_pv_apf_data is 68 bytes")
    assert d["relatedInformation"][0]["location"] == {"uri": uri(MSR), "range": rng(40, 4, 40, 25)}


def test_hover_on_a_register_decodes_it_field_by_field(client):
    u = compiled(client, APF)
    line, col = position_of(APF_TEXT, "MSR_KVM_ASYNC_PF_EN", 1)  # the type of `var en`
    hover = client.at("textDocument/hover", u, line, col + 3)
    assert hover["range"] == rng(line, col, line, col + len("MSR_KVM_ASYNC_PF_EN"))
    shown = hover["contents"]["value"].splitlines()
    assert shown[:3] == ["```kv", "register MSR_KVM_ASYNC_PF_EN at 0x4b564d02 : 64", "```"]
    assert '// 004:159 "MSR_KVM_ASYNC_PF_EN: 0x4b564d02"' in shown
    assert "| 0 | `enabled` |  | 004:173 \"Bit 0 is set to 1 when asynchronous page faults are enabled\" |" in shown
    assert ("| 3 | `delivery_int` | requires KVM_FEATURE_ASYNC_PF_INT | 004:178-179 \"Bit 3 enables interrupt based "
            "delivery of 'page ready' events\" |") in shown
    assert ("| 5..4 | `reserved` | must_be 0 | 004:173 \"Bits 5-4 of the MSR are reserved and should be zero\" |"
            in shown)
    assert shown[-1] == "*register*, spec/msr.kv:12"


def test_processes_and_procedures_are_symbols_with_hover_definition_and_references(client):
    path = ROOT / "models" / "apf_queue.kv"
    text = path.read_text(encoding="utf-8")
    u = compiled(client, path)
    symbols = client.request("textDocument/documentSymbol", {"textDocument": {"uri": u}})
    guest = next(s for s in symbols if s["name"] == "guest")
    assert [c["name"] for c in guest["children"]] == ["irq", "boot", "task"]
    assert [c["name"] for c in next(s for s in symbols if s["name"] == "kvm_async_pf_task_wait_schedule")
            ["children"]] == ["sleep"]
    line, col = position_of(text, "kvm_async_pf_task_wake(token)\n")  # the call in process irq
    hover = client.at("textDocument/hover", u, line, col + 4)["contents"]["value"].splitlines()
    assert hover[:2] == ["```kv", "proc kvm_async_pf_task_wake(token: u32) {"]
    assert hover[-1] == "*proc*, models/apf_queue.kv:187"
    decl = position_of(text, "kvm_async_pf_task_wake(token: u32)")
    target = rng(decl[0], decl[1], decl[0], decl[1] + len("kvm_async_pf_task_wake"))
    assert client.at("textDocument/definition", u, line, col + 4) == [{"uri": uri(path), "range": target}]
    refs = client.at("textDocument/references", u, *decl, context={"includeDeclaration": True})
    assert [r["range"]["start"]["line"] for r in refs] == [decl[0], line]


def test_hover_on_a_struct_field_and_a_def(client):
    u = compiled(client, APF)
    line, col = position_of(APF_TEXT, "area[v].token", 0, len("area[v]."))
    shown = client.at("textDocument/hover", u, line, col)["contents"]["value"]
    assert shown.startswith("`token`: bytes 4..7 (u32, bits 63..32) of struct `kvm_vcpu_pv_apf_data`")
    line, col = position_of(APF_TEXT, "apf_on(v) &&")
    shown = client.at("textDocument/hover", u, line, col)["contents"]["value"]
    assert "def apf_on(v: Vcpu) = en[v].enabled == 1 && en[v].delivery_int == 1" in shown
    assert "`apf_on(v: Vcpu)` returns `bool`" in shown


def test_an_observe_declaration_has_hover_definition_references_and_a_symbol(client):
    u = compiled(client, APF)
    decl = "observe kvm_async_pf_ready(token, pid) when token != WAKE_ALL => host.page_ready(v: id(pid), t: id(token))"
    line, col = position_of(APF_TEXT, decl, 0, len("observe "))
    hover = client.at("textDocument/hover", u, line, col + 3)
    assert hover["range"] == rng(line, col, line, col + len("kvm_async_pf_ready"))
    shown = hover["contents"]["value"].splitlines()
    assert shown[:3] == ["```kv", decl, "```"]
    assert ("tracepoint `kvm_async_pf_ready`: `token %#llx gva %#llx` (include/trace/events/kvm.h); fields `token`, "
            "`gva` and every line's `cpu`, `pid`") in shown
    assert "only when `token != WAKE_ALL`; an event of which no declaration's condition holds is counted and " \
           "ignored" in shown
    assert ("maps to `host: strong fair action page_ready(v: Vcpu, t: Token) when life[v][t] == Completed && "
            "raise_ready_irq_ok(v)`") in shown
    assert ("| `t` | `Token = 1..2` | `id(token)`: an identifier in the log, bound to a `Token` value at its first "
            "appearance and free again after its last |") in shown
    assert "other declarations of `kvm_async_pf_ready` (alternatives): models/apf_int.kv:238 " \
           "(host.page_ready_wakeall)" in shown
    assert shown[-1] == "*observe*, models/apf_int.kv:237"
    # the event's references: every declaration observing it; the action and its parameter lead to the actor
    refs = client.at("textDocument/references", u, line, col, context={"includeDeclaration": True})
    assert [r["range"]["start"]["line"] for r in refs] == [line, line + 1]
    action = position_of(APF_TEXT, decl, 0, decl.index("page_ready("))
    target = position_of(APF_TEXT, "action page_ready(v: Vcpu", 0, len("action "))
    assert client.at("textDocument/definition", u, *action) == [
        {"uri": uri(APF), "range": rng(target[0], target[1], target[0], target[1] + len("page_ready"))}]
    refs = client.at("textDocument/references", u, *target, context={"includeDeclaration": False})
    assert [(r["range"]["start"]["line"], r["range"]["start"]["character"]) for r in refs] == [action]
    param = position_of(APF_TEXT, decl, 0, decl.index("t: id"))
    assert client.at("textDocument/definition", u, *param)[0]["range"]["start"] == {
        "line": target[0], "character": APF_TEXT.splitlines()[target[0]].index("t: Token")}
    # the event's fields are its locals
    field = position_of(APF_TEXT, decl, 0, decl.index("token !="))
    assert client.at("textDocument/hover", u, *field)["contents"]["value"].startswith(
        "event field `token`: `u64` — in observe kvm_async_pf_ready")
    refs = client.at("textDocument/references", u, *field, context={"includeDeclaration": True})
    assert [r["range"]["start"]["character"] for r in refs] == [decl.index(w) for w in ("token,", "token !=",
                                                                                         "token))")]
    symbols = client.request("textDocument/documentSymbol", {"textDocument": {"uri": u}})
    observed = [(s["name"], s["detail"]) for s in symbols if s["kind"] == 24]  # Event
    assert observed[-2:] == [("kvm_async_pf_ready", "observe => host.page_ready"),
                             ("kvm_async_pf_ready", "observe => host.page_ready_wakeall")] and len(observed) == 7


def test_definition_and_references_cross_the_use(client):
    u = compiled(client, APF)
    line, col = position_of(APF_TEXT, "MSR_KVM_ASYNC_PF_EN", 1)
    assert client.at("textDocument/definition", u, line, col) == [{"uri": uri(MSR), "range": rng(11, 9, 11, 28)}]
    line, col = position_of(APF_TEXT, "en[v].enabled", 0, len("en[v]."))
    assert client.at("textDocument/definition", u, line, col) == [{"uri": uri(MSR), "range": rng(12, 4, 12, 11)}]
    line, col = position_of(APF_TEXT, '"../spec/msr.kv"', 0, 3)
    assert client.at("textDocument/definition", u, line, col) == [{"uri": uri(MSR), "range": rng(0, 0, 0, 0)}]
    refs = client.at("textDocument/references", u, *position_of(APF_TEXT, "MSR_KVM_ASYNC_PF_EN", 1),
                     context={"includeDeclaration": True})
    in_apf = sorted((r["range"]["start"]["line"], r["range"]["start"]["character"]) for r in refs if r["uri"] == u)
    code = [n for n, line in enumerate(APF_TEXT.splitlines()) if "MSR_KVM_ASYNC_PF_EN" in line.split("//")[0]]
    assert in_apf == [position_of(APF_TEXT, "MSR_KVM_ASYNC_PF_EN", i) for i in range(6)
                      if position_of(APF_TEXT, "MSR_KVM_ASYNC_PF_EN", i)[0] in code]
    assert len(in_apf) == 4  # var en, on write, enable, disable; not the two in comments
    assert {"uri": uri(MSR), "range": rng(11, 9, 11, 28)} in refs


def test_a_record_field_and_a_local_resolve(client):
    u = compiled(client, APF)
    line, col = position_of(APF_TEXT, "{vector: APF_VECTOR}", 0, 1)  # a field of the register written
    assert client.at("textDocument/definition", u, line, col) == [{"uri": uri(MSR), "range": rng(22, 4, 22, 10)}]
    line, col = position_of(APF_TEXT, "let tk = area[v].token", 0, 4)
    refs = client.at("textDocument/references", u, line, col, context={"includeDeclaration": False})
    assert [r["range"]["start"]["line"] for r in refs] == [line + 3, line + 5, line + 5, line + 6]
    hover = client.at("textDocument/hover", u, line, col)["contents"]["value"]
    assert hover.startswith("let `tk` = `area[v].token`, of type `u32` — in guest.page_ready_irq")


def test_completion_after_a_dot_gives_the_fields(client):
    text = APF_TEXT + "invariant probe: area[0].\n"
    u = client.open(APF, text, version=5)
    client.diagnostics(u, version=5)
    line = text.count("\n") - 1
    items = client.at("textDocument/completion", u, line, len("invariant probe: area[0]."))["items"]
    assert [i["label"] for i in items] == ["flags", "token", "pad", "enabled"]
    assert items[1]["detail"] == "kvm_vcpu_pv_apf_data: bytes 4..7"
    line, col = position_of(APF_TEXT, "if value.ack", 0, len("if value."))
    u = client.open(APF, version=6)
    items = client.at("textDocument/completion", u, line, col)["items"]
    assert [(i["label"], i["detail"]) for i in items] == [("ack", "MSR_KVM_ASYNC_PF_ACK: bit 0"),
                                                          ("ignored", "MSR_KVM_ASYNC_PF_ACK: bits 63..1")]


def test_completion_of_names_offers_locals_first(client):
    u = compiled(client, APF)
    line, col = position_of(APF_TEXT, "halted[v] := true")
    items = client.at("textDocument/completion", u, line, col)["items"]
    labels = [i["label"] for i in sorted(items, key=lambda i: (i["sortText"], i["label"]))]
    assert labels[0] == "v" and {"halted", "apf_on", "NVCPU", "Injected", "card", "forall"} <= set(labels)


def test_document_symbols_outline_the_file(client):
    u = client.open(MSR)
    symbols = client.request("textDocument/documentSymbol", {"textDocument": {"uri": u}})
    assert [s["name"] for s in symbols] == ["KVM_FEATURE_ASYNC_PF_VMEXIT", "KVM_FEATURE_ASYNC_PF_INT",
                                            "MSR_KVM_ASYNC_PF_EN", "MSR_KVM_ASYNC_PF_INT", "MSR_KVM_ASYNC_PF_ACK",
                                            "kvm_vcpu_pv_apf_data"]
    assert [c["name"] for c in symbols[2]["children"]] == ["enabled", "send_always", "delivery_vmexit",
                                                           "delivery_int", "reserved", "gpa"]
    assert symbols[2]["selectionRange"] == rng(11, 9, 11, 28) and symbols[2]["range"]["end"]["line"] == 18


def test_an_open_used_file_is_read_from_its_buffer(client):
    apf = client.open(APF)
    client.diagnostics(apf)
    client.forget(apf)
    msr = client.open(MSR, MSR_TEXT.replace("register MSR_KVM_ASYNC_PF_EN ", "register MSR_EN "), version=2)
    codes = [(d["code"], d["message"]) for d in client.diagnostics(apf)]  # apf reads the buffer, unsaved
    assert ("KV201", "unknown type 'MSR_KVM_ASYNC_PF_EN'\nhint: did you mean 'MSR_KVM_ASYNC_PF_INT'?") in codes
    assert [d["code"] for d in client.diagnostics(msr, version=2)] == ["KV406"]  # its own
    client.forget(apf)
    client.change(msr, 3, MSR_TEXT)
    assert [d["code"] for d in client.diagnostics(apf)] == ["KV406"]


def test_the_check_action_shows_a_violation_with_its_trace(client, tmp_path):
    path = tmp_path / "counter.kv"
    path.write_text(COUNTER)
    u = client.open(path)
    assert client.diagnostics(u) == []
    actions = client.request("textDocument/codeAction", {"textDocument": {"uri": u}, "range": rng(0, 0, 0, 0),
                                                         "context": {"diagnostics": []}})
    (action,) = actions
    assert action["command"] == {"title": "kvmverify check", "command": "kvmverify.check", "arguments": [u]}
    answer = client.request("workspace/executeCommand", action["command"])
    assert answer["exit"] == 1
    assert [(r["property"], r["status"]) for r in answer["results"]] == [
        ("small", "violated"), ("three", "reached"), ("type_ok", "holds"), ("deadlock", "violated"),
        ("enabled:a.inc", "reached")]  # the counter stops at 3: a deadlock
    diags = client.diagnostics(u)
    small = next(d for d in diags if d["message"].startswith("small:"))
    assert small["range"] == rng(5, 10, 5, 15) and small["severity"] == 1 and small["source"] == "kvmverify check"
    assert small["message"].splitlines()[0] == "small: violated: shortest trace: 2 step(s)"
    assert "x: 1 -> 2" in small["message"]
    three = next(d for d in diags if d["message"].startswith("three:"))
    assert three["severity"] == 3 and three["range"] == rng(6, 6, 6, 11)
    summary = next(d for d in diags if d["message"].startswith("kvmverify check"))
    assert summary["range"] == rng(0, 6, 0, 13) and "2 violated, 2 reached" in summary["message"]
    hover = client.at("textDocument/hover", u, 5, 12)["contents"]["value"]
    assert "last check: violated: shortest trace: 2 step(s)" in hover
    client.change(u, 2, COUNTER + "\n")  # an edit: the verdicts no longer apply to the text
    assert client.diagnostics(u, version=2) == []


def test_the_check_action_on_a_bug_variant_shows_the_expected_violations_on_its_expects(client):
    path = ROOT / "models" / "apf_int_bugs" / "host_ignores_token_slot.kv"
    text = path.read_text(encoding="utf-8")
    u = client.open(path)
    client.diagnostics(u)
    answer = client.request("workspace/executeCommand", {"command": "kvmverify.check", "arguments": [u]})
    assert answer["exit"] == 0
    diags = client.diagnostics(u)
    line, col = position_of(text, "expect violated waiter_has_completion", 0, len("expect violated "))
    on_expect = next(d for d in diags if d["range"]["start"] == {"line": line, "character": col})
    assert on_expect["severity"] == 3
    assert on_expect["message"].startswith("waiter_has_completion: violated (expected): shortest trace: 10 step(s)")
    assert on_expect["relatedInformation"][0]["location"]["uri"] == uri(APF)


def test_every_request_answers_on_a_half_typed_file(client):
    """The wired handlers too (the prefix fuzz, tests/test_lsp_fuzz.py, calls the functions behind them): no
    request errs, and the server logs no traceback."""
    u = None
    for version, cut in enumerate((1500, 4321, 7777, len(APF_TEXT) - 40), 1):
        text = APF_TEXT[:cut]
        if u is None:
            u = client.open(APF, text, version)
        else:
            client.change(u, version, text)
        client.diagnostics(u, version=version)
        doc = {"textDocument": {"uri": u}}
        line = text.count("\n")
        end = len(text) - text.rfind("\n") - 1
        for at in ((line, end), (line // 2, 4), (0, 0)):
            pos = {"position": {"line": at[0], "character": at[1]}}
            client.request("textDocument/hover", {**doc, **pos})
            client.request("textDocument/definition", {**doc, **pos})
            client.request("textDocument/references", {**doc, **pos, "context": {"includeDeclaration": True}})
            client.request("textDocument/completion", {**doc, **pos})
        client.request("textDocument/documentSymbol", doc)
        client.request("textDocument/codeLens", doc)
        client.request("textDocument/codeAction", {**doc, "range": rng(0, 0, line, end), "context": {"diagnostics": []}})
    assert "Traceback" not in client.log()


def test_the_server_negotiates_utf32_columns(tmp_path):
    c = LspClient(capabilities={"general": {"positionEncodings": ["utf-32"]}})
    try:
        assert c.initialized["capabilities"]["positionEncoding"] == "utf-32"
        u = c.open(tmp_path / "e.kv", "model e\n/* 😀 */ invariant a: flg\n")
        (d,) = c.diagnostics(u)
        assert d["range"] == rng(1, 21, 1, 24)
    finally:
        c.close()


@pytest.mark.parametrize("encoding, column", [("utf-16", 11), ("utf-8", 14), ("utf-32", 10)])
def test_positions_convert_both_ways_in_every_encoding(encoding, column):
    from kvmverify.diagnostics import Span
    from kvmverify.lsp.text import Text
    text = Text("model e\n/* 😀 é */ x\r\nlast")  # x: code point column 11 (1-based) of line 2
    pos = text.position(2, 11, encoding)
    assert (pos.line, pos.character) == (1, column)
    assert text.from_position(pos, encoding) == (2, 11)
    assert text.range(Span("f", 2, 11, 2, 12), encoding).end.character == column + 1
    assert text.word_at(2, 12) == ("x", 11, 12) and text.point(text.offset(3, 2)) == (3, 2)


def test_without_pygls_the_command_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pygls", None)
    for name in [m for m in sys.modules if m.startswith(("pygls.", "kvmverify.lsp.server"))]:
        monkeypatch.delitem(sys.modules, name)
    code, out, err = run_cli("lsp")
    assert code == 2 and out == ""
    assert err == ("kvmverify: error: the language server needs pygls (pygls is not installed)\n"
                   "  install it with: pip install 'pygls>=2.0,<3' 'lsprotocol>=2025.0.0'\n"
                   "  (or, from a kvmverify checkout: pip install -e '.[lsp]')\n")
