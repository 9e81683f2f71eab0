"""External services (protocol §7.3): their definitions, the sessions a scan opens, the next page.

A service is an id and four pages of the merchant's (order, success, failure, cancel). When
the customer scans `HTTP://SEQR.SE/000/<id>?p=v`, SEQR opens a session: a token the app puts
after `#` in the order page's URL, and that the merchant's backend trades for the customer's
msisdn, subscriberKey and the QR's parameters (getClientSessionInfo). The invoice the service
then sends is tied to the session when the app opens it with the session's token, and paying,
canceling or failing that invoice decides which page the app opens next.

These rules only check and change the objects they are given; the backend owns the
`Registry` and holds the lock. Standard library only.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from emulator.domain.errors import IllegalMove, NotFound, ResultCode, SeqrError
from emulator.domain.model import Customer, InvoiceStatus

ID_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
MAX_ID_LENGTH = 64
# SEQR's own entries of a getClientSessionInfo answer; a QR parameter of the same name is
# left out so that the identity the merchant reads cannot be set by whoever printed the code.
SEQR_KEYS = ("msisdn", "subscriberKey", "authKey")
FORGET_AFTER = timedelta(days=1)  # an expired session answers 60 this long, then 63


class InvalidService(ValueError):
    """A service definition the emulator refuses (HTTP 400; an error in a config file)."""


class SessionState(StrEnum):
    OPEN = "OPEN"  # in the service's pages; no outcome yet
    SUCCEEDED = "SUCCEEDED"  # the tied invoice was paid (or reserved)
    FAILED = "FAILED"
    CANCELED = "CANCELED"  # the customer canceled the tied invoice
    CLOSED = "CLOSED"  # the page left the wizard: SEQR-ACTION://WIZARD/CANCEL


@dataclass(frozen=True, slots=True)
class ServiceDefinition:
    id: str
    order_url: str
    success_url: str
    failure_url: str
    cancel_url: str


@dataclass(slots=True)
class CustomerSession:
    """One customer inside one service, from the scan on; `service` is as it was at the scan."""

    token: str
    service: ServiceDefinition
    parameters: tuple[tuple[str, str], ...]  # the scanned URL's query, unchanged and in order
    customer: Customer
    created_at: datetime
    state: SessionState = SessionState.OPEN
    invoice_reference: str | None = None


PAGES = {
    "orderUrl": "order_url",
    "successUrl": "success_url",
    "failureUrl": "failure_url",
    "cancelUrl": "cancel_url",
}
"""A service's four pages: the name the merchant writes (config file, control API) and the
field of `ServiceDefinition` that holds it, in the order `define` takes them."""


def define(
    service_id: str, order_url: str, success_url: str, failure_url: str, cancel_url: str
) -> ServiceDefinition:
    """A checked definition: the id fits in a QR path, every page is an absolute http(s) URL."""
    sid = service_id.strip() if isinstance(service_id, str) else ""
    if not sid or len(sid) > MAX_ID_LENGTH or not set(sid) <= ID_CHARACTERS:
        raise InvalidService(
            f"service id {service_id!r} must be 1-{MAX_ID_LENGTH} letters, digits or -_.~"
        )
    for name, url in zip(PAGES, (order_url, success_url, failure_url, cancel_url), strict=True):
        check_page_url(name, url)
    return ServiceDefinition(sid, order_url, success_url, failure_url, cancel_url)


def check_page_url(name: str, url: object) -> None:
    """An absolute http(s) URL with a host and no fragment: the app appends `#TOKEN`."""
    if not isinstance(url, str) or not url or url != url.strip() or " " in url:
        raise InvalidService(f"{name} must be an http(s) URL, got {url!r}")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InvalidService(f"{name} is not a URL: {url!r}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidService(f"{name} must be an absolute http(s) URL, got {url!r}")
    if "#" in url:
        raise InvalidService(f"{name} must not have a #fragment: the app puts the token there")


def make_token(number: int, secret: str) -> str:
    """`0000002012-63506374`: a ten-digit session number, then eight random digits."""
    return f"{number:010d}-{secret}"


def order_url(session: CustomerSession) -> str:
    return f"{session.service.order_url}#{session.token}"


def next_url(session: CustomerSession) -> str | None:
    """The page the app opens after the outcome; None while the customer is still deciding."""
    service, token = session.service, session.token
    match session.state:
        case SessionState.SUCCEEDED:
            return f"{service.success_url}#{token}_{session.invoice_reference}"
        case SessionState.FAILED:
            return f"{service.failure_url}#{token}"
        case SessionState.CANCELED | SessionState.CLOSED:
            return f"{service.cancel_url}#{token}"
    return None


def expired(session: CustomerSession, now: datetime, lifetime: float) -> bool:
    """Past its lifetime on the emulator clock; a lifetime of 0 never expires."""
    return lifetime > 0 and now - session.created_at > timedelta(seconds=lifetime)


def client_info(
    session: CustomerSession | None, now: datetime, lifetime: float
) -> list[tuple[str, str]]:
    """getClientSessionInfo's entries: 63 for an unknown token, 60 for an expired one.

    A session whose outcome is known still answers: the success, failure and cancel pages
    carry the same token to look the customer up.
    """
    if session is None:
        raise SeqrError(ResultCode.INVALID_AUTHORIZATION_REFERENCE, "unknown session token")
    if expired(session, now, lifetime):
        raise SeqrError(ResultCode.AUTHORIZATION_EXPIRED, "the session token has expired")
    own = [
        ("msisdn", session.customer.msisdn),
        ("subscriberKey", session.customer.subscriber_key),
        ("authKey", session.token),
    ]
    return own + [(k, v) for k, v in session.parameters if k not in SEQR_KEYS]


def outcome(status: InvoiceStatus) -> SessionState | None:
    """What an invoice's new status means for the session it is tied to."""
    if status in (InvoiceStatus.PAID, InvoiceStatus.RESERVED):
        return SessionState.SUCCEEDED
    if status is InvoiceStatus.FAILED:
        return SessionState.FAILED
    if status is InvoiceStatus.CANCELED:
        return SessionState.CANCELED
    return None


