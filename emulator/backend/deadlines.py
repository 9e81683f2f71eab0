"""Timed rules as deadlines: a heap of (mark, kind, invoice, terminal) on the emulator clock.

The acknowledgment window, reservation timeouts and a scenario's timed steps are each a
deadline. A deadline is set in its terminal's time (`backend.clocks`) and kept on the heap by
the emulator-clock mark at which it falls due; moving one terminal's clock forward moves
that terminal's marks earlier (`shift`), and no one else's. The backend takes the due ones
before every verb and from the app's sweeper, so an outcome depends on the clocks (scaled,
advanced or frozen), never on when a background task happened to run. Pushing and popping
are O(log n); a shift or a drop is O(n), for a control call. Standard library only.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from enum import StrEnum

from emulator.backend.clocks import Clocks


class Kind(StrEnum):
    ACKNOWLEDGMENT = "ack"  # an unacknowledged payment is reversed
    RESERVATION = "reservation"  # an uncommitted reservation lapses
    SCENARIO = "scenario"  # a scenario's timed step is due


Deadline = tuple[float, int, Kind, str, str]  # (mark, order, kind, invoice, terminal)


class Deadlines:
    def __init__(self, clocks: Clocks) -> None:
        self.clocks = clocks
        # Read as a truth value before every verb: a plain list, so "nothing is due" costs
        # one attribute load and no call.
        self.heap: list[Deadline] = []
        self._seq = 0  # keeps equal marks in the order they were set

    def after(self, seconds: float, kind: Kind, reference: str, terminal: str) -> None:
        """A deadline `seconds` from now (the same span on every clock)."""
        self._push(self.clocks.base.elapsed() + seconds, kind, reference, terminal)

    def at(self, mark: float, kind: Kind, reference: str, terminal: str) -> None:
        """A deadline at a mark of the terminal's own clock; past marks are due."""
        self._push(mark - self.clocks.own(terminal), kind, reference, terminal)

    def _push(self, mark: float, kind: Kind, reference: str, terminal: str) -> None:
        self._seq += 1
        heapq.heappush(self.heap, (mark, self._seq, kind, reference, terminal))

    def shift(self, terminal: str, seconds: float) -> None:
        """The terminal's clock moved `seconds` ahead: its deadlines fall due that much sooner."""
        if not any(entry[4] == terminal for entry in self.heap):
            return
        shifted = [
            (mark - seconds if owner == terminal else mark, seq, kind, reference, owner)
            for mark, seq, kind, reference, owner in self.heap
        ]
        heapq.heapify(shifted)
        self.heap = shifted

    def drop(self, references: set[str]) -> None:
        """Forget the deadlines of these invoices (their terminal was reset)."""
        if references:
            self.heap = [entry for entry in self.heap if entry[3] not in references]
            heapq.heapify(self.heap)

    def due(self) -> Iterator[tuple[Kind, str]]:
        """Pop the deadlines whose mark has passed, earliest first, as the caller takes them.

        A deadline set while the caller handles one is yielded too if it is due already, so
        one large clock advance plays chained timers in order.
        """
        heap = self.heap
        mark = self.clocks.base.elapsed()
        while heap and heap[0][0] <= mark:
            _, _, kind, reference, _ = heapq.heappop(heap)
            yield kind, reference
