"""Fuzzing the whole front end and engine through the in-process CLI.

Every input -- random bytes, random text, grammar-aware mutations of every shipped model and spec -- must end in
exit 0, 1 or 2 (or 4, a bound we passed was hit) with diagnostics for 2, and never a traceback or an internal
error. The default budget is small; `scripts/fuzz` runs the same properties with KVMVERIFY_FUZZ_EXAMPLES=N.
Crashers found this way are kept as regression cases in tests/broken/ (golden diagnostics).
"""
import os
import pathlib
import re
import shutil
import signal
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, run_cli

EXAMPLES = int(os.environ.get("KVMVERIFY_FUZZ_EXAMPLES", "0")) or None
HANG_SECONDS = 120  # a watchdog, not a speed target: an input that runs this long is reported as a hang
# the bounds every fuzzed run gets: a mutated model may have a huge state space, which is not a bug
BOUNDS = ["--max-states", "300", "--timeout", "3", "--no-traces"]
FILES = sorted(str(p.relative_to(ROOT)) for d in ("models", "spec") for p in (ROOT / d).rglob("*.kv"))
TEXTS = {rel: (ROOT / rel).read_text(encoding="utf-8") for rel in FILES}  # read once: a file edited mid-run
DIAG = re.compile(r"^\S.*:\d+:\d+: error\[KV\d{3}\]: ", re.M)
STATS = {"inputs": 0, "by_exit": {}, "slowest": (0.0, "")}


def fuzz_settings(default: int):
    return settings(max_examples=EXAMPLES or default, deadline=None, derandomize=EXAMPLES is None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example])


TOKEN = re.compile(r'\s+|//[^\n]*|/\*.*?\*/|"[^"\n]*"|0[xb][0-9a-fA-F_]+|\d[\d_]*|[A-Za-z_]\w*|:=|\.\.|->|\|\||&&'
                   r'|==|!=|<=|>=|<<|>>|.', re.S)
HUGE = [str(10 ** 40), str(2 ** 64), str(2 ** 64 - 1), str(10 ** 79), str(10 ** 200), "0x" + "f" * 40, "0", "1"]
POOL = ["model", "use", "param", "override", "type", "register", "struct", "var", "slot", "actor", "action", "on",
        "write", "def", "invariant", "cover", "expect", "violated", "holds", "vacuous", "fair", "when", "if", "else",
        "assert", "let", "choose", "where", "for", "skip", "set", "of", "in", "forall", "exists", "true", "false",
        "bool", "u8", "u64", "{", "}", "(", ")", "[", "]", ":", ",", ";", "=", ":=", ".", "..", "@", "?", "->",
        "||", "&&", "==", "<", "<<", ">>", "+", "-", "*", "/", "%", "!", "~", "|", "^", "&",
        '"../../../../../etc/passwd"', '"/dev/zero"', '"/dev/stdin"', '"/"', '"."', '""', '"apf_int.kv"',
        '"../models/apf_int.kv"', '"msr.kv"', "x" * 10_000, *HUGE]


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


@st.composite
def mutated(draw, text: str) -> str:
    toks = tokens(text)
    solid = [i for i, t in enumerate(toks) if not t.isspace()]
    for _ in range(draw(st.integers(1, 4))):
        if not solid:
            break
        i = draw(st.sampled_from(solid))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "insert", "parens", "ifs", "rename",
                                   "huge"]))
        match op:
            case "delete":
                toks[i] = " "
            case "duplicate":
                toks[i] = f"{toks[i]} {toks[i]}"
            case "swap":
                j = draw(st.sampled_from(solid))
                toks[i], toks[j] = toks[j], toks[i]
            case "replace":
                toks[i] = draw(st.sampled_from(POOL))
            case "insert":
                toks[i] = f"{draw(st.sampled_from(POOL))} {toks[i]}"
            case "parens":
                n = draw(st.sampled_from([1, 50, 500, 5000]))
                toks[i] = "(" * n + toks[i] + ")" * n
            case "ifs":
                n = draw(st.sampled_from([1, 40, 400, 3000]))
                toks[i] = "if true { " * n + "skip " + "} " * n + toks[i]
            case "rename":
                old = toks[i]
                if re.fullmatch(r"[A-Za-z_]\w*", old):
                    new = draw(st.sampled_from(["x" * 10_000, old + "_" * 5000, "Ωmega", "__import__"]))
                    toks = [new if t == old else t for t in toks]
            case "huge":
                ints = [k for k in solid if toks[k][0].isdigit()]
                if ints:
                    toks[draw(st.sampled_from(ints))] = draw(st.sampled_from(HUGE))
    return "".join(toks)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A copy of models/ and spec/, so that mutants keep resolving their `use` paths."""
    root = tmp_path_factory.mktemp("fuzz")
    for d in ("models", "spec"):
        shutil.copytree(ROOT / d, root / d)
    yield root
    if EXAMPLES:  # scripts/fuzz: say what was tried
        print(f"\nfuzz: {STATS['inputs']} inputs, exits {dict(sorted(STATS['by_exit'].items()))}, "
              f"slowest {STATS['slowest'][0]:.1f} s ({STATS['slowest'][1]})")


class _Hang(Exception):
    pass


def _alarm(*_):
    raise _Hang()


def run_checked(args: list[str], label: str) -> tuple[int, str, str]:
    """Run the CLI on one input and check the robustness contract."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    started = time.monotonic()
    try:
        code, out, err = run_cli(*args)
    except _Hang:
        pytest.fail(f"{label}: no answer within {HANG_SECONDS} s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    elapsed = time.monotonic() - started
    STATS["inputs"] += 1
    STATS["by_exit"][code] = STATS["by_exit"].get(code, 0) + 1
    if elapsed > STATS["slowest"][0]:
        STATS["slowest"] = (elapsed, label)
    assert "Traceback" not in out + err and "internal error" not in err, f"{label}: {err[-3000:]}"
    assert code in (0, 1, 2, 4), f"{label}: exit {code}\n{err[-3000:]}"
    if code == 2:
        assert DIAG.search(err), f"{label}: exit 2 without a located diagnostic:\n{err[-3000:]}"
    return code, out, err


def _check_file(tree: pathlib.Path, rel: str, text: str | bytes) -> None:
    target = tree / rel
    original = target.read_bytes() if target.exists() else None
    try:
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8", errors="surrogateescape")
        model = target if rel.startswith("models/") else tree / "models" / "apf_int.kv"
        run_checked(["check", str(model), *BOUNDS], f"mutant of {rel}")
    finally:
        if original is None:
            target.unlink()
        else:
            target.write_bytes(original)


@fuzz_settings(default=40)
@given(data=st.data(), rel=st.sampled_from(FILES))
def test_mutated_models_never_crash(tree, data, rel):
    _check_file(tree, rel, data.draw(mutated(TEXTS[rel]), label="mutant"))


@fuzz_settings(default=25)
@given(blob=st.binary(max_size=2000))
def test_random_bytes_never_crash(tree, blob):
    _check_file(tree, "models/fuzz_input.kv", blob)


@fuzz_settings(default=25)
@given(text=st.text(max_size=400) | st.lists(st.sampled_from(POOL[:80] + ["\n", "x", "1"]),
                                                       max_size=60).map(" ".join))
def test_random_text_never_crashes(tree, text):
    _check_file(tree, "models/fuzz_input.kv", text)

