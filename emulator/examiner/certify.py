"""The certification rehearsal: SEQR's checklists, graded over a run's traffic.

SEQR certified an integration in a meeting: its staff watched the merchant's calls while the
merchant walked a fixed list (webshop: 6 tests, point of sale: 9), and the in-app and
External Service guides end with the same "verify, then get certified". A profile here is
that list as data: each test names its document and step, what the integrator does, and a
grader that finds, in the journal's facts, the calls that pass it (its evidence), or says
which step is missing and which request broke it. The prerequisites of the procedure
(clientId and clientReference set, clientRequestTimeout 0, the till deregistered before a
point-of-sale run) are graded the same way, as a list of their own.

`Conductor` is SEQR's side of the meeting: told of the backend's invoice events, it says
when the emulated customer must pay (the invoices of the steps that need a payment, and no
other) and when the clock must jump the 30 seconds of webshop test 2. It decides; the
adapter that runs the rehearsal carries it out. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from emulator.domain import seqr_urls
from emulator.examiner.facts import Act, Call, Note, Seen
from emulator.examiner.monitor import Evidence

WEB = "SEQR certification process, webshop and appshop"
POS = "SEQR certification process, point of sale and terminal"
INAPP = "SEQR payment in your app (in-app guide)"
SERVICE = "SEQR External Service payment guide"
RECEIPT_TYPES = frozenset({"HTML", "XML", "BASE64", "TEXT/HTML", "TEXT/XML"})
WAIT_SECONDS = 30.0  # webshop test 2: wait 30 s, then poll the previous invoice


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    why: str
    evidence: tuple[Evidence, ...] = ()


def _ok(why: str, *facts: Seen) -> Verdict:
    return Verdict(True, why, tuple(Evidence.of(f) for f in facts))


def _no(why: str, *facts: Seen) -> Verdict:
    return Verdict(False, why, tuple(Evidence.of(f) for f in facts))


Grader = Callable[["Traffic"], Verdict]


@dataclass(frozen=True, slots=True)
class Test:
    id: str
    name: str
    document: str
    step: str
    instruction: str  # what the integrator does, as the rehearsal tells it
    grade: Grader

    @property
    def source(self) -> str:
        return f"{self.document}, {self.step}"


@dataclass(frozen=True, slots=True)
class Result:
    test: Test
    verdict: Verdict

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.test.id,
            "name": self.test.name,
            "passed": self.verdict.passed,
            "source": self.test.source,
            "instruction": self.test.instruction,
            "why": self.verdict.why,
            "evidence": [e.to_json() for e in self.verdict.evidence],
        }


# --- the traffic, indexed for the graders ------------------------------------------------------


@dataclass(slots=True)
class Traffic:
    """A run's facts, with what the graders ask of them again and again."""

    facts: list[Seen]
    calls: list[Call] = field(init=False)
    notes: list[Note] = field(init=False)
    acts: list[Act] = field(init=False)

    def __post_init__(self) -> None:
        self.calls = [f for f in self.facts if isinstance(f, Call)]
        self.notes = [f for f in self.facts if isinstance(f, Note)]
        self.acts = [f for f in self.facts if isinstance(f, Act)]

    def scans(self, invoice: str) -> list[Act]:
        """The codes and links the app read to reach the invoice."""
        return [a for a in self.acts if a.kind == "scanned" and a.invoice == invoice]

    def seqr_id(self, terminal: str | None) -> str | None:
        """The SEQR ID last assigned to the terminal: its sticker's."""
        made = [c for c in self.of("assignSeqrId", terminal) if c.ok and c.request.get("seqrId")]
        return made[-1].request["seqrId"] if made else None

    def of(self, operation: str, terminal: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.operation == operation and (terminal is None or c.terminal == terminal)
        ]

    def polls(self, invoice: str, status: str | None = None, after: int = 0) -> list[Call]:
        return [
            c
            for c in self.of("getPaymentStatus")
            if c.invoice == invoice and c.seq > after and (status is None or c.status == status)
        ]

    def sent(self, terminal: str | None = None) -> list[Call]:
        return [c for c in self.of("sendInvoice", terminal) if c.ok and c.invoice]

    def payment_of(self, invoice: str) -> Call | None:
        """The first answer that showed the invoice PAID."""
        paid = self.polls(invoice, "PAID")
        return paid[0] if paid else None

    def till(self) -> str | None:
        """The terminal a point-of-sale run registered."""
        for call in self.of("registerTerminal"):
            if call.ok and call.answer.get("return/terminalId"):
                return call.answer["return/terminalId"]
        return None


