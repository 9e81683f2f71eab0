"""The nouns of SEQR as plain data: amounts, invoices, payments, refunds, principals.

Enum values are the WSDL's spellings (`CANCELED` with one L), so the SOAP layer maps names
one to one. Classes use slots: a CI fleet keeps 100k invoices alive in one process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple, NoReturn


class InvoiceStatus(StrEnum):
    ISSUED = "ISSUED"
    PAID = "PAID"
    PENDING_ISSUER_ACKNOWLEDGE = "PENDING_ISSUER_ACKNOWLEDGE"
    CANCELED = "CANCELED"
    FAILED = "FAILED"
    RESERVED = "RESERVED"


class PaymentMode(StrEnum):
    IMMEDIATE_DEBIT = "IMMEDIATE_DEBIT"
    RESERVATION_DESIRED = "RESERVATION_DESIRED"
    RESERVATION_REQUIRED = "RESERVATION_REQUIRED"
    # Client 2.9+: the total is a ceiling and commitReservation carries the final amount.
    RESERVATION_REQUIRED_PRELIMINARY_AMOUNT = "RESERVATION_REQUIRED_PRELIMINARY_AMOUNT"

    @property
    def reserves(self) -> bool:
        return self is not PaymentMode.IMMEDIATE_DEBIT


class AcknowledgmentMode(StrEnum):
    NO_ACKNOWLEDGMENT = "NO_ACKNOWLEDGMENT"
    OPTIONAL_ACKNOWLEDGMENT = "OPTIONAL_ACKNOWLEDGMENT"
    REQUIRE_ACKNOWLEDGMENT = "REQUIRE_ACKNOWLEDGMENT"


@dataclass(frozen=True, slots=True)
class Amount:
    value: Decimal
    currency: str


@dataclass(slots=True)
class InvoiceRow:
    description: str | None = None
    discount: Amount | None = None
    ean: str | None = None
    quantity: Decimal | None = None
    sku: str | None = None
    tax_rate: Decimal | None = None
    total: Amount | None = None
    unit: str | None = None
    unit_price: Amount | None = None


@dataclass(slots=True)
class InvoiceData:
    """What the merchant sent in `invoice`: kept as sent so the receipt can echo it."""

    payment_mode: PaymentMode | None = None
    ack_mode: AcknowledgmentMode | None = None
    issue_date: datetime | None = None
    title: str | None = None
    client_invoice_id: str | None = None
    rows: list[InvoiceRow] | None = None
    total: Amount | None = None
    cashier_id: str | None = None
    footer: str | None = None
    back_url: str | None = None
    notification_url: str | None = None
    commit_reservation_timeout: int | None = None  # seconds; client 2.9+, not in the WSDL

    @property
    def effective_payment_mode(self) -> PaymentMode:
        return self.payment_mode or PaymentMode.IMMEDIATE_DEBIT


@dataclass(slots=True)
class CustomerToken:
    """A loyalty token: `id` is its type (e.g. a card scheme), `value` the card number."""

    id: str | None = None
    value: str | None = None
    description: str | None = None
    status: int = 0  # 0 pending usage, 1 used in this payment, 90 blocked, 99 unknown


@dataclass(frozen=True, slots=True)
class Customer:
    """The emulated SEQR user who scans and pays."""

    msisdn: str = "46700000001"
    subscriber_key: str = "4711"
    payer_terminal_id: str = ""


@dataclass(slots=True)
class Payment:
    ers_reference: str
    date: datetime
    amount: Amount
    customer: Customer
    acknowledged: bool = False


@dataclass(slots=True)
class Refund:
    ers_reference: str
    date: datetime
    amount: Amount
    cashier_id: str | None = None


@dataclass(slots=True)
class Receipt:
    """A receipt document the merchant attached with submitPaymentReceipt."""

    ers_reference: str
    target_reference: str
    mime_type: str | None
    receipt_type: str | None
    size: int
    date: datetime


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    event: str
    status: InvoiceStatus
    version: int


@dataclass(slots=True)
class Terminal:
    """A merchant terminal. Cash registers (registerTerminal) hold one open invoice at a time."""

    id: str
    password: str
    name: str | None = None
    cash_register: bool = False
    external_id: str | None = None
    reseller_id: str | None = None
    seqr_id: str | None = None
    active: bool = True
    open_invoice: str | None = None


@dataclass(frozen=True, slots=True)
class Reseller:
    """A RESELLERUSER principal: registers terminals and runs reports."""

    id: str
    user_id: str
    password: str


class _Empty(list[Any]):
    """An empty list that refuses to grow (`NO_ITEMS`)."""

    __slots__ = ()

    def _refuse(self, *_: object) -> NoReturn:
        raise TypeError("NO_ITEMS is every invoice's: replace it with a list, never grow it")

    append = extend = insert = __setitem__ = __iadd__ = __imul__ = _refuse
    # Hashable by identity, so that a dataclass takes it as a plain default: a default
    # factory is a call in every Invoice made (callgrind: an Invoice made and stored 13.3k
    # instructions with the three factories, 12.2k without).
    __hash__ = object.__hash__  # type: ignore[assignment]  # typeshed: a list has none


NO_ITEMS: list[Any] = _Empty()
"""The empty list of refunds, receipts and loyalty tokens of every invoice that has none yet,
one for all: the rule that adds the first replaces it (`domain.invoice`). It equals []."""
_ZERO = Decimal(0)


@dataclass(slots=True)
class Invoice:
    reference: str
    terminal_id: str
    data: InvoiceData
    created_at: datetime
    status: InvoiceStatus = InvoiceStatus.ISSUED
    version: int = 0
    customer: Customer | None = None
    in_progress: bool = False  # the customer scanned and is confirming (still ISSUED)
    # A CI fleet keeps 100k invoices, most with no tokens, refunds or receipts: those share
    # NO_ITEMS, and a refunded total of zero shares one Decimal. Worth: 272 bytes an
    # invoice (three empty lists of 56 bytes and a Decimal of 104, sys.getsizeof), of the
    # 1,113 bytes an invoice that `bench/run.py` measured with them shared.
    customer_tokens: list[CustomerToken] = NO_ITEMS
    merchant_acknowledged: bool = False
    payment: Payment | None = None
    refunds: list[Refund] = NO_ITEMS
    refunded_total: Decimal = _ZERO  # kept, not summed: O(1) refunds
    receipts: list[Receipt] = NO_ITEMS
    history: list[HistoryEntry] = field(default_factory=list)
    # How many times the store was told the invoice changed (`Store.changed`): a view made
    # of the invoice (the SOAP adapter's answer to a poll) stands while this is the same.
    changes: int = field(default=0, compare=False, repr=False)


class Credentials(NamedTuple):
    """`context.initiatorPrincipalId` plus `context.password`, as the merchant sent them.

    A named tuple: one is made for every SOAP request read, and a frozen dataclass costs
    twice as much to make (callgrind: 7.6k instructions against 3.5k)."""

    id: str | None
    type: str | None
    user_id: str | None
    password: str | None
