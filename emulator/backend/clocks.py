"""Whose time it is: the emulator clock, and each terminal's own where a test moved it.

A terminal without a clock of its own is on the emulator clock; `of()` is then one dict
lookup. Every timed thing about an invoice follows its terminal's clock, so that parallel
CI jobs on one emulator never move each other's time. Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping

from emulator.clock import Clock, TerminalClock


class Clocks:
    def __init__(self, base: Clock) -> None:
        self.base = base
        self._own: dict[str, TerminalClock] = {}
        # the same dict, read-only by contract: the SOAP path looks a terminal up in it
        # without a method call, and finds it empty unless a terminal moved its own time
        self.own_clocks: Mapping[str, TerminalClock] = self._own

    def of(self, terminal_id: str | None) -> Clock:
        """The clock an invoice of this terminal lives by."""
        found = self._own.get(terminal_id or "") if self._own else None
        return self.base if found is None else found

    def own(self, terminal_id: str) -> float:
        """Seconds the terminal's clock is ahead of the emulator clock."""
        found = self._own.get(terminal_id)
        return 0.0 if found is None else found.own

    def advance(self, terminal_id: str, seconds: float) -> TerminalClock:
        """Move only this terminal's time forward (it gets a clock of its own)."""
        found = self._own.get(terminal_id)
        if found is None:
            found = self._own[terminal_id] = TerminalClock(self.base)
        found.advance(seconds)
        return found

    def forget(self, terminal_id: str) -> None:
        """The terminal is back on the emulator clock (its reset)."""
        self._own.pop(terminal_id, None)

    def forget_all(self) -> None:
        self._own.clear()
