"""The conformance monitor: SEQR's rules (`rules.py`) checked over a merchant's traffic.

It is fed the journal's entries as facts (`facts.read`), oldest first and each once, and
keeps only what later entries are judged against: per invoice what the merchant was shown
(the statuses its polls answered, the payment's ersReference and total, the refunds made,
a notification still waiting for its poll), per terminal the notificationUrls it sent.
A rule that waits for something (a poll after a notification) is judged when the
violations are read, at the emulator time the reader names; `closing` also judges the
rules that only the end of a run can settle (markTransactionPeriod at close, a
notification never polled at all).

Bounded: the invoices it remembers and the violations it keeps are capped, the oldest
forgotten first, so an emulator serving a CI fleet for days does not grow without end.
Pure: no I/O, no clock of its own.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from emulator.examiner import rules
from emulator.examiner.facts import FINAL, Act, Call, Fact, Note, Seen, decimal

INVOICE_LIMIT = 100_000
VIOLATION_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Evidence:
    """One journal entry a verdict rests on."""

    seq: int
    what: str  # the operation, or "notification"; for an act, what the customer did
    invoice: str | None
    at: datetime
    act: bool = False  # the emulated customer's, after journal entry `seq`, not one itself

    @classmethod
    def of(cls, fact: Seen) -> Evidence:
        if isinstance(fact, Act):
            return cls(fact.seq, fact.describe().partition(": ")[2], fact.invoice, fact.at, True)
        if isinstance(fact, Note):
            return cls(fact.seq, "notification", fact.invoice, fact.at)
        return cls(fact.seq, fact.operation or "unreadable request", fact.invoice, fact.at)

    def to_json(self) -> dict[str, Any]:
        if self.act:  # `seq` is the entry it came after
            return {
                "seq": self.seq,
                "after": True,
                "operation": "app",
                "act": self.what,
                "invoice": self.invoice,
            }
        return {"seq": self.seq, "operation": self.what, "invoice": self.invoice}

    def __str__(self) -> str:
        if self.act:
            return f"after #{self.seq}: {self.what}"
        about = f" {self.invoice}" if self.invoice else ""
        return f"#{self.seq} {self.what}{about}"


@dataclass(frozen=True, slots=True)
class Violation:
    rule: rules.Rule
    terminal: str
    message: str
    evidence: tuple[Evidence, ...]

    @property
    def seq(self) -> int:
        """Where it happened: the last entry it rests on."""
        return self.evidence[-1].seq if self.evidence else 0

    def to_json(self) -> dict[str, Any]:
        rule = self.rule
        return {
            "rule": rule.id,
            "severity": rule.severity.value,
            "title": rule.title,
            "source": str(rule.source),
            "terminal": self.terminal,
            "message": self.message,
            "evidence": [e.to_json() for e in self.evidence],
        }


@dataclass(slots=True)
class _Invoice:
    terminal: str
    statuses: set[str] = field(default_factory=set)
    final: Evidence | None = None  # the first answer that showed a final state
    final_status: str | None = None  # and the state it showed
    after_final: int = 0  # polls since, not counting those answering a notification
    notified: Note | None = None  # a delivered notification no poll has answered yet
    unanswered: int = 0  # delivered notifications no poll has answered: each excuses one
    polls: deque[datetime] = field(default_factory=deque)  # within the last second
    flagged: set[str] = field(default_factory=set)  # once-per-invoice rules already reported
    paid_total: Decimal | None = None
    refunded: Decimal = field(default_factory=Decimal)


class Monitor:
    """Incremental: `feed` entries as the journal grows, read `violations` at any time."""

    def __init__(self) -> None:
        self._invoices: OrderedDict[str, _Invoice] = OrderedDict()
        self._payments: dict[str, str] = {}  # a payment's ersReference -> its invoice
        self._refunds: dict[str, None] = {}  # a refund's ersReference (a dict: insertion order)
        # (terminal, notificationUrl) -> the first call that sent it; the calls themselves
        # are not kept, only what evidence names of them (a kept Call was 8 KB an order)
        self._urls: OrderedDict[tuple[str, str], Evidence] = OrderedDict()
        self._per_terminal: set[tuple[str, str]] = set()  # (terminal, rule) reported once
        self._cash_registers: set[str] = set()
        self._paid: dict[str, Evidence] = {}  # terminal -> its latest PAID answer
        self._marks: dict[str | None, int] = {}  # terminal (None: the shop) -> last mark seq
        self._found: deque[Violation] = deque(maxlen=VIOLATION_LIMIT)
        self.last_seq = 0
        self.latest: datetime | None = None

    # --- reading the traffic -------------------------------------------------------------------

    def feed(self, facts: Iterable[Fact]) -> None:
        for fact in facts:
            if fact.seq <= self.last_seq:
                continue  # already seen: the reader may hand an entry twice
            self.last_seq = fact.seq
            if self.latest is None or fact.at > self.latest:
                self.latest = fact.at
            if isinstance(fact, Note):
                self._note(fact)
            else:
                self._call(fact)

    def _invoice(self, reference: str, terminal: str) -> _Invoice:
        found = self._invoices.get(reference)
        if found is None:
            found = self._invoices[reference] = _Invoice(terminal)
            if len(self._invoices) > INVOICE_LIMIT:
                self._invoices.popitem(last=False)
        else:
            self._invoices.move_to_end(reference)
        return found

    def _flag(self, rule: str, terminal: str, message: str, *evidence: Fact | Evidence) -> None:
        shown = tuple(e if isinstance(e, Evidence) else Evidence.of(e) for e in evidence)
        self._found.append(Violation(rules.BY_ID[rule], terminal, message, shown))

    def _once(self, rule: str, terminal: str, message: str, call: Call) -> None:
        if (terminal, rule) not in self._per_terminal:
            self._per_terminal.add((terminal, rule))
            self._flag(rule, terminal, message, call)

    def _note(self, note: Note) -> None:
        if not note.delivered:
            return  # the merchant never heard of it: nothing to answer
        found = self._invoices.get(note.invoice)
        terminal = note.terminal or (found.terminal if found else "")
        found = self._invoice(note.invoice, terminal)
        found.unanswered += 1
        if found.final is None and found.notified is None:
            found.notified = note

    def _call(self, call: Call) -> None:
        terminal = call.terminal or ""
        operation = call.operation
        self._context(call, terminal)
        if operation == "sendInvoice":
            self._send(call, terminal)
        elif operation == "getPaymentStatus":
            self._poll(call, terminal)
        elif operation == "submitPaymentReceipt":
            self._receipt(call, terminal)
        elif operation == "refundPayment":
            self._refund(call, terminal)
        elif operation == "cancelInvoice":
            self._cancel(call, terminal)
        elif operation == "commitReservation":
            self._commit(call, terminal)
        elif operation == "registerTerminal" and call.ok:
            made = call.answer.get("return/terminalId")
            if made:
                self._cash_registers.add(made)
        elif operation == "markTransactionPeriod" and call.ok:
            tills: list[str | None] = [
                value for key, value in call.entries if key.upper() == "TERMINALID"
            ]
            for till in tills or [None]:
                self._marks[till] = call.seq

    def _context(self, call: Call, terminal: str) -> None:
        sent = call.request
        if not any(key.startswith("context/") for key in sent):
            return
        timeout = sent.get("context/clientRequestTimeout")
        value = decimal(timeout)
        if timeout and (value is None or value != 0):
            self._once(
                "request-timeout-zero",
                terminal,
                f"{call.describe()} sent clientRequestTimeout {timeout}, SEQR expects 0",
                call,
            )
        missing = [k for k in ("clientId", "clientReference") if not sent.get(f"context/{k}")]
        if missing:
            self._once(
                "client-identified",
                terminal,
                f"{call.describe()} sent no {' and no '.join(missing)}",
                call,
            )

    def _send(self, call: Call, terminal: str) -> None:
        sent = call.request
        if not sent.get("invoice/acknowledgmentMode"):
            self._flag(
                "ack-mode-set", terminal, f"{call.describe()} sent no acknowledgmentMode", call
            )
        url = sent.get("invoice/notificationUrl")
        if not url:
            if terminal not in self._cash_registers:
                self._flag(
                    "notification-url-present",
                    terminal,
                    f"{call.describe()} sent no notificationUrl",
                    call,
                )
        elif call.ok:
            first = self._urls.get((terminal, url))
            if first is None:
                self._urls[(terminal, url)] = Evidence.of(call)
                if len(self._urls) > INVOICE_LIMIT:
                    self._urls.popitem(last=False)
            else:
                self._flag(
                    "notification-url-per-order",
                    terminal,
                    f"{call.describe()} sent the notificationUrl of {first}: {url}",
                    first,
                    call,
                )
        if call.ok and call.invoice:
            self._invoice(call.invoice, terminal)

    def _poll(self, call: Call, terminal: str) -> None:
        if not call.invoice:
            return
        found = self._invoice(call.invoice, terminal)
        answering = found.notified
        if answering is not None:
            found.notified = None
            late = (call.at - answering.at).total_seconds()
            if late > rules.PROMPT_SECONDS:
                self._flag(
                    "poll-after-notification",
                    terminal,
                    f"{call.describe()} came {late:g} s after {answering.describe()}, "
                    f"more than {rules.PROMPT_SECONDS:g} s",
                    answering,
                    call,
                )
        answers_note = found.unanswered > 0
        if answers_note:
            found.unanswered -= 1
        if found.final is not None and not answers_note:
            found.after_final += 1
            if found.after_final > rules.GRACE_AFTER_FINAL and "final" not in found.flagged:
                found.flagged.add("final")
                self._flag(
                    "poll-stops-at-final",
                    terminal,
                    f"{call.describe()} polled again after {found.final} answered "
                    f"{found.final_status}",
                    found.final,
                    call,
                )
        polls = found.polls
        polls.append(call.at)
        while polls and polls[0] < call.at - timedelta(seconds=1):
            polls.popleft()
        if len(polls) > rules.BURST and "burst" not in found.flagged:
            found.flagged.add("burst")
            self._flag(
                "poll-rate",
                terminal,
                f"{call.describe()} was the {len(polls)}th poll of the invoice within a second",
                call,
            )
        status = call.status
        if status is None:
            return
        found.statuses.add(status)
        if status in FINAL and found.final is None:
            found.final, found.final_status = Evidence.of(call), status
        if status == "PAID":
            ers = call.answered_ers
            if ers:
                self._payments[ers] = call.invoice
                _bound(self._payments)
            total = call.paid_total
            if total is not None:
                found.paid_total = total
            self._paid[terminal] = Evidence.of(call)

    def _receipt(self, call: Call, terminal: str) -> None:
        ers = call.sent_ers
        if ers in self._payments or ers in self._refunds:
            return
        self._flag(
            "receipt-after-paid",
            terminal,
            f"{call.describe()} sent ersReference {ers or '(none)'}, which no PAID answer "
            "or refund had given",
            call,
        )

    def _refund(self, call: Call, terminal: str) -> None:
        ers = call.sent_ers
        reference = self._payments.get(ers or "")
        if reference is None:
            if ers in self._refunds:
                why = "a refund's ersReference, not the payment's"
            elif ers in self._invoices:
                why = "an invoiceReference, not the payment's ersReference"
            else:
                why = "not the ersReference of any payment seen PAID"
            self._flag(
                "refund-by-payment-reference",
                terminal,
                f"{call.describe()} sent ersReference {ers or '(none)'}: {why}",
                call,
            )
        else:
            found = self._invoice(reference, terminal)
            value, _ = call.amount()
            paid = found.paid_total
            over = call.result_code == 98 or (
                value is not None and paid is not None and found.refunded + value > paid
            )
            if over:
                asked = "?" if value is None else f"{value}"
                self._flag(
                    "refund-within-paid",
                    terminal,
                    f"{call.describe()} asked for {asked} with {found.refunded} refunded "
                    f"already of {paid if paid is not None else '?'} paid",
                    call,
                )
            elif call.ok and value is not None:
                found.refunded += value
        made = call.answered_ers
        if call.ok and made:
            self._refunds[made] = None
            _bound(self._refunds)

    def _cancel(self, call: Call, terminal: str) -> None:
        found = self._invoices.get(call.invoice or "")
        if call.result_code == 50 or (found is not None and "PAID" in found.statuses):
            self._flag(
                "cancel-before-paid",
                terminal,
                f"{call.describe()} canceled an invoice already PAID (answered {call.result_code})",
                call,
            )

    def _commit(self, call: Call, terminal: str) -> None:
        found = self._invoices.get(call.invoice or "")
        if call.result_code == 96 or found is None or "RESERVED" not in found.statuses:
            self._flag(
                "commit-reserved-only",
                terminal,
                f"{call.describe()} committed an invoice no poll had shown RESERVED "
                f"(answered {call.result_code})",
                call,
            )

    # --- verdicts ------------------------------------------------------------------------------

    def violations(
        self,
        terminal: str | None = None,
        *,
        now: datetime | None = None,
        settled: bool = False,
        closing: bool = False,
    ) -> list[Violation]:
        """What broke a rule, in journal order; only `terminal`'s when one is named. Rules
        that wait are judged at `now` (default: the latest entry's time), or as if the time
        ran out when `settled` (a test is over: nothing more will answer a notification);
        `closing` is settled and also judges the rules of the close (the shop shuts)."""
        found = [v for v in self._found if terminal is None or v.terminal == terminal]
        found += self._waiting(terminal, now or self.latest, settled or closing, closing)
        found.sort(key=lambda v: (v.seq, v.rule.id))
        return found

    def _waiting(
        self, terminal: str | None, now: datetime | None, settled: bool, closing: bool
    ) -> list[Violation]:
        found: list[Violation] = []
        for reference, invoice in self._invoices.items():
            note = invoice.notified
            if note is None or (terminal is not None and invoice.terminal != terminal):
                continue
            waited = None if now is None else (now - note.at).total_seconds()
            if settled or (waited is not None and waited > rules.PROMPT_SECONDS):
                found.append(
                    Violation(
                        rules.BY_ID["poll-after-notification"],
                        invoice.terminal,
                        f"no getPaymentStatus of {reference} answered {note.describe()}",
                        (Evidence.of(note),),
                    )
                )
        if closing:
            for till, paid in self._paid.items():
                if terminal is not None and till != terminal:
                    continue
                marked = max(self._marks.get(till, 0), self._marks.get(None, 0))
                if marked < paid.seq:
                    found.append(
                        Violation(
                            rules.BY_ID["mark-period-at-close"],
                            till,
                            f"no markTransactionPeriod after {paid} was PAID",
                            (paid,),
                        )
                    )
        return found

    def terminals(self) -> list[str]:
        """Every terminal a violation names, sorted."""
        return sorted(
            {v.terminal for v in self._found} | {i.terminal for i in self._invoices.values()}
        )


def _bound(table: dict[str, Any]) -> None:
    """Forget the oldest entry of a table of references past INVOICE_LIMIT: a long run's
    monitor stays within a bound, as the invoices it follows do."""
    if len(table) > INVOICE_LIMIT:
        del table[next(iter(table))]
