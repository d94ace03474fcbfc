"""JUnit XML for CI systems: one <testsuite> per model, one <testcase> per (model, property).

A property that is as the model expects passes (an expected violation passes, its trace in <system-out>); a
violation, a vacuous cover or a result against its `expect` annotation is a <failure> whose body is the readable
trace; an undecided result (a resource bound stopped the search) is <skipped>; a model that does not compile is
one <error> testcase named `(model)`. No timestamps or timings: the same run gives the same bytes.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

from ..diagnostics import render
from ..engines.shared.result import PropertyResult
from ..trace.text import render_witness, violation_report
from .run import ModelRun, verdict_text


def _verdict(r: PropertyResult) -> str:
    return verdict_text(r)


def _trace_text(run: ModelRun, r: PropertyResult) -> str:
    assert run.system is not None and r.trace is not None
    return violation_report(run.system, r, run.sources) + "\n"


def junit_document(runs: list[ModelRun]) -> ET.Element:
    root = ET.Element("testsuites", name="kvmverify")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for run in runs:
        suite = ET.SubElement(root, "testsuite", name=run.path)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        if run.system is not None:
            props = ET.SubElement(suite, "properties")
            ET.SubElement(props, "property", name="model", value=run.system.name)
            for name, _, shown in run.system.params:
                ET.SubElement(props, "property", name=f"param.{name}", value=shown)
        if run.result is None or run.system is None:
            counts["tests"] += 1
            counts["errors"] += 1
            case = ET.SubElement(suite, "testcase", classname=run.path, name="(model)", file=run.path)
            msg = "; ".join(d.message for d in run.errors) or "the model could not be checked"
            err = ET.SubElement(case, "error", message=msg, type="model-error")
            err.text = render(run.errors, run.sources)
        else:
            for r in run.result.results:
                counts["tests"] += 1
                p = r.prop
                case = ET.SubElement(suite, "testcase", classname=run.system.name, name=p.name, file=p.span.file,
                                     line=str(p.span.line))
                verdict = _verdict(r)
                if r.status == "unknown":
                    counts["skipped"] += 1
                    ET.SubElement(case, "skipped", message=verdict)
                elif not r.as_expected:
                    counts["failures"] += 1
                    fail = ET.SubElement(case, "failure", message=f"{p.name}: {verdict}", type=r.status)
                    if r.trace is not None and r.status == "violated":
                        fail.text = _trace_text(run, r)
                    elif r.witness is not None:
                        fail.text = f"{p.name} violated -- {p.span}\n{render_witness(r)}\n"
                    else:
                        fail.text = f"{p.name}: {verdict}\n  {p.span}\n"
                elif r.status == "violated" and r.trace is not None:
                    out = ET.SubElement(case, "system-out")
                    out.text = f"expected violation\n{_trace_text(run, r)}"
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
    for k, v in totals.items():
        root.set(k, str(v))
    return root


def junit_xml(runs: list[ModelRun]) -> str:
    root = junit_document(runs)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