# --- graders ---------------------------------------------------------------------------------


def _row_problem(call: Call) -> str | None:
    if not call.rows:
        return "has no invoiceRow"
    for number, row in enumerate(call.rows, 1):
        missing = [k for k in ("itemQuantity", "itemTotalAmount/value") if not row.get(k)]
        if missing:
            return f"row {number} has no {' and no '.join(m.split('/')[0] for m in missing)}"
    return None


def send_invoice(terminal: Callable[[Traffic], str | None] = lambda t: None) -> Grader:
    def grade(t: Traffic) -> Verdict:
        sent = t.sent(terminal(t))
        if not sent:
            return _no("no sendInvoice answered 0")
        for call in sent:
            if _row_problem(call) is None:
                return _ok("an invoice with rows carrying itemQuantity and itemTotalAmount", call)
        first = sent[0]
        return _no(f"{first.describe()} {_row_problem(first)}", first)

    return grade


def _sticker(code: str | None) -> str | None:
    """The SEQR ID of a till's sticker the code is, else None."""
    try:
        link = seqr_urls.parse(code or "")
    except seqr_urls.NotSeqrUrl:
        return None
    return link.seqr_id if isinstance(link, seqr_urls.TerminalLink) else None


def payment_status(
    terminal: Callable[[Traffic], str | None] = lambda t: None, *, sticker: bool = False
) -> Grader:
    """Poll before the scan, poll after, send a new invoice, wait 30 s, poll the old one.
    `sticker`: the customer reached the invoice by scanning the till's sticker (the QR of the
    SEQR ID assigned to it), not the invoice's own code."""

    def grade(t: Traffic) -> Verdict:
        till = terminal(t)
        best: tuple[Seen, ...] = ()
        why, rank = "no invoice was polled while ISSUED", 0

        def missed(at: int, said: str, *facts: Seen) -> None:
            nonlocal best, why, rank
            if at > rank:
                best, why, rank = facts, said, at

        for sent in t.sent(till):
            ref = sent.invoice or ""
            issued = t.polls(ref, "ISSUED")
            if not issued:
                continue
            paid = t.polls(ref, "PAID", after=issued[0].seq)
            if not paid:
                missed(1, f"{ref} was never polled PAID after the scan", issued[0])
                continue
            shown: tuple[Seen, ...] = (issued[0], paid[0])
            if sticker:
                seqr_id = t.seqr_id(till)
                read = [a for a in t.scans(ref) if issued[0].seq <= a.seq < paid[0].seq]
                scan = next((a for a in read if seqr_id and _sticker(a.code) == seqr_id), None)
                if scan is None:
                    instead = f": the app read {read[0].code}" if read else ""
                    if seqr_id is None:
                        said = f"{ref} was paid, but its till has no SEQR ID, so no sticker"
                    else:
                        said = (
                            f"{ref} was paid, but not by a scan of the till's sticker "
                            f"{seqr_urls.terminal_qr(seqr_id)}{instead}"
                        )
                    missed(2, said, issued[0], *read[:1], paid[0])
                    continue
                shown = (issued[0], scan, paid[0])
            newer = [s for s in t.sent(till) if s.seq > paid[0].seq]
            if not newer:
                missed(3, f"no new invoice was sent after {ref} was PAID", *shown)
                continue
            later = [
                p
                for p in t.polls(ref, after=newer[0].seq)
                if p.ok and (p.at - newer[0].at).total_seconds() >= WAIT_SECONDS
            ]
            if not later:
                missed(
                    4,
                    f"{ref} was not polled again {WAIT_SECONDS:g} s after the new invoice",
                    *shown,
                    newer[0],
                )
                continue
            how = " (scanned at the till's sticker)" if sticker else ""
            return _ok(
                f"{ref} polled ISSUED, PAID{how}, and again {WAIT_SECONDS:g} s after a new invoice",
                *shown,
                newer[0],
                later[0],
            )
        return _no(why, *best)

    return grade


