"""pytest plugin (entry point `pytest11`): `pytest models/` checks every .kv file, one test item per property.

Each .kv file is compiled at collection (a model that does not compile is a collection error with its
diagnostics) and searched once, when its first item runs. A violation fails its item with the readable trace;
a property the model marks `expect violated` is an expected failure (`xfail`, strict: if it holds, the item
fails as XPASS(strict)); an undecided result (a resource bound stopped the search) is skipped with the reason.

Options: `--kv-param NAME=VALUE` (repeatable), `--kv-max-states N`, `--kv-max-depth K`, `--kv-timeout S`.
Disable with `-p no:kvmverify`.
"""
from __future__ import annotations

import pytest

from .check.checker import parse_param_override
from .diagnostics import DiagnosticError, Sources, render
from .engines import Options, run_engine
from .engines.shared.limits import Limits
from .export.run import verdict_text
from .trace.text import render_trace, render_witness


def pytest_addoption(parser) -> None:
    g = parser.getgroup("kvmverify", "kvmverify models (.kv)")
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
            self.compiled = compile_model(str(self.path), self._overrides(), self.sources)
        except DiagnosticError as e:
            raise KvModelError(render(e.diagnostics, self.sources))
        self._result = None
        expects = {name: verdict for name, verdict, _ in self.compiled.system.expects}
        ts = self.compiled.system
        for p in [*ts.properties, *(c.prop for c in ts.checks)]:
            item = KvProperty.from_parent(self, name=p.name, prop_id=p.id)
            if expects.get(p.name) == "violated":
                item.add_marker(pytest.mark.xfail(reason=f"the model says `expect violated {p.name}`",
                                                  strict=True, raises=KvViolation))
            yield item

    def result(self):
        if self._result is None:
            opt = self.config.getoption
            limits = Limits(opt("kv_max_states"), opt("kv_max_depth"), opt("kv_timeout"))
            self._result = run_engine(self.compiled.system, "explicit", Options(limits))
        return self._result

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, KvModelError):
            return f"{self.path}: the model does not compile\n{excinfo.value}"
        return super().repr_failure(excinfo)


class KvProperty(pytest.Item):
    def __init__(self, *, prop_id: int, **kw):
        super().__init__(**kw)
        self.prop_id = prop_id

    def runtest(self) -> None:
        parent: KvFile = self.parent  # type: ignore[assignment]
        ts = parent.compiled.system
        r = parent.result().results[self.prop_id]
        verdict = verdict_text(r)
        self.user_properties.append(("verdict", verdict))
        if r.status == "unknown":
            pytest.skip(f"{r.prop.name}: {verdict}")
        if r.expected == "violated" and r.status != "violated":
            return  # marked xfail(strict): passing here makes it XPASS(strict), a failure
        if r.status == "violated" and r.trace is not None:
            p = r.prop
            head = f"{p.name} violated -- {p.span}\n  " + (p.description if p.kind != "invariant"
                                                            else f"invariant {p.name}")
            raise KvViolation(head + "\n" + render_trace(ts, r.trace, p))
        if r.status == "violated" and r.witness is not None:
            raise KvViolation(f"{r.prop.name} violated -- {r.prop.span}\n" + render_witness(r))
        if not r.as_expected:
            raise KvViolation(f"{r.prop.name}: {verdict} -- {r.prop.span}")

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, KvViolation):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        p = self.parent.result().results[self.prop_id].prop  # type: ignore[attr-defined]
        return self.path, p.span.line - 1, f"{p.kind} {p.name}"
