"""Transaction periods and report content as pure rules: no server, no SOAP."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from emulator.domain import reports
from emulator.domain.errors import ResultCode, SeqrError
from emulator.domain.reports import Ledger, Transaction

T0 = datetime(2026, 3, 1, 14, 5, 39, tzinfo=UTC)
SHOP = "hm1"
A, B = "a" * 32, "b" * 32


def tx(
    ers: str, terminal: str = A, amount: str = "10.00", cashier: str | None = "bob"
) -> Transaction:
    return Transaction(ers, terminal, cashier, Decimal(amount), T0)


def refs(period: reports.Period) -> list[str]:
    return [t.ers_reference for t in period.transactions]


@pytest.mark.parametrize(
    ("given", "number"),
    [
        ("Reconciliation/Shop.xml", "001"),
        ("STD_RECON_001", "001"),
        ("Reconciliation/STD_RECON_002.xml", "002"),
        ("reconciliation/std_recon_003.XML", "003"),
        ("STD_RECON_004.xml", "004"),
        (" Reconciliation/STD_RECON_006 ", "006"),
        ("STD_RECON_007", "007"),
    ],
)
def test_every_documented_report_id_is_known(given, number):
    kind = reports.report_kind(given)
    assert kind.number == number
    assert kind.terminal_scope is (number in ("006", "007"))


@pytest.mark.parametrize(
    "given", [None, "", "STD_RECON_005", "STD_RECON_008", "SOME_REPORT", "Other/Shop.xml"]
)
def test_unknown_report_id_is_rejected_with_10(given):
    with pytest.raises(SeqrError) as error:
        reports.report_kind(given)
    assert error.value.code is ResultCode.REJECTED_BUSINESS_LOGIC


def test_a_mark_closes_what_happened_since_the_previous_mark_of_its_scope():
    ledger = Ledger()
    ledger.record(SHOP, tx("1", A))
    ledger.record(SHOP, tx("2", B))
    first = ledger.mark(SHOP, None, "P1", T0)
    ledger.record(SHOP, tx("3", A))
    second = ledger.mark(SHOP, None, "P2", T0 + timedelta(hours=1))
    terminal = ledger.mark(SHOP, A, "PA", T0 + timedelta(hours=2))

    assert (refs(first), refs(second)) == (["1", "2"], ["3"])
    assert refs(terminal) == ["1", "3"]  # the terminal scope never saw a mark before
    assert (first.opened_at, second.opened_at) == (None, T0)
    assert second.closed_at == T0 + timedelta(hours=1)
    assert (terminal.terminal_id, first.terminal_id) == (A, None)
    assert refs(ledger.mark(SHOP, A, "PA2", T0)) == []
    assert ledger.period("P1") is first and ledger.period("nope") is None


def test_shops_do_not_share_periods():
    ledger = Ledger()
    ledger.record("shop1", tx("1"))
    ledger.record("shop2", tx("2"))
    assert refs(ledger.mark("shop1", None, "P", T0)) == ["1"]
    assert ledger.open_transactions("shop2", None) == [tx("2")]


def test_a_forgotten_terminal_leaves_its_sales_in_the_shop_period():
    ledger = Ledger()
    ledger.record(SHOP, tx("1", A))
    ledger.forget_terminal(SHOP, A)
    assert ledger.open_transactions(SHOP, A) == []
    assert refs(ledger.mark(SHOP, None, "P", T0)) == ["1"]


@pytest.mark.parametrize(
    ("number", "period_terminal", "asked_terminal"),
    [
        ("006", None, A),  # terminal report on a shop period (SEQR's FAQ)
        ("007", None, None),
        ("006", A, B),  # another terminal's period
        ("001", A, None),  # shop report on a terminal period
    ],
)
def test_reports_on_the_wrong_scope_are_not_ready(number, period_terminal, asked_terminal):
    ledger = Ledger()
    period = ledger.mark(SHOP, period_terminal, "P", T0)
    with pytest.raises(SeqrError) as error:
        reports.ready_period(reports.REPORTS[number], period, SHOP, asked_terminal, T0)
    assert error.value.code is ResultCode.REPORT_NOT_READY


def test_unknown_or_foreign_periods_and_young_ones_are_not_ready():
    period = Ledger().mark(SHOP, None, "P", T0)
    shop_report = reports.REPORTS["001"]
    for candidate, shop, now, delay in [
        (None, SHOP, T0, 0.0),
        (period, "other", T0, 0.0),
        (period, SHOP, T0 + timedelta(seconds=2), 3.0),
    ]:
        with pytest.raises(SeqrError) as error:
            reports.ready_period(shop_report, candidate, shop, None, now, delay)
        assert error.value.code is ResultCode.REPORT_NOT_READY
    ready = reports.ready_period(shop_report, period, SHOP, None, T0 + timedelta(seconds=3), 3.0)
    assert ready is period


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("93.31", "93.31000"),
        ("10", "10.00000"),
        ("-2.5", "-2.50000"),
        ("0", "0.00000"),
        ("-0.000001", "0.00000"),
        ("1.234567", "1.23457"),
    ],
)
def test_amounts_have_five_decimals(value, text):
    assert reports.money(Decimal(value)) == text


def _period() -> reports.Period:
    ledger = Ledger()
    for made in [
        tx("1", A, "100.00", "alice"),
        tx("2", A, "25.50", None),
        tx("3", A, "-40.00", "alice"),
        tx("4", B, "12.34", "<carol&co>"),
    ]:
        ledger.record(SHOP, made)
    return ledger.mark(SHOP, None, "2012071711291546101000028", T0)


def _rows(report: reports.Report, *names: str) -> list[tuple[str | None, ...]]:
    root = ET.fromstring(report.content)
    return [tuple(r.findtext(n) for n in names) for r in root.findall("Row")]


def test_shop_summary_counts_refunds_as_negative_transactions():
    made = reports.build(reports.REPORTS["001"], _period(), T0)
    assert made.title == "STD_RECON_001_2012071711291546101000028.xml"
    assert made.mime_type == "text/html"
    assert made.content == made.content_string.encode()
    assert made.content_string.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(made.content)
    assert root.tag == "ResellerTransactionSummary"
    assert [m.tag for m in root.find("Meta")] == [
        "ResellerId",
        "TransactionPeriodId",
        "GeneratedAt",
    ]
    assert root.findtext("Meta/GeneratedAt") == "2026-03-01 14:05"
    assert _rows(made, "SalesCount", "SalesTotal") == [("4", "97.84000")]


def test_per_terminal_and_per_cashier_summaries():
    period = _period()
    per_terminal = reports.build(reports.REPORTS["002"], period, T0)
    assert _rows(per_terminal, "TerminalId", "SalesCount", "SalesTotal") == [
        (A, "3", "85.50000"),
        (B, "1", "12.34000"),
    ]
    per_cashier = reports.build(reports.REPORTS["004"], period, T0)
    assert ET.fromstring(per_cashier.content).tag == "CashierTransactionSummary"
    assert _rows(per_cashier, "CashierId", "SalesCount", "SalesTotal") == [
        ("alice", "2", "60.00000"),
        ("NULL", "1", "25.50000"),
        ("<carol&co>", "1", "12.34000"),  # escaped on the way out, read back intact
    ]


def test_details_list_every_transaction_with_its_ers_reference():
    made = reports.build(reports.REPORTS["003"], _period(), T0)
    assert ET.fromstring(made.content).tag == "TransactionDetails"
    assert _rows(made, "TerminalId", "CashierId", "SalesAmount", "ErsReference") == [
        (A, "alice", "100.00000", "1"),
        (A, "NULL", "25.50000", "2"),
        (A, "alice", "-40.00000", "3"),
        (B, "<carol&co>", "12.34000", "4"),
    ]


def test_terminal_reports_name_their_terminal_in_meta():
    ledger = Ledger()
    ledger.record(SHOP, tx("1", A, "10.00"))
    ledger.record(SHOP, tx("2", B, "99.00"))
    period = ledger.mark(SHOP, A, "PA", T0)
    summary = reports.build(reports.REPORTS["006"], period, T0)
    root = ET.fromstring(summary.content)
    assert root.tag == "TerminalTransactionSummary"
    assert [m.tag for m in root.find("Meta")] == [
        "ResellerId",
        "TerminalId",
        "TransactionPeriodId",
        "GeneratedAt",
    ]
    assert root.findtext("Meta/TerminalId") == A
    assert _rows(summary, "SalesCount", "SalesTotal") == [("1", "10.00000")]
    details = reports.build(reports.REPORTS["007"], period, T0)
    assert _rows(details, "TerminalId", "ErsReference") == [(A, "1")]
    assert details.title == "STD_RECON_007_PA.xml"