def receipt(t: Traffic) -> Verdict:
    paid = {c.answered_ers for c in t.of("getPaymentStatus") if c.status == "PAID"}
    receipts = t.of("submitPaymentReceipt")
    for call in receipts:
        mime = (call.request.get("receiptDocument/mimeType") or "").upper()
        if call.ok and call.sent_ers in paid and mime in RECEIPT_TYPES:
            return _ok("a receipt for a payment after its PAID answer", call)
    if not receipts:
        return _no("no submitPaymentReceipt")
    first = receipts[0]
    if first.sent_ers not in paid:
        return _no(f"{first.describe()} named no payment a PAID answer had shown", first)
    return _no(f"{first.describe()} has mimeType other than HTML, XML or Base64", first)


def cancel(t: Traffic) -> Verdict:
    cancels = t.of("cancelInvoice")
    for call in cancels:
        polled = t.polls(call.invoice or "", "ISSUED")
        if call.ok and polled and polled[0].seq < call.seq:
            return _ok(f"{call.invoice} polled ISSUED, then canceled", polled[0], call)
    if not cancels:
        return _no("no cancelInvoice")
    first = cancels[0]
    return _no(
        f"{first.describe()} did not cancel an invoice it had polled (answered "
        f"{first.result_code})",
        first,
    )


def refund(t: Traffic) -> Verdict:
    """A new invoice, polled, paid by the customer, polled PAID, refunded by its payment."""
    first_paid = next((c for c in t.of("getPaymentStatus") if c.status == "PAID"), None)
    refunds = t.of("refundPayment")
    for call in refunds:
        ref = next(
            (c.invoice for c in t.of("getPaymentStatus") if c.answered_ers == call.sent_ers), None
        )
        if not call.ok or ref is None:
            continue
        issued, paid = t.polls(ref, "ISSUED"), t.payment_of(ref)
        if first_paid is not None and first_paid.invoice == ref and len(t.sent()) > 1:
            continue  # the invoice of test 2; the test asks for a new one
        if issued and paid and issued[0].seq < paid.seq < call.seq:
            return _ok(f"{ref} polled ISSUED, PAID, then refunded", issued[0], paid, call)
    if not refunds:
        return _no("no refundPayment")
    first = refunds[0]
    return _no(
        f"{first.describe()} did not refund a new invoice's payment by its ersReference "
        f"(answered {first.result_code})",
        first,
    )


def mark(t: Traffic) -> Verdict:
    marks = [c for c in t.of("markTransactionPeriod") if c.ok]
    paid = [c for c in t.of("getPaymentStatus") if c.status == "PAID"]
    if not marks:
        return _no("no markTransactionPeriod answered 0")
    last = marks[-1]
    if paid and last.seq < paid[-1].seq:
        return _no(f"the last markTransactionPeriod came before {paid[-1].describe()}", last)
    return _ok("the period marked when closing", last)


def register(t: Traffic) -> Verdict:
    for call in t.of("registerTerminal"):
        kind = call.request.get("context/initiatorPrincipalId/type", "")
        if call.ok and kind == "RESELLERUSER" and call.answer.get("return/terminalId"):
            return _ok("a terminal registered by the reseller user", call)
    tried = t.of("registerTerminal")
    return _no("no registerTerminal as RESELLERUSER answered 0", *tried[:1])


