"""pytest plugin (entry point `pytest11`): `pytest models/` checks every .kv file, one test item per property.

Each .kv file is compiled at collection (a model that does not compile is a collection error with its
diagnostics) and searched once, when its first item runs. A violation fails its item with the readable trace;
a property the model marks `expect violated` is an expected failure (`xfail`, strict: if it holds, the item
fails as XPASS(strict)); an undecided result (a resource bound stopped the search) is skipped with the reason.

The search is the CLI's: `--kv-engine auto` (the default, as `kvmverify check`: independent parts one at a time,
an explicit search with a state budget, then PDR), or explicit, bmc, induction, pdr. Options: `--kv-engine E`,
`--kv-param NAME=VALUE` (repeatable), `--kv-max-states N`, `--kv-max-depth K`, `--kv-timeout S`. A failure shows
what `kvmverify check` shows: the property, its source, what it means and the shortest trace.
Disable with `-p no:kvmverify`.
"""
from __future__ import annotations

import sys

import pytest


def _skip_assertion_rewriting() -> None:
    """pytest rewrites the asserts of every module of a plugin's distribution, i.e. of all of kvmverify; they are
    internal invariants, not test assertions, and rewriting them took a quarter of `pytest models/`'s time
    (benchmarks/ci_gate.py). Runs before the rest of kvmverify is imported; a no-op if pytest's hook changes."""
    for hook in sys.meta_path:
        marked = getattr(hook, "_must_rewrite", None)
        if type(hook).__name__ == "AssertionRewritingHook" and isinstance(marked, set):
            marked.discard(__package__)


_skip_assertion_rewriting()

from .check.checker import parse_param_override  # noqa: E402 - after the rewrite hook is told
from .diagnostics import DiagnosticError, Sources, render  # noqa: E402
from .engines import ENGINES, Options, run_engine  # noqa: E402
from .engines.shared.limits import Limits  # noqa: E402
from .export.run import verdict_text  # noqa: E402
from .trace.text import violation_report  # noqa: E402


def pytest_addoption(parser) -> None:
    g = parser.getgroup("kvmverify", "kvmverify models (.kv)")
    g.addoption("--kv-engine", choices=ENGINES, default="auto",
                help="the engine of `kvmverify check --engine` (default auto, as the CLI)")
    g.addoption("--kv-param", action="append", default=[], metavar="NAME=VALUE",
                help="override a model parameter for every collected .kv file")
    g.addoption("--kv-max-states", type=int, default=None, metavar="N", help="stop each search after N states")
    g.addoption("--kv-max-depth", type=int, default=None, metavar="K", help="explore runs of at most K steps")
    g.addoption("--kv-timeout", type=float, default=None, metavar="SECONDS", help="stop each search after this")


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".kv":
        return KvFile.from_parent(parent, path=file_path)
    return None


class KvModelError(Exception):
    pass


class KvViolation(Exception):
    pass


class KvFile(pytest.File):
    """A .kv model: compiled at collection, checked once for all of its properties."""

    def _overrides(self) -> dict[str, int]:
        out = {}
        for text in self.config.getoption("kv_param") or []:
            kv = parse_param_override(text)
            if kv is None:
                raise pytest.UsageError(f"--kv-param {text}: expected NAME=VALUE")
            out[kv[0]] = kv[1]
        return out

    def collect(self):
        from .pipeline import compile_model
        self.sources = Sources()
        try:
            # only the transition system is kept: the AST and the checked model of every collected file would
            # stay alive for the whole session (and make every garbage collection slower)
            self.system = compile_model(str(self.path), self._overrides(), self.sources).system
        except DiagnosticError as e:
            raise KvModelError(render(e.diagnostics, self.sources))
        self._result = None
        ts = self.system
        expects = {name: verdict for name, verdict, _ in ts.expects}
        for p in [*ts.properties, *(c.prop for c in ts.checks), *(f.prop for f in ts.lint)]:
            item = KvProperty.from_parent(self, name=p.name, prop=p)
            if expects.get(p.name) == "violated":
                item.add_marker(pytest.mark.xfail(reason=f"the model says `expect violated {p.name}`",
                                                  strict=True, raises=KvViolation))
            yield item

    def result(self):
        if self._result is None:
            opt = self.config.getoption
            limits = Limits(opt("kv_max_states"), opt("kv_max_depth"), opt("kv_timeout"))
            self._result = run_engine(self.system, opt("kv_engine"), Options(limits))
        return self._result

    def done(self) -> None:
        """The file's last item has run: its search result is not needed any more."""
        self._result = None

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, KvModelError):
            return f"{self.path}: the model does not compile\n{excinfo.value}"
        return super().repr_failure(excinfo)


class KvProperty(pytest.Item):
    def __init__(self, *, prop, **kw):
        super().__init__(**kw)
        self.prop = prop

    def runtest(self) -> None:
        parent: KvFile = self.parent  # type: ignore[assignment]
        r = parent.result().results[self.prop.id]
        verdict = verdict_text(r)
        self.user_properties.append(("verdict", verdict))
        if r.status == "unknown":
            pytest.skip(f"{r.prop.name}: {verdict}")
        if r.expected == "violated" and r.status != "violated":
            return  # marked xfail(strict): passing here makes it XPASS(strict), a failure
        if r.status == "violated" and (r.trace is not None or r.witness is not None or r.findings):
            raise KvViolation(violation_report(parent.system, r, parent.sources))
        if not r.as_expected:
            raise KvViolation(f"{r.prop.name}: {verdict} -- {r.prop.span}")

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, KvViolation):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, self.prop.span.line - 1, f"{self.prop.kind} {self.prop.name}"


def pytest_runtest_teardown(item, nextitem) -> None:
    if isinstance(item, KvProperty) and (nextitem is None or nextitem.parent is not item.parent):
        item.parent.done()
