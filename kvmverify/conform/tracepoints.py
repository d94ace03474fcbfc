"""The KVM tracepoints kvmverify knows: their fields, and how to read them back from the text the kernel prints.

Each entry follows the event's TP_printk in the kernel (include/trace/events/kvm.h, arch/x86/kvm/trace.h); both
`trace-cmd report` and the tracefs `trace` file print that format after `EVENT:`. `%#llx` prints 0 without the
`0x` prefix, `%x` prints hex without it, so each field says how its digits are read. An event not listed here is
read generically (`name value` or `name = value` pairs, as most TP_printk formats are written).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# The columns of every trace line, usable as fields of any event: the host CPU the event was recorded on and the
# pid of the task that recorded it (a vCPU thread for the events that run on one).
LINE_FIELDS = ("cpu", "pid")


@dataclass(frozen=True)
class Tracepoint:
    name: str
    fields: tuple[str, ...]
    pattern: re.Pattern  # matches the printed fields (the text after `EVENT: `); groups are named after fields
    hex_fields: tuple[str, ...] = ()  # printed with %x: hex digits without 0x
    format: str = ""  # the TP_printk format, for messages
    source: str = ""

    def parse(self, text: str) -> dict[str, int] | None:
        """The fields of one event, as a new dict; None when the text does not read as this event's format."""
        m = self.pattern.fullmatch(text)
        if m is None:
            return None
        out: dict[str, int] = {}
        for name, raw in zip(self.fields, m.groups()):
            if raw is None:
                out[name] = 0
            elif name in self.hex_fields:
                out[name] = int(raw, 16)
            elif name in _WORDS:
                out[name] = _WORDS[name].get(raw, 1 if raw else 0)
            else:
                out[name] = _number(raw)
        return out


_WORDS = {"write": {"write": 1, "read": 0}, "exception": {" (#GP)": 1, "": 0}}
_NUM = r"(?:0x[0-9a-fA-F]+|-?[0-9]+)"


def _tp(name: str, fmt: str, regex: str, fields: tuple[str, ...], hex_fields: tuple[str, ...] = (),
        source: str = "include/trace/events/kvm.h") -> Tracepoint:
    return Tracepoint(name, fields, re.compile(regex.replace("NUM", _NUM)), hex_fields, fmt, source)


_NOT_PRESENT_READY = (r"token (?P<token>NUM) gva (?P<gva>NUM)", ("token", "gva"))
_GET_PAGE = (r"gva = (?P<gva>NUM), gfn = (?P<gfn>NUM)", ("gva", "gfn"))

TRACEPOINTS: dict[str, Tracepoint] = {t.name: t for t in (
    # 'page not present': KVM traces it for every async fault it sets up, injected or not (when it cannot
    # inject, kvm_arch_async_page_not_present halts the vCPU instead)
    _tp("kvm_async_pf_not_present", "token %#llx gva %#llx", *_NOT_PRESENT_READY),
    # 'page ready': for every completion dequeued (kvm_arch_async_page_present); token 0xffffffff is a wake-all
    _tp("kvm_async_pf_ready", "token %#llx gva %#llx", *_NOT_PRESENT_READY),
    # the async work finished (async_pf_execute, in a worker thread: no vCPU, no token); before 6.x with a pfn
    _tp("kvm_async_pf_completed", "gva %#llx address %#lx",
        r"gva (?P<gva>NUM) address (?P<address>NUM)(?: pfn (?P<pfn>NUM))?", ("gva", "address", "pfn")),
    _tp("kvm_try_async_get_page", "gva = %#llx, gfn = %#llx", *_GET_PAGE),
    _tp("kvm_async_pf_repeated_fault", "gva = %#llx, gfn = %#llx", *_GET_PAGE),
    _tp("kvm_async_pf_doublefault", "gva = %#llx, gfn = %#llx", *_GET_PAGE),  # its name before Linux 5.15
    # guest MSR accesses (arch/x86/kvm/trace.h): `msr_write 4b564d07 = 0x1`, ` (#GP)` when the access faulted
    _tp("kvm_msr", "msr_%s %x = 0x%llx%s",
        r"msr_(?P<write>write|read) (?P<ecx>[0-9a-fA-F]+) = (?P<data>0x[0-9a-fA-F]+)(?P<exception> \(#GP\))?",
        ("write", "ecx", "data", "exception"), ("ecx",), "arch/x86/kvm/trace.h"),
)}

def _number(raw: str) -> int:
    """A decimal or 0x-hex number as TP_printk prints it (%d, %u, %#llx, 0x%llx); `007` reads as decimal."""
    neg = raw.startswith("-")
    digits = raw[1:] if neg else raw
    v = int(digits, 16) if digits[:2] in ("0x", "0X") else int(digits, 10)
    return -v if neg else v


_PAIR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=|:)?\s*(" + _NUM + r")\b")


def generic_fields(text: str) -> dict[str, int]:
    """`name value` and `name = value` pairs of an event kvmverify has no format for."""
    out: dict[str, int] = {}
    for name, raw in _PAIR.findall(text):
        out.setdefault(name, _number(raw))
    return out
