"""External services (protocol §7.3): their definitions and the customers' sessions.

The customer scans a service's code, SEQR opens a session whose token the merchant's page
reads, the page sends the app to an invoice, and the session ends on the outcome. The rules
are `domain.services`; this part keeps the registry in the `Store` and the clock and token
source beside it. Standard library only; the caller holds the backend's lock.
"""

from __future__ import annotations

from emulator.backend.store import Store
from emulator.clock import Clock, IdFactory
from emulator.domain import services as ext
from emulator.domain.errors import NotFound
from emulator.domain.model import Customer, Invoice
from emulator.settings import Settings


class Services:
    def __init__(self, store: Store, clock: Clock, ids: IdFactory, settings: Settings) -> None:
        self.store = store
        self.clock = clock
        self.ids = ids
        self.lifetime = settings.session_lifetime
        for s in settings.services:
            self.define(ext.define(s.id, s.order_url, s.success_url, s.failure_url, s.cancel_url))

    @property
    def registry(self) -> ext.Registry:
        return self.store.services

    def define(self, definition: ext.ServiceDefinition) -> bool:
        """Add or replace a service; True when it is new."""
        return self.registry.define(definition)

    def open(
        self, service_id: str, parameters: tuple[tuple[str, str], ...], customer: Customer
    ) -> ext.CustomerSession:
        """The app scanned `HTTP://SEQR.SE/000/<id>?...`: a new token for a simulated customer."""
        definition = self.registry.get(service_id)
        now = self.clock.now()
        self.registry.forget_expired(now, self.lifetime)
        return self.registry.open(definition, parameters, customer, now, self.ids.digits(8))

    def session(self, token: str) -> ext.CustomerSession:
        found = self.registry.session(token)
        if found is None:
            raise NotFound(f"no session {token!r}")
        return found

    def enter(self, token: str, invoice: Invoice) -> ext.CustomerSession:
        """The service page sent the app to the invoice: it is paid inside the session."""
        session = self.session(token)
        self.registry.check_tie(session, invoice.reference, self.clock.now(), self.lifetime)
        return session

    def tie(self, session: ext.CustomerSession, invoice: Invoice) -> None:
        self.registry.tie(session, invoice.reference)

    def client_info(self, key: str | None) -> list[tuple[str, str]]:
        """getClientSessionInfo: 63 for an unknown token, 60 once past the lifetime."""
        found = self.registry.session(key)
        return ext.client_info(found, self.clock.now(), self.lifetime)

    def next_page(self, invoice: Invoice) -> str | None:
        """The service session's success/failure/cancel page, else the invoice's backURL."""
        session = self.registry.for_invoice(invoice.reference)
        return invoice.data.back_url if session is None else ext.next_url(session)

    def conclude(self, invoice: Invoice) -> None:
        """The invoice's outcome ends the session it was paid in, if any."""
        session = self.registry.for_invoice(invoice.reference)
        if session is not None:
            ext.conclude(session, invoice.status)
