"""What bounds a search and what it reports while it runs: shared by every engine (engines never print)."""
from __future__ import annotations

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
    """What a progress callback is told, every PROGRESS_EVERY states or so (engines never print)."""

    states: int
    depth: int
    transitions: int
    seconds: float


PROGRESS_EVERY = 1 << 14
ProgressFn = Callable[[Progress], None]


class Interrupt:
    """A flag the CLI's SIGINT handler sets; the search stops at the next check and reports what it has."""

    def __init__(self) -> None:
        self.set = False


def peak_rss_mb() -> float | None:
    try:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    except (ImportError, OSError):  # pragma: no cover - not on Linux
        return None


def current_rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as f:
            import os
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)
    except (OSError, ValueError, IndexError):  # pragma: no cover - not on Linux
        return None