def assign(t: Traffic) -> Verdict:
    till = t.till()
    calls = t.of("assignSeqrId")
    for call in calls:
        sent = call.request
        if (
            call.ok
            and call.terminal == till
            and sent.get("context/clientReference")
            and (sent.get("context/clientRequestTimeout") or "0") == "0"
        ):
            return _ok("the SEQR ID assigned to the registered terminal", call)
    if not calls:
        return _no("no assignSeqrId")
    return _no(
        f"{calls[0].describe()} was not the registered terminal's, with clientReference "
        "and clientRequestTimeout 0",
        calls[0],
    )


def unregister(t: Traffic) -> Verdict:
    till = t.till()
    calls = [c for c in t.of("unregisterTerminal") if c.ok]
    mine = [c for c in calls if c.terminal == till]
    if not mine:
        return _no("the registered terminal was not unregistered", *calls[:1])
    later = [c for c in t.calls if c.seq > mine[0].seq and c.terminal == till]
    if later:
        return _no(f"{later[0].describe()} came after the terminal was unregistered", later[0])
    return _ok("the registered terminal unregistered, at the end", mine[0])


# --- prerequisites ---------------------------------------------------------------------------


def identified(t: Traffic) -> Verdict:
    with_context = [c for c in t.calls if any(k.startswith("context/") for k in c.request)]
    for call in with_context:
        if not call.request.get("context/clientId") or not call.request.get(
            "context/clientReference"
        ):
            return _no(f"{call.describe()} sent no clientId or no clientReference", call)
    if not with_context:
        return _no("no call was made")
    return _ok("every call named its company and system", with_context[0])


def timeout_zero(t: Traffic) -> Verdict:
    for call in t.calls:
        value = call.request.get("context/clientRequestTimeout")
        if value and value != "0":
            return _no(f"{call.describe()} sent clientRequestTimeout {value}", call)
    return _ok("every call sent clientRequestTimeout 0")


def deregistered_first(t: Traffic) -> Verdict:
    registered = next((c for c in t.of("registerTerminal") if c.ok), None)
    if registered is None:
        return _no("the run never registered its terminal")
    before = [
        c
        for c in t.calls
        if c.seq < registered.seq
        and c.request.get("context/initiatorPrincipalId/type", "TERMINALID") == "TERMINALID"
    ]
    if before:
        return _no(f"{before[0].describe()} used a terminal before the registration", before[0])
    return _ok("the run started by registering the terminal", registered)


# --- the in-app and External Service guides -----------------------------------------------------


def app_urls(t: Traffic) -> Verdict:
    sent = t.sent()
    for call in sent:
        if not (
            call.request.get("invoice/backURL") and call.request.get("invoice/notificationUrl")
        ):
            return _no(f"{call.describe()} lacks backURL or notificationUrl", call)
    if not sent:
        return _no("no sendInvoice answered 0")
    return _ok("every invoice carries backURL and notificationUrl", sent[0])


def one_final_poll(t: Traffic) -> Verdict:
    """After the return from the SEQR app, one getPaymentStatus reads the final status."""
    for sent in t.sent():
        ref = sent.invoice or ""
        polls = t.polls(ref)
        if not polls:
            continue
        final = [p for p in polls if p.status in ("PAID", "CANCELED", "FAILED")]
        if len(polls) > 2 or not final:
            return _no(
                f"{ref} was polled {len(polls)} times: once after the return is the way", *polls[:3]
            )
        return _ok(f"{ref} polled once for its outcome", final[0])
    return _no("no invoice was polled after the return")


def _same_link(opened: str | None, wanted: str) -> bool:
    """The same link, its scheme read without regard to case (`seqr:` or `SEQR:`)."""
    scheme, _, rest = (opened or "").strip().partition(":")
    want_scheme, _, want_rest = wanted.partition(":")
    return scheme.lower() == want_scheme.lower() and rest == want_rest


