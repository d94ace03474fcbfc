"""A z3 query does not always honour its own timeout (Spacer was seen running minutes past `--timeout`, and
Ctrl-C waited for it): while a symbolic engine runs, a watchdog thread interrupts z3 once the deadline has
passed or the user asked to stop, again every few milliseconds so that a query started later is cut short
too. An interrupted query answers `unknown`, which every engine already reports as undecided.

An interrupted z3 context is not to be trusted afterwards: a campaign found a fresh solver, created in the same
context after an interrupted BMC run, answering `sat` with a model that falsifies its own assertions (z3 5.4.1).
So an answer that arrives once the deadline has passed counts as no answer (`stopped`), and when the watchdog
has fired, the context is replaced before anything else uses z3. Each engine run also starts in a new context, so
that no run inherits what earlier ones left in z3's shared state."""
from __future__ import annotations

import threading
import time

import z3

from ..shared.limits import Interrupt

POLL_SECONDS = 0.02
_active: list[Watchdog] = []  # the watchdog around the engine now running, if any


def trusted() -> bool:
    """May the z3 answer just received be used? Not once the watchdog has interrupted z3."""
    return not (_active and _active[-1].fired)


class Watchdog:
    def __init__(self, deadline: float | None, interrupt: Interrupt | None):
        self.deadline, self.interrupt = deadline, interrupt
        self.fired = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def due(self) -> bool:
        return ((self.deadline is not None and time.monotonic() >= self.deadline)
                or (self.interrupt is not None and self.interrupt.set))

    def _watch(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            if self.due():
                self.fired = True
                z3.main_ctx().interrupt()

    def __enter__(self) -> Watchdog:
        # every engine run starts in a context of its own, as in a fresh process: in a campaign's worker, after
        # the queries of 240 other models in one context, Spacer answered 'safe' for a property violated in 4
        # steps (seed 5144047; certify caught it). With a context per run that query is answered right; an
        # uncertified invariant was still seen once in the same campaign (seed 5143801): certify stays the guard
        fresh_context()
        _active.append(self)
        if self.deadline is not None or self.interrupt is not None:
            self._thread = threading.Thread(target=self._watch, name="kvmverify-z3-watchdog", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        _active.remove(self)
        if self.fired:
            fresh_context()


def fresh_context() -> None:
    """Drop z3's default context: the next z3 object is made in a new one (z3py creates it on first use)."""
    z3.z3._main_ctx = None
