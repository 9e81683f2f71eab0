"""Reconciliation: every payment and refund lands in its shop's open transaction period.

markTransactionPeriod closes a period (the shop's, or one till's) and executeReport reads a
closed one; the rules and the report formats are `domain.reports`. Standard library only;
the caller holds the backend's lock.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from emulator.backend.principals import Principals
from emulator.backend.store import Store
from emulator.clock import IdFactory
from emulator.domain import invoice as rules
from emulator.domain import reports
from emulator.domain.errors import ResultCode, SeqrError
from emulator.domain.model import Invoice


class Periods:
    def __init__(
        self, store: Store, principals: Principals, ids: IdFactory, report_delay: float
    ) -> None:
        self.store = store
        self.principals = principals
        self.ids = ids
        self.report_delay = report_delay

    def record(
        self,
        invoice: Invoice,
        ers_reference: str,
        amount: Decimal,
        cashier: str | None,
        now: datetime,
    ) -> None:
        """A payment (positive) or a refund or reversal (negative) in the shop's open period."""
        store = self.store
        terminal_id = invoice.terminal_id
        shop = self.principals.shop_of(store.terminals.get(terminal_id))
        if shop is None:
            return
        # the store and the terminal id read once each (measured with ers_reference's change)
        store.periods.record(
            shop, reports.Transaction(ers_reference, terminal_id, cashier, amount, now)
        )

    def record_reversal(self, invoice: Invoice, now: datetime) -> None:
        """A reversed payment gives back what was not refunded yet, in the current period."""
        payment = invoice.payment
        left = rules.unrefunded(invoice)
        if payment is not None and left > 0:
            self.record(invoice, payment.ers_reference, -left, invoice.data.cashier_id, now)

    def mark(self, shop: str, terminal_id: str | None, now: datetime) -> reports.Period:
        """Close the shop's period, or one terminal's (10 for a terminal not in this shop)."""
        if terminal_id and not self.principals.in_shop(terminal_id, shop):
            raise SeqrError(ResultCode.REJECTED_BUSINESS_LOGIC, "no such terminal here")
        period_id = self.ids.ers_reference()
        return self.store.periods.mark(shop, terminal_id or None, period_id, now)

    def report(
        self,
        shop: str,
        report_id: str | None,
        period_id: str | None,
        terminal_id: str | None,
        now: datetime,
    ) -> reports.Report:
        kind = reports.report_kind(report_id)
        if not period_id:
            raise SeqrError(ResultCode.REJECTED_BUSINESS_LOGIC, "transactionPeriodId missing")
        found = self.store.periods.period(period_id.strip())
        period = reports.ready_period(kind, found, shop, terminal_id, now, self.report_delay)
        return reports.build(kind, period, now)
