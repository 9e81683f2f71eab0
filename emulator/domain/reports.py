"""Transaction periods and the reconciliation reports SEQR built from them.

A period is what happened between two markTransactionPeriod calls of the same scope: the
whole shop (a reseller) or one terminal of it. The two scopes are independent, and inside a
scope every payment, refund and reversal belongs to exactly one period. Each transaction is
appended to its shop's and its terminal's open period as it happens, and a mark closes the
open period in O(1), so nothing ever scans the invoices.

Reports are the documented XML (`ResellerTransactionSummary`, `TerminalTransactionSummary`,
`TransactionDetails`, `CashierTransactionSummary`), amounts with five decimals, a missing
cashier as `NULL`. A refund or a reversal counts as a transaction with a negative amount, so
a summary's SalesCount and SalesTotal are the count and the sum of its detail rows.
Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Context, Decimal

from emulator.domain.errors import ResultCode, SeqrError

MIME_TYPE = "text/html"  # sic: what SEQR labelled its XML reports with
NULL = "NULL"
_CENTS = Decimal("0.00001")
# Wide enough to print any period's total: each amount has at most 18 integer digits
# (domain.invoice.is_money), so a total passes 23, where the default 28 digits would refuse
# to quantize it, only after 100,000 payments or more.
_TOTALS = Context(prec=60)
_REPORT_ID = re.compile(r"^(?:reconciliation/)?(?:(shop)|std_recon_(\d{3}))(?:\.xml)?$", re.I)

Scope = tuple[str, str | None]  # (reseller id, terminal id or None for the whole shop)


@dataclass(frozen=True, slots=True)
class Transaction:
    """One line of a reconciliation: a payment, or a refund or reversal (negative amount)."""

    ers_reference: str
    terminal_id: str
    cashier_id: str | None
    amount: Decimal
    at: datetime


@dataclass(frozen=True, slots=True)
class Period:
    id: str
    reseller_id: str
    terminal_id: str | None  # None: marked for the whole shop
    opened_at: datetime | None  # the previous mark of the same scope; None: since start
    closed_at: datetime
    transactions: tuple[Transaction, ...]


class Ledger:
    """The open period of every scope, and every closed period by its id."""

    def __init__(self) -> None:
        self._open: dict[Scope, list[Transaction]] = {}
        self._since: dict[Scope, datetime] = {}
        self._closed: dict[str, Period] = {}

    def record(self, reseller_id: str, transaction: Transaction) -> None:
        self._open.setdefault((reseller_id, None), []).append(transaction)
        self._open.setdefault((reseller_id, transaction.terminal_id), []).append(transaction)

    def mark(
        self, reseller_id: str, terminal_id: str | None, period_id: str, now: datetime
    ) -> Period:
        """Close the scope's open period under `period_id`; the next one starts empty now."""
        scope = (reseller_id, terminal_id)
        period = Period(
            period_id,
            reseller_id,
            terminal_id,
            self._since.get(scope),
            now,
            tuple(self._open.pop(scope, ())),
        )
        self._since[scope] = now
        self._closed[period_id] = period
        return period

    def period(self, period_id: str) -> Period | None:
        return self._closed.get(period_id)

    def open_transactions(self, reseller_id: str, terminal_id: str | None) -> list[Transaction]:
        return list(self._open.get((reseller_id, terminal_id), ()))

    def forget_terminal(self, reseller_id: str, terminal_id: str) -> None:
        """A removed terminal can never mark again; its sales stay in the shop's period."""
        self._open.pop((reseller_id, terminal_id), None)
        self._since.pop((reseller_id, terminal_id), None)

    # --- a lasting state -------------------------------------------------------------------------

    def open_periods(self) -> dict[Scope, list[Transaction]]:
        """Every scope's open period: its transactions so far, oldest first."""
        return {scope: list(found) for scope, found in self._open.items()}

    def marks(self) -> dict[Scope, datetime]:
        """When each scope was last marked (the open period's start)."""
        return dict(self._since)

    def closed_periods(self) -> list[Period]:
        """Every closed period, in the order they were marked."""
        return list(self._closed.values())

    def restore(
        self,
        open_periods: dict[Scope, list[Transaction]],
        marks: dict[Scope, datetime],
        closed: list[Period],
    ) -> None:
        """Take over a stored state, as the three methods above describe it."""
        self._open = {scope: list(found) for scope, found in open_periods.items()}
        self._since = dict(marks)
        self._closed = {period.id: period for period in closed}


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    mime_type: str
    content_string: str

    @property
    def content(self) -> bytes:
        """The bytes SEQR sent base64-encoded in `content`: the same text as contentString."""
        return self.content_string.encode("utf-8")


@dataclass(frozen=True, slots=True)
class ReportKind:
    number: str  # "001" for STD_RECON_001
    terminal_scope: bool
    render: Callable[[Period, datetime], str]


@dataclass(slots=True)
class _Totals:
    count: int = 0
    total: Decimal = field(default_factory=Decimal)

    def add(self, amount: Decimal) -> None:
        self.count += 1
        self.total += amount


