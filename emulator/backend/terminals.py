"""Cash-register terminals, static QR codes, transaction periods and reports."""

from __future__ import annotations

from decimal import Decimal

from emulator.backend.core import Core
from emulator.domain import reports, seqr_urls
from emulator.domain import terminals as tills
from emulator.domain.errors import IllegalMove, NotFound, ResultCode, SeqrError
from emulator.domain.model import (
    Credentials,
    Invoice,
    InvoiceStatus,
    Terminal,
)


class TerminalVerbs(Core):
    """Reseller-side operations and the reconciliation ledger."""

    # --- cash-register terminals, static QR codes and reconciliation ---------------------------

    def register_terminal(
        self,
        creds: Credentials | None,
        external_id: str | None,
        password: str | None,
        name: str | None,
    ) -> Terminal:
        """registerTerminal: a new cash register in the authenticated reseller's shop."""
        with self.lock:
            self.run_due()
            reseller = self.reseller(creds)
            terminal_id = self.ids.hex_id(32)
            while terminal_id in self.terminals or terminal_id in self.removed_terminals:
                terminal_id = self.ids.hex_id(32)
            made = tills.register(terminal_id, reseller.id, external_id, password, name)
            self.terminals[terminal_id] = made
            return made

    def unregister_terminal(self, creds: Credentials | None) -> Terminal:
        """The terminal in the context is gone for good: 29 from now on, even unstrict.

        Its unpaid open invoice is canceled (nobody is left to poll it) and its sticker freed.
        """
        with self.lock:
            self.run_due()
            terminal = self.terminal(creds)
            self._cancel_open_invoice(terminal, self.clock.now())
            tills.release_seqr_id(terminal, self.seqr_ids)
            terminal.active = False
            del self.terminals[terminal.id]
            self.removed_terminals.add(terminal.id)
            shop = self._shop_of(terminal)
            if shop is not None:
                self.ledger.forget_terminal(shop, terminal.id)
            return terminal

    def assign_seqr_id(self, creds: Credentials | None, seqr_id: str | None) -> Terminal:
        with self.lock:
            self.run_due()
            terminal = self.terminal(creds)
            tills.assign_seqr_id(terminal, seqr_id, self.seqr_ids)
            return terminal

    def mark_transaction_period(
        self, creds: Credentials | None, terminal_id: str | None = None
    ) -> reports.Period:
        """Close the shop's period, or one terminal's (10 for a terminal not in this shop)."""
        with self.lock:
            self.run_due()
            shop = self.reseller(creds).id
            if terminal_id:
                found = self.terminals.get(terminal_id)
                if found is None or self._shop_of(found) != shop:
                    raise SeqrError(ResultCode.REJECTED_BUSINESS_LOGIC, "no such terminal here")
            period_id = self.ids.ers_reference()
            return self.ledger.mark(shop, terminal_id or None, period_id, self.clock.now())

    def execute_report(
        self,
        creds: Credentials | None,
        report_id: str | None,
        period_id: str | None,
        terminal_id: str | None = None,
    ) -> reports.Report:
        with self.lock:
            self.run_due()
            shop = self.reseller(creds).id
            kind = reports.report_kind(report_id)
            if not period_id:
                raise SeqrError(ResultCode.REJECTED_BUSINESS_LOGIC, "transactionPeriodId missing")
            now = self.clock.now()
            period = reports.ready_period(
                kind,
                self.ledger.period(period_id.strip()),
                shop,
                terminal_id,
                now,
                self.settings.report_delay,
            )
            return reports.build(kind, period, now)

    def list_terminals(self) -> list[Terminal]:
        with self.lock:
            return list(self.terminals.values())

    def terminal_info(self, terminal_id: str) -> Terminal:
        with self.lock:
            found = self.terminals.get(terminal_id)
            if found is None:
                raise NotFound(f"no terminal {terminal_id}")
            return found

    def open_invoice_at(self, seqr_id: str) -> Invoice:
        """The invoice a customer reaches by scanning a till's sticker `HTTP://SEQR.SE/Q<id>`."""
        with self.lock:
            self.run_due()
            found = self.terminals.get(self.seqr_ids.get(seqr_id.strip(), ""))
            if found is None:
                raise NotFound(f"no terminal has the SEQR id {seqr_id}")
            invoice = self.invoices.get(found.open_invoice or "")
            if invoice is None or invoice.status not in (
                InvoiceStatus.ISSUED,
                InvoiceStatus.PENDING_ISSUER_ACKNOWLEDGE,
            ):
                raise IllegalMove("the till has no open invoice: the app waits for an amount")
            return invoice

    def invoice_for_qr(self, code: str) -> Invoice:
        """What a scanned SEQR code leads to: `R<invoiceReference>` or a till's `Q<seqrId>`."""
        try:
            link = seqr_urls.parse(code)
        except seqr_urls.NotSeqrUrl as exc:
            raise NotFound(str(exc)) from None
        if isinstance(link, seqr_urls.InvoiceLink):
            return self.invoice(link.reference)
        if isinstance(link, seqr_urls.TerminalLink):
            return self.open_invoice_at(link.seqr_id)
        raise NotFound(f"{code!r} is not a SEQR invoice or terminal QR code")

    def _shop_of(self, terminal: Terminal | None) -> str | None:
        """A registered till's reseller; configured and auto-registered terminals belong to
        the first configured reseller (the public test shop by default)."""
        if terminal is not None and terminal.reseller_id:
            return terminal.reseller_id
        resellers = self.settings.resellers
        return resellers[0].id if resellers else None

    def _record_transaction(
        self, invoice: Invoice, ers_reference: str, amount: Decimal, cashier: str | None
    ) -> None:
        shop = self._shop_of(self.terminals.get(invoice.terminal_id))
        if shop is None:
            return
        made = reports.Transaction(
            ers_reference, invoice.terminal_id, cashier, amount, self.clock.now()
        )
        self.ledger.record(shop, made)

    def _record_reversal(self, invoice: Invoice) -> None:
        """A reversed payment gives back what was not refunded yet, in the current period."""
        payment = invoice.payment
        if payment is None:
            return
        left = payment.amount.value - invoice.refunded_total
        if left > 0:
            self._record_transaction(invoice, payment.ers_reference, -left, invoice.data.cashier_id)