def seqr_link(t: Traffic) -> Verdict:
    """The app opened the `seqr:` form of the invoiceQRCode sendInvoice answered, and only
    that: every link the app was handed for an invoice is checked."""
    passed: Verdict | None = None
    for sent in t.sent():
        ref = sent.invoice or ""
        code = sent.answer.get("return/invoiceQRCode", "")
        wanted = seqr_urls.app_link(code)
        for act in t.scans(ref):
            if wanted is None:
                return _no(f"{sent.describe()} answered no HTTP: invoiceQRCode", sent)
            if not _same_link(act.code, wanted):
                return _no(
                    f"the app opened {act.code} for {ref}, not {wanted}, the seqr: form of "
                    f"its invoiceQRCode {code}",
                    sent,
                    act,
                )
            passed = passed or _ok(f"the app opened {wanted}, the seqr: form of {code}", sent, act)
    return passed or _no("the app never opened an invoice's seqr: link")


def session_info(t: Traffic) -> Verdict:
    calls = t.of("getClientSessionInfo")
    for call in calls:
        if call.ok and call.request.get("key"):
            return _ok("getClientSessionInfo with the token of the order page", call)
    return _no("no getClientSessionInfo answered 0 for a session's token", *calls[:1])


def notified_not_polled(t: Traffic) -> Verdict:
    """The notification replaces polling: no poll before it, one after."""
    for sent in t.sent():
        ref = sent.invoice or ""
        notes = [n for n in t.notes if n.invoice == ref and n.delivered]
        if not sent.request.get("invoice/notificationUrl"):
            return _no(f"{sent.describe()} sent no notificationUrl", sent)
        if not notes:
            continue
        early = [p for p in t.polls(ref) if p.seq < notes[0].seq]
        if early:
            return _no(f"{early[0].describe()} polled before the notification", early[0])
        after = t.polls(ref, after=notes[0].seq)
        if not after:
            return _no(f"no getPaymentStatus of {ref} after its notification", notes[0])
        return _ok("the notification, then one getPaymentStatus", sent, notes[0], after[0])
    return _no("no invoice was notified")


def paid_in_session(t: Traffic) -> Verdict:
    """The invoice was paid inside the session getClientSessionInfo read, by its customer."""
    infos = [c for c in t.of("getClientSessionInfo") if c.ok and c.request.get("key")]
    payments = [a for a in t.acts if a.kind == "paid"]
    if not infos:
        return _no("no getClientSessionInfo answered 0 for a session's token")
    for info in infos:
        token, named = info.request["key"], dict(info.answer_entries)
        customer = (named.get("msisdn"), named.get("subscriberKey"))
        for act in payments:
            if act.session == token and (act.msisdn, act.subscriber_key) == customer:
                return _ok(
                    f"{act.invoice} paid in session {token} by its customer "
                    f"{customer[0]}/{customer[1]}",
                    info,
                    act,
                )
    info, token = infos[0], infos[0].request["key"]
    if not payments:
        return _no(f"no invoice was paid in session {token}", info)
    act = payments[0]
    if act.session is None:
        why = f"{act.invoice} was paid outside session {token}: the app opened it without it"
    elif act.session != token:
        why = f"{act.invoice} was paid in session {act.session}, not {token}"
    else:
        why = f"{act.invoice} was paid by {act.msisdn}/{act.subscriber_key}, not the session's"
    return _no(why, info, act)


def after_session(t: Traffic) -> Verdict:
    info = next((c for c in t.of("getClientSessionInfo") if c.ok), None)
    sent = t.sent()
    if info is None or not sent:
        return _no("no sendInvoice after getClientSessionInfo")
    if sent[0].seq < info.seq:
        return _no(f"{sent[0].describe()} came before getClientSessionInfo", sent[0])
    return _ok("the order page asked who the customer is, then sent the invoice", info, sent[0])


# --- the profiles ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    title: str
    tests: tuple[Test, ...]
    prerequisites: tuple[Test, ...]
    notes: tuple[str, ...] = ()  # what the rehearsal cannot check, as reminders
    # "steps": the customer pays the steps' invoices; "link": the invoices whose link the
    # merchant's app or page opens in the SEQR app, and no other
    pays: str = "steps"
    closes: bool = True  # the procedure ends by closing (markTransactionPeriod is judged)


