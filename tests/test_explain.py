"""Violations a reviewer reads without help: an msr: violation names the field and the rule, an assert shows the
values it read, a type error names the declared range; the parser's hint for `register X @ ...` says `at`, and
`expect violated msr:REG` needs no quotes."""
from __future__ import annotations

from export_support import run, write_models

MODEL = """\
model explain
param PV = false
register CTL at 0x4b564d20 : 8 {
    on       @ 0
    pv       @ 1 requires PV
    mode     @ 3 .. 2
    reserved @ 5 .. 4 must_be 0
    ignored  @ 7 .. 6
}
type Slot = 0 .. 2
var ctl : CTL = 0
var n : Slot = 0
var seen : bool = false
actor guest {
    action bad_write() when ctl.on == 0 { write CTL({on: 1, reserved: 1}) }
    action pv_write() when ctl.on == 0 { write CTL({on: 1, pv: 1}) }
    action bump() when n < 2 { n := n + 1 }
    action check_it() {
        assert sane: n == 0 || seen, "n moves only after seen"
    }
    action jump() when n == 2 { n := n + 1 }
}
actor host { on write CTL(value) { ctl := value } }
expect violated msr:CTL
expect violated sane
expect violated type_ok
"""


def test_violations_explain_themselves(tmp_path):
    model = write_models(tmp_path, m=MODEL)["m"]
    code, out, err = run("check", model, "-q")
    assert (code, err) == (0, ""), err
    assert ("       guest wrote CTL with a reserved or unsupported bit set (#GP): reserved bits 5..4 must be 0, "
            "written 0b01 (value 0x11)") in out.splitlines()
    assert ("       n moves only after seen (it read n=1, seen=false)") in out.splitlines()
    assert "       value assigned to n lies outside Slot (0 .. 2) (value=3)" in out.splitlines()
    # the source of each violated property is quoted under its name
    assert "msr:CTL violated (expected) -- " + model + ":3:1\n  3 | register CTL at 0x4b564d20 : 8 {" in out


def test_a_disabled_feature_bit_names_its_param(tmp_path):
    only_pv = MODEL.replace("action bad_write() when ctl.on == 0", "action bad_write() when false")
    model = write_models(tmp_path, m=only_pv)["m"]
    code, out, _ = run("check", model, "-q")
    assert code == 0
    assert ("(#GP): pv bit 1 needs PV, which is false here: must be 0, written 0b1 (value 0x3)") in out


def test_the_declared_range_in_a_static_type_error(tmp_path):
    model = write_models(tmp_path, m="model t\ntype Slot = 0 .. 2\nvar n : Slot = 0\n"
                                      "actor a { action x() { n := true } }\n")["m"]
    code, _, err = run("check", model, "-q")
    assert code == 2 and "cannot assign bool to Slot (0 .. 2)" in err


def test_register_at_hint_and_unquoted_derived_names(tmp_path):
    model = write_models(tmp_path, m=MODEL.replace("register CTL at 0x4b564d20", "register CTL @ 0x4b564d20"))["m"]
    code, _, err = run("check", model, "-q")
    assert code == 2 and "hint: a register is placed with `at`: register NAME at 0x4b564d00 : 64 { ... }" in err
    quoted = write_models(tmp_path, q=MODEL.replace("expect violated msr:CTL", 'expect violated "msr:CTL"'))["q"]
    unquoted = write_models(tmp_path, u=MODEL)["u"]
    assert run("check", unquoted, "-q", "--no-traces") == (0, run("check", quoted, "-q", "--no-traces")[1], "")
    wrong = write_models(tmp_path, w=MODEL.replace("expect violated msr:CTL", "expect holds msr:CTL"))["w"]
    assert run("check", wrong, "-q", "--no-traces")[0] == 1  # the annotation is read: holds is not what happens
