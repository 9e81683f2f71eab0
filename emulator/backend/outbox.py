"""What leaves the backend: change events for its listeners, and the journal.

Listeners (`subscribe`) hear of every change right after it is made, on the thread that
made it and under the backend's lock: the notifier (which sends from its own event loop),
the dashboard's feed and the heap settler are listeners. They must not block, so a SOAP
answer never waits for them. Reset hooks let records kept beside the backend start afresh.

The journal belongs here, not to the SOAP adapter or the notifier that feed it: it is part of
the emulator's state (a reset clears it, the control API and the dashboard read it), while
they are only the adapters that take the calls and make the HTTP posts. There is one request
journal (`requests`) of every SOAP call and every notification attempt, in one order; the
notification journal (`journal`) keeps the attempts by invoice as well, and records each into
it. Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from emulator.backend.clocks import Clocks
from emulator.domain.model import Invoice
from emulator.journal import Journal, NotificationJournal


class Event(NamedTuple):
    """A change listeners hear about: `kind` is e.g. "issued", "paid", "reserved", "canceled".

    A named tuple: one is made per change, and a frozen dataclass costs more to make."""

    kind: str
    invoice: Invoice
    at: datetime
    code: str | None = None  # a scan's: the SEQR code or link the app read to reach the invoice


Listener = Callable[[Event], None]


class Outbox:
    def __init__(self, clocks: Clocks, journal_size: int, requests_size: int = 0) -> None:
        """`journal_size`: attempts the notification journal keeps; `requests_size`: entries
        the request journal keeps (0: it records nothing)."""
        self.clocks = clocks
        self.requests = Journal(requests_size, clocks.base)
        self.journal = NotificationJournal(journal_size, journal=self.requests)
        self._listeners: list[Listener] = []
        self._reset_hooks: list[Callable[[], None]] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def on_reset(self, hook: Callable[[], None]) -> None:
        self._reset_hooks.append(hook)

    def emit(
        self, kind: str, invoice: Invoice, at: datetime | None = None, code: str | None = None
    ) -> None:
        """`at` is the time on the invoice's clock, when the caller has just read it; `code`
        a scan's (`Event.code`)."""
        if at is None:
            at = self.clocks.of(invoice.terminal_id).now()
        # made by tuple.__new__, not Event's Python-level __new__. Worth (callgrind, per
        # call, with transport's SoapReply made so): sendInvoice 422.5k against 419.2k
        event = tuple.__new__(Event, (kind, invoice, at, code))
        for listener in self._listeners:
            listener(event)

    def let_go(self) -> None:
        """A reset's first act: the journals are emptied (the backend's lock is held)."""
        self.journal.clear()
        self.requests.clear()

    def was_reset(self) -> None:
        for hook in self._reset_hooks:
            hook()