def report_kind(report_id: str | None) -> ReportKind:
    """Accepts `Reconciliation/Shop.xml` and `STD_RECON_00N` with or without prefix and suffix.

    An id naming no report is 10 REJECTED_BUSINESS_LOGIC: 2 would send a client's retry loop
    round forever, and 91 would claim executeReport itself is unsupported.
    """
    match = _REPORT_ID.match((report_id or "").strip())
    number = None if match is None else ("001" if match.group(1) else match.group(2))
    kind = REPORTS.get(number or "")
    if kind is None:
        known = ", ".join(f"STD_RECON_{n}" for n in REPORTS)
        raise SeqrError(ResultCode.REJECTED_BUSINESS_LOGIC, f"unknown report; known: {known}")
    return kind


def ready_period(
    kind: ReportKind,
    period: Period | None,
    reseller_id: str,
    terminal_id: str | None,
    now: datetime,
    delay: float = 0.0,
) -> Period:
    """The period a report may run on, or 2 REPORT_NOT_READY.

    Not ready: a period this shop never marked (or not yet); a terminal report on a period
    that was not marked for that terminal (as SEQR's FAQ says), and a shop report on one
    terminal's period; and any report during `delay` seconds after the mark.
    """
    if period is None or period.reseller_id != reseller_id:
        raise SeqrError(ResultCode.REPORT_NOT_READY, "no such transaction period (yet)")
    if kind.terminal_scope:
        if period.terminal_id is None:
            raise SeqrError(ResultCode.REPORT_NOT_READY, "the period was not marked for a terminal")
        if terminal_id and terminal_id != period.terminal_id:
            raise SeqrError(ResultCode.REPORT_NOT_READY, "the period belongs to another terminal")
    elif period.terminal_id is not None:
        raise SeqrError(ResultCode.REPORT_NOT_READY, "the period was marked for one terminal")
    if delay > 0 and now < period.closed_at + timedelta(seconds=delay):
        raise SeqrError(ResultCode.REPORT_NOT_READY, "the report is still being produced")
    return period


def build(kind: ReportKind, period: Period, now: datetime) -> Report:
    return Report(f"STD_RECON_{kind.number}_{period.id}.xml", MIME_TYPE, kind.render(period, now))


# --- rendering ---------------------------------------------------------------------------------


def money(value: Decimal) -> str:
    """Five decimals, as SEQR printed amounts (`93.31000`)."""
    quantized = value.quantize(_CENTS, context=_TOTALS)
    return format(quantized if quantized else abs(quantized), "f")


def _cashier(value: str | None) -> str:
    return value if value else NULL


def _element(name: str, value: object) -> str:
    # imported by the first report, not by a start: the `xml.sax` package was 4.6M
    # instructions of a served start to `listening`, 1,454M against 1,449M (callgrind)
    from xml.sax.saxutils import escape

    return f"<{name}>{escape(str(value))}</{name}>"


def _document(root: str, period: Period, now: datetime, rows: Iterable[list[str]]) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f"<{root}>", "<Meta>"]
    lines.append(_element("ResellerId", period.reseller_id))
    if period.terminal_id is not None:
        lines.append(_element("TerminalId", period.terminal_id))
    lines.append(_element("TransactionPeriodId", period.id))
    lines.append(_element("GeneratedAt", f"{now:%Y-%m-%d %H:%M}"))
    lines.append("</Meta>")
    for row in rows:
        lines.extend(["<Row>", *row, "</Row>"])
    lines.append(f"</{root}>")
    return "\n".join(lines) + "\n"


def _grouped(
    transactions: Iterable[Transaction], key: Callable[[Transaction], str]
) -> dict[str, _Totals]:
    groups: dict[str, _Totals] = {}
    for t in transactions:
        groups.setdefault(key(t), _Totals()).add(t.amount)
    return groups


def _summary_row(totals: _Totals) -> list[str]:
    return [_element("SalesCount", totals.count), _element("SalesTotal", money(totals.total))]


def _period_summary(root: str) -> Callable[[Period, datetime], str]:
    def render(period: Period, now: datetime) -> str:
        totals = _Totals()
        for t in period.transactions:
            totals.add(t.amount)
        return _document(root, period, now, [_summary_row(totals)])

    return render


def _per_terminal(period: Period, now: datetime) -> str:
    groups = _grouped(period.transactions, lambda t: t.terminal_id)
    rows = [[_element("TerminalId", tid), *_summary_row(g)] for tid, g in groups.items()]
    return _document("TerminalTransactionSummary", period, now, rows)


def _per_cashier(period: Period, now: datetime) -> str:
    groups = _grouped(period.transactions, lambda t: _cashier(t.cashier_id))
    rows = [[_element("CashierId", cid), *_summary_row(g)] for cid, g in groups.items()]
    return _document("CashierTransactionSummary", period, now, rows)


def _details(period: Period, now: datetime) -> str:
    rows = [
        [
            _element("TerminalId", t.terminal_id),
            _element("CashierId", _cashier(t.cashier_id)),
            _element("SalesAmount", money(t.amount)),
            _element("ErsReference", t.ers_reference),
        ]
        for t in period.transactions
    ]
    return _document("TransactionDetails", period, now, rows)


REPORTS: dict[str, ReportKind] = {
    "001": ReportKind("001", False, _period_summary("ResellerTransactionSummary")),
    "002": ReportKind("002", False, _per_terminal),
    "003": ReportKind("003", False, _details),
    "004": ReportKind("004", False, _per_cashier),
    "006": ReportKind("006", True, _period_summary("TerminalTransactionSummary")),
    "007": ReportKind("007", True, _details),
}
"""Every documented reconciliation report; 001-004 per shop, 006 and 007 per terminal."""
