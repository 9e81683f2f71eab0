"""What the examiner knows of one journal entry: the fields of a call that SEQR's rules talk
about, read out of the bytes the merchant sent and the bytes the emulator answered.

The journal keeps the bytes as they went over the wire (passwords hidden); the rules need a
handful of fields (clientRequestTimeout, acknowledgmentMode, notificationUrl, amounts, the
status an answer showed). They are read here once per entry, by namespace-blind local names
so that any client's prefixes read the same, and never again.

The parser resolves no entity and fetches nothing (a merchant's bytes are untrusted), and
recovers what it can of a body the journal cut at its size bound. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from emulator.journal import CALL, Record

FINAL = frozenset({"PAID", "CANCELED", "FAILED"})

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, recover=True, huge_tree=False, load_dtd=False
)

Fields = dict[str, str]


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _payload(body: bytes) -> etree._Element | None:
    """The first element of the SOAP Body: the operation (or its response, or a Fault)."""
    if not body:
        return None
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError:
        return None
    if root is None:
        return None
    for child in root:
        if _local(child.tag) == "Body":
            for inner in child:
                if isinstance(inner.tag, str):
                    return inner
    return None


def _flatten(element: etree._Element, prefix: str, out: Fields, skip: str = "") -> None:
    """`out["context/clientId"] = text`, first occurrence of each path wins."""
    for child in element:
        name = _local(child.tag)
        if not name or name == skip:
            continue
        path = f"{prefix}{name}"
        if len(child):
            _flatten(child, path + "/", out, skip)
        else:
            out.setdefault(path, (child.text or "").strip())


def _rows(element: etree._Element | None) -> tuple[Fields, ...]:
    if element is None:
        return ()
    found: list[Fields] = []
    for node in element.iter():
        if _local(node.tag) == "invoiceRow":
            row: Fields = {}
            _flatten(node, "", row)
            found.append(row)
    return tuple(found)


def _entries(element: etree._Element) -> tuple[tuple[str, str], ...]:
    """Every `entry` (key, value) of a parameter map, however it is wrapped (§1.3)."""
    found: list[tuple[str, str]] = []
    for node in element.iter():
        if _local(node.tag) == "entry":
            pair: Fields = {}
            _flatten(node, "", pair)
            found.append((pair.get("key", ""), pair.get("value", "")))
    return tuple(found)


def decimal(text: str | None) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


@dataclass(frozen=True, slots=True)
class Call:
    """A SOAP call as the rules see it. `request` and `answer` hold the text of every leaf
    element by its path under the operation (`context/clientRequestTimeout`,
    `invoice/totalAmount/value`; in the answer `return/status`), the first one of each path."""

    seq: int
    at: datetime
    operation: str | None
    terminal: str | None
    invoice: str | None
    result_code: int | None
    fault: bool
    action: str | None  # the scenario step's action that answered or disturbed the call
    request: Fields = field(default_factory=dict)
    answer: Fields = field(default_factory=dict)
    rows: tuple[Fields, ...] = ()
    entries: tuple[tuple[str, str], ...] = ()  # the request's parameter map, in order
    answer_entries: tuple[tuple[str, str], ...] = ()  # the answer's (getClientSessionInfo)

    @property
    def ok(self) -> bool:
        return self.result_code == 0

    @property
    def status(self) -> str | None:
        """The invoice status a getPaymentStatus answer showed, when it answered one."""
        return self.answer.get("return/status") if self.ok else None

    @property
    def answered_ers(self) -> str | None:
        return self.answer.get("return/ersReference") or None

    @property
    def sent_ers(self) -> str | None:
        return self.request.get("ersReference") or None

    def amount(self, where: str = "invoice/totalAmount") -> tuple[Decimal | None, str | None]:
        return decimal(self.request.get(f"{where}/value")), self.request.get(f"{where}/currency")

    @property
    def paid_total(self) -> Decimal | None:
        """The paid invoice's total, from the receipt of a PAID answer."""
        return decimal(self.answer.get("return/receipt/invoice/totalAmount/value"))

    def describe(self) -> str:
        """`#12 getPaymentStatus 1001…` — how evidence names a request."""
        what = self.operation or "unreadable request"
        about = f" {self.invoice}" if self.invoice else ""
        return f"#{self.seq} {what}{about}"


@dataclass(frozen=True, slots=True)
class Note:
    """A notification attempt as the rules see it."""

    seq: int
    at: datetime
    invoice: str
    terminal: str | None
    action: str  # the delivery plan: deliver, drop, delay, duplicate, late
    outcome: str  # delivered, failed, dropped
    status: int | None

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"

    def describe(self) -> str:
        return f"#{self.seq} notification {self.invoice} ({self.action}, {self.outcome})"


@dataclass(frozen=True, slots=True)
class Act:
    """What the emulated customer did in the SEQR app during a certification rehearsal: it
    read a code or link to reach an invoice ("scanned"), or paid it ("paid"). Not a journal
    entry: `seq` is the journal entry it came after (0: before any), so it sorts after that
    entry and before the next."""

    seq: int
    at: datetime
    kind: str  # "scanned" or "paid"
    invoice: str
    terminal: str | None
    code: str | None = None  # scanned: the code or link the app read
    msisdn: str | None = None  # the customer who scanned or paid
    subscriber_key: str | None = None
    session: str | None = None  # paid: the token of the service session it was paid in

    def describe(self) -> str:
        """`after #12: the app scanned HTTP://SEQR.SE/Q…` — how evidence names an act."""
        if self.kind == "scanned":
            what = f"the app read {self.code or 'no code'} for {self.invoice}"
        else:
            inside = f" in session {self.session}" if self.session else " outside any session"
            what = f"the customer {self.msisdn}/{self.subscriber_key} paid {self.invoice}{inside}"
        return f"after #{self.seq}: {what}"


Fact = Call | Note  # a journal entry's
Seen = Call | Note | Act  # what a certification rehearsal grades


def read(record: Record) -> Fact:
    """The facts of one journal entry."""
    if record.kind != CALL:
        made = record.attempt
        return Note(
            seq=record.seq,
            at=record.at,
            invoice=record.invoice or (made.invoice_reference if made else ""),
            terminal=record.terminal,
            action=made.action if made else "deliver",
            outcome=made.outcome.value if made else "failed",
            status=record.status,
        )
    request: Fields = {}
    answer: Fields = {}
    rows: tuple[Fields, ...] = ()
    entries: tuple[tuple[str, str], ...] = ()
    answer_entries: tuple[tuple[str, str], ...] = ()
    sent = _payload(record.request)
    operation = record.operation
    if sent is not None:
        operation = operation or _local(sent.tag)
        _flatten(sent, "", request, skip="invoiceRows")
        rows = _rows(next((c for c in sent.iter() if _local(c.tag) == "invoiceRows"), None))
        entries = _entries(sent)
    got = _payload(record.answer)
    if got is not None:
        _flatten(got, "", answer, skip="invoiceRows")
        answer_entries = _entries(got)
    invoice = (
        record.invoice
        or answer.get("return/invoiceReference")
        or request.get("invoiceReference")
        or None
    )
    step = record.step
    return Call(
        seq=record.seq,
        at=record.at,
        operation=operation,
        terminal=record.terminal or request.get("context/initiatorPrincipalId/id") or None,
        invoice=invoice,
        result_code=record.result_code,
        fault=record.fault,
        action=None if step is None or step.do is None else step.do.value,
        request=request,
        answer=answer,
        rows=rows,
        entries=entries,
        answer_entries=answer_entries,
    )


def read_all(records: list[Record]) -> list[Fact]:
    return [read(r) for r in records]
