"""The emulated customer's app: what the control API, dashboard and scenarios drive."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from emulator.backend.core import Core
from emulator.domain import invoice as rules
from emulator.domain.errors import NotFound
from emulator.domain.model import (
    Customer,
    CustomerToken,
    Invoice,
    InvoiceStatus,
)


class CustomerVerbs(Core):
    """Scan, pay, cancel and fail, as the SEQR app would."""

    # --- the emulated customer (control API, dashboard, scenarios) -----------------------------

    def customer(self) -> Customer:
        return Customer(payer_terminal_id=self.ids.hex_id(25))

    def invoice(self, reference: str) -> Invoice:
        with self.lock:
            self.run_due()
            found = self.invoices.get(reference)
            if found is None:
                raise NotFound(f"no invoice {reference}")
            return found

    def list_invoices(self) -> list[Invoice]:
        with self.lock:
            self.run_due()
            return list(self.invoices.values())

    def scan(
        self,
        reference: str,
        tokens: Iterable[CustomerToken] = (),
        *,
        session_token: str | None = None,
    ) -> Invoice:
        """The customer opens the invoice; inside a service session it is tied to the session
        and paid as the session's customer (the one getClientSessionInfo named)."""
        with self.lock:
            found = self.invoice(reference)
            before = found.version
            session = None if session_token is None else self.session(session_token)
            if session is not None:
                self.services.check_tie(session, reference, self.clock.now(), self._lifetime)
            customer = session.customer if session else found.customer or self.customer()
            rules.scan(found, customer, list(tokens), self.clock.now())
            if session is not None:
                self.services.tie(session, reference)
        self._emit("scanned" if found.version == before else "pending", found)
        return found

    def pay(self, reference: str, *, reserve: bool | None = None) -> Invoice:
        with self.lock:
            found = self.invoice(reference)
            customer = found.customer or self.customer()
            rules.pay(found, customer, self.clock.now(), self.ids.ers_reference(), reserve=reserve)
            if found.status is InvoiceStatus.RESERVED:
                self._reserved(found)
            else:
                self._paid(found)
            self._conclude_session(found)
        self._emit(found.status.value.lower(), found)
        return found

    def customer_cancel(self, reference: str) -> Invoice:
        return self._end_in_app(reference, rules.customer_cancel, "canceled")

    def fail(self, reference: str) -> Invoice:
        return self._end_in_app(reference, rules.fail, "failed")

    def _end_in_app(
        self, reference: str, rule: Callable[[Invoice, datetime], None], event: str
    ) -> Invoice:
        """The customer's invoice ends without a payment; a service session learns of it."""
        with self.lock:
            found = self.invoice(reference)
            rule(found, self.clock.now())
            self._conclude_session(found)
        self._emit(event, found)
        return found
