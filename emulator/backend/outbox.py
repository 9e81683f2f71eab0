"""What leaves the backend: change events for its listeners, and the notification journal.

Listeners (`subscribe`) hear of every change right after it is made, on the thread that
made it and under the backend's lock: the notifier (which sends from its own event loop),
the dashboard's feed and the heap settler are listeners. They must not block, so a SOAP
answer never waits for them. Reset hooks let records kept beside the backend start afresh.

The journal of notification attempts belongs here, not to the notifier: it is part of the
emulator's state (a reset clears it, the control API and the dashboard read it), while the
notifier is only the adapter that makes the HTTP calls. Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from emulator.backend.clocks import Clocks
from emulator.domain.model import Invoice
from emulator.journal import NotificationJournal


@dataclass(frozen=True, slots=True)
class Event:
    """A change listeners hear about: `kind` is e.g. "issued", "paid", "reserved", "canceled"."""

    kind: str
    invoice: Invoice
    at: datetime


Listener = Callable[[Event], None]


class Outbox:
    def __init__(self, clocks: Clocks, journal_size: int) -> None:
        self.clocks = clocks
        self.journal = NotificationJournal(journal_size)
        self._listeners: list[Listener] = []
        self._reset_hooks: list[Callable[[], None]] = [self.journal.clear]

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def on_reset(self, hook: Callable[[], None]) -> None:
        self._reset_hooks.append(hook)

    def emit(self, kind: str, invoice: Invoice) -> None:
        event = Event(kind, invoice, self.clocks.of(invoice.terminal_id).now())
        for listener in self._listeners:
            listener(event)

    def was_reset(self) -> None:
        for hook in self._reset_hooks:
            hook()
