"""Equal amounts and rows are one object across the stored invoices, and no one can tell.

A CI fleet stores 100k invoices, most of them the same few rows and totals: the store keeps
one `Amount` and one `InvoiceRow` for equal ones (`backend.store.Shared`). What the merchant
sent is still what each invoice echoes: `2.0` and `2` are equal decimals and stay apart.
"""

from __future__ import annotations

from decimal import Decimal

from emulator.backend import store as stores
from emulator.backend.store import Shared
from emulator.domain.model import NO_ITEMS, Amount, Invoice, InvoiceData, InvoiceRow
from tests.inproc import Till, answer_field, result_code


def row_xml(quantity: str = "2", total: str = "10.00", description: str = "T-shirt") -> str:
    return (
        f"<invoiceRows><invoiceRow><itemDescription>{description}</itemDescription>"
        f"<itemQuantity>{quantity}</itemQuantity><itemTotalAmount><currency>SEK</currency>"
        f"<value>{total}</value></itemTotalAmount></invoiceRow></invoiceRows>"
    )


def test_equal_rows_and_totals_are_one_object_across_invoices() -> None:
    till = Till()
    first, second = (till.backend.invoice(till.issued(extra=row_xml())) for _ in range(2))
    assert first.data is not second.data
    assert first.data.total is second.data.total
    assert first.data.rows is not None and second.data.rows is not None
    assert first.data.rows is not second.data.rows  # each invoice's own list
    assert first.data.rows[0] is second.data.rows[0]
    assert first.data.rows[0].total is first.data.total  # a one-row invoice's row total


def test_equal_decimals_written_differently_stay_apart() -> None:
    till = Till()
    plain = till.backend.invoice(till.issued(extra=row_xml(quantity="2")))
    pointed = till.backend.invoice(till.issued(extra=row_xml(quantity="2.0")))
    assert plain.data.rows is not None and pointed.data.rows is not None
    assert plain.data.rows[0] is not pointed.data.rows[0]
    assert str(plain.data.rows[0].quantity) == "2"
    assert str(pointed.data.rows[0].quantity) == "2.0"
    ten = till.backend.invoice(till.issued("10.0"))
    assert ten.data.total is not plain.data.total
    assert ten.data.total == Amount(Decimal("10.0"), "SEK") and str(ten.data.total.value) == "10.0"
    # and the receipt of a paid one echoes what was sent
    ref = till.issued(extra=row_xml(quantity="2.0"))
    till.backend.pay(ref)
    reply = till.status(ref)
    assert result_code(reply) == 0
    assert b"<itemQuantity>2.0</itemQuantity>" in reply.body


def test_an_update_shares_too_and_leaves_the_others_alone() -> None:
    till = Till()
    one, other = till.issued(extra=row_xml()), till.issued(extra=row_xml())
    assert result_code(till.update(one, extra=row_xml(description="Mug"))) == 0
    updated, kept = till.backend.invoice(one), till.backend.invoice(other)
    assert updated.data.rows is not None and kept.data.rows is not None
    assert updated.data.rows[0].description == "Mug"
    assert kept.data.rows[0].description == "T-shirt"
    assert updated.data.total is kept.data.total
    third = till.backend.invoice(till.issued(extra=row_xml(description="Mug")))
    assert third.data.rows is not None and third.data.rows[0] is updated.data.rows[0]
    assert answer_field(till.status(other), "resultCode") == "0"


def test_rows_with_other_amounts_share_their_amounts() -> None:
    shared, value = Shared(), Decimal("5.00")

    def row() -> InvoiceRow:
        return InvoiceRow("Cup", Amount(value, "SEK"), None, None, None, None, None, None,
                          Amount(value, "SEK"))  # fmt: skip

    first, second = InvoiceData(rows=[row()]), InvoiceData(rows=[row()])
    shared.data(first)
    shared.data(second)
    assert first.rows is not None and second.rows is not None
    assert first.rows[0] is not second.rows[0]
    assert first.rows[0].discount is second.rows[0].discount is second.rows[0].unit_price
    assert first.rows[0] == second.rows[0]


def test_the_tables_are_bounded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(stores, "SHARED_LIMIT", 3)
    shared = Shared()
    amounts = [Amount(Decimal(n), "SEK") for n in range(10)]
    for amount in amounts:
        assert shared.amount(amount) is amount
    assert len(shared._amounts) <= 3
    again = Amount(amounts[-1].value, "SEK")
    assert shared.amount(again) is amounts[-1]


def test_an_invoice_without_items_shares_the_empty_list() -> None:
    made = Invoice("r", "t", InvoiceData(), None)  # type: ignore[arg-type]
    assert made.refunds is NO_ITEMS and made.receipts is NO_ITEMS
    assert made.customer_tokens is NO_ITEMS
    assert made.refunds == [] and made.history == []
    assert Invoice("s", "t", InvoiceData(), None).history is not made.history  # type: ignore[arg-type]
