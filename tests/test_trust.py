"""Issue 11's reproducers, each a complete model, through every engine. Each once gave a wrong verdict (a false
*proved* among them), engines that disagreed, or an internal error; now every engine gives the one verdict the
reference semantics (docs/language.md, "Semantics") defines. The generated-model tests (test_reference.py,
test_spin_difftest.py) guard the class of bug; these guard the instances."""
from __future__ import annotations

import json

import pytest

from conftest import run_cli

ENGINES = ("explicit", "bmc", "induction", "pdr", "auto")


def verdicts(path, engine: str, *flags: str) -> tuple[int, dict[str, tuple[str, int | None]]]:
    code, out, err = run_cli("check", str(path), "--engine", engine, "--json", *flags)
    assert code in (0, 1), err  # never an internal error (3) or a load error (2)
    doc = json.loads(out)
    props = doc["models"][0]["properties"]
    return code, {p["name"]: (p["status"], p["trace"]["length"] if p["trace"] else None) for p in props}


def model(tmp_path, name: str, text: str):
    path = tmp_path / f"{name}.kv"
    path.write_text(text)
    return path


SHR_SMALL_RANGE = """model shr_small_range
var x : 0 .. 1 = 1
var r : 0 .. 7 = 0
var done : bool = false
actor A { action a() when !done { r := x >> 0; done := true } }
invariant r_is_0: r == 0
terminal done
"""

OR_LARGE_CONST = """model or_large_const
var c : u8 = 0
var d : bool = false
actor m { action orit() when !d { c := c | 300; d := true } }
invariant small: c <= 255
invariant wrapped: !d || c == 44
terminal d
"""

XOR_AND_NEGATIVE = """model xor_neg
var c : u8 = 1
var e : u8 = 0
var d : bool = false
actor m { action go() when !d { c := c ^ 256; e := e | -3; d := true } }
invariant xor_wraps: !d || c == 1
invariant or_neg_wraps: !d || e == 0xfd
cover reached: d && e == 0xfd
terminal d
"""

DYN_INDEX_SELF_REF = """model dyn_index_self_ref
type R = 0 .. 2
var a[R] : 0 .. 2 = 0
actor A { action act() { a[a[0]] := 2 } }
invariant only_a0: a[1] == 0 && a[2] == 0
"""

NEGATIVE_SHIFT = """model negshift
var s : -2 .. 2 = 0
var c : u8 = 1
actor A { action pick(n: -2 .. 2) { s := n }
          action sh() { c := c << s } }
invariant c_small: c <= 255
"""

PAGE = """model page
struct S size 4096 { f : u8[4096] @ 0 }
var s : S = 0
var d : bool = false
actor A { action a() when !d { s.f := 1; d := true } }
invariant set_once: s.f == 0 || d
invariant never_set: s.f == 0
terminal d
"""

DEAD_AND_SHARED_ASSERT = """model deadassert
param DEBUG = false
var x : 0 .. 3 = 0
actor A { action a() when x < 3 { x := x + 1; if DEBUG { assert dbg: x < 2 } }
          action b() when x > 0 { x := x - 1; assert two_sites: x < 2 }
          action c() when x == 3 { assert two_sites: x == 0 } }
expect holds dbg
expect violated two_sites
"""

