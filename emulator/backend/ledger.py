"""The invoice ledger: invoices, their payments, refunds and receipts, as the rules allow.

Each method applies one rule of `domain.invoice` to records found in the `Store`, writes the
result back through the store, sets the deadlines a rule starts (the acknowledgment window, a
reservation's timeout), books money into the transaction periods and announces the change on
the outbox. Lookups answer the result codes SEQR gave for a reference that is unknown or not
the caller's (54 for an invoice, 23 for a payment). Each invoice lives by its terminal's
clock (`now`). Standard library only; the caller holds the backend's lock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from emulator.backend.clocks import Clocks
from emulator.backend.deadlines import Deadlines, Kind
from emulator.backend.outbox import Outbox
from emulator.backend.periods import Periods
from emulator.backend.store import Store
from emulator.clock import IdFactory
from emulator.domain import invoice as rules
from emulator.domain.errors import IllegalMove, NotFound, ResultCode, SeqrError
from emulator.domain.model import (
    Amount,
    Customer,
    CustomerToken,
    Invoice,
    InvoiceData,
    InvoiceStatus,
    Receipt,
    Refund,
    Terminal,
)


class Ledger:
    def __init__(
        self,
        store: Store,
        clocks: Clocks,
        ids: IdFactory,
        deadlines: Deadlines,
        periods: Periods,
        outbox: Outbox,
        ack_window: float,
    ) -> None:
        self.store = store
        self.clocks = clocks
        self.ids = ids
        self.deadlines = deadlines
        self.periods = periods
        self.outbox = outbox
        self.ack_window = ack_window

    def now(self, invoice: Invoice) -> datetime:
        """The time on the invoice's terminal's clock."""
        return self.clocks.of(invoice.terminal_id).now()

    def _now_of(self, terminal_id: str) -> tuple[datetime, datetime | None]:
        """The time on the terminal's clock, and again when that clock is the emulator's,
        for the identifiers (`IdFactory` stamps them on the emulator clock): read once, not
        three times (the verb, its identifier, its event), a clock read being 6k
        instructions."""
        clock = self.clocks.of(terminal_id)
        now = clock.now()
        return now, now if clock is self.clocks.base else None

    # --- lookups -------------------------------------------------------------------------------

    def invoice(self, reference: str) -> Invoice:
        """Any invoice, for the customer and the control API (404 when unknown)."""
        found = self.store.invoice(reference)
        if found is None:
            raise NotFound(f"no invoice {reference}")
        return found

    def own(self, terminal: Terminal, reference: str | None) -> Invoice:
        """The terminal's own invoice: 54 for an unknown one or another terminal's."""
        found = self.store.invoice((reference or "").strip())
        if found is None or found.terminal_id != terminal.id:
            raise SeqrError(ResultCode.INVALID_INVOICE_REFERENCE)
        return found

    def own_payment(self, terminal: Terminal, ers_reference: str | None) -> Invoice:
        """The invoice of the terminal's own payment or refund: 23 otherwise."""
        found = self.store.invoice_of_payment((ers_reference or "").strip())
        if found is None or found.terminal_id != terminal.id:
            raise SeqrError(ResultCode.INVALID_ERS_REFERENCE)
        return found

    def open_at(self, terminal: Terminal) -> Invoice:
        """The till's open invoice, where a customer scanning its sticker lands."""
        found = self.store.invoice(terminal.open_invoice or "")
        if found is None or not rules.is_open(found):
            raise IllegalMove("the till has no open invoice: the app waits for an amount")
        return found

    # --- the merchant's operations -------------------------------------------------------------

    def issue(self, terminal: Terminal, data: InvoiceData) -> Invoice:
        now, stamp = self._now_of(terminal.id)
        made = rules.issue(self.ids.invoice_reference(stamp), terminal.id, data, now)
        self.store.shared.data(data)
        if terminal.cash_register:
            self.supersede_open(terminal)
            terminal.open_invoice = made.reference
            self.store.put_terminal(terminal)
        self.store.add_invoice(made)
        self.outbox.emit("issued", made, now)
        return made

    def supersede_open(self, terminal: Terminal) -> None:
        """A cash register holds one open invoice: the one it had is canceled."""
        previous = self.store.invoice(terminal.open_invoice or "")
        if previous is not None and rules.supersede(previous, self.now(previous)):
            self.store.changed(previous)
            self.outbox.emit("canceled", previous)

    def update(self, found: Invoice, data: InvoiceData) -> None:
        rules.update(found, data, self.now(found))
        self.store.shared.data(data)
        self.store.changed(found)
        self.outbox.emit("updated", found)

    def poll(self, found: Invoice) -> None:
        """getPaymentStatus: polling a PAID invoice acknowledges the payment."""
        if rules.acknowledge(found):
            self.store.changed(found)

    def cancel(self, found: Invoice) -> None:
        before = found.status
        rules.merchant_cancel(found, self.now(found))
        if found.status is not before:
            self.store.changed(found)
            self.outbox.emit("canceled", found)

    def commit(self, found: Invoice, amount: Amount | None) -> None:
        rules.commit(found, amount, self.now(found), self.ids.ers_reference())
        self._paid(found)
        self.outbox.emit("paid", found)

    def attach_receipt(
        self,
        found: Invoice,
        target: str | None,
        mime_type: str | None,
        receipt_type: str | None,
        data: bytes | None,
    ) -> Receipt:
        """A receipt for a payment or a refund; for a payment it also acknowledges it."""
        receipt = rules.attach_receipt(
            found,
            target or "",
            mime_type,
            receipt_type,
            len(data or b""),
            self.now(found),
            self.ids.ers_reference(),
        )
        self.store.changed(found)
        return receipt

    def refund(
        self, found: Invoice, payment: str | None, amount: Amount | None, cashier: str | None
    ) -> Refund:
        rules.check_payment_reference(found, payment)
        now, stamp = self._now_of(found.terminal_id)
        made = rules.refund(found, amount, now, self.ids.ers_reference(stamp), cashier)
        self.store.index_payment(made.ers_reference, found)
        self.store.changed(found)
        self.periods.record(found, made.ers_reference, -made.amount.value, cashier, now)
        self.outbox.emit("refunded", found, now)
        return made

    # --- the customer's app --------------------------------------------------------------------

    def scan(
        self,
        found: Invoice,
        customer: Customer,
        tokens: list[CustomerToken],
        code: str | None = None,
    ) -> None:
        """`code`: the SEQR code or link the app read, when it is known."""
        before = found.version
        rules.scan(found, customer, tokens, self.now(found))
        self.store.changed(found)
        self.outbox.emit("scanned" if found.version == before else "pending", found, code=code)

    def pay(self, found: Invoice, customer: Customer, reserve: bool | None) -> None:
        now, stamp = self._now_of(found.terminal_id)
        rules.pay(found, customer, now, self.ids.ers_reference(stamp), reserve=reserve)
        if found.status is InvoiceStatus.RESERVED:
            self._reserved(found)
        else:
            self._paid(found)
        self.outbox.emit(found.status.value.lower(), found, now)

    def end_in_app(
        self, found: Invoice, rule: Callable[[Invoice, datetime], None], event: str
    ) -> None:
        """The customer cancels, or the payment fails: the invoice ends unpaid."""
        rule(found, self.now(found))
        self.store.changed(found)
        self.outbox.emit(event, found)

    # --- timed rules ---------------------------------------------------------------------------

    def reverse_if_unacknowledged(self, found: Invoice) -> bool:
        now = self.now(found)
        if not rules.reverse_unacknowledged(found, now):
            return False
        self.store.changed(found)
        self.periods.record_reversal(found, now)
        self.outbox.emit("reversed", found)
        return True

    def expire_reservation(self, found: Invoice) -> bool:
        if not rules.expire_reservation(found, self.now(found)):
            return False
        self.store.changed(found)
        self.outbox.emit("expired", found)
        return True

    # --- helpers -------------------------------------------------------------------------------

    def _paid(self, found: Invoice) -> None:
        payment = found.payment
        assert payment is not None, "a PAID invoice has its payment"
        self.store.index_payment(payment.ers_reference, found)
        self.store.changed(found)
        self.periods.record(
            found, payment.ers_reference, payment.amount.value, found.data.cashier_id, payment.date
        )
        if self.ack_window > 0:
            self.deadlines.after(
                self.ack_window, Kind.ACKNOWLEDGMENT, found.reference, found.terminal_id
            )

    def _reserved(self, found: Invoice) -> None:
        self.store.changed(found)
        timeout = found.data.commit_reservation_timeout
        if timeout is not None and timeout > 0:
            self.deadlines.after(
                float(timeout), Kind.RESERVATION, found.reference, found.terminal_id
            )
