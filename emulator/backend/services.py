"""External services (protocol §7.3): definitions, customer sessions, getClientSessionInfo."""

from __future__ import annotations

from emulator.backend.core import Core
from emulator.domain import services as ext
from emulator.domain.errors import NotFound
from emulator.domain.model import (
    Credentials,
    Customer,
    Invoice,
    InvoiceStatus,
)


class ServiceVerbs(Core):
    """The External Service flow's state changes."""

    # --- external services (protocol §7.3) -----------------------------------------------------

    @property
    def _lifetime(self) -> float:
        return self.settings.session_lifetime

    def define_service(self, definition: ext.ServiceDefinition) -> bool:
        """Add or replace a service; True when it is new."""
        with self.lock:
            return self.services.define(definition)

    def delete_service(self, service_id: str) -> ext.ServiceDefinition:
        with self.lock:
            return self.services.delete(service_id)

    def service(self, service_id: str) -> ext.ServiceDefinition:
        with self.lock:
            return self.services.get(service_id)

    def list_services(self) -> list[ext.ServiceDefinition]:
        with self.lock:
            return self.services.definitions()

    def open_session(
        self,
        service_id: str,
        parameters: tuple[tuple[str, str], ...],
        customer: Customer | None = None,
    ) -> ext.CustomerSession:
        """The app scanned `HTTP://SEQR.SE/000/<id>?...`: a new token for a simulated customer."""
        with self.lock:
            definition = self.services.get(service_id)
            now = self.clock.now()
            self.services.forget_expired(now, self._lifetime)
            return self.services.open(
                definition, parameters, customer or self.customer(), now, self.ids.digits(8)
            )

    def session(self, token: str) -> ext.CustomerSession:
        with self.lock:
            found = self.services.session(token)
            if found is None:
                raise NotFound(f"no session {token!r}")
            return found

    def close_session(self, token: str) -> ext.CustomerSession:
        """SEQR-ACTION://WIZARD/CANCEL: the service page gives up; the app shows the cancel page."""
        with self.lock:
            found = self.session(token)
            ext.close(found)
            return found

    def client_session_info(
        self, creds: Credentials | None, key: str | None
    ) -> list[tuple[str, str]]:
        """getClientSessionInfo: 63 for an unknown token, 60 once past `session_lifetime`."""
        with self.lock:
            self.run_due()
            self.terminal(creds)
            found = self.services.session(key)
            return ext.client_info(found, self.clock.now(), self._lifetime)

    def next_page(self, reference: str) -> str | None:
        """The URL the app opens after the customer acted on the invoice: the service session's
        success/failure/cancel page when the invoice is tied to one, else its backURL; None
        while the invoice still waits for the customer."""
        with self.lock:
            found = self.invoice(reference)
            if found.status in (InvoiceStatus.ISSUED, InvoiceStatus.PENDING_ISSUER_ACKNOWLEDGE):
                return None
            session = self.services.for_invoice(found.reference)
            return found.data.back_url if session is None else ext.next_url(session)

    def _conclude_session(self, found: Invoice) -> None:
        session = self.services.for_invoice(found.reference)
        if session is not None:
            ext.conclude(session, found.status)