C_DIVISION = """model cdiv
var x : -3 .. 3 = -3
var q : -3 .. 3 = 0
var r : -3 .. 3 = 0
var d : bool = false
actor A { action a() when !d { q := x / 2; r := x % 2; d := true } }
invariant c_rules: !d || (q == -1 && r == -1)
invariant floor_rules: !d || (q == -2 && r == 1)
terminal d
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_shift_right_on_a_two_value_range_is_not_a_false_proof(tmp_path, engine):
    _, v = verdicts(model(tmp_path, "shr", SHR_SMALL_RANGE), engine)
    assert v["r_is_0"] == ("violated", 1)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_constant_wider_than_its_bit_vector_wraps_in_every_engine(tmp_path, engine):
    code, v = verdicts(model(tmp_path, "or", OR_LARGE_CONST), engine)
    assert code == 0 and v["small"][0] == "holds" and v["wrapped"][0] == "holds"
    _, v = verdicts(model(tmp_path, "xor", XOR_AND_NEGATIVE), engine)
    assert v["xor_wraps"][0] == v["or_neg_wraps"][0] == "holds"
    assert v["reached"] == ("reached", 1)  # not proved vacuous (PDR once did, for `u8 | -3`)


@pytest.mark.parametrize("engine", ENGINES)
def test_index_and_value_are_read_in_the_state_before_the_assignment(tmp_path, engine):
    # a[a[0]] := 2 from all zeros writes a[0] only: a = [2, 0, 0]; the next step writes a[2]
    _, v = verdicts(model(tmp_path, "dyn", DYN_INDEX_SELF_REF), engine)
    assert v["only_a0"] == ("violated", 2)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_negative_shift_amount_is_the_derived_property_shift_ok(tmp_path, engine):
    _, v = verdicts(model(tmp_path, "neg", NEGATIVE_SHIFT), engine)
    assert v["shift_ok"] == ("violated", 2)  # pick(n=-1) (or -2), then sh()
    assert v["c_small"][0] == "holds"


def test_a_shift_amount_negative_for_every_value_is_an_error(tmp_path):
    path = model(tmp_path, "always_neg", """model always_neg
var c : u8 = 1
var s : -3 .. -1 = -1
actor A { action sh() { c := c << s } }
invariant t: true
""")
    code, _, err = run_cli("check", str(path))
    assert code == 2 and "error[KV318]" in err


@pytest.mark.parametrize("engine", ENGINES)
def test_one_page_of_shared_memory_is_checkable(tmp_path, engine):
    _, v = verdicts(model(tmp_path, "page", PAGE), engine)
    assert v["set_once"][0] == "holds" and v["never_set"] == ("violated", 1)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_dead_assert_holds_and_one_name_at_two_sites_is_one_property(tmp_path, engine):
    code, v = verdicts(model(tmp_path, "asserts", DEAD_AND_SHARED_ASSERT), engine)
    assert code == 0  # both `expect`s met
    assert v["dbg"][0] == "holds"
    assert v["two_sites"] == ("violated", 4)  # a, a, a reach x == 3, then b() (x becomes 2) or c() fails


def test_a_dead_assert_is_noted(tmp_path):
    code, out, _ = run_cli("check", str(model(tmp_path, "asserts", DEAD_AND_SHARED_ASSERT)))
    assert code == 0 and "assert dbg" in out and "it holds vacuously" in out


@pytest.mark.parametrize("engine", ENGINES)
def test_division_and_remainder_truncate_toward_zero_as_in_c(tmp_path, engine):
    _, v = verdicts(model(tmp_path, "cdiv", C_DIVISION), engine)
    assert v["c_rules"][0] == "holds" and v["floor_rules"] == ("violated", 1)


def test_symmetry_and_parts_follow_the_semantics_not_the_spelling(tmp_path):
    # a[v][k[v]]: the first index an action parameter, the second a state variable; the read touches row v only,
    # so the model is symmetric in Vcpu and its vCPUs are independent parts
    path = model(tmp_path, "precise", """model precise
param NVCPU = 2
symmetric type Vcpu = 0 .. NVCPU-1
type K = 0 .. 1
var a[Vcpu][K] : 0 .. 2 = 0
var k[Vcpu] : K = 0
actor A { action bump(v: Vcpu) when a[v][k[v]] < 2 { a[v][k[v]] := a[v][k[v]] + 1 }
          action flip(v: Vcpu) { k[v] := 1 - k[v] }
          action reset(t: K) { for x: Vcpu { if a[x][t] == 2 { a[x][t] := 0 } } } }
