"""Reconciliation as a till's zeep client sees it: mark periods, run every report, check figures.

Every figure is compared with what the test itself paid and refunded; the reports are parsed
as XML from `content` (base64 on the wire) and must equal `contentString`.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from tests import wire
from tests.shop import Control, make_invoice
from tests.test_terminals import new_till, reseller_context

SHOP = "public_test_shop"
FIVE_DECIMALS = re.compile(r"^-?\d+\.\d{5}$")
GENERATED_AT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")


@dataclass(frozen=True)
class Line:
    terminal: str
    cashier: str  # NULL when the till sent none
    amount: Decimal
    ers: str


@dataclass
class Till:
    """A registered till that sells and refunds, and writes down what it did."""

    service: Any
    control: Control
    context: dict
    book: list[Line] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.context["initiatorPrincipalId"]["id"]

    def sell(self, total: str, cashier: str | None) -> str:
        extra = {} if cashier is None else {"cashierId": cashier}
        sent = self.service.sendInvoice(context=self.context, invoice=make_invoice(total, **extra))
        assert sent.resultCode == 0
        self.control.pay(sent.invoiceReference)
        paid = self.service.getPaymentStatus(
            context=self.context, invoiceReference=sent.invoiceReference, invoiceVersion=0
        )
        assert paid.status == "PAID"
        self.book.append(Line(self.id, cashier or "NULL", Decimal(total), paid.ersReference))
        return paid.ersReference

    def refund(self, ers: str, value: str, cashier: str | None) -> str:
        invoice: dict[str, Any] = {"totalAmount": {"currency": "SEK", "value": value}}
        if cashier is not None:
            invoice["cashierId"] = cashier
        answer = self.service.refundPayment(context=self.context, ersReference=ers, invoice=invoice)
        assert answer.resultCode == 0
        self.book.append(Line(self.id, cashier or "NULL", -Decimal(value), answer.ersReference))
        return answer.ersReference


def parameters(period: str | None = None, terminal: str | None = None) -> dict:
    entries = []
    if period is not None:
        entries.append({"key": "transactionPeriodId", "value": period})
    if terminal is not None:
        entries.append({"key": "TERMINALID", "value": terminal})
    return {"parameter": {"entry": entries}}


def mark(service: Any, terminal: str | None = None) -> str:
    answer = service.markTransactionPeriod(
        context=reseller_context(), parameters=parameters(terminal=terminal)
    )
    assert answer.resultCode == 0, answer
    assert answer.ersReference is None
    assert len(answer.transactionPeriodId) == 25 and answer.transactionPeriodId.isdigit()
    return answer.transactionPeriodId


def execute(service: Any, report_id: str, period: str | None, terminal: str | None = None) -> Any:
    return service.executeReport(
        context=reseller_context(),
        reportId=report_id,
        language="en",
        parameters=parameters(period, terminal),
    )


def report(
    service: Any, report_id: str, number: str, period: str, terminal: str | None = None
) -> etree._Element:
    """Run a report and check its frame; return the parsed XML."""
    answer = execute(service, report_id, period, terminal)
    assert (answer.resultCode, answer.resultDescription) == (0, "SUCCESS"), answer
    got = answer.report
    assert got.title == f"STD_RECON_{number}_{period}.xml"
    assert got.mimeType == "text/html"
    assert got.content == got.contentString.encode("utf-8")
    root = etree.fromstring(got.content)
    meta = root.find("Meta")
    assert meta.findtext("ResellerId") == SHOP
    assert meta.findtext("TransactionPeriodId") == period
    assert meta.findtext("TerminalId") == terminal
    assert GENERATED_AT.match(meta.findtext("GeneratedAt"))
    for amount in root.iter("SalesTotal", "SalesAmount"):
        assert FIVE_DECIMALS.match(amount.text), amount.text
    return root


def rows(root: etree._Element, *names: str) -> list[tuple[str, ...]]:
    return [tuple(row.findtext(n) for n in names) for row in root.findall("Row")]


def summary(lines: list[Line], key: Any) -> dict[str, tuple[str, str]]:
    groups: dict[str, list[Decimal]] = defaultdict(list)
    for line in lines:
        groups[key(line)].append(line.amount)
    return {k: (str(len(v)), f"{sum(v):.5f}") for k, v in groups.items()}


def check_shop_reports(service: Any, period: str, lines: list[Line]) -> None:
    total = (str(len(lines)), f"{sum((x.amount for x in lines), Decimal(0)):.5f}")
    for report_id in ("Reconciliation/Shop.xml", "STD_RECON_001"):
        root = report(service, report_id, "001", period)
        assert root.tag == "ResellerTransactionSummary"
        assert rows(root, "SalesCount", "SalesTotal") == [total]

    root = report(service, "Reconciliation/STD_RECON_002.xml", "002", period)
    assert root.tag == "TerminalTransactionSummary"
    by_terminal = {r[0]: r[1:] for r in rows(root, "TerminalId", "SalesCount", "SalesTotal")}
    assert by_terminal == summary(lines, lambda x: x.terminal)

    root = report(service, "STD_RECON_003.xml", "003", period)
    assert root.tag == "TransactionDetails"
    details = rows(root, "TerminalId", "CashierId", "SalesAmount", "ErsReference")
    expected = [(x.terminal, x.cashier, f"{x.amount:.5f}", x.ers) for x in lines]
    assert Counter(details) == Counter(expected)

    root = report(service, "Reconciliation/STD_RECON_004", "004", period)
    assert root.tag == "CashierTransactionSummary"
    by_cashier = {r[0]: r[1:] for r in rows(root, "CashierId", "SalesCount", "SalesTotal")}
    assert by_cashier == summary(lines, lambda x: x.cashier)


def check_terminal_reports(service: Any, period: str, till: Till, lines: list[Line]) -> None:
    root = report(service, "Reconciliation/STD_RECON_006.xml", "006", period, till.id)
    assert root.tag == "TerminalTransactionSummary"
    total = (str(len(lines)), f"{sum((x.amount for x in lines), Decimal(0)):.5f}")
    assert rows(root, "SalesCount", "SalesTotal") == [total]
    root = report(service, "STD_RECON_007", "007", period, till.id)
    assert root.tag == "TransactionDetails"
    details = rows(root, "TerminalId", "CashierId", "SalesAmount", "ErsReference")
    assert Counter(details) == Counter(
        (x.terminal, x.cashier, f"{x.amount:.5f}", x.ers) for x in lines
    )


@pytest.fixture
def tills(zeep_service: Any, control: Control) -> tuple[Till, Till]:
    one = Till(zeep_service, control, new_till(zeep_service, "Till 1", "till-secret-1"))
    two = Till(zeep_service, control, new_till(zeep_service, "Till 2", "till-secret-2"))
    assert zeep_service.assignSeqrId(context=one.context, seqrId="shopTill1").resultCode == 0
    assert zeep_service.assignSeqrId(context=two.context, seqrId="shopTill2").resultCode == 0
    return one, two


def test_every_report_adds_up_to_what_the_tills_did(zeep_service, tills):
    one, two = tills
    alice = one.sell("100.00", "alice")
    one.sell("25.50", "bob")
    one.refund(alice, "40.00", "alice")
    carol = two.sell("12.34", "carol")
    two.sell("7.00", None)
    two.refund(carol, "2.34", None)
    two.sell("0.10", "alice")

    shop_period = mark(zeep_service)
    one_period = mark(zeep_service, one.id)
    two_period = mark(zeep_service, two.id)

    check_shop_reports(zeep_service, shop_period, one.book + two.book)
    check_terminal_reports(zeep_service, one_period, one, one.book)
    check_terminal_reports(zeep_service, two_period, two, two.book)


def test_each_transaction_belongs_to_one_period_per_scope(zeep_service, tills):
    one, two = tills
    one.sell("10.00", "alice")
    two.sell("20.00", "bob")
    first_shop = mark(zeep_service)
    before = list(one.book + two.book)
    one_before_mark = len(one.book)

    ers = one.sell("30.00", "alice")
    one.refund(ers, "5.00", "bob")
    second_shop = mark(zeep_service)
    # terminal scope is independent of the shop's: one's first period holds everything so far
    one_first = mark(zeep_service, one.id)
    assert len(one.book) == one_before_mark + 2

    check_shop_reports(zeep_service, first_shop, before)
    check_shop_reports(zeep_service, second_shop, one.book[one_before_mark:])
    check_terminal_reports(zeep_service, one_first, one, one.book)

    # nothing since the last marks: empty periods, zero totals
    empty_shop = mark(zeep_service)
    root = report(zeep_service, "STD_RECON_001", "001", empty_shop)
    assert rows(root, "SalesCount", "SalesTotal") == [("0", "0.00000")]
    assert rows(report(zeep_service, "STD_RECON_003", "003", empty_shop), "ErsReference") == []
    assert rows(report(zeep_service, "STD_RECON_002", "002", empty_shop), "TerminalId") == []
    two_first = mark(zeep_service, two.id)
    check_terminal_reports(zeep_service, two_first, two, two.book)
    check_terminal_reports(zeep_service, mark(zeep_service, two.id), two, [])


def test_a_reversed_payment_is_taken_back_in_the_period(start_emulator, zeep_for):
    server = start_emulator(freeze_clock=True, ack_window=20)
    service, control = zeep_for(server), Control(server.url)
    till = new_till(service)
    ref = service.sendInvoice(context=till, invoice=make_invoice("50.00", cashierId="eve"))
    control.pay(ref.invoiceReference)  # nobody polls: SEQR reverses it after 20 s
    control.advance(21)
    ers = control.invoice(ref.invoiceReference)["payment"]["ersReference"]
    assert control.invoice(ref.invoiceReference)["status"] == "CANCELED"
    period = mark(service)
    root = report(service, "STD_RECON_003", "003", period)
    tid = till["initiatorPrincipalId"]["id"]
    details = rows(root, "TerminalId", "CashierId", "SalesAmount", "ErsReference")
    assert sorted(details) == sorted(
        [(tid, "eve", "50.00000", ers), (tid, "eve", "-50.00000", ers)]
    )
    assert rows(report(service, "STD_RECON_001", "001", period), "SalesTotal") == [("0.00000",)]


def test_static_qr_sales_are_reported_like_any_other(zeep_service, tills, control):
    one, _ = tills
    ref = one.service.sendInvoice(context=one.context, invoice=make_invoice("8.00", cashierId="al"))
    paid = control.ok("POST", "/seqr-ids/shopTill1/scan", {"pay": True})
    assert paid["reference"] == ref.invoiceReference
    period = mark(zeep_service, one.id)
    root = report(zeep_service, "STD_RECON_007", "007", period, one.id)
    assert rows(root, "CashierId", "SalesAmount", "ErsReference") == [
        ("al", "8.00000", paid["payment"]["ersReference"])
    ]


# --- not ready, unknown, refused ---------------------------------------------------------------


def test_reports_on_a_period_of_the_wrong_scope_are_not_ready(zeep_service, tills):
    one, two = tills
    one.sell("1.00", "a")
    shop_period, one_period = mark(zeep_service), mark(zeep_service, one.id)
    not_ready = (2, "REPORT_NOT_READY")
    for report_id, period, terminal in [
        ("STD_RECON_006", shop_period, one.id),  # terminal report, period not marked for it
        ("STD_RECON_007", shop_period, None),
        ("STD_RECON_006", one_period, two.id),  # marked for another terminal
        ("STD_RECON_001", one_period, None),  # shop report on one terminal's period
        ("STD_RECON_003", "2012071711291546101000028", None),  # never marked
    ]:
        answer = execute(zeep_service, report_id, period, terminal)
        assert (answer.resultCode, answer.resultDescription) == not_ready, report_id
        assert answer.report is None
    # without TERMINALID a terminal report runs on the terminal its period was marked for
    assert execute(zeep_service, "STD_RECON_006", one_period).resultCode == 0


def test_unknown_report_or_missing_period_is_10(zeep_service):
    period = mark(zeep_service)
    for report_id in ("STD_RECON_005", "SOME_REPORT", "Reconciliation/Other.xml", None):
        assert execute(zeep_service, report_id, period).resultCode == 10, report_id
    assert execute(zeep_service, "STD_RECON_001", None).resultCode == 10


def test_report_delay_answers_not_ready_until_the_period_settles(start_emulator, zeep_for):
    server = start_emulator(freeze_clock=True, report_delay=3)
    service, control = zeep_for(server), Control(server.url)
    period = mark(service)
    assert execute(service, "STD_RECON_001", period).resultCode == 2
    control.advance(3)
    assert execute(service, "STD_RECON_001", period).resultCode == 0


@pytest.mark.parametrize(
    ("ctx", "code"),
    [
        (reseller_context(reseller_password="nope"), 20),
        (reseller_context(reseller="nobody"), 37),
        (
            {"clientRequestTimeout": 0, "initiatorPrincipalId": {"id": "x", "type": "TERMINALID"}},
            21,
        ),
    ],
)
def test_reporting_needs_the_resellers_credentials(zeep_service, ctx, code):
    assert zeep_service.markTransactionPeriod(context=ctx).resultCode == code
    answer = zeep_service.executeReport(context=ctx, reportId="STD_RECON_001")
    assert answer.resultCode == code


def test_marking_a_terminal_of_no_shop_of_ours_is_10(zeep_service):
    answer = zeep_service.markTransactionPeriod(
        context=reseller_context(), parameters=parameters(terminal="f" * 32)
    )
    assert answer.resultCode == 10 and answer.transactionPeriodId is None


# --- the parameter shapes of the FAQ and the manual --------------------------------------------


def _reseller_xml() -> str:
    return (
        "<context><clientRequestTimeout>0</clientRequestTimeout><initiatorPrincipalId>"
        "<id>public_test_shop</id><type>RESELLERUSER</type><userId>9900</userId>"
        "</initiatorPrincipalId><password>1234</password></context>"
    )


def _entry(key: str, value: str) -> str:
    return f"<entry><key>{key}</key><value>{value}</value></entry>"


@pytest.mark.parametrize(
    "shape",
    [
        "<parameters><parameter>{}</parameter></parameters>",  # the WSDL
        "<parameters>{}</parameters>",  # SEQR's FAQ
        "{}",  # the manual's per-terminal sample: entries right under the operation
    ],
)
def test_parameters_are_read_in_every_documented_shape(emulator, zeep_service, tills, shape):
    one, _ = tills
    ers = one.sell("3.00", "zed")
    mark_body = f"<ext:markTransactionPeriod>{_reseller_xml()}"
    mark_body += shape.format(_entry("TERMINALID", one.id)) + "</ext:markTransactionPeriod>"
    marked = wire.post(emulator.soap_url, wire.envelope(mark_body))
    assert marked.field("resultCode") == "0"
    period = marked.field("transactionPeriodId")

    entries = _entry("transactionPeriodId", period) + _entry("TERMINALID", one.id)
    run_body = f"<ext:executeReport>{_reseller_xml()}<reportId>STD_RECON_007</reportId>"
    run_body += "<language>en</language>" + shape.format(entries) + "</ext:executeReport>"
    ran = wire.post(emulator.soap_url, wire.envelope(run_body))
    assert ran.field("resultCode") == "0"
    assert ers in ran.field("report/contentString")
    shop_report = run_body.replace("STD_RECON_007", "STD_RECON_001")
    assert wire.post(emulator.soap_url, wire.envelope(shop_report)).field("resultCode") == "2"