def _web(n: int, name: str, step: str, instruction: str, grade: Grader) -> Test:
    return Test(f"webshop-{n}", name, WEB, f"test {n}, {step}", instruction, grade)


def _pos(n: int, name: str, step: str, instruction: str, grade: Grader) -> Test:
    return Test(f"pos-{n}", name, POS, f"test {n}, {step}", instruction, grade)


def _till(t: Traffic) -> str | None:
    return t.till()


PREREQUISITES = (
    Test(
        "prerequisite-client",
        "clientId and clientReference",
        WEB,
        "prerequisites",
        "set clientId to your company name and clientReference to your system and version",
        identified,
    ),
    Test(
        "prerequisite-timeout",
        "clientRequestTimeout 0",
        WEB,
        "prerequisites",
        "send clientRequestTimeout 0 in every context",
        timeout_zero,
    ),
)

WEBSHOP = Profile(
    "webshop",
    "Webshop and appshop",
    (
        _web(
            1,
            "sendInvoice",
            "sendInvoice",
            "send an invoice; each row with itemQuantity and itemTotalAmount",
            send_invoice(),
        ),
        _web(
            2,
            "getPaymentStatus",
            "getPaymentStatus",
            "poll the invoice; the customer pays; "
            "poll until PAID; send a new invoice; after 30 s poll the first one again",
            payment_status(),
        ),
        _web(
            3,
            "submitPaymentReceipt",
            "submitPaymentReceipt",
            "submit a receipt (mimeType HTML, XML or Base64) for the payment",
            receipt,
        ),
        _web(4, "cancelInvoice", "cancelInvoice", "send a new invoice, poll it, cancel it", cancel),
        _web(
            5,
            "refundPayment",
            "refundPayment",
            "send a new invoice, poll it; the customer pays; poll it PAID; refund it",
            refund,
        ),
        _web(
            6,
            "markTransactionPeriod",
            "markTransactionPeriod",
            "close the shop: markTransactionPeriod",
            mark,
        ),
    ),
    PREREQUISITES,
)

POS_PROFILE = Profile(
    "pos",
    "Point of sale and terminal",
    (
        _pos(
            1, "registerTerminal", "registerTerminal", "register the till as RESELLERUSER", register
        ),
        _pos(2, "assignSeqrId", "assignSeqrId", "assign the SEQR ID to the new terminal", assign),
        _pos(3, "sendInvoice", "sendInvoice", "send an invoice from the till", send_invoice(_till)),
        _pos(
            4,
            "getPaymentStatus",
            "getPaymentStatus",
            "poll; the customer scans the till's "
            "sticker and pays; poll until PAID; send a new invoice; after 30 s poll the first",
            payment_status(_till, sticker=True),
        ),
        _pos(
            5,
            "submitPaymentReceipt",
            "submitPaymentReceipt",
            "submit a receipt for the payment",
            receipt,
        ),
        _pos(6, "cancelInvoice", "cancelInvoice", "send a new invoice, poll it, cancel it", cancel),
        _pos(
            7,
            "refundPayment",
            "refundPayment",
            "send a new invoice, poll it; the customer pays; poll it PAID; refund it",
            refund,
        ),
        _pos(
            8,
            "markTransactionPeriod",
            "markTransactionPeriod",
            "close the cash register: markTransactionPeriod",
            mark,
        ),
        _pos(
            9, "unregisterTerminal", "unregisterTerminal", "unregister the till, last", unregister
        ),
    ),
    (
        *(Test(p.id, p.name, POS, p.step, p.instruction, p.grade) for p in PREREQUISITES),
        Test(
            "prerequisite-deregistered",
            "terminal deregistered before the run",
            POS,
            "prerequisites",
            "start with the till unregistered: its first call is registerTerminal",
            deregistered_first,
        ),
    ),
    notes=(
        "Send SEQR the process description, with screenshots, of how a merchant activates "
        "the point of sale (prerequisite; outside the emulator's reach).",
    ),
)