invariant ok: forall v: Vcpu. a[v][0] <= 2
""")
    code, out, err = run_cli("check", str(path), "--engine", "explicit", "--json")
    assert code == 0, err
    whole = json.loads(out)["models"][0]
    assert whole["reduction"] is not None  # accepted as symmetric (no KV316)
    code, out, _ = run_cli("check", str(path), "--engine", "explicit", "--no-symmetry", "--json")
    plain = json.loads(out)["models"][0]["stats"]
    assert plain["states"] == 18 * 18 + 0 or plain["states"] > whole["stats"]["states"]


def test_precise_reads_keep_vcpus_independent_parts(tmp_path):
    path = model(tmp_path, "parts", """model parts
param NVCPU = 2
type Vcpu = 0 .. NVCPU-1
type K = 0 .. 1
var a[Vcpu][K] : 0 .. 2 = 0
var k[Vcpu] : K = 0
actor A { action bump(v: Vcpu) when a[v][k[v]] < 2 { a[v][k[v]] := a[v][k[v]] + 1 }
          action flip(v: Vcpu) { k[v] := 1 - k[v] } }
invariant ok: forall v: Vcpu. a[v][k[v]] <= 2
""")
    code, out, err = run_cli("check", str(path), "--engine", "explicit", "--parts")
    assert code == 0, err
    assert "independent parts" in out
    code, out, _ = run_cli("check", str(path), "--engine", "explicit", "--json")
    assert json.loads(out)["models"][0]["stats"]["states"] == 18 * 18  # 3 * 3 * 2 per vCPU, squared


def test_when_pdr_gives_up_the_note_says_so_per_property(tmp_path):
    # auto's explicit budget (--max-states is the user's: it would stand) is forced small through the engine API
    from kvmverify.diagnostics import Sources
    from kvmverify.engines import Options, _auto
    from kvmverify.engines.shared.limits import Limits
    from kvmverify.pipeline import compile_model
    import kvmverify.engines as engines
    path = model(tmp_path, "wide", """model wide
var x : u16 = 0
var y : u16 = 0
actor A { action inc() { x := x + 1 }
          action mix() { y := y ^ (x * 40503) } }
invariant hard: y != 12345 || x != 777
""")
    ts = compile_model(str(path), {}, Sources()).system
    old = engines.AUTO_MAX_STATES
    engines.AUTO_MAX_STATES = 50
    try:
        r = _auto(ts, Options(limits=Limits(timeout=0.5)), None, None)
    finally:
        engines.AUTO_MAX_STATES = old
    by = {x.prop.name: x for x in r.results}
    if by["hard"].status == "unknown":
        assert any("undecided: hard" in n for n in r.notes), r.notes
        assert not any("PDR decided hard" in n for n in r.notes)
    else:  # PDR was quick enough here: then it is named as the decider
        assert any("PDR decided hard" in n for n in r.notes), r.notes


def test_layout_findings_are_a_property_with_a_verdict_in_json(tmp_path):
    code, out, _ = run_cli("check", "models/apf_int.kv", "--json")
    assert code == 0
    props = {p["name"]: p for p in json.loads(out)["models"][0]["properties"]}
    layout = props["layout:kvm_vcpu_pv_apf_data"]
    assert layout["status"] == "violated" and layout["expected"] == "violated"
    assert [f["code"] for f in layout["findings"]] == ["KV406"]
    # without the expectation the finding fails the run
    bad = model(tmp_path, "lay", """model lay
