"""What a restart rebuilds rather than reads: the deadlines stored invoices still wait for.

A deadline is derived from its invoice, so a lasting store keeps the invoice and not the heap.
An unacknowledged PAID payment is reversed at its payment date plus the acknowledgment
window; a RESERVED invoice with `commitReservationTimeout` lapses that long after it was
reserved. Both are instants on the emulator clock, set again at start as marks of the new
clock, so a deadline that passed while the emulator was down is due at once. A scenario's
timed steps (and a `reserve` step's own timeout) belong to runs in progress, which are not
kept. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from emulator.backend.deadlines import Deadlines, Kind
from emulator.clock import Clock
from emulator.domain.model import Invoice, InvoiceStatus


@dataclass(frozen=True, slots=True)
class Due:
    """A deadline an invoice waits for. For ACKNOWLEDGMENT `since` is the payment date (the
    window is a setting, read at start); for RESERVATION it is the instant of the lapse."""

    kind: Kind
    reference: str
    since: datetime
    terminal: str  # whose clock the deadline is on (a restart starts every terminal afresh)


def pending(invoice: Invoice) -> Due | None:
    status = invoice.status
    if status is InvoiceStatus.PAID:
        payment = invoice.payment
        if payment is not None and not payment.acknowledged:
            return Due(Kind.ACKNOWLEDGMENT, invoice.reference, payment.date, invoice.terminal_id)
    elif status is InvoiceStatus.RESERVED:
        timeout = invoice.data.commit_reservation_timeout
        if timeout is not None and timeout > 0:
            lapses = reserved_at(invoice) + timedelta(seconds=timeout)
            return Due(Kind.RESERVATION, invoice.reference, lapses, invoice.terminal_id)
    return None


def reserved_at(invoice: Invoice) -> datetime:
    """When the invoice became RESERVED: the first of the history's last RESERVED entries."""
    at = invoice.created_at
    for entry in reversed(invoice.history):
        if entry.status is not InvoiceStatus.RESERVED:
            break
        at = entry.at
    return at


def rearm(deadlines: Deadlines, clock: Clock, dues: list[Due], ack_window: float) -> None:
    """Set the deadlines again on the clock, as marks of its elapsed time."""
    if not dues:
        return
    now, mark = clock.now(), clock.elapsed()
    window = timedelta(seconds=ack_window)
    for due in dues:
        if due.kind is Kind.ACKNOWLEDGMENT:
            if ack_window <= 0:
                continue
            at = due.since + window
        else:
            at = due.since
        deadlines.at(mark + (at - now).total_seconds(), due.kind, due.reference, due.terminal)
