"""Running SPIN (Debian package `spin`) on a Promela program from difftest/promela.py: `spin -a`, a C compiler
(tcc when present: it compiles pan.c in milliseconds; else cc -O0), `pan` in breadth-first mode."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from .promela import Program

PAN_FLAGS = ["-DBFS", "-DSAFETY", "-DNOCLAIM", "-DNOREDUCE", "-DNOFAIR", "-w"]


class SpinError(Exception):
    """SPIN, the compiler or pan failed: the text says which and shows its output."""


@dataclass(frozen=True)
class SpinResult:
    states: int  # "states, stored"
    transitions: int  # "transitions (= stored+matched)"
    depth: int  # "depth reached"
    first: dict[str, int]  # property -> the depth of its first violation (cover: first reached), BFS-shortest


def available() -> bool:
    return shutil.which("spin") is not None and compiler() is not None


def compiler(fast: bool = True) -> list[str] | None:
    """tcc when present and `fast` (it compiles pan.c in milliseconds), else the system compiler at -O0. tcc has
    been seen to miscompile pan.c (campaign seed 3146799: 10 states stored where gcc's pan, the reference
    semantics and kvmverify have 7), so a disagreement found with tcc's pan is confirmed with the system
    compiler's before it is reported (difftest/compare.py)."""
    if fast and shutil.which("tcc"):
        return ["tcc"]
    for cc in ("cc", "gcc", "clang"):
        if shutil.which(cc):
            return [cc, "-O0"]
    return None


def fast_compiler() -> bool:
    """Is the default compiler tcc (so that a disagreement is worth confirming with the system compiler)?"""
    return compiler() == ["tcc"] and compiler(fast=False) is not None


def version() -> str:
    r = subprocess.run(["spin", "-V"], capture_output=True, text=True, timeout=30)
    return r.stdout.strip()


def run_spin(program: Program, workdir: str | None = None, timeout: float = 120.0, fast: bool = True) -> SpinResult:
    cc = compiler(fast)
    if cc is None or shutil.which("spin") is None:
        raise SpinError("spin or a C compiler is missing (apt-get install spin tcc)")
    with tempfile.TemporaryDirectory(dir=workdir) as d:
        for name, text in (("m.pml", program.text), ("probe.c", program.probe)):
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        _run(["spin", "-a", "m.pml"], d, timeout, "spin -a")
        _run([*cc, *PAN_FLAGS, "-o", "pan", "pan.c", "probe.c"], d, timeout, "compiling pan.c")
        out = _run(["./pan", "-n", "-w18", "-m1000000"], d, timeout, "pan")
    return parse_pan(out, program.props)


def _run(cmd: list[str], cwd: str, timeout: float, what: str) -> str:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0 or "error" in r.stderr.lower():
        raise SpinError(f"{what} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r.stdout


def parse_pan(out: str, props: list[str]) -> SpinResult:
    def number(pattern: str) -> int:
        found = re.search(pattern, out)
        if not found:
            raise SpinError(f"pan's output has no /{pattern}/:\n{out[-2000:]}")
        return int(found.group(1))
    if re.search(r"errors: [1-9]", out):
        raise SpinError(f"pan reported errors:\n{out[-2000:]}")
    first: dict[str, int] = {}
    for p, d in re.findall(r"^KVPROP (\d+) (\d+)$", out, re.M):
        name = props[int(p)]
        first[name] = min(int(d), first.get(name, int(d)))
    return SpinResult(number(r"(\d+) states, stored"), number(r"(\d+) transitions \(= stored\+matched\)"),
                      number(r"depth reached (\d+)"), first)
