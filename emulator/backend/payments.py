"""The merchant's payment operations: one verb per SOAP operation."""

from __future__ import annotations

from datetime import datetime

from emulator.backend.core import Core
from emulator.domain import invoice as rules
from emulator.domain.errors import ResultCode, SeqrError
from emulator.domain.model import (
    AcknowledgmentMode,
    Amount,
    Credentials,
    CustomerToken,
    Invoice,
    InvoiceData,
    InvoiceStatus,
    Receipt,
    Refund,
    Terminal,
)


class PaymentVerbs(Core):
    """sendInvoice to refundPayment, under the lock, with the rules of `domain.invoice`."""

    # --- the merchant's payment operations -------------------------------------------------

    def send_invoice(
        self,
        creds: Credentials | None,
        data: InvoiceData,
        tokens: list[CustomerToken],
        *,
        default_ack: AcknowledgmentMode | None = None,
    ) -> Invoice:
        with self.lock:
            self.run_due()
            terminal = self.terminal(creds)
            scenario = self._scenario_for_issue(terminal, data)
            if data.ack_mode is None and default_ack is not None:
                data.ack_mode = default_ack
            now = self.clock.now()
            made = rules.issue(self.ids.invoice_reference(), terminal.id, data, tokens, now)
            if terminal.cash_register:
                self._cancel_open_invoice(terminal, now)
                terminal.open_invoice = made.reference
            self.invoices[made.reference] = made
        self._emit("issued", made)
        self._begin_scenario(made, scenario)
        return made

    def _cancel_open_invoice(self, terminal: Terminal, now: datetime) -> None:
        previous = self.invoices.get(terminal.open_invoice or "")
        if previous is None or previous.status not in (
            InvoiceStatus.ISSUED,
            InvoiceStatus.PENDING_ISSUER_ACKNOWLEDGE,
        ):
            return
        previous.in_progress = False
        rules.merchant_cancel(previous, now, "canceled by a newer invoice on the cash register")
        self._emit("canceled", previous)

    def update_invoice(
        self,
        creds: Credentials | None,
        reference: str | None,
        data: InvoiceData,
        tokens: list[CustomerToken],
    ) -> Invoice:
        with self.lock:
            self.run_due()
            found = self._own_invoice(self.terminal(creds), reference)
            rules.update(found, data, tokens, self.clock.now())
        self._emit("updated", found)
        return found

    def get_payment_status(self, creds: Credentials | None, reference: str | None) -> Invoice:
        """The merchant polls; polling a PAID invoice acknowledges the payment."""
        with self.lock:
            self.run_due()
            terminal = self.terminal(creds)
            if not reference and terminal.cash_register and terminal.open_invoice:
                reference = terminal.open_invoice
            found = self._own_invoice(terminal, reference)
            rules.acknowledge(found)
            return found

    def cancel_invoice(self, creds: Credentials | None, reference: str | None) -> Invoice:
        with self.lock:
            self.run_due()
            found = self._own_invoice(self.terminal(creds), reference)
            before = found.status
            rules.merchant_cancel(found, self.clock.now())
        if found.status is not before:
            self._emit("canceled", found)
        return found

    def commit_reservation(
        self, creds: Credentials | None, reference: str | None, amount: Amount | None
    ) -> Invoice:
        with self.lock:
            self.run_due()
            found = self._own_invoice(self.terminal(creds), reference)
            rules.commit(found, amount, self.clock.now(), self.ids.ers_reference())
            self._paid(found)
        self._emit("paid", found)
        return found

    def submit_payment_receipt(
        self,
        creds: Credentials | None,
        ers_reference: str | None,
        mime_type: str | None,
        receipt_type: str | None,
        data: bytes | None,
    ) -> Receipt:
        """Attach a receipt to a payment or a refund; for a payment it is also the commit."""
        with self.lock:
            self.run_due()
            terminal = self.terminal(creds)
            found = self._invoice_by_ers(terminal, ers_reference)
            if found.status is not InvoiceStatus.PAID:
                raise SeqrError(
                    ResultCode.INVALID_ERS_REFERENCE, f"invoice is {found.status.value}"
                )
            rules.acknowledge(found)
            receipt = Receipt(
                self.ids.ers_reference(),
                ers_reference or "",
                mime_type,
                receipt_type,
                len(data or b""),
                self.clock.now(),
            )
            found.receipts.append(receipt)
            del found.receipts[:-16]
            return receipt

    def refund_payment(
        self,
        creds: Credentials | None,
        ers_reference: str | None,
        amount: Amount | None,
        cashier: str | None = None,
    ) -> Refund:
        with self.lock:
            self.run_due()
            terminal = self.terminal(creds)
            found = self._invoice_by_ers(terminal, ers_reference)
            if found.payment is None or found.payment.ers_reference != ers_reference:
                raise SeqrError(ResultCode.INVALID_ERS_REFERENCE, "not a payment reference")
            made = rules.refund(found, amount, self.clock.now(), self.ids.ers_reference(), cashier)
            self.payments[made.ers_reference] = found.reference
            self._record_transaction(found, made.ers_reference, -made.amount.value, cashier)
        self._emit("refunded", found)
        return made