APP = Profile(
    "app",
    "In-app payment",
    (
        Test(
            "app-1",
            "backURL and notificationUrl",
            INAPP,
            "Implement the required methods, notes",
            "send invoices with backURL and notificationUrl",
            app_urls,
        ),
        Test(
            "app-2",
            "one final getPaymentStatus",
            INAPP,
            "Present the receipt",
            "after the app returns, poll the invoice once",
            one_final_poll,
        ),
        Test(
            "app-3",
            "the seqr: link",
            INAPP,
            "Insert the payment URL",
            "open the seqr: form of invoiceQRCode (HTTP: replaced by seqr:) in the SEQR app "
            "(POST /_emulator/app/open): the customer pays and the app returns to backURL",
            seqr_link,
        ),
    ),
    PREREQUISITES,
    pays="link",
    closes=False,
)

SERVICE_PROFILE = Profile(
    "service",
    "External Service",
    (
        Test(
            "service-1",
            "getClientSessionInfo",
            SERVICE,
            "1. Create QR code URLs, Order URL",
            "on the order page, call getClientSessionInfo with the token from the URL",
            session_info,
        ),
        Test(
            "service-2",
            "sendInvoice after the session",
            SERVICE,
            "1. Create QR code URLs",
            "send the invoice once the customer is known",
            after_session,
        ),
        Test(
            "service-3",
            "notification instead of polling",
            SERVICE,
            "2. Create Notification URL",
            "wait for the notification, then getPaymentStatus",
            notified_not_polled,
        ),
        Test(
            "service-4",
            "paid inside the session",
            SERVICE,
            "1. Create QR code URLs",
            "have the page open the invoice's seqr: link in the session (POST "
            "/_emulator/app/open with the token): its customer pays",
            paid_in_session,
        ),
    ),
    PREREQUISITES,
    pays="link",
    closes=False,
)

PROFILES = {p.name: p for p in (WEBSHOP, POS_PROFILE, APP, SERVICE_PROFILE)}


def grade(profile: Profile, facts: Sequence[Seen]) -> tuple[list[Result], list[Result]]:
    """(tests, prerequisites), each graded over the whole run's facts."""
    traffic = Traffic(list(facts))
    return (
        [Result(t, t.grade(traffic)) for t in profile.tests],
        [Result(t, t.grade(traffic)) for t in profile.prerequisites],
    )


# --- SEQR's side of the meeting ------------------------------------------------------------------


@dataclass(slots=True)
class Conductor:
    """When the customer pays, and when the clock jumps, in a run of `profile`.

    In a checklist run the customer pays the first invoice (test 2) and the first one sent
    after an invoice was canceled by the merchant (the refund test), each once the merchant
    has polled it: the invoices of the cancel test and of the 30-second wait stay unpaid.
    The clock jumps 30 s when the first new invoice after the first payment is sent.
    """

    profile: Profile
    paying: bool = True
    payments: int = 0
    waited: bool = False

    def on_event(self, kind: str, history: str | None) -> list[tuple[str, float]]:
        """The actions an invoice event calls for: ("pay", on) to switch the paying
        customer on or off for the invoices issued from now, ("advance", seconds)."""
        if self.profile.pays != "steps":
            return []
        actions: list[tuple[str, float]] = []
        if kind == "paid":
            self.payments += 1
            if self.paying:
                self.paying = False
                actions.append(("pay", 0.0))
        elif kind == "canceled" and history == "canceled by the merchant" and self.payments == 1:
            if not self.paying:
                self.paying = True
                actions.append(("pay", 1.0))
        elif kind == "issued" and self.payments == 1 and not self.waited:
            self.waited = True
            actions.append(("advance", WAIT_SECONDS))
        return actions

    def next_step(self, results: Sequence[Result]) -> str:
        """What the integrator should do now: the first test not yet passed."""
        for result in results:
            if not result.verdict.passed:
                return f"{result.test.id}: {result.test.instruction}"
        return "every test passed: end the run (Ctrl-C)"
