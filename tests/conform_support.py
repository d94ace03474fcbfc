"""Logs for the conformance tests: random runs of models/apf_int.kv printed as a KVM host would trace them.

The printer is the host's side of the observations in apf_int.kv: a vCPU's events come from its thread ("CPU v/KVM",
pid 4000 + 100 v, pinned to host CPU v), KVM's token is (apf.id++ << 12) | vcpu_id, the guest's MSR writes are
kvm_msr lines; the async work's end (work_done) prints kvm_async_pf_completed from a worker thread, and
kvm_try_async_get_page precedes each 'not present': both are events the model does not observe.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from kvmverify.diagnostics import Sources
from kvmverify.engines.explicit.codegen import compile_system
from kvmverify.pipeline import compile_model

APF_MODEL = "models/apf_int.kv"
WAKE_ALL = 0xFFFFFFFF


@dataclass
class Line:
    comm: str
    pid: int
    cpu: int
    event: str
    fields: str
    action: str | None = None  # the model action it prints (None for an unobserved event)
    vcpu: int | None = None
    token: int | None = None  # the raw token of a not_present / page_ready


@dataclass
class GeneratedRun:
    lines: list[Line]
    actions: list[str] = field(default_factory=list)  # the model run's labels


def compile_apf(params: dict | None = None):
    return compile_model(APF_MODEL, params or {}, Sources())


def random_run(seed: int, steps: int, params: dict | None = None, compiled=None) -> GeneratedRun:
    """A random run of apf_int of `steps` transitions, printed as log lines."""
    c = compiled or compile_apf(params)
    ts = c.system
    code = compile_system(ts)
    rng = random.Random(seed)
    state = ts.init[0]
    apf_id = {}
    raw_of: dict[tuple[int, int], int] = {}
    lines: list[Line] = []
    labels = []
    for _ in range(steps):
        out: list = []
        code.succ(state, out, [])
        out = [(k, t) for k, t in out if t is not None]
        if not out:
            break
        k, state = out[rng.randrange(len(out))]
        a = ts.actions[k]
        labels.append(a.label)
        args = {n: v for n, v, _ in a.args}
        v = args.get("v")
        lines.extend(_print(a.action, args, v, apf_id, raw_of, rng))
    return GeneratedRun(lines, labels)


def _thread(v: int) -> tuple[str, int, int]:
    return f"CPU {v}/KVM", 4000 + 100 * v, v


def _print(action: str, args: dict, v: int, apf_id: dict, raw_of: dict, rng: random.Random) -> list[Line]:
    comm, pid, cpu = _thread(v) if v is not None else ("kvm", 1, 0)

    def line(event: str, fields: str, token: int | None = None) -> Line:
        return Line(comm, pid, cpu, event, fields, action, v, token)

    gva = 0x7F0000000000 + (v or 0) * 0x10000000 + 0x1000 * args.get("t", 0)
    match action:
        case "set_vector":
            return [line("kvm_msr", "msr_write 4b564d06 = 0xf3")]
        case "enable":
            return [line("kvm_msr", f"msr_write 4b564d02 = {0x23456000 + 0x40 * v + 0x9:#x}")]
        case "disable":
            return [line("kvm_msr", "msr_write 4b564d02 = 0x0")]
        case "page_ready_irq":
            return [line("kvm_msr", "msr_write 4b564d07 = 0x1")]
        case "not_present":
            n = apf_id.get(v, 1)
            apf_id[v] = n + 1
            raw = (n << 12) | v
            raw_of[(v, args["t"])] = raw
            gfn = 0x12000 + rng.randrange(0x1000)
            return [Line(comm, pid, cpu, "kvm_try_async_get_page", f"gva = {gva:#x}, gfn = {gfn:#x}"),
                    line("kvm_async_pf_not_present", f"token {raw:#x} gva {gva:#x}", raw)]
        case "page_ready":
            raw = raw_of[(v, args["t"])]
            return [line("kvm_async_pf_ready", f"token {raw:#x} gva {gva:#x}", raw)]
        case "page_ready_wakeall":
            return [line("kvm_async_pf_ready", f"token {WAKE_ALL:#x} gva 0", WAKE_ALL)]
        case "work_done":
            worker = 70 + rng.randrange(4)
            return [Line(f"kworker/{v}:1", worker, rng.randrange(4), "kvm_async_pf_completed",
                         f"gva {gva:#x} address {0x7FAB00000000 + gva % 0x100000000:#x}")]
    return []


NOISE = [("kvm_exit", "vcpu {v} reason EPT_VIOLATION rip 0xffffffff81234567 info1 0x0000000000000181 info2 "
          "0x0000000000000000 intr_info 0x00000000 error_code 0x00000000"),
         ("kvm_entry", "vcpu {v}, rip 0xffffffff81234567"),
         ("kvm_fpu", "load")]


def render(lines: list[Line], fmt: str = "trace-cmd", noise: int = 0, seed: int = 0) -> str:
    return render_numbered(lines, fmt, noise, seed)[0]


def render_numbered(lines: list[Line], fmt: str = "trace-cmd", noise: int = 0, seed: int = 0) -> tuple[str, list[int]]:
    """The lines as `trace-cmd report` or the tracefs trace file print them, and the line number of each; with
    `noise`, that many extra lines of other events, comments and buffer headers in between."""
    numbers: list[int] = []
    rng = random.Random(seed)
    out = []
    if fmt == "trace-cmd":
        out += ["cpus=2"]
    else:
        out += ["# tracer: nop", "#", f"# entries-in-buffer/entries-written: {len(lines)}/{len(lines)}   #P:2", "#",
                "#                                _-----=> irqs-off/BH-disabled",
                "#                               / _----=> need-resched",
                "#                              | / _---=> hardirq/softirq",
                "#                              || / _--=> preempt-depth",
                "#                              ||| / _-=> migrate-disable",
                "#                              |||| /     delay",
                "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION",
                "#              | |         |   |||||     |         |",
                "##### CPU 1 buffer started ####"]
    ts = 5012.0
    extra = sorted(rng.randrange(len(lines) + 1) for _ in range(noise))
    j = 0
    for i, ln in enumerate([*lines, None]):
        while j < len(extra) and extra[j] == i:
            j += 1
            kind = rng.randrange(4)
            ts += 0.000001
            if kind == 0 and fmt != "trace-cmd":
                out.append("##### CPU 0 buffer started ####")
            elif kind == 0:
                out.append("CPU 3 is empty")
            else:
                v = rng.randrange(2)
                name, fields = NOISE[rng.randrange(len(NOISE))]
                out.append(_line(fmt, f"CPU {v}/KVM", 4000 + 100 * v, v, ts, name, fields.format(v=v)))
        if ln is None:
            break
        ts += 0.000013
        out.append(_line(fmt, ln.comm, ln.pid, ln.cpu, ts, ln.event, ln.fields))
        numbers.append(len(out))
    return "\n".join(out) + "\n", numbers


def _line(fmt: str, comm: str, pid: int, cpu: int, ts: float, event: str, fields: str) -> str:
    if fmt == "trace-cmd":
        return f"{comm:>16}-{pid:<5} [{cpu:03d}] {ts:12.6f}: {event + ':':<26} {fields}"
    return f"{comm:>16}-{pid:<7} [{cpu:03d}] d..1. {ts:12.6f}: {event}: {fields}"


# ------------------------------------------------------------------------------------------------ mutations
# Each returns the mutated lines and the index (into them) of the line the log must stop conforming at, or None
# when the run offers no place for it. A place is taken before the first 'not present' whose 'page ready' never
# comes (a fault the random run left open): from there on, a 'page ready' for an unknown token could be that one.

def _open_from(lines: list[Line], v: int) -> int:
    readies = {ln.token for ln in lines if ln.event == "kvm_async_pf_ready" and ln.vcpu == v}
    disables = [i for i, ln in enumerate(lines) if ln.action == "disable" and ln.vcpu == v]
    for i, ln in enumerate(lines):
        if ln.event == "kvm_async_pf_not_present" and ln.vcpu == v and ln.token not in readies \
                and not any(d > i for d in disables):
            return i
    return len(lines)


def _observed(ln: Line) -> bool:
    return ln.action is not None and ln.event != "kvm_async_pf_completed"


def ready_never_not_present(lines: list[Line], rng: random.Random):
    """A 'page ready' for a token no 'not present' ever named, on a vCPU that has run."""
    for _ in range(50):
        v = rng.randrange(2)
        seen = [i for i, ln in enumerate(lines) if ln.vcpu == v and _observed(ln)]
        end = min(_open_from(lines, v), len(lines))
        places = [i for i in range(len(lines)) if seen and seen[0] < i <= end]
        if places:
            i = places[rng.randrange(len(places))]
            comm, pid, cpu = _thread(v)
            fake = Line(comm, pid, cpu, "kvm_async_pf_ready", f"token {0xABC000 | v:#x} gva 0x7f00dead000",
                        "page_ready", v, 0xABC000 | v)
            return lines[:i] + [fake] + lines[i:], i
    return None


def second_ready_before_ack(lines: list[Line], rng: random.Random):
    """A 'page ready' moved before the guest's ACK of the previous one: the token slot still holds an event."""
    pairs = []
    for i, ln in enumerate(lines):
        if ln.event != "kvm_async_pf_ready":
            continue
        ack = next((j for j in range(i + 1, len(lines)) if lines[j].vcpu == ln.vcpu and lines[j].action ==
                    "page_ready_irq"), None)
        nxt = next((j for j in range(i + 1, len(lines)) if lines[j].vcpu == ln.vcpu and lines[j].event ==
                    "kvm_async_pf_ready"), None)
        if ack is not None and nxt is not None and ack < nxt and not any(
                lines[j].vcpu == ln.vcpu and lines[j].action in ("disable", "enable") for j in range(i, nxt)):
            pairs.append((i, ack, nxt))
    if not pairs:
        return None
    i, ack, nxt = pairs[rng.randrange(len(pairs))]
    moved = lines[nxt]
    rest = lines[:nxt] + lines[nxt + 1:]
    return rest[:ack] + [moved] + rest[ack:], ack


def second_not_present(lines: list[Line], rng: random.Random):
    """A 'not present' repeated for its token while that fault is still outstanding."""
    places = [i for i, ln in enumerate(lines) if ln.event == "kvm_async_pf_not_present"]
    if not places:
        return None
    i = places[rng.randrange(len(places))]
    return lines[:i + 1] + [lines[i]] + lines[i + 1:], i + 1


def ready_before_not_present(lines: list[Line], rng: random.Random):
    """A fault's 'page ready' and its 'not present' swapped."""
    pairs = []
    for i, ln in enumerate(lines):
        if ln.event == "kvm_async_pf_not_present" and i < _open_from(lines, ln.vcpu):
            j = next((j for j in range(i + 1, len(lines)) if lines[j].event == "kvm_async_pf_ready"
                      and lines[j].token == ln.token), None)
            if j is not None:
                pairs.append((i, j))
    if not pairs:
        return None
    i, j = pairs[rng.randrange(len(pairs))]
    out = list(lines)
    out[i], out[j] = out[j], out[i]
    return out, i
