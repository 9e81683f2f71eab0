"""Money as SEQR could carry it: a decimal of the type that is not an amount (an absurd
exponent, more digits than money has) is refused with the result code SEQR documented for
the field, 11 REJECTED_AMOUNT for an amount, 49 INVALID_INVOICE_DATA for a row, and nothing
is stored that would make a later answer large or slow."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from emulator.domain import invoice as rules
from emulator.domain.errors import ResultCode, SeqrError
from emulator.domain.model import Amount, InvoiceData, InvoiceRow
from emulator.views import invoice_detail, invoice_summary
from tests.inproc import Till, answer_field, fault_of, result_code


@pytest.mark.parametrize(
    "value",
    [
        *("10", "10.00", "0.00000001", "123456789012345678.12345678", "10.0000000000", "-5"),
        "0.00",
        "1." + "0" * 100,  # 100 digits after the point as written, none once they are dropped
    ],
)
def test_money_has_18_integer_and_8_fraction_digits_once_trailing_zeros_go(value):
    assert rules.is_money(Decimal(value)) and rules.is_number(Decimal(value))


@pytest.mark.parametrize(
    "value",
    [
        "0.123456789",
        "999999999999999999.999999999",  # rounds to 19 integer digits
        "0.1000000000000000055511151231257827021181583404541015625",  # new BigDecimal(0.1)
        "5.5511151231258E-17",  # a float's residue, as PHP prints it
    ],
)
def test_a_number_a_client_computes_is_kept_in_a_row_but_is_not_money(value):
    assert rules.is_number(Decimal(value)) and not rules.is_money(Decimal(value))


@pytest.mark.parametrize(
    "value",
    [
        "1234567890123456789",
        "1E+18",
        "1E+999999999",
        "1E-999999999",
        "1E-101",
        "0E-999999999",  # a zero whose printed form would be a billion zeros
        "1." + "0" * 101,  # 101 digits after the point, as written
        "1." + "0" * 1_000_000,
    ],
)
def test_numbers_beyond_the_bounds_are_neither(value):
    assert not rules.is_number(Decimal(value)) and not rules.is_money(Decimal(value))


def test_the_checks_are_quick_whatever_the_number():
    started = time.perf_counter()
    for text in ("1E+999999999", "1E-999999999", "0E-999999999", "1." + "0" * 1_000_000):
        rules.is_money(Decimal(text))
    assert time.perf_counter() - started < 0.5


@pytest.fixture
def till() -> Till:
    return Till()


def _view_size(till: Till) -> int:
    """Bytes of every invoice as the control API and the dashboard show it."""
    invoices = till.backend.list_invoices()
    return sum(
        len(json.dumps(invoice_detail(i))) + len(json.dumps(invoice_summary(i))) for i in invoices
    )


@pytest.mark.parametrize(
    "total",
    [
        *("1E+999999999", "1E+1000000", "1E-999999999", "1234567890123456789", "0.123456789"),
        "1." + "0" * 500_000,
    ],
)
def test_an_absurd_total_is_rejected_amount_and_no_invoice_is_made(till, total):
    reply = till.send(total)
    assert result_code(reply) == ResultCode.REJECTED_AMOUNT
    assert till.backend.invoice_count() == 0


def test_a_total_of_money_with_trailing_zeros_is_taken_and_echoed_as_sent(till):
    ref, _ = till.paid("10.0000000000")
    assert answer_field(till.status(ref), "receipt/invoice/totalAmount/value") == "10.0000000000"


def test_the_largest_and_finest_amount_is_taken(till):
    assert result_code(till.send("999999999999999999.99999999")) == 0


@pytest.mark.parametrize(
    "row",
    [
        "<itemQuantity>1E+999999999</itemQuantity>",
        "<itemTaxRate>1E-999999999</itemTaxRate>",
        "<itemTotalAmount><currency>SEK</currency><value>1E+100</value></itemTotalAmount>",
        "<itemUnitPrice><currency>SEK</currency><value>1E-101</value></itemUnitPrice>",
        "<itemDiscount><currency>SEK</currency><value>0E-999999999</value></itemDiscount>",
        f"<itemQuantity>1.{'0' * 500_000}</itemQuantity>",
    ],
)
def test_a_row_number_beyond_the_bounds_is_invalid_invoice_data(till, row):
    extra = f"<invoiceRows><invoiceRow>{row}</invoiceRow></invoiceRows>"
    assert result_code(till.send(extra=extra)) == ResultCode.INVALID_INVOICE_DATA
    assert till.backend.invoice_count() == 0


def test_a_row_keeps_what_a_clients_float_arithmetic_sends(till):
    row = (
        "<itemTaxRate>12.000000000000011</itemTaxRate>"
        "<itemDiscount><currency>SEK</currency><value>-5.5511151231258E-17</value></itemDiscount>"
        "<itemQuantity>0.1000000000000000055511151231257827021181583404541015625</itemQuantity>"
    )
    ref, _ = till.paid(extra=f"<invoiceRows><invoiceRow>{row}</invoiceRow></invoiceRows>")
    receipt = till.status(ref).body.decode()
    assert "<itemTaxRate>12.000000000000011</itemTaxRate>" in receipt
    assert "<value>-0.000000000000000055511151231258</value>" in receipt


def _rows(count: int) -> str:
    row = (
        "<invoiceRow><itemDescription>x</itemDescription>"
        "<itemQuantity>1</itemQuantity></invoiceRow>"
    )
    return f"<invoiceRows>{row * count}</invoiceRows>"


def test_at_most_a_thousand_rows(till):
    assert result_code(till.send(extra=_rows(rules.ROW_LIMIT + 1))) == 49
    ref, _ = till.paid(extra=_rows(rules.ROW_LIMIT))
    started = time.perf_counter()
    for _ in range(10):
        reply = till.status(ref)
    each = (time.perf_counter() - started) / 10
    assert reply.body.count(b"<invoiceRow>") == rules.ROW_LIMIT
    assert each < 0.05, f"a PAID poll of {rules.ROW_LIMIT} rows took {each * 1000:.1f} ms"


def test_update_invoice_is_held_to_the_same_bounds(till):
    ref = till.issued()
    assert result_code(till.update(ref, "1E+999999999")) == ResultCode.REJECTED_AMOUNT
    assert result_code(till.update(ref, extra=_rows(rules.ROW_LIMIT + 1))) == 49
    assert till.backend.invoice(ref).data.total.value == Decimal("10.00")


@pytest.mark.parametrize("amount", ["1E-999999999", "1E+1000000", "0.000000001"])
def test_an_absurd_refund_is_rejected_amount_and_the_invoice_view_stays_small(till, amount):
    ref, ers = till.paid("100.00")
    before = _view_size(till)
    reply = till.refund(ers, amount)
    assert reply.status == 200 and fault_of(reply) is None
    assert result_code(reply) == ResultCode.REJECTED_AMOUNT
    assert till.backend.invoice(ref).refunds == []
    assert _view_size(till) == before
    assert result_code(till.refund(ers, "1.00")) == 0  # and a real refund still goes through


def test_an_absurd_commit_amount_is_rejected_amount(till):
    ref = till.issued(extra="<paymentMode>RESERVATION_REQUIRED</paymentMode>")
    till.backend.pay(ref)
    assert result_code(till.commit(ref, "1E-999999999")) == ResultCode.REJECTED_AMOUNT
    assert result_code(till.commit(ref, "1E+1000000")) == ResultCode.REJECTED_AMOUNT
    assert result_code(till.commit(ref, "5.00")) == 0


def test_the_longest_reservation_timeout_a_long_holds_leaves_pay_working(till):
    timeout = f"<commitReservationTimeout>{2**63 - 1}</commitReservationTimeout>"
    ref = till.issued(extra="<paymentMode>RESERVATION_REQUIRED</paymentMode>" + timeout)
    assert till.backend.pay(ref).status.value == "RESERVED"
    till.backend.advance_clock(3600)
    assert answer_field(till.status(ref), "status") == "RESERVED"
    assert result_code(till.commit(ref)) == 0


def test_rules_refuse_without_formatting_the_value():
    """The refusal's detail names the bound, never the value (which could be 1 GB printed)."""
    data = InvoiceData(total=Amount(Decimal("1E+999999999"), "SEK"))
    with pytest.raises(SeqrError) as refused:
        rules.validate(data)
    assert len(str(refused.value)) < 200
    row = InvoiceData(
        total=Amount(Decimal(1), "SEK"), rows=[InvoiceRow(quantity=Decimal("1E-101"))]
    )
    with pytest.raises(SeqrError, match="invoiceRow 1: itemQuantity"):
        rules.validate(row)
