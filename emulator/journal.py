"""The record of every notification attempt: what was sent where, and what came back.

Pure data, standard library only. Bounded twice so a CI fleet can run for days: a ring of the
latest attempts overall, and a per-invoice index that keeps the latest attempts of the most
recently notified invoices. Appending is O(1); the index forgets the invoice that was
notified longest ago once it holds `max_invoices`.

Tests and the dashboard read attempts from here, never from logs.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from emulator.scenario.model import Step

DEFAULT_LIMIT = 1000
PER_INVOICE_LIMIT = 16


class Outcome(StrEnum):
    DELIVERED = "delivered"  # the merchant answered 2xx
    FAILED = "failed"  # another status, a timeout, or no connection
    DROPPED = "dropped"  # a delivery plan said not to send it


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST to a notificationUrl, or one decision not to make it."""

    seq: int
    invoice_reference: str
    event: str  # the change that caused it: "paid" or "reserved"
    url: str
    at: datetime  # emulator time the attempt started
    action: str  # the delivery plan applied, e.g. "deliver", "drop", "delay"
    outcome: Outcome
    status: int | None = None  # HTTP status, when the merchant (or the plan) answered
    error: str | None = None  # why nothing usable came back
    latency_ms: float | None = None  # real time from sending to the answer or the failure

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.DELIVERED


CALL = "call"
NOTIFICATION = "notification"
KINDS = (CALL, NOTIFICATION)


@dataclass(frozen=True, slots=True)
class Record:
    """One journal entry as readers see it: a call, or a notification attempt."""

    seq: int
    kind: str  # CALL or NOTIFICATION
    at: datetime  # emulator time: the call's arrival, the attempt's start
    operation: str | None = None
    terminal: str | None = None  # for an attempt: the terminal of its invoice, where known
    invoice: str | None = None
    ers_reference: str | None = None
    result_code: int | None = None
    fault_code: str | None = None
    fault_string: str | None = None
    status: int | None = None  # the HTTP status answered (an attempt: the merchant's)
    step: Step | None = None
    duration_ms: float | None = None
    path: str | None = None
    request: bytes = b""
    request_size: int = 0
    answer: bytes = b""
    answer_size: int = 0
    attempt: Attempt | None = None

    @property
    def fault(self) -> bool:
        return self.fault_code is not None or (self.kind == CALL and self.result_code is None)

    def outcome(self) -> str:
        """What came of it, in a few words: `resultCode 0`, a Fault, an attempt's outcome."""
        if self.attempt is not None:
            return f"notification {self.attempt.outcome.value}"
        if self.result_code is not None:
            return f"resultCode {self.result_code}"
        if self.fault_code is not None:
            return f"SOAP Fault {self.fault_code}: {self.fault_string}"
        return f"HTTP {self.status}: {self.fault_string}"


class NotificationJournal:
    """Bounded, thread-safe record of notification attempts, oldest first."""

    def __init__(self, limit: int = DEFAULT_LIMIT, per_invoice: int = PER_INVOICE_LIMIT) -> None:
        if limit < 1 or per_invoice < 1:
            raise ValueError("journal limits must be positive")
        self.limit = limit
        self.per_invoice = per_invoice
        self.max_invoices = limit
        self._lock = threading.Lock()
        self._recent: deque[Attempt] = deque(maxlen=limit)
        self._by_invoice: OrderedDict[str, deque[Attempt]] = OrderedDict()
        self._seq = 0

    def record(
        self,
        invoice_reference: str,
        event: str,
        url: str,
        at: datetime,
        action: str,
        outcome: Outcome,
        *,
        status: int | None = None,
        error: str | None = None,
        latency_ms: float | None = None,
    ) -> Attempt:
        with self._lock:
            self._seq += 1
            attempt = Attempt(
                self._seq,
                invoice_reference,
                event,
                url,
                at,
                action,
                outcome,
                status,
                error,
                latency_ms,
            )
            self._recent.append(attempt)
            index = self._by_invoice
            found = index.get(invoice_reference)
            if found is None:
                found = index[invoice_reference] = deque(maxlen=self.per_invoice)
                if len(index) > self.max_invoices:
                    index.popitem(last=False)
            else:
                index.move_to_end(invoice_reference)
            found.append(attempt)
            return attempt

    @property
    def total(self) -> int:
        """Attempts recorded since the journal was made or cleared, forgotten ones included."""
        return self._seq

    def recent(self, limit: int | None = None) -> list[Attempt]:
        """The latest attempts, oldest first; at most `limit` of them."""
        with self._lock:
            items = list(self._recent)
        return items if limit is None else items[max(len(items) - limit, 0) :]

    def for_invoice(self, invoice_reference: str) -> list[Attempt]:
        with self._lock:
            return list(self._by_invoice.get(invoice_reference, ()))

    def forget(self, references: list[str]) -> None:
        """Forget the attempts for these invoices (their terminal was reset)."""
        if not references:
            return
        gone = set(references)
        with self._lock:
            for reference in gone:
                self._by_invoice.pop(reference, None)
            kept = [a for a in self._recent if a.invoice_reference not in gone]
            self._recent = deque(kept, maxlen=self.limit)

    def clear(self) -> None:
        """Forget everything, the count too: after a reset the emulator starts afresh."""
        with self._lock:
            self._recent.clear()
            self._by_invoice.clear()
            self._seq = 0

    def __len__(self) -> int:
        return len(self._recent)
