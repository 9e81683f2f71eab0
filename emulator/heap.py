"""Keeps the emulator's stored state out of the garbage collector's way.

Invoices, their payments, refunds and history live as long as the emulator (or until a
reset) and hold no reference cycles, yet CPython's full collections walk every one of them:
at 60k invoices a full collection paused a pay load for 36 ms, and the pause grows with the
store (measured at 100k invoices on a loaded 2-core machine: a full collection 1.0 to 2.3 s
unfrozen, under 0.01 ms frozen). `gc.freeze()` moves every object alive into a generation
the collector never walks.

It freezes once a second while the state changes (an invoice is issued, paid, refunded...),
never while it does not. Whatever is frozen stays, garbage too: cycles of a connection
closed just before a freeze are kept (about 40 bytes a request, measured with a new
connection for each sendInvoice, against 1.3 KB for the invoice itself). Freezing only as
the state changes keeps that in proportion to the store's own growth; polls alone never
freeze. A full collection before each freeze would leave nothing behind, but it walks a
second's worth of new objects each time: it cost sendInvoice 8% of its throughput and
3 ms of p99 (measured), so it is not done.
"""

from __future__ import annotations

import gc
from collections.abc import Callable


class OldObjects:
    """`changed()` on every state change, `settle()` now and then (the app's sweeper)."""

    def __init__(self, freeze: Callable[[], None] = gc.freeze) -> None:
        self._freeze = freeze
        self._changes = 0
        self._frozen_at = 0

    def changed(self, *_: object) -> None:
        """A backend listener: the state changed, so objects may have joined it."""
        self._changes += 1

    def settle(self) -> bool:
        """Freeze what is alive if the state changed since the last freeze; True when it did."""
        if self._changes == self._frozen_at:
            return False
        self._frozen_at = self._changes
        self._freeze()
        return True
