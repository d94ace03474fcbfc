"""Progress on stderr while a model is checked: the engines report through callbacks (`Progress`), this prints.

On a terminal: one live line, rewritten in place (after a second), with the elapsed time, the phase, states,
states/s, depth and memory, and with --max-states a percentage and an ETA. Without a terminal, or with `CI` set:
a plain line every PLAIN_EVERY seconds, so that a CI log shows the job is alive. A heartbeat thread repeats the
last report (with the time ticking) when an engine has said nothing for a while, e.g. during a long z3 query, so
no phase is silent for more than PLAIN_EVERY seconds. `-q` turns it all off.
"""
from __future__ import annotations

import threading
import time
from typing import TextIO

from .engines.shared.limits import Progress, current_rss_mb


class ProgressReporter:
    TTY_DELAY = 1.0  # no line at all for a model checked within a second
    TTY_EVERY = 0.2
    PLAIN_EVERY = 10.0

    def __init__(self, stream: TextIO, label: str, tty: bool, max_states: int | None = None,
                 plain_every: float | None = None, tty_delay: float | None = None):
        self.stream, self.label, self.tty, self.max_states = stream, label, tty, max_states
        self.every = self.TTY_EVERY if tty else (self.PLAIN_EVERY if plain_every is None else plain_every)
        self.delay = (self.TTY_DELAY if tty_delay is None else tty_delay) if tty else self.every
        self.started = time.monotonic()
        self.last_write = self.started
        self.last: Progress | None = None
        self.shown = False
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.heart = threading.Thread(target=self._beat, name="kvmverify-progress", daemon=True)
        self.heart.start()

    def __call__(self, p: Progress) -> None:
        with self.lock:
            self.last = p
            now = time.monotonic()
            if now - self.started >= self.delay and now - self.last_write >= self.every:
                self._write(now)

    def _beat(self) -> None:
        while not self.stopped.wait(min(self.every, 1.0)):
            with self.lock:
                now = time.monotonic()
                if now - self.started >= self.delay and now - self.last_write >= self.every:
                    self._write(now)

    def line(self, now: float) -> str:
        elapsed = now - self.started
        p = self.last
        parts = [f"{self.label}: {_clock(elapsed)}"]
        if p is None:
            parts.append("compiling and starting")
        else:
            parts.append(p.phase + (f" ({p.detail})" if p.detail else ""))
            if p.states:
                rate = p.states / p.seconds if p.seconds > 0 else 0.0
                parts.append(f"{p.states:,} states, {rate:,.0f} states/s, depth {p.depth}")
                if self.max_states and p.phase == "search":
                    frac = min(p.states / self.max_states, 1.0)
                    eta = (self.max_states - p.states) / rate if rate > 0 and frac < 1 else 0.0
                    parts.append(f"{frac:.0%} of --max-states, ETA {_clock(eta)}")
        mem = current_rss_mb()
        if mem is not None:
            if p is not None and p.memory_mb is not None:
                mem += p.memory_mb  # the compiled engine's checker
            parts.append(f"{mem:,.0f} MB")
        return ", ".join(parts)

    def _write(self, now: float) -> None:
        text = self.line(now)
        if self.tty:
            self.stream.write(f"\r\x1b[K{text}")
        else:
            self.stream.write(f"kvmverify: {text}\n")
        self.stream.flush()
        self.last_write = now
        self.shown = True

    def close(self) -> None:
        self.stopped.set()
        self.heart.join()
        if self.tty and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
