"""The invoice lifecycle: every rule about what may happen to an invoice in which state.

Two kinds of actor move an invoice. The merchant's SOAP operations answer with result codes
(`SeqrError`); the emulated customer's app actions are refused with `IllegalMove` when the
state forbids them. Each function either changes nothing and raises, or makes the whole
change: the caller holds the backend's lock, so a change is atomic.

`version` follows the visible state: it grows by one on every status change, every new set of
customer tokens and every accepted updateInvoice, starting at 0.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Context, Decimal
from typing import TypeVar
from urllib.parse import urlsplit

from emulator.domain.errors import IllegalMove, ResultCode, SeqrError
from emulator.domain.model import (
    AcknowledgmentMode,
    Amount,
    Customer,
    CustomerToken,
    HistoryEntry,
    Invoice,
    InvoiceData,
    InvoiceRow,
    InvoiceStatus,
    Payment,
    PaymentMode,
    Receipt,
    Refund,
)

T = TypeVar("T")
HISTORY_LIMIT = 64
RECEIPT_LIMIT = 16  # receipts kept per invoice: a till that resends one cannot grow it
S = InvoiceStatus
OPEN = frozenset({S.ISSUED, S.PENDING_ISSUER_ACKNOWLEDGE})
"""The states in which the customer may still act on an invoice."""


def _record(invoice: Invoice, now: datetime, event: str, *, visible: bool = True) -> None:
    if visible:
        invoice.version += 1
    history = invoice.history
    history.append(HistoryEntry(now, event, invoice.status, invoice.version))
    if len(history) > HISTORY_LIMIT:
        del history[1 : len(history) - HISTORY_LIMIT + 1]  # keep the creation entry


def _added(items: list[T], item: T) -> list[T]:
    """`items` with `item` at the end: the same list, or a new one for the first item (an
    invoice's empty lists are the shared `NO_ITEMS`)."""
    if not items:
        return [item]
    items.append(item)
    return items


def note(invoice: Invoice, now: datetime, event: str) -> None:
    """A line in the invoice's history that changes nothing visible (no version bump)."""
    _record(invoice, now, event, visible=False)


# The numbers SEQR is sent. It documented no bound: these hold every real one with room to
# spare, and keep each answer a number is written back into short and quick to write.
#
# Every decimal kept (amounts and row numbers) has at most 18 digits before the point, more
# than any amount in any currency (a Java long holds 18 in full), and at most 100 after it as
# written, trailing zeros counted: room for the exact expansion of a double from a client's
# price arithmetic (`new BigDecimal(0.1)` has 55), and a bound on the digits echoed, so that
# `1E-999999999` (12 characters, a billion digits printed) or a million trailing zeros is
# refused. Rows are held to that alone: plugins send negative discounts, tax rates of any
# scale and what float arithmetic leaves in them.
#
# An amount that moves money (a total, a refund, a commit) is money besides: at most 8 digits
# after the point once trailing zeros are dropped, more than any currency's minor unit (ISO
# 4217 goes to 4). 26 significant digits: the sum of two amounts (a refund against its
# payment) is exact in Python's default 28-digit context.
INTEGER_DIGITS = 18
WRITTEN_FRACTION_DIGITS = 100
MONEY_FRACTION_DIGITS = 8
_MONEY_STEP = Decimal(1).scaleb(-MONEY_FRACTION_DIGITS)
# Room for the one more digit rounding can carry (999...9.999999999 to 1000...0.00000000).
_MONEY_CONTEXT = Context(prec=INTEGER_DIGITS + MONEY_FRACTION_DIGITS + 1)
NUMBER_RULE = (
    f"at most {INTEGER_DIGITS} digits before the point and {WRITTEN_FRACTION_DIGITS} after it"
)
MONEY_RULE = (
    f"at most {INTEGER_DIGITS} digits before the point and {MONEY_FRACTION_DIGITS} after it"
)
ROW_LIMIT = 1000
"""invoiceRows an invoice may have (SEQR documented none; a till receipt has tens): every
PAID poll writes them all back in its receipt."""


def _number_exponent(value: Decimal) -> int | None:
    """The exponent of the last digit as written, for a value `is_number` accepts; None for
    one it refuses.

    At most 18 digits before the point and 100 after it. Constant time for an absurd
    exponent (`adjusted()` is the exponent of the leading digit, of the exponent itself for
    a zero, read without formatting anything), else linear in the digits sent. A zero is
    held to it by its exponent: `0.00` is a number, `0E-999999999` (a billion zeros
    printed) is not. The exponent is read off the value's text, which `adjusted()` bounded:
    `as_tuple()` builds a named tuple of every digit: a sendInvoice (three numbers) 7.4k
    instructions more, 446.2k against 438.8k, a refund 3.9k (bench/instructions.py). And
    money with 8 digits after the point or fewer, as written, is not quantized.
    """
    if not value.is_finite():
        return None
    magnitude = value.adjusted()
    if not -WRITTEN_FRACTION_DIGITS <= magnitude < INTEGER_DIGITS:
        return None
    mantissa, _, power = str(value).partition("E")
    point = mantissa.find(".")
    exponent = (int(power) if power else 0) - (0 if point < 0 else len(mantissa) - point - 1)
    return exponent if exponent >= -WRITTEN_FRACTION_DIGITS else None


def is_number(value: Decimal) -> bool:
    """At most 18 digits before the point and 100 after it, as written (`_number_exponent`)."""
    return _number_exponent(value) is not None


def is_money(value: Decimal) -> bool:
    """A number (`is_number`) with at most 8 digits after the point once trailing zeros are
    dropped: `10.0000000000` is money (10), `0.123456789` and `1E+18` are not."""
    exponent = _number_exponent(value)
    if exponent is None:
        return False
    if exponent >= -MONEY_FRACTION_DIGITS:  # 8 digits after the point or fewer, as written
        return True
    if value.is_zero():
        return True
    if value.adjusted() < -MONEY_FRACTION_DIGITS:
        return False
    return value == value.quantize(_MONEY_STEP, context=_MONEY_CONTEXT)


def check_amount(amount: Amount, what: str) -> None:
    """A positive amount of money: 11 REJECTED_AMOUNT otherwise."""
    if amount.value <= 0:
        raise SeqrError(ResultCode.REJECTED_AMOUNT, f"{what} must be greater than 0")
    if not is_money(amount.value):
        raise SeqrError(ResultCode.REJECTED_AMOUNT, f"{what} must have {MONEY_RULE}")


def validate(data: InvoiceData) -> None:
    """sendInvoice/updateInvoice checks: 49 for bad data, 11 for a bad amount, 64 for the URL.

    Rows are not required to add up to the total: real plugins send discount and tax rows that
    do not, and SEQR accepted them. Their numbers are only held to `is_number` (49).
    """
    total = data.total
    if total is None or total.value is None:
        raise SeqrError(ResultCode.INVALID_INVOICE_DATA, "totalAmount is required")
    check_currency(total)
    check_amount(total, "totalAmount")
    check_notification_url(data.notification_url)
    rows = data.rows or ()
    if len(rows) > ROW_LIMIT:
        raise SeqrError(ResultCode.INVALID_INVOICE_DATA, f"more than {ROW_LIMIT} invoiceRows")
    for number, row in enumerate(rows, 1):
        _check_row(row, number)


def _check_row(row: InvoiceRow, number: int) -> None:
    discount, total, unit_price = row.discount, row.total, row.unit_price
    values = (
        ("itemQuantity", row.quantity),
        ("itemTaxRate", row.tax_rate),
        ("itemDiscount", None if discount is None else discount.value),
        ("itemTotalAmount", None if total is None else total.value),
        ("itemUnitPrice", None if unit_price is None else unit_price.value),
    )
    for name, value in values:
        if value is not None and not is_number(value):
            detail = f"invoiceRow {number}: {name} must have {NUMBER_RULE}"
            raise SeqrError(ResultCode.INVALID_INVOICE_DATA, detail)


def check_notification_url(url: str | None) -> None:
    """64 for a notificationUrl that is present but not an absolute http(s) URL."""
    if url is not None and not is_http_url(url):
        raise SeqrError(ResultCode.INVALID_NOTIFICATION_URL, "notificationUrl must be http(s)")


def check_currency(amount: Amount) -> None:
    currency = amount.currency or ""
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise SeqrError(ResultCode.INVALID_INVOICE_DATA, f"invalid currency {currency!r}")


def is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def issue(reference: str, terminal_id: str, data: InvoiceData, now: datetime) -> Invoice:
    validate(data)
    # its first history entry, as `_record` writes it, in a list of one (an append would
    # leave room for four)
    created = HistoryEntry(now, "issued", S.ISSUED, 0)
    return Invoice(reference, terminal_id, data, now, history=[created])


def needs_acknowledgment(invoice: Invoice, tokens_presented: bool) -> bool:
    mode = invoice.data.ack_mode
    if invoice.merchant_acknowledged:
        return False
    if mode is AcknowledgmentMode.REQUIRE_ACKNOWLEDGMENT:
        return True
    return mode is AcknowledgmentMode.OPTIONAL_ACKNOWLEDGMENT and tokens_presented


# --- the customer's app ------------------------------------------------------------------------


def scan(invoice: Invoice, customer: Customer, tokens: list[CustomerToken], now: datetime) -> None:
    """The customer opens the invoice: loyalty modes stop here until the merchant answers."""
    if invoice.status is not S.ISSUED:
        raise IllegalMove(f"cannot scan an invoice that is {invoice.status.value}")
    invoice.customer = customer
    if needs_acknowledgment(invoice, bool(tokens)):
        invoice.customer_tokens = [
            CustomerToken(t.id, t.value, t.description, status=0) for t in tokens
        ]
        invoice.status = S.PENDING_ISSUER_ACKNOWLEDGE
        _record(invoice, now, "scanned: waiting for the merchant's updateInvoice")
        return
    invoice.in_progress = True
    _record(invoice, now, "scanned", visible=False)


def pay(
    invoice: Invoice,
    customer: Customer,
    now: datetime,
    ers_reference: str,
    *,
    reserve: bool | None = None,
) -> None:
    """The customer confirms with the PIN: PAID, or RESERVED in the reservation modes.

    `reserve=False` lets a RESERVATION_DESIRED invoice be debited at once, as SEQR did when
    the customer's bank did not support reservations.
    """
    if invoice.status is S.PENDING_ISSUER_ACKNOWLEDGE:
        raise IllegalMove("the app is waiting for the merchant to acknowledge (updateInvoice)")
    if invoice.status is not S.ISSUED:
        raise IllegalMove(f"cannot pay an invoice that is {invoice.status.value}")
    if needs_acknowledgment(invoice, bool(invoice.customer_tokens)):
        raise IllegalMove(
            "this invoice requires acknowledgment: scan it, then the merchant must updateInvoice"
        )
    invoice.customer = invoice.customer or customer
    invoice.in_progress = False
    mode = invoice.data.effective_payment_mode
    reserves = mode.reserves and not (reserve is False and mode is PaymentMode.RESERVATION_DESIRED)
    if reserves:
        invoice.status = S.RESERVED
        _record(invoice, now, "reserved by the customer")
        return
    _settle(invoice, now, ers_reference, _total(invoice), "paid by the customer")


def customer_cancel(invoice: Invoice, now: datetime) -> None:
    if invoice.status not in (S.ISSUED, S.PENDING_ISSUER_ACKNOWLEDGE):
        raise IllegalMove(f"cannot cancel an invoice that is {invoice.status.value}")
    _close(invoice, S.CANCELED, now, "canceled by the customer")


def fail(invoice: Invoice, now: datetime) -> None:
    if invoice.status not in (S.ISSUED, S.PENDING_ISSUER_ACKNOWLEDGE):
        raise IllegalMove(f"cannot fail an invoice that is {invoice.status.value}")
    _close(invoice, S.FAILED, now, "payment failed")


# --- the merchant's operations -----------------------------------------------------------------


def merchant_cancel(
    invoice: Invoice, now: datetime, reason: str = "canceled by the merchant"
) -> None:
    status = invoice.status
    if status is S.PAID:
        raise SeqrError(ResultCode.CANNOT_CANCEL_PAID_INVOICE)
    if status is S.CANCELED:
        raise SeqrError(ResultCode.INVOICE_ALREADY_CANCELED)
    if status is S.FAILED:
        return  # nothing left to cancel; answered as success
    if status is S.ISSUED and invoice.in_progress:
        raise SeqrError(ResultCode.CANNOT_CANCEL_INVOICE_IN_PROGRESS)
    _close(invoice, S.CANCELED, now, reason)


def update(invoice: Invoice, data: InvoiceData, now: datetime) -> None:
    status = invoice.status
    if status in (S.PAID, S.CANCELED, S.FAILED):
        raise SeqrError(ResultCode.REJECTED_BUSINESS_LOGIC, f"invoice is {status.value}")
    if status is S.ISSUED and invoice.in_progress:
        raise SeqrError(ResultCode.PAYMENT_IN_PROGRESS)
    validate(data)
    invoice.data = data
    if status is S.PENDING_ISSUER_ACKNOWLEDGE:
        invoice.status = S.ISSUED
        invoice.merchant_acknowledged = True
        invoice.in_progress = True  # the customer is back in the app, confirming
        _record(invoice, now, "acknowledged by the merchant (updateInvoice)")
        return
    _record(invoice, now, "updated by the merchant")


def commit(invoice: Invoice, amount: Amount | None, now: datetime, ers_reference: str) -> None:
    if invoice.status is not S.RESERVED:
        raise SeqrError(ResultCode.INVOICE_STATE_NOT_RESERVED)
    reserved = _total(invoice)
    if amount is not None and amount.value is not None:
        check_currency(amount)
        if amount.currency != reserved.currency:
            raise SeqrError(ResultCode.INVALID_INVOICE_DATA, "currency differs from the invoice")
        check_amount(amount, "amount")
        if amount.value > reserved.value:
            raise SeqrError(ResultCode.REJECTED_AMOUNT, "amount exceeds the reservation")
        reserved = amount
    _settle(invoice, now, ers_reference, reserved, "reservation committed by the merchant")


def is_open(invoice: Invoice) -> bool:
    """The customer may still act: a till's sticker leads to it, a newer invoice cancels it."""
    return invoice.status in OPEN


def supersede(invoice: Invoice, now: datetime) -> bool:
    """A cash register issued a newer invoice: the open one it replaces is canceled."""
    if not is_open(invoice):
        return False
    invoice.in_progress = False
    merchant_cancel(invoice, now, "canceled by a newer invoice on the cash register")
    return True


def attach_receipt(
    invoice: Invoice,
    target: str,
    mime_type: str | None,
    receipt_type: str | None,
    size: int,
    now: datetime,
    ers_reference: str,
) -> Receipt:
    """submitPaymentReceipt: only a PAID invoice takes one, and it acknowledges the payment."""
    if invoice.status is not S.PAID:
        raise SeqrError(ResultCode.INVALID_ERS_REFERENCE, f"invoice is {invoice.status.value}")
    acknowledge(invoice)
    receipt = Receipt(ers_reference, target, mime_type, receipt_type, size, now)
    receipts = invoice.receipts = _added(invoice.receipts, receipt)
    del receipts[:-RECEIPT_LIMIT]
    return receipt


def check_reservable(invoice: Invoice) -> None:
    """A scenario's `reserve`: only a reservation paymentMode has anything to reserve."""
    if not invoice.data.effective_payment_mode.reserves:
        raise IllegalMove("its paymentMode is IMMEDIATE_DEBIT: nothing to reserve")


def unrefunded(invoice: Invoice) -> Decimal:
    """What a reversal gives back: the payment less what was refunded already."""
    payment = invoice.payment
    return Decimal(0) if payment is None else payment.amount.value - invoice.refunded_total


def acknowledge(invoice: Invoice) -> bool:
    """getPaymentStatus or submitPaymentReceipt: the merchant has seen the payment.

    True when this call is the acknowledgment (the payment was not acknowledged before)."""
    payment = invoice.payment
    if payment is None or payment.acknowledged or invoice.status is not S.PAID:
        return False
    payment.acknowledged = True
    return True


def reverse_unacknowledged(invoice: Invoice, now: datetime) -> bool:
    """The acknowledgment window passed: SEQR refunds the customer and cancels the payment."""
    payment = invoice.payment
    if invoice.status is not S.PAID or payment is None or payment.acknowledged:
        return False
    _close(invoice, S.CANCELED, now, "reversed: payment not acknowledged in time")
    return True


def expire_reservation(invoice: Invoice, now: datetime) -> bool:
    if invoice.status is not S.RESERVED:
        return False
    _close(invoice, S.CANCELED, now, "reservation expired (commitReservationTimeout)")
    return True


def check_payment_reference(invoice: Invoice, ers_reference: str | None) -> None:
    """refundPayment names the payment's ersReference: a refund's or a receipt's is 23."""
    payment = invoice.payment
    if payment is None or payment.ers_reference != (ers_reference or "").strip():
        raise SeqrError(ResultCode.INVALID_ERS_REFERENCE, "not a payment reference")


def refund(
    invoice: Invoice, amount: Amount | None, now: datetime, ers_reference: str, cashier: str | None
) -> Refund:
    payment = invoice.payment
    if invoice.status is not S.PAID or payment is None:
        raise SeqrError(ResultCode.INVALID_ERS_REFERENCE, "no payment to refund")
    if amount is None or amount.value is None:
        raise SeqrError(ResultCode.INVALID_INVOICE_DATA, "totalAmount is required")
    check_currency(amount)
    if amount.currency != payment.amount.currency:
        raise SeqrError(ResultCode.INVALID_INVOICE_DATA, "currency differs from the payment")
    check_amount(amount, "refund amount")
    if invoice.refunded_total + amount.value > payment.amount.value:
        raise SeqrError(ResultCode.SUM_OF_REFUNDS_CAN_NOT_BE_MORE_THAN_ORIGINAL_TRANSACTION)
    made = Refund(ers_reference, now, amount, cashier)
    invoice.refunds = _added(invoice.refunds, made)
    invoice.refunded_total += amount.value
    # `!s`: str() of the Decimal, not its __format__ (the same text):
    # a refundPayment 313.1k -> 312.0k instructions (bench/instructions.py)
    _record(invoice, now, f"refunded {amount.value!s} {amount.currency}", visible=False)
    return made


# --- helpers -----------------------------------------------------------------------------------


def _total(invoice: Invoice) -> Amount:
    total = invoice.data.total
    assert total is not None, "validated at issue"
    return total


def _settle(invoice: Invoice, now: datetime, ers: str, amount: Amount, event: str) -> None:
    customer = invoice.customer or Customer()
    invoice.payment = Payment(ers, now, amount, customer)
    invoice.status = S.PAID
    invoice.in_progress = False
    _record(invoice, now, event)


def _close(invoice: Invoice, status: InvoiceStatus, now: datetime, event: str) -> None:
    invoice.status = status
    invoice.in_progress = False
    _record(invoice, now, event)