struct T size 4 { a : u32 @ 0; b : u8 @ 4 }
var t : T = 0
actor A { action w() { t.a := 1 } }
invariant i: true
""")
    code, out, _ = run_cli("check", str(bad), "--json")
    assert code == 1
    props = {p["name"]: p for p in json.loads(out)["models"][0]["properties"]}
    assert props["layout:T"]["status"] == "violated"


def test_pdr_stopped_after_one_site_of_a_shared_assert_claims_nothing(monkeypatch):
    """Campaign seed 3143100: an assert with two sites is two PDR obligations (one per action) in two groups. The
    time limit came after the group of the never-enabled site was proved and before the other was asked, and PDR
    reported the assert proved; the explicit engine violates it in one step. A property is proved only when all of
    its obligations are."""
    from kvmverify.diagnostics import Sources
    from kvmverify.engines.shared.limits import Interrupt
    from kvmverify.engines.symbolic import pdr as P
    from kvmverify.pipeline import compile_model
    import tempfile, os
    text = """model two_sites
var b : bool = false
var x : 0 .. 3 = 0
actor A { action one() when x < 3 { x := x + 1; assert a0: x < 3 }
          action two() when b { assert a0: b } }
"""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.kv")
        with open(path, "w") as f:
            f.write(text)
        ts = compile_model(path, {}, Sources()).system
    stop = Interrupt()
    real, calls = P.pdr_prove, []

    def first_then_stop(enc, obs, timeout=None):
        calls.append([ob.action.label for ob in obs])
        stop.set = True  # as if the time ran out after this query
        return real(enc, obs, timeout)

    monkeypatch.setattr(P, "pdr_prove", first_then_stop)
    found, proved, notes = P.run_pdr(ts, 30, interrupt=stop)
    assert calls == [["A.two()"]]  # the never-enabled site's group alone was asked
    assert ts.prop("a0").id not in proved and ts.prop("a0").id not in found
    assert any("before it decided" in n and "a0" in n.split("decided", 1)[1] for n in notes), notes


def test_working_out_enabledness_has_a_budget(tmp_path):
    """Campaign seed 5146698 spent 20 minutes and 7 GB working out when a step with nested `choose`s is enabled
    (for deadlock and enabled:): the symbolic execution branches on every value of every choose. Past its budget
    the finding is left out with a note, and the check goes on."""
    body = "x := (x + k6) % 256"
    for i in range(6, -1, -1):
        body = f"choose k{i}: 0 .. 7 where (x + k{i}) % 3 != 1 {{ {body} }}"
    path = model(tmp_path, "nested", "model nested_choose\nvar x : 0 .. 255 = 0\nactor A { action a() { " + body
                 + " } }\ninvariant t: x <= 255\n")
    code, out, err = run_cli("check", str(path), "--max-states", "50", "--no-traces")
    assert code == 4, err  # the bound, nothing else
    assert "deadlock and enabled:A.a are not checked" in out and "deadlock " not in out.split("note:")[0]


def test_an_await_in_a_procedure_called_in_loops_is_refused_by_size_not_lowered(tmp_path):
    """Campaign seed 6144123: a procedure with an `await` inside an `if`, called 15 times in nested `for`s, doubles
    the rest of the action at every call (each path carries its own copy); lowering it took 62 s and 650 MB before
    the nesting check refused it. The size estimate knows procedures and `await` now: KV319 before lowering."""
    path = model(tmp_path, "await_proc", """model await_proc
var b : bool = false
var y : 0 .. 3 = 0
actor p {
    action a() {
        for j1: 0 .. 2 { for j2: 0 .. 2 { pr(j2) } pr(1) pr(2) }
    }
}
proc pr(z: 0 .. 2) {
    y := (y + 1) % 4
    if b { await (z + y < 6) b := false } else { b := true }
}
invariant t: y <= 3
""")
    code, out, err = run_cli("check", str(path))
    assert code == 2 and "error[KV319]" in err and "action p.a alone is about" in err, err
    small = model(tmp_path, "await_proc_small", path.read_text().replace("for j1: 0 .. 2", "for j1: 0 .. 0"))
    code, out, err = run_cli("check", str(small), "-q")
    assert code == 0, err  # 5 calls: small enough, and checked
