"""A tour of every kind of write a backend makes, one step at a time, for the state tests.

`tour(backend)` yields after each step a line saying what it did: invoices in every state
(paid and refunded, reversed, reserved and committed, lapsed, canceled, failed, acknowledged
after loyalty cards), receipts, a cash register with a sticker and a superseded invoice,
transaction periods of the shop and of a till, an unregistered till, external services and
their sessions (tied, concluded, closed, forgotten), and terminal scenarios. A test checks
what it must after each step. The backend needs `ack_window` 5, `session_lifetime` 60 and a
frozen clock: the tour advances it itself. It ends with two deadlines pending: an
unacknowledged payment (reversed 5 s after it) and a reservation (lapsing 40 s after it).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from emulator.backend import SeqrBackend
from emulator.domain import services as ext
from emulator.domain.model import (
    AcknowledgmentMode,
    Amount,
    Credentials,
    CustomerToken,
    InvoiceData,
    InvoiceRow,
    PaymentMode,
)
from emulator.scenario.loader import from_mapping

SHOP = Credentials("tour-terminal", "TERMINALID", None, "tour-secret")
RESELLER = Credentials("public_test_shop", "RESELLERUSER", "9900", "1234")
INLINE = {
    "description": "pays after two polls, notified late",
    "seed": 3,
    "steps": [
        {"when": "polls", "polls": 2, "do": "pay", "notification": "delay", "delay": 2.5},
        {"when": "operation", "operation": "refundPayment", "do": "answer", "result_code": 37},
    ],
}


def sek(value: str) -> Amount:
    return Amount(Decimal(value), "SEK")


def order(total: str = "100.00", **extra: object) -> InvoiceData:
    data = InvoiceData(
        payment_mode=PaymentMode.IMMEDIATE_DEBIT,
        title="Order 1001 — tröja",
        client_invoice_id="1001",
        rows=[
            InvoiceRow(
                description="T-shirt",
                quantity=Decimal("2"),
                unit_price=sek("50.00"),
                total=sek(total),
                tax_rate=Decimal("0.25"),
                sku="TS-1",
            )
        ],
        total=sek(total),
        cashier_id="anna",
        back_url="https://shop.example/done?order=1001",
        notification_url="http://127.0.0.1:9/notify",
    )
    for key, value in extra.items():
        setattr(data, key, value)
    return data


def tour(backend: SeqrBackend) -> Iterator[str]:
    b = backend
    paid = b.send_invoice(SHOP, order()).reference
    yield "sendInvoice (the terminal registers on first use)"
    b.pay(paid)
    yield "pay"
    b.get_payment_status(SHOP, paid)
    yield "getPaymentStatus acknowledges"
    ers = b.invoice(paid).payment.ers_reference  # type: ignore[union-attr]
    b.refund_payment(SHOP, ers, sek("30.00"), "bob")
    yield "refundPayment"
    b.submit_payment_receipt(SHOP, ers, "text/plain", "SALE", b"receipt")
    yield "submitPaymentReceipt"

    reversed_ = b.send_invoice(SHOP, order("20.00")).reference
    b.pay(reversed_)
    yield "an unacknowledged payment"
    b.advance_clock(6)
    yield "the acknowledgment window passes: reversed"

    loyal = b.send_invoice(
        SHOP, order(ack_mode=AcknowledgmentMode.OPTIONAL_ACKNOWLEDGMENT)
    ).reference
    b.scan(loyal, [CustomerToken("X_CARD", "4711", "Club")])
    yield "scan with loyalty cards: PENDING_ISSUER_ACKNOWLEDGE"
    b.update_invoice(SHOP, loyal, order("90.00"))
    yield "updateInvoice acknowledges"
    b.pay(loyal)
    yield "pay the acknowledged invoice"

    reserve = PaymentMode.RESERVATION_REQUIRED
    committed = b.send_invoice(SHOP, order(payment_mode=reserve)).reference
    lapsing = b.send_invoice(
        SHOP, order(payment_mode=reserve, commit_reservation_timeout=30)
    ).reference
    b.pay(committed)
    b.pay(lapsing)
    yield "two reservations"
    b.commit_reservation(SHOP, committed, sek("80.00"))
    yield "commitReservation"
    b.advance_clock(31)
    yield "a reservation lapses"

    canceled = b.send_invoice(SHOP, order()).reference
    b.cancel_invoice(SHOP, canceled)
    yield "cancelInvoice"
    gone = b.send_invoice(SHOP, order()).reference
    b.customer_cancel(gone)
    failed = b.send_invoice(SHOP, order()).reference
    b.fail(failed)
    yield "the customer cancels, a payment fails"

    till = b.register_terminal(RESELLER, "till-7", "till-pass", "Till 7")
    till_creds = Credentials(till.id, "TERMINALID", None, "till-pass")
    yield "registerTerminal"
    b.assign_seqr_id(till_creds, "STICKER7")
    yield "assignSeqrId"
    b.send_invoice(till_creds, order("5.00"))
    b.send_invoice(till_creds, order("6.00"))
    yield "a cash register supersedes its open invoice"
    b.scan(b.open_invoice_at("STICKER7").reference)
    b.pay(b.open_invoice_at("STICKER7").reference)
    b.get_payment_status(till_creds, None)
    yield "the customer pays at the sticker; the till polls its open invoice"

    b.mark_transaction_period(RESELLER)
    yield "markTransactionPeriod (shop)"
    b.mark_transaction_period(RESELLER, till.id)
    yield "markTransactionPeriod (till)"
    later = b.send_invoice(till_creds, order("7.00")).reference
    b.pay(later)
    b.get_payment_status(till_creds, later)
    yield "a payment in the new periods"

    coffee = ext.define(
        "COFFEE",
        "https://coffee.example/order",
        "https://coffee.example/ok",
        "https://coffee.example/fail",
        "https://coffee.example/cancel",
    )
    b.define_service(coffee)
    yield "define a service"
    session = b.open_session("coffee", (("table", "12"), ("msisdn", "spoofed")))
    yield "open a session"
    latte = b.send_invoice(SHOP, order("4.00")).reference
    b.scan(latte, session_token=session.token)
    yield "scan inside the session (tied)"
    b.client_session_info(SHOP, session.token)
    yield "getClientSessionInfo (reads only)"
    b.pay(latte)
    yield "pay: the session succeeds"
    left = b.open_session("COFFEE", ())
    b.close_session(left.token)
    yield "the wizard is canceled: a session closes"
    b.define_service(ext.define("TEA", *(f"https://tea.example/{p}" for p in "oafc")))
    b.delete_service("tea")
    yield "define and delete a service"

    b.set_terminal_scenario("tour-terminal", from_mapping(INLINE, "inline", "inline"))
    yield "an inline scenario for a terminal"
    b.set_terminal_scenario("not-yet-seen", from_mapping(INLINE, "ci/pay.toml", "pay-later"))
    b.set_terminal_scenario("not-yet-seen", None)
    yield "a scenario chosen and removed"

    b.unregister_terminal(till_creds)
    yield "unregisterTerminal: the till, its sticker and its periods go"

    b.advance_clock(60 + 24 * 3600 + 1)
    b.open_session("COFFEE", (("table", "1"),))
    yield "a day later a new session: the expired ones are forgotten"
    b.pay(b.send_invoice(SHOP, order("1.00")).reference)
    yield "a payment left unacknowledged at the end"
    held = b.send_invoice(SHOP, order("2.00", payment_mode=reserve, commit_reservation_timeout=40))
    b.pay(held.reference)
    yield "a reservation left to lapse at the end"
