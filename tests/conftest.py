import io
import os
import pathlib

import pytest
from hypothesis import settings

from kvmverify.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("KVMVERIFY_UPDATE_GOLDEN") == "1"

# The default run (CI) tries the same generated examples every time, so that it passes or fails on the code and
# not on the draw; a campaign (KVMVERIFY_PROPERTY_EXAMPLES=N or KVMVERIFY_FUZZ_EXAMPLES=N) draws new ones each
# run, and what it finds becomes an @example.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("campaign", derandomize=False)
CAMPAIGN = any(os.environ.get(v) for v in ("KVMVERIFY_PROPERTY_EXAMPLES", "KVMVERIFY_FUZZ_EXAMPLES"))
settings.load_profile("campaign" if CAMPAIGN else "repeatable")

# tests/broken holds deliberately wrong .kv files for the diagnostics goldens; where the kvmverify pytest plugin
# is installed (pytest11 entry point) it collects .kv files, and these are inputs, not models to check.
collect_ignore = ["broken", "corpus", "regress"]  # corpus: run through every engine by test_z3_engines.py


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out, err)
    return code, out.getvalue(), err.getvalue()


def schema_validator(path: str):
    """A Draft 2020-12 validator for a shipped JSON Schema, the schema itself checked first."""
    import json

    import jsonschema
    with open(path) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def check_golden(name: str, text: str) -> None:
    """Compare with tests/golden/NAME; KVMVERIFY_UPDATE_GOLDEN=1 rewrites the file instead."""
    path = GOLDEN / name
    if UPDATE or not path.exists():
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"golden file {name} was missing and has been written; check it and rerun")
    assert text == path.read_text(encoding="utf-8"), f"output differs from tests/golden/{name}"


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    """Paths in diagnostics and traces are relative to the working directory: run every test from the root."""
    monkeypatch.chdir(ROOT)
