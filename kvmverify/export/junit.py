"""JUnit XML for CI systems: one <testsuite> per model, one <testcase> per (model, property).

Valid against both schemas CI tools check JUnit files with (tests/schemas: the Jenkins xUnit plugin's and the Apache
Ant format's): a bare <testsuites>; each <testsuite> with package, id, timestamp, hostname and time, its
<properties> (the model, its params, the file, and each property's line as `line.NAME`: a <testcase> takes no
file or line attribute), its testcases, then <system-out> (the traces of expected violations) and <system-err>
(the model's warnings). Every <testcase> has a time: the model's properties are decided by one search, so each
gets an equal share of the model's time, and they add up to the suite's.

Wall-clock data only with `--times` (as on stdout), so that the same run gives the same bytes: without it every
time is 0.000 and the timestamp is SOURCE_DATE_EPOCH (the reproducible-builds convention), or 1970-01-01T00:00:00
if it is not set; with it, the real times and the run's start. The hostname is always `localhost`.

A property that is as the model expects passes (an expected violation passes, its trace in the suite's
<system-out>); a violation, a vacuous cover or a result against its `expect` annotation is a <failure> whose body
is the readable trace; an undecided result (a resource bound stopped the search) is <skipped>; a model that does
not compile is one <error> testcase named `(model)`.
"""
from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET

from ..diagnostics import render
from ..trace.text import violation_report
from .run import ModelRun, verdict_text


def _timestamp(times: bool) -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    seconds = int(epoch) if epoch and epoch.isdigit() else time.time() if times else 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def _seconds(x: float) -> str:
    return f"{x:.3f}"


def _suite(root: ET.Element, n: int, run: ModelRun, stamp: str, times: bool) -> None:
    suite = ET.SubElement(root, "testsuite", name=run.path, package=run.path, id=str(n), timestamp=stamp,
                          hostname="localhost")
    seconds = run.seconds if times else 0.0
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="file", value=run.path)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    out: list[str] = []
    if run.result is None or run.system is None:
        counts["tests"] = counts["errors"] = 1
        case = ET.SubElement(suite, "testcase", classname=run.path, name="(model)", time=_seconds(seconds))
        msg = "; ".join(d.message for d in run.errors) or "the model could not be checked"
        err = ET.SubElement(case, "error", message=msg, type="model-error")
        err.text = render(run.errors, run.sources)
    else:
        ts = run.system
        ET.SubElement(props, "property", name="model", value=ts.name)
        for name, _, shown in ts.params:
            ET.SubElement(props, "property", name=f"param.{name}", value=shown)
        for r in run.result.results:
            ET.SubElement(props, "property", name=f"line.{r.prop.name}", value=str(r.prop.span.line))
        share = seconds / max(len(run.result.results), 1)
        for r in run.result.results:
            counts["tests"] += 1
            p = r.prop
            case = ET.SubElement(suite, "testcase", classname=ts.name, name=p.name, time=_seconds(share))
            verdict = verdict_text(r)
            if r.status == "unknown":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=verdict)
            elif not r.as_expected:
                counts["failures"] += 1
                fail = ET.SubElement(case, "failure", message=f"{p.name}: {verdict}", type=r.status)
                if r.status == "violated" and (r.trace is not None or r.witness is not None or r.findings):
                    fail.text = violation_report(ts, r, run.sources) + "\n"
                else:
                    fail.text = f"{p.name}: {verdict}\n  {p.span}\n"
            elif r.status == "violated" and r.trace is not None:
                out.append(f"expected violation\n{violation_report(ts, r, run.sources)}\n")
    ET.SubElement(suite, "system-out").text = "\n".join(out)
    ET.SubElement(suite, "system-err").text = render(run.warnings, run.sources)
    for k, v in counts.items():
        suite.set(k, str(v))
    suite.set("time", _seconds(seconds))


def junit_document(runs: list[ModelRun], times: bool = False) -> ET.Element:
    root = ET.Element("testsuites")
    stamp = _timestamp(times)
    for n, run in enumerate(runs):
        _suite(root, n, run, stamp, times)
    return root


def junit_xml(runs: list[ModelRun], times: bool = False) -> str:
    root = junit_document(runs, times)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


__all__ = ["junit_xml", "junit_document"]
