"""docs/models.md is a verdict table: every row names a claim from a source document, the model and property
that encode it, the expected verdict and shortest trace length, and the exact command that shows it. This test
runs every row's command in-process and asserts the verdict, so the table cannot drift from the tool.

Rows whose verdict reads `pending liveness support` are listed but not run (the language has no `leads_to` yet).
"""
from __future__ import annotations

import functools
import io
import json
import os
import re
import shlex

import pytest

from kvmverify.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE = os.path.join(ROOT, "docs", "models.md")
PENDING = "pending liveness support"

def table_rows() -> list[dict[str, str]]:
    """The rows of the first markdown table in docs/models.md whose header has a `command` column."""
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    with open(TABLE, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("|"):
                header = None if rows else header
                continue
            cells = [c.strip() for c in line.strip("|").split("|")]
            if header is None:
                if "command" in cells:
                    header = cells
                continue
            if set("".join(cells)) <= set("-: "):
                continue
            rows.append(dict(zip(header, cells)))
    return rows


def unquote(cell: str) -> str:
    return cell.strip().strip("`").strip()


@functools.lru_cache(maxsize=None)
def run(command: str) -> tuple[int, dict]:
    argv = shlex.split(command)
    assert argv[0] == "kvmverify", f"a table command starts with `kvmverify`: {command}"
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        code = main([*argv[1:], "--json", "-q"], stdout=out, stderr=err)
    finally:
        os.chdir(cwd)
    assert code in (0, 1), f"{command}: exit {code}\n{err.getvalue()}"
    return code, json.loads(out.getvalue())["models"][0]


ROWS = table_rows()


def test_table_is_not_empty():
    assert len(ROWS) >= 10
    for r in ROWS:
        for col in ("claim", "model", "property", "verdict", "states", "depth", "command"):
            assert col in r, f"docs/models.md row lacks column {col!r}: {r}"


@pytest.mark.parametrize("row", [r for r in ROWS if unquote(r["verdict"]) != PENDING],
                         ids=lambda r: f"{unquote(r['model'])}:{unquote(r['property'])}")
def test_row_verdict(row):
    command, prop = unquote(row["command"]), unquote(row["property"])
    model, verdict, depth = unquote(row["model"]), unquote(row["verdict"]), unquote(row["depth"])
    assert model in command, f"the command must check the row's model {model}: {command}"
    _, doc = run(command)
    assert doc["file"] == model
    found = [p for p in doc["properties"] if p["name"] == prop]
    assert found, f"{model} has no property {prop}: {[p['name'] for p in doc['properties']]}"
    p = found[0]
    assert p["status"] == verdict, f"{model} {prop}: {p['status']}, the table says {verdict}"
    assert doc["bound"] is None
    symbolic = unquote(row["states"]) == "-"  # a z3 engine's row (`--engine pdr`): no states are enumerated
    assert symbolic == ("--engine pdr" in command or "--engine induction" in command or "--engine bmc" in command)
    assert doc["stats"]["states"] == (0 if symbolic else int(unquote(row["states"]))), \
        f"{command}: {doc['stats']['states']} states"
    if p["kind"] == "check":  # decided by z3 over every input of a decision table: no trace, no depth
        assert depth in ("-", "") and p["coverage"]["kind"] == "all-inputs"
        assert (p["input"] is not None) == (verdict == "violated")
    elif verdict in ("violated", "reached"):
        assert p["trace"]["length"] == int(depth), f"{model} {prop}: trace of {p['trace']['length']} steps"
    else:
        assert depth in ("-", ""), f"{model} {prop}: a {verdict} row has no depth"
        # fair-lassos: a liveness search, exhaustive; pdr, k-induction: a proof for every run length
        assert p["coverage"]["kind"] in (("pdr", "k-induction") if symbolic else ("exhaustive", "fair-lassos"))


@pytest.mark.parametrize("command", sorted({unquote(r["command"]) for r in ROWS}))
def test_every_command_meets_its_expectations(command):
    """Exit 0: every property is as the model's `expect`s say (the broken variants fail exactly where marked)."""
    code, doc = run(command)
    assert code == 0, [(p["name"], p["status"]) for p in doc["properties"] if not p["as_expected"]]


def test_every_model_file_has_a_row():
    """A new model file needs rows in docs/models.md."""
    found = set()
    for root, _, names in os.walk(os.path.join(ROOT, "models")):
        for n in names:
            if n.endswith(".kv"):
                found.add(os.path.relpath(os.path.join(root, n), ROOT))
    tabled = {unquote(r["model"]) for r in ROWS}
    assert found <= tabled, f"models without a row in docs/models.md: {sorted(found - tabled)}"


def test_pending_rows_are_marked():
    for r in ROWS:
        if unquote(r["verdict"]) == PENDING:
            assert unquote(r["depth"]) in ("-", ""), r
            assert "leads_to" in r["property"] or "liveness" in r["claim"].lower(), r