class Registry:
    """The definitions by id (matched without regard to case: printed codes are upper case)
    and the sessions by token and by tied invoice, each found in O(1)."""

    def __init__(self) -> None:
        self._definitions: dict[str, ServiceDefinition] = {}
        self._sessions: dict[str, CustomerSession] = {}
        self._by_invoice: dict[str, str] = {}
        self._by_age: deque[str] = deque()
        self._count = 0

    # --- definitions ---------------------------------------------------------------------------

    def define(self, definition: ServiceDefinition) -> bool:
        """Add or replace; True when the id is new. Open sessions keep the pages they had."""
        key = definition.id.casefold()
        created = key not in self._definitions
        self._definitions[key] = definition
        return created

    def get(self, service_id: str) -> ServiceDefinition:
        found = self._definitions.get(service_id.strip().casefold())
        if found is None:
            raise NotFound(f"no service {service_id!r} (define it with PUT /_emulator/services/ID)")
        return found

    def delete(self, service_id: str) -> ServiceDefinition:
        found = self.get(service_id)
        del self._definitions[found.id.casefold()]
        return found

    def definitions(self) -> list[ServiceDefinition]:
        return sorted(self._definitions.values(), key=lambda d: d.id.casefold())

    # --- sessions ------------------------------------------------------------------------------

    def open(
        self,
        definition: ServiceDefinition,
        parameters: tuple[tuple[str, str], ...],
        customer: Customer,
        now: datetime,
        secret: str,
    ) -> CustomerSession:
        self._count += 1
        session = CustomerSession(
            make_token(self._count, secret), definition, parameters, customer, now
        )
        self._sessions[session.token] = session
        self._by_age.append(session.token)
        return session

    def session(self, token: str | None) -> CustomerSession | None:
        return self._sessions.get((token or "").strip())

    def for_invoice(self, reference: str) -> CustomerSession | None:
        return self._sessions.get(self._by_invoice.get(reference, ""))

    def check_tie(
        self, session: CustomerSession, reference: str, now: datetime, lifetime: float
    ) -> None:
        """May the app open this invoice inside the session? `IllegalMove` (HTTP 409) if not."""
        if session.state is SessionState.CLOSED:
            raise IllegalMove("the session was closed (SEQR-ACTION://WIZARD/CANCEL)")
        if expired(session, now, lifetime):
            raise IllegalMove("the session has expired")
        owner = self._by_invoice.get(reference)
        if owner is not None and owner != session.token:
            raise IllegalMove(f"invoice {reference} belongs to another session")

    def tie(self, session: CustomerSession, reference: str) -> None:
        """The app opened the service's invoice inside the session (after `check_tie`)."""
        if session.invoice_reference not in (None, reference):
            self._by_invoice.pop(session.invoice_reference, None)  # it follows its latest
        session.invoice_reference = reference
        session.state = SessionState.OPEN  # a retry after a failure or cancel reopens it
        self._by_invoice[reference] = session.token

    def forget_expired(self, now: datetime, lifetime: float) -> list[str]:
        """Drop sessions expired for longer than FORGET_AFTER; oldest first, O(1) each.

        Returns the tokens forgotten, so that a store keeping the sessions forgets them too."""
        forgotten: list[str] = []
        if lifetime <= 0:
            return forgotten
        cutoff = now - timedelta(seconds=lifetime) - FORGET_AFTER
        while self._by_age:
            oldest = self._sessions.get(self._by_age[0])
            if oldest is not None and oldest.created_at > cutoff:
                break
            self._by_age.popleft()
            if oldest is not None:
                del self._sessions[oldest.token]
                forgotten.append(oldest.token)
                if oldest.invoice_reference is not None:
                    self._by_invoice.pop(oldest.invoice_reference, None)
        return forgotten

    def __len__(self) -> int:
        return len(self._sessions)

    # --- a lasting state -------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Sessions ever opened: the number in the next token is one more."""
        return self._count

    def sessions(self) -> list[CustomerSession]:
        """Every session kept, oldest first."""
        return [self._sessions[t] for t in self._by_age if t in self._sessions]

    def restore(
        self,
        definitions: list[ServiceDefinition],
        sessions: list[CustomerSession],
        count: int,
    ) -> None:
        """Take over a stored state: the definitions, the sessions oldest first, the count.

        The indexes (by invoice, by age) follow from the sessions themselves."""
        self._definitions = {d.id.casefold(): d for d in definitions}
        self._sessions = {s.token: s for s in sessions}
        self._by_age = deque(s.token for s in sessions)
        self._by_invoice = {
            s.invoice_reference: s.token for s in sessions if s.invoice_reference is not None
        }
        self._count = max(count, len(sessions))


def conclude(session: CustomerSession, status: InvoiceStatus) -> None:
    """Record the tied invoice's outcome; a status that decides nothing changes nothing."""
    state = outcome(status)
    if state is not None:
        session.state = state


def close(session: CustomerSession) -> None:
    """SEQR-ACTION://WIZARD/CANCEL: no further invoice may be tied to the session.

    Leaving the wizard after a successful payment does not undo it: the session keeps its
    success page.
    """
    if session.state is not SessionState.SUCCEEDED:
        session.state = SessionState.CLOSED
