"""The language server never crashes on a half-typed file: every request, on prefixes of every shipped model and
spec, answers (in process, through the same functions the server's handlers call, so that an exception is a
failure here and not a logged empty answer). Each prefix is tried alone (the end of the file being typed) and
followed by the rest of the file from its next declaration on (a declaration being typed in the middle).

The default run takes a few prefixes of each file, cut at fixed pseudo-random places (and always the whole file);
KVMVERIFY_LSP_FUZZ_PREFIXES=N takes N per file, KVMVERIFY_LSP_FUZZ_PREFIXES=all every prefix at a line end and
every 7th character (a long campaign: hours)."""
import os
import random
import re

import pytest

pytest.importorskip("pygls")

from conftest import ROOT  # noqa: E402

from kvmverify.lsp.completion import completion  # noqa: E402
from kvmverify.lsp.diags import document_diagnostics  # noqa: E402
from kvmverify.lsp.hover import hover  # noqa: E402
from kvmverify.lsp.navigate import definition, references  # noqa: E402
from kvmverify.lsp.project import KV_INTERNAL, Project  # noqa: E402
from kvmverify.lsp.symbols import document_symbols  # noqa: E402
from kvmverify.lsp.text import path_to_uri  # noqa: E402

FILES = sorted(str(p.relative_to(ROOT)) for d in ("models", "spec") for p in (ROOT / d).rglob("*.kv"))
SETTING = os.environ.get("KVMVERIFY_LSP_FUZZ_PREFIXES", "")
PER_FILE = 1 if not SETTING else None if SETTING == "all" else int(SETTING)
POSITIONS = 6  # requests per prefix: at its end (where one types) and at places inside
DECL = re.compile(r"^(model|use|param|override|type|register|struct|var|slot|actor|def|invariant|cover|expect|"
                  r"property|decide|check)\b", re.M)


def cuts(text: str, seed: str) -> list[int]:
    if PER_FILE is None:
        return sorted({i + 1 for i, c in enumerate(text) if c == "\n"} | set(range(0, len(text), 7)))
    rng = random.Random(seed)
    return sorted({rng.randrange(len(text) + 1) for _ in range(PER_FILE)} | {len(text)})


def variants(full: str, cut: int) -> list[str]:
    rest = DECL.search(full, cut + 1)
    return [full[:cut]] + ([full[:cut] + "\n" + full[rest.start():]] if rest else [])


def every_request(project: Project, path: str, text: str, rng: random.Random) -> None:
    diagnostics = document_diagnostics(project, path)
    assert not any(d.code == KV_INTERNAL for d in diagnostics), [d.message for d in diagnostics]
    document_symbols(project, path)
    lines = text.split("\n")
    end = (len(lines), len(lines[-1]) + 1)
    for _ in range(POSITIONS):
        line = rng.randrange(1, len(lines) + 1)
        spots = [end, (line, rng.randrange(1, len(lines[line - 1]) + 2))]
        for line, col in spots:
            hover(project, path, line, col)
            definition(project, path, line, col)
            references(project, path, line, col, True)
            completion(project, path, line, col)


@pytest.mark.parametrize("rel", FILES)
def test_every_request_answers_on_prefixes(rel):
    path = os.path.realpath(ROOT / rel)
    full = (ROOT / rel).read_text(encoding="utf-8")
    project = Project()
    rng = random.Random(rel)
    project.open(path_to_uri(path), full, 0)
    for n, text in enumerate((v for cut in cuts(full, rel) for v in variants(full, cut)), 1):
        project.change(path_to_uri(path), text, n)
        every_request(project, path, text, rng)
