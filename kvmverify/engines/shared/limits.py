"""What bounds a search and what it reports while it runs: shared by every engine (engines never print)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Limits:
    max_states: int | None = None
    max_depth: int | None = None
    timeout: float | None = None
    max_memory_mb: float | None = None


@dataclass(frozen=True)
class Progress:
    """What a progress callback is told, every PROGRESS_EVERY states or about once a second (engines never
    print). Each phase reports: the explicit search, the liveness graph and lasso search, each z3 query."""

    states: int
    depth: int
    transitions: int
    seconds: float
    phase: str = "search"  # search | liveness graph | fair lassos | bmc | k-induction | pdr | checks | compiling C
    detail: str = ""  # the z3 engines: the query running now
    memory_mb: float | None = None  # the compiled engine: its checker's resident memory (kvmverify's own is added)


PROGRESS_EVERY = 1 << 14
ProgressFn = Callable[[Progress], None]


class Ticker:
    """A phase's progress reports, at most one per `every` seconds (except `force`): for loops that have no
    natural rhythm of 16,384 states (the lasso search, z3 queries)."""

    def __init__(self, progress: ProgressFn | None, phase: str, every: float = 1.0):
        self.progress, self.phase, self.every = progress, phase, every
        self.started = time.monotonic()
        self.last = -every

    def __call__(self, detail: str = "", states: int = 0, depth: int = 0, transitions: int = 0,
                 force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic() - self.started
        if force or now - self.last >= self.every:
            self.last = now
            self.progress(Progress(states, depth, transitions, now, self.phase, detail))


class Interrupt:
    """A flag the CLI's SIGINT handler sets; the search stops at the next check and reports what it has."""

    def __init__(self) -> None:
        self.set = False


def peak_rss_mb() -> float | None:
    """The peak resident memory from getrusage (kilobytes on Linux, bytes on macOS); None without `resource`."""
    try:
        import resource
        import sys
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (ImportError, OSError):  # Windows: no resource module
        return None
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024.0


def current_rss_mb() -> float | None:
    """The resident memory now: /proc/self/statm, or where there is no /proc, the peak from getrusage (an upper
    bound, which is what a memory limit needs); None if neither can be read."""
    try:
        with open("/proc/self/statm") as f:
            import os
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)
    except (OSError, ValueError, IndexError):  # no /proc (macOS, a container without it)
        return peak_rss_mb()
