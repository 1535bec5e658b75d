"""The simulation's virtual clock and its cooperative processes.

Time moves only when simulated work needs it to: a ping's interval, an ARP retransmission, a program's
timeout. Events run in (time, order of scheduling) order, so the same actions give the same results every
time. A "process" is a Python generator that yields what it waits for (:class:`Sleep`, or :class:`Until`
something is true); nothing here needs threads, so it runs in Pyodide.

Written by hand: asyncio would need a running event loop (Jupyter already runs one) and real time.

>>> c = Clock(0)
>>> seen = []
>>> _ = c.after(5, seen.append, "b"); _ = c.after(1, seen.append, "a")
>>> c.run_until(10); seen, c.now
(['a', 'b'], 10)
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

NS = 1_000_000_000


class Timer:
    """A scheduled call; ``cancel()`` keeps it from running."""

    __slots__ = ("when", "fn", "args", "cancelled")

    def __init__(self, when: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when, self.fn, self.args, self.cancelled = when, fn, args, False

    def cancel(self) -> None:
        self.cancelled = True


class Clock:
    """Virtual nanoseconds since the epoch, and the events due at each."""

    def __init__(self, start_ns: int) -> None:
        self.now = start_ns
        self._heap: list[tuple[int, int, Timer]] = []
        self._order = itertools.count()
        #: Called after the last event of each instant (the world resumes programs whose wait is over).
        self.on_event: Callable[[], None] | None = None

    def at(self, when: int, fn: Callable[..., Any], *args: Any) -> Timer:
        """Call ``fn(*args)`` at virtual time ``when`` (ns)."""
        timer = Timer(max(when, self.now), fn, args)
        heapq.heappush(self._heap, (timer.when, next(self._order), timer))
        return timer

    def after(self, delay_ns: int, fn: Callable[..., Any], *args: Any) -> Timer:
        """Call ``fn(*args)`` ``delay_ns`` from now."""
        return self.at(self.now + delay_ns, fn, *args)

    def next_due(self) -> int | None:
        """When the next event is due, or None when nothing is scheduled."""
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def step(self) -> bool:
        """Run the next event (advancing time to it); False when there is none."""
        due = self.next_due()
        if due is None:
            return False
        _, _, timer = heapq.heappop(self._heap)
        self.now = max(self.now, due)
        timer.fn(*timer.args)
        if self.on_event is not None:
            following = self.next_due()
            if following is None or following > self.now:
                # Programs wake once everything due at this instant happened (frames that arrive back to
                # back are all in the socket when the program reads, as with a kernel).
                self.on_event()
        return True

    def run_until(self, when: int) -> None:
        """Run every event due up to ``when``, then stand at ``when``."""
        while True:
            due = self.next_due()
            if due is None or due > when:
                break
            self.step()
        self.now = max(self.now, when)

    def run_while(self, waiting: Callable[[], bool], deadline: int) -> bool:
        """Run events while ``waiting()`` holds, at most up to ``deadline``; True if it stopped holding."""
        while waiting():
            due = self.next_due()
            if due is None or due > deadline:
                self.now = max(self.now, deadline)
                return not waiting()
            self.step()
        return True


@dataclass
class Sleep:
    """What a process yields to wait ``seconds`` of virtual time."""

    seconds: float


@dataclass
class Until:
    """What a process yields to wait until ``ready()`` holds, or ``seconds`` passed (None: forever)."""

    ready: Callable[[], bool]
    seconds: float | None = None


Program = Generator["Sleep | Until", None, int]


class Task:
    """A running program: resumed by the clock whenever what it waits for happens.

    Waiting on :class:`Until` is checked after every event of the world (``poke``), which is cheap for
    the few programs a lab runs at once."""

    def __init__(self, clock: Clock, program: Program, on_exit: Callable[[Task], None] | None = None) -> None:
        self.clock = clock
        self.program = program
        self.rc: int | None = None
        self.error: BaseException | None = None
        self._waiting: Until | None = None
        self._deadline: int | None = None
        self._timer: Timer | None = None
        self._on_exit = on_exit

    @property
    def done(self) -> bool:
        return self.rc is not None

    def start(self) -> None:
        self._resume()

    def poke(self) -> None:
        """Resume if what it waits for has happened."""
        if self._waiting is not None and self._waiting.ready():
            self._resume()

    def kill(self, rc: int) -> None:
        """End it now with status ``rc`` (as a signal would)."""
        if self.done:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._waiting = None
        self.program.close()
        self._finish(rc)

    def _finish(self, rc: int) -> None:
        self.rc = rc
        if self._on_exit is not None:
            self._on_exit(self)

    def _resume(self) -> None:
        if self.done:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiting = None
        try:
            wait = next(self.program)
        except StopIteration as stop:
            self._finish(stop.value if isinstance(stop.value, int) else 0)
            return
        except BaseException as exc:  # a bug in a program: the program fails, the world goes on
            self.error = exc
            self._finish(1)
            return
        if isinstance(wait, Sleep):
            self._timer = self.clock.after(int(wait.seconds * NS), self._resume)
        else:
            self._waiting = wait
            if wait.ready():
                self._timer = self.clock.after(0, self._resume)
            elif wait.seconds is not None:
                self._timer = self.clock.after(int(wait.seconds * NS), self._resume)
