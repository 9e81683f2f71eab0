"""Timed rules as deadlines on the emulator clock: a heap of (mark, kind, invoice).

The acknowledgment window, reservation timeouts and a scenario's timed steps are each a
deadline at a mark of `Clock.elapsed()`. The backend takes the due ones before every verb and
from the app's sweeper, so an outcome depends on the emulator clock (scaled, advanced or
frozen), never on when a background task happened to run. Pushing and popping are O(log n).
Standard library only.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from enum import StrEnum

from emulator.clock import Clock


class Kind(StrEnum):
    ACKNOWLEDGMENT = "ack"  # an unacknowledged payment is reversed
    RESERVATION = "reservation"  # an uncommitted reservation lapses
    SCENARIO = "scenario"  # a scenario's timed step is due


class Deadlines:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        # Read as a truth value before every verb: a plain list, so "nothing is due" costs
        # one attribute load and no call.
        self.heap: list[tuple[float, int, Kind, str]] = []
        self._seq = 0  # keeps equal marks in the order they were set

    def after(self, seconds: float, kind: Kind, reference: str) -> None:
        """A deadline `seconds` of emulator time from now."""
        self.at(self.clock.elapsed() + seconds, kind, reference)

    def at(self, mark: float, kind: Kind, reference: str) -> None:
        """A deadline at an emulator-clock mark (seconds since start); past marks are due."""
        self._seq += 1
        heapq.heappush(self.heap, (mark, self._seq, kind, reference))

    def due(self) -> Iterator[tuple[Kind, str]]:
        """Pop the deadlines whose mark has passed, earliest first, as the caller takes them.

        A deadline set while the caller handles one is yielded too if it is due already, so
        one large clock advance plays chained timers in order.
        """
        heap = self.heap
        mark = self.clock.elapsed()
        while heap and heap[0][0] <= mark:
            _, _, kind, reference = heapq.heappop(heap)
            yield kind, reference
