"""Reading a recorded trace: the text of `trace-cmd report` or of the tracefs `trace` file.

Both print one event per line, `TASK-PID [CPU] TIMESTAMP: EVENT: FIELDS`:

    trace-cmd report (first line `cpus=N`, or `version = N` and then `cpus=N` from trace-cmd 3):
        CPU 0/KVM-2231  [002]  5012.331875: kvm_async_pf_not_present: token 0x1000 gva 0x7f2a1000
    /sys/kernel/tracing/trace (a `# tracer: nop` header; the irq-flags column `d..1.` before the timestamp,
    four characters before Linux 5.13; `(TGID)` after the pid with the record-tgid option):
        CPU 0/KVM-2231    [002] d..1.  5012.331875: kvm_async_pf_not_present: token 0x1000 gva 0x7f2a1000

Blank lines, `#` comments, the headers, `CPU N is empty` and `##### CPU N buffer started ####` are skipped;
`CPU:N [LOST M EVENTS]` is a warning (the log has a hole). A line that is none of these is an error (KV702),
with the line and a caret where it stops making sense; all of them are reported at once.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from ..check.loader import display_path
from ..diagnostics import Diagnostic, DiagnosticError, Sources, Span
from .tracepoints import TRACEPOINTS, generic_fields

MAX_TRACE_BYTES = 1 << 30
MAX_REPORTED = 20  # malformed lines reported one by one; the rest are counted

TRACE_CMD = "trace-cmd report"
FTRACE = "tracefs trace"

_TASK = r"^\s*(?P<comm>.*?)-(?P<pid>\d+)\s+(?:\(\s*(?:\d+|-+)\)\s+)?\[(?P<cpu>\d+)\]\s+"
# the fields end at the line's last non-blank character: `(?:.*\S)?` finds it at once, where a lazy `.*?` before
# `\s*$` would try the end of the line after every character (a third of the reading time of a long log)
_TAIL = r"(?P<ts>\d+(?:\.\d+)?):\s+(?P<event>[A-Za-z_]\w*(?::[A-Za-z_]\w*)?):(?P<sep>\s*)(?P<fields>(?:.*\S)?)\s*$"
# One line shape for both: trace-cmd report prints the flags only with -l (latency format), the tracefs file
# unless its irq-info option is off; the formats differ in their headers (detect_format)
_LINE = re.compile(_TASK + r"(?:(?P<flags>[.\w]{4,5})\s+)?" + _TAIL)
_HEAD = re.compile(_TASK)
_LOST = re.compile(r"^\s*CPU:\s*(?P<cpu>\d+)\s+\[LOST (?P<n>\d+) EVENTS\]\s*$")
_SKIP = (re.compile(r"^\s*$"), re.compile(r"^\s*#"), re.compile(r"^cpus=\d+\s*$"), re.compile(r"^version = \d+\s*$"),
         re.compile(r"^\s*CPU \d+ is empty\s*$"), re.compile(r"^\s*trace-cmd: "))


class Event(NamedTuple):
    """One event of the log (a tuple: a long log holds 100,000s of them, made 2x faster than a frozen dataclass)."""

    line: int
    name: str  # without a `kvm:` system prefix
    fields: dict  # name -> int, with the line's `cpu` and `pid` (shared by the events of one text: read only)
    comm: str
    cpu: int
    pid: int
    timestamp: str


@dataclass
class TraceLog:
    path: str  # as shown in messages
    format: str
    events: list[Event]  # the events whose fields were read (with `wanted`: those named in it)
    lines: int
    skipped: int  # headers, comments, blank lines
    lost: list[tuple[int, int, int]] = field(default_factory=list)  # (line, cpu, events lost)
    warnings: list[Diagnostic] = field(default_factory=list)
    others: dict[str, int] = field(default_factory=dict)  # events not in `wanted`: how many of each
    text_lines: list[str] = field(default_factory=list)  # the file's lines, for quoting them

    @property
    def total(self) -> int:
        return len(self.events) + sum(self.others.values())

    def line(self, n: int) -> str:
        return self.text_lines[n - 1] if 0 < n <= len(self.text_lines) else ""


def read_trace(path: str, sources: Sources, fmt: str = "auto", wanted: set[str] | None = None) -> TraceLog:
    """Raises DiagnosticError (KV701 unreadable, KV702 malformed lines, KV703 no event at all). The fields of
    events are read for the names in `wanted` only (all of them without it): the others are only counted."""
    shown = display_path(path)
    where = Span(shown, 1, 1, 1, 1)
    if os.path.isdir(path) or (os.path.exists(path) and not os.path.isfile(path)):
        raise DiagnosticError([Diagnostic("KV701", "error", f"'{shown}' is not a regular file", where,
                                          "give the text of `trace-cmd report` or of /sys/kernel/tracing/trace, "
                                          "saved to a file")])
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_TRACE_BYTES + 1)
    except FileNotFoundError:
        raise DiagnosticError([Diagnostic("KV701", "error", f"no such file: '{shown}'", where)]) from None
    except OSError as e:
        raise DiagnosticError([Diagnostic("KV701", "error", f"cannot read '{shown}': {e.strerror}", where)]) from None
    if len(data) > MAX_TRACE_BYTES:
        raise DiagnosticError([Diagnostic("KV701", "error", f"'{shown}' is larger than {MAX_TRACE_BYTES >> 30} GiB",
                                          where, "record fewer events (trace-cmd record -e kvm:kvm_async_pf_* "
                                          "-e kvm:kvm_msr), or cut the log")])
    if data.startswith(b"\x17\x08\x44tracing"):
        raise DiagnosticError([Diagnostic("KV701", "error", f"'{shown}' is a binary trace.dat file", where,
                                          f"convert it to text first: trace-cmd report -i {shown} > trace.txt")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise DiagnosticError([Diagnostic("KV701", "error", f"'{shown}' is not UTF-8 text (byte {e.start}: "
                                          f"0x{data[e.start]:02x})", Span(shown, line, col, line, col + 1),
                                          "is this a text trace? `trace-cmd report` writes one")]) from None
    sources.texts[shown] = text
    return parse_trace(text, shown, fmt, wanted)


def detect_format(lines: list[str]) -> str:
    for line in lines[:50]:
        s = line.strip()
        if s.startswith("# tracer:") or "TASK-PID" in s or s.startswith("##### CPU"):
            return FTRACE
        if s.startswith("cpus=") or s.startswith("version = "):
            return TRACE_CMD
    for line in lines[:200]:
        m = _LINE.match(line)
        if m:
            return FTRACE if m.group("flags") else TRACE_CMD
    return TRACE_CMD


def parse_trace(text: str, shown: str, fmt: str = "auto", wanted: set[str] | None = None) -> TraceLog:
    lines = text.splitlines()
    fmt = detect_format(lines) if fmt == "auto" else fmt
    pattern = _LINE
    events: list[Event] = []
    errors: list[Diagnostic] = []
    bad = 0
    log = TraceLog(shown, fmt, events, len(lines), 0, text_lines=lines)
    others = log.others
    tracepoints = TRACEPOINTS
    seen: dict[tuple[str, str, str, str], dict | None] = {}
    for n, line in enumerate(lines, 1):
        m = pattern.match(line)
        if m is None:
            if any(p.match(line) for p in _SKIP) or line.lstrip().startswith("##### CPU"):
                log.skipped += 1
                continue
            lost = _LOST.match(line)
            if lost:
                log.lost.append((n, int(lost.group("cpu")), int(lost.group("n"))))
                log.warnings.append(Diagnostic("KV704", "warning", f"the kernel lost {lost.group('n')} event(s) on "
                                               f"CPU {lost.group('cpu')} here: the log has a hole",
                                               Span(shown, n, 1, n, len(line) + 1),
                                               "record again with a larger buffer (trace-cmd record -b 20000) or "
                                               "fewer events; a verdict after a hole is about an incomplete log"))
                continue
            bad += 1
            if bad <= MAX_REPORTED:
                errors.append(_malformed(line, n, shown))
            continue
        comm, pid, cpu, _, ts, event, _, raw = m.groups()
        name = event.rsplit(":", 1)[-1] if ":" in event else event
        if wanted is not None and name not in wanted:
            others[name] = others.get(name, 0) + 1
            continue
        # the same fields recur (an MSR write, a wake-all, a vCPU's tokens): each distinct text of a task on a
        # CPU is read once, and its events share one dict of fields
        values = seen.get((name, raw, cpu, pid), False)
        if values is False:
            tp = tracepoints.get(name)
            values = tp.parse(raw) if tp is not None else generic_fields(raw)
            if values is not None:
                values["cpu"] = int(cpu)
                values["pid"] = int(pid)
            seen[(name, raw, cpu, pid)] = values
        if values is None:
            tp = tracepoints[name]
            bad += 1
            if bad <= MAX_REPORTED:
                col = m.start("fields") + 1
                errors.append(Diagnostic("KV702", "error", f"{name}: the fields do not read as {tp.format!r}",
                                         Span(shown, n, col, n, col + max(len(raw), 1)),
                                         f"the format of {name} in {tp.source}; was the line cut or edited?"))
            continue
        events.append(Event(n, name, values, comm.strip(), values["cpu"], values["pid"], ts))
    if bad > MAX_REPORTED:
        errors.append(Diagnostic("KV702", "error", f"{bad - MAX_REPORTED} more malformed line(s) not shown",
                                 Span(shown, len(lines), 1, len(lines), 1)))
    if errors:
        raise DiagnosticError([*log.warnings, *errors])
    if not events and not others:
        raise DiagnosticError([*log.warnings, Diagnostic(
            "KV703", "error", f"'{shown}' holds no trace event ({len(lines)} line(s))", Span(shown, 1, 1, 1, 1),
            "record with: trace-cmd record -e kvm:kvm_async_pf_\\* -e kvm:kvm_msr, then trace-cmd report > FILE")])
    return log


def _malformed(line: str, n: int, shown: str) -> Diagnostic:
    """Where the line stops looking like `TASK-PID [CPU] TIMESTAMP: EVENT: FIELDS`, with what was expected."""
    head = _HEAD.match(line)
    if head is None:
        col = len(line) - len(line.lstrip()) + 1
        return Diagnostic("KV702", "error", "not a trace line", Span(shown, n, col, n, max(len(line), col) + 1),
                          "expected TASK-PID [CPU] TIMESTAMP: EVENT: FIELDS, a `#` comment or a header line")
    rest = head.end()
    ts = re.compile(r"(?:[.\w]{4,5}\s+)?\d+(?:\.\d+)?:\s+").match(line, rest)
    if ts is None:
        return Diagnostic("KV702", "error", "expected the timestamp (seconds, e.g. 5012.331875) and ':'",
                          Span(shown, n, rest + 1, n, len(line) + 1), "the line was cut or edited here")
    return Diagnostic("KV702", "error", "expected the event name and ':'",
                      Span(shown, n, ts.end() + 1, n, len(line) + 1), "e.g. kvm_async_pf_ready: token 0x1000 gva 0x0")
