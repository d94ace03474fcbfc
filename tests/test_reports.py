"""CI reports as their consumers read them: JUnit that validates against the Jenkins xUnit and the Ant JUnit
schemas (tests/schemas), SARIF whose rules explain themselves (fullDescription, help in text and Markdown with the
property's source, helpUri into docs/) and whose undecided results are notes."""
from __future__ import annotations

import json
import os
import re
import tomllib
import xml.etree.ElementTree as ET

import jsonschema
import pytest
import xmlschema

from export_support import BUGGY, BUGGY_UNANNOTATED, MAILBOX, REPO, run, write_models
from kvmverify.export import sarif as sarif_export

SCHEMAS = os.path.join(REPO, "tests", "schemas")


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    d = tmp_path_factory.mktemp("reports")
    write_models(d / "models", a_ok=MAILBOX, b_buggy=BUGGY, c_broken=BUGGY_UNANNOTATED,
                 d_bad="model x\nvar y : nope = 0\n")
    code, _, _ = run("check", str(d / "models"), "models/memtype_bugs", "-q", "--max-depth", "4",
                     "--junit", str(d / "r.xml"), "--sarif", str(d / "r.sarif"))
    assert code == 2
    return d


@pytest.mark.parametrize("xsd", ["junit-jenkins-xunit.xsd", "junit-ant.xsd"])
def test_junit_validates(reports, xsd):
    schema = xmlschema.XMLSchema(os.path.join(SCHEMAS, xsd))
    errors = [str(e) for e in schema.iter_errors(str(reports / "r.xml"))]
    assert errors == []


def test_junit_shape(reports):
    root = ET.parse(reports / "r.xml").getroot()
    assert root.attrib == {}  # no skipped (nor anything else) on testsuites
    suites = root.findall("testsuite")
    cases = [c for s in suites for c in s.findall("testcase")]
    assert cases and all(c.get("time") == "0.000" for c in cases)
    assert {c.tag for case in cases for c in case} == {"failure", "skipped", "error"}  # all three outcomes seen
    assert [s.get("id") for s in suites] == [str(i) for i in range(len(suites))]
    props = {p.get("name"): p.get("value") for p in suites[2].find("properties")}
    assert props["file"].endswith("c_broken.kv") and props["line.slot:box.data"] == "25"
    assert all(s[-2].tag == "system-out" and s[-1].tag == "system-err" for s in suites)


def test_junit_times_with_times(tmp_path):
    model = write_models(tmp_path, ok=MAILBOX)["ok"]
    run("check", model, "-q", "--times", "--junit", str(tmp_path / "t.xml"))
    suite = ET.parse(tmp_path / "t.xml").getroot().find("testsuite")
    assert suite.get("timestamp") != "1970-01-01T00:00:00"
    times = [float(c.get("time")) for c in suite.findall("testcase")]
    assert abs(sum(times) - float(suite.get("time"))) < 0.01 * len(times)


def test_sarif_rules_explain_themselves(reports):
    with open(os.path.join(REPO, "kvmverify", "export", "schemas", "sarif-schema-2.1.0.json")) as f:
        schema = json.load(f)
    doc = json.loads((reports / "r.sarif").read_text())
    assert list(jsonschema.Draft4Validator(schema).iter_errors(doc)) == []
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    for r in rules.values():
        assert r["fullDescription"]["text"] and r["help"]["text"] and r["help"]["markdown"]
        assert r["helpUri"].startswith(sarif_export.DOCS_URL)
    slot = rules["property/slot/slot:box.data"]
    assert "25 | slot box.data : empty 0, filled by host, emptied by guest" in slot["help"]["text"]
    assert "```\n25 | slot box.data" in slot["help"]["markdown"] and "How to read the trace" in slot["help"]["markdown"]
    assert slot["helpUri"].endswith("language.md#derived-properties")
    assert rules["KV201"]["helpUri"].endswith("diagnostics.md#names-declarations-and-use-kv2xx")


def test_undecided_results_are_notes(reports):
    doc = json.loads((reports / "r.sarif").read_text())
    notes = [r for r in doc["runs"][0]["results"] if r["level"] == "note"]
    assert notes and all(r["properties"]["status"] == "unknown" for r in notes)
    assert all("undecided" in r["message"]["text"] and "no violation up to depth 4" in r["message"]["text"]
               for r in notes)


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_help_uris_point_at_real_headings_of_the_documented_url():
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        urls = tomllib.load(f)["project"]["urls"]
    assert urls["Documentation"] == sarif_export.DOCS_URL
    targets = set(sarif_export.KIND_DOCS.values()) | {f"diagnostics.md#{a}" for a in
                                                    sarif_export.DIAGNOSTIC_DOCS.values()}
    for target in sorted(targets):
        page, anchor = target.split("#")
        text = open(os.path.join(REPO, "docs", page), encoding="utf-8").read()
        anchors = {_slug(h) for h in re.findall(r"^#+ (.*)$", text, re.M)}
        assert anchor in anchors, target
