"""The invoice rules as tables, with no server: state x operation -> result code or new state."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from emulator.domain import invoice as rules
from emulator.domain.errors import IllegalMove, ResultCode, SeqrError
from emulator.domain.model import (
    AcknowledgmentMode,
    Amount,
    Customer,
    CustomerToken,
    InvoiceData,
    InvoiceStatus,
    PaymentMode,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
S = InvoiceStatus


def data(total: str = "100", mode: PaymentMode | None = None, ack=None) -> InvoiceData:
    return InvoiceData(payment_mode=mode, ack_mode=ack, total=Amount(Decimal(total), "SEK"))


def make(state: str):
    """An invoice driven into a named state through the rules themselves."""
    mode = PaymentMode.RESERVATION_REQUIRED if state == "RESERVED" else None
    inv = rules.issue("1", "t", data(mode=mode), NOW)
    if state == "IN_PROGRESS":
        rules.scan(inv, Customer(), [], NOW)
    elif state == "PENDING":
        inv.data.ack_mode = AcknowledgmentMode.REQUIRE_ACKNOWLEDGMENT
        rules.scan(inv, Customer(), [CustomerToken("X", "1")], NOW)
    elif state in ("PAID", "RESERVED"):
        rules.pay(inv, Customer(), NOW, "E1")
    elif state == "CANCELED":
        rules.merchant_cancel(inv, NOW)
    elif state == "FAILED":
        rules.fail(inv, NOW)
    return inv


CANCEL = {
    "ISSUED": S.CANCELED,
    "IN_PROGRESS": 51,
    "PENDING": S.CANCELED,
    "RESERVED": S.CANCELED,
    "PAID": 50,
    "CANCELED": 95,
    "FAILED": S.FAILED,
}
UPDATE = {
    "ISSUED": S.ISSUED,
    "IN_PROGRESS": 48,
    "PENDING": S.ISSUED,
    "RESERVED": S.RESERVED,
    "PAID": 10,
    "CANCELED": 10,
    "FAILED": 10,
}
COMMIT = {state: (S.PAID if state == "RESERVED" else 96) for state in CANCEL}
REFUND = {state: (S.PAID if state == "PAID" else 23) for state in CANCEL}


def outcome(action, inv):
    try:
        action(inv)
    except SeqrError as err:
        return int(err.code)
    return inv.status


@pytest.mark.parametrize("state", list(CANCEL))
def test_cancel_matrix(state):
    assert outcome(lambda i: rules.merchant_cancel(i, NOW), make(state)) == CANCEL[state]


@pytest.mark.parametrize("state", list(UPDATE))
def test_update_matrix(state):
    assert outcome(lambda i: rules.update(i, data("90"), NOW), make(state)) == UPDATE[state]


@pytest.mark.parametrize("state", list(COMMIT))
def test_commit_matrix(state):
    assert outcome(lambda i: rules.commit(i, None, NOW, "E2"), make(state)) == COMMIT[state]


@pytest.mark.parametrize("state", list(REFUND))
def test_refund_matrix(state):
    amount = Amount(Decimal("1"), "SEK")
    assert outcome(lambda i: rules.refund(i, amount, NOW, "R", None), make(state)) == REFUND[state]


@pytest.mark.parametrize(
    ("invoice", "code"),
    [
        (InvoiceData(), ResultCode.INVALID_INVOICE_DATA),
        (data("0"), ResultCode.REJECTED_AMOUNT),
        (InvoiceData(total=Amount(Decimal(1), "sek1")), ResultCode.INVALID_INVOICE_DATA),
        (InvoiceData(total=Amount(Decimal(1), "SEK"), notification_url="mailto:x"), 64),
    ],
)
def test_issue_validation(invoice, code):
    with pytest.raises(SeqrError) as err:
        rules.issue("1", "t", invoice, NOW)
    assert err.value.code == code


def test_back_url_may_be_an_app_scheme():
    inv = rules.issue(
        "1", "t", InvoiceData(total=Amount(Decimal(1), "SEK"), back_url="myapp://done"), NOW
    )
    assert inv.status is S.ISSUED


def test_version_counts_visible_changes_only():
    inv = make("ISSUED")
    assert inv.version == 0
    rules.scan(inv, Customer(), [], NOW)
    assert inv.version == 0  # "in progress" is not a status
    rules.pay(inv, Customer(), NOW, "E")
    assert inv.version == 1
    rules.refund(inv, Amount(Decimal(5), "SEK"), NOW, "R", None)
    assert inv.version == 1


def test_refunds_add_up_to_the_payment_and_no_more():
    inv = make("PAID")
    for _ in range(4):
        rules.refund(inv, Amount(Decimal(25), "SEK"), NOW, "R", None)
    with pytest.raises(SeqrError) as err:
        rules.refund(inv, Amount(Decimal("0.01"), "SEK"), NOW, "R", None)
    assert err.value.code == 98
    with pytest.raises(SeqrError):
        rules.refund(make("PAID"), Amount(Decimal(1), "EUR"), NOW, "R", None)


@pytest.mark.parametrize("state", ["PAID", "CANCELED", "FAILED", "RESERVED"])
def test_customer_cannot_act_on_settled_invoices(state):
    inv = make(state)
    for act in (rules.customer_cancel, rules.fail):
        with pytest.raises(IllegalMove):
            act(inv, NOW)
    with pytest.raises(IllegalMove):
        rules.pay(inv, Customer(), NOW, "E")


def test_optional_acknowledgment_only_with_tokens():
    inv = make("ISSUED")
    inv.data.ack_mode = AcknowledgmentMode.OPTIONAL_ACKNOWLEDGMENT
    rules.scan(inv, Customer(), [], NOW)
    assert inv.status is S.ISSUED
    other = make("ISSUED")
    other.data.ack_mode = AcknowledgmentMode.OPTIONAL_ACKNOWLEDGMENT
    rules.scan(other, Customer(), [CustomerToken("CARD", "9")], NOW)
    assert other.status is S.PENDING_ISSUER_ACKNOWLEDGE


def test_reversal_only_touches_unacknowledged_payments():
    inv = make("PAID")
    rules.acknowledge(inv)
    assert rules.reverse_unacknowledged(inv, NOW) is False
    fresh = make("PAID")
    assert rules.reverse_unacknowledged(fresh, NOW) is True and fresh.status is S.CANCELED


def test_history_is_bounded():
    inv = make("ISSUED")
    for _ in range(500):
        rules.update(inv, data("50"), NOW)
    assert len(inv.history) <= rules.HISTORY_LIMIT and inv.history[0].event == "issued"
