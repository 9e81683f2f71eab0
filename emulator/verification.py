"""Verification: does the journal show the calls a merchant should have made, in their order?

Pure, standard library only, no I/O: it reads journal entries and answers. An expectation is
an ordered list of `Expect` steps ("sendInvoice, then getPaymentStatus at least once, then
refundPayment once, for this invoice"), each naming an operation (or `notification`), and
optionally an invoice, a terminal, a resultCode, a notification's outcome or the invoice
status a poll's answer reported, with how many entries must match it (exactly N, at least N,
at most N; at least once unless told).

How entries are counted, in journal order (`verify`):

- An entry that matches a later step moves the sequence on to the first such step, unless
  it matches the current step too and the current step has not counted its least yet: what
  the steps left behind counted is then all they get.
- Otherwise an entry that matches the current step counts for it, past its most too (one
  too many).
- Anything else is ignored (other invoices, operations no step names), and so is an entry
  of a later step that comes before the first step has begun.

So each step counts the matching entries of its own stretch of the journal: from the end of
the step before it to the start of the step after it. `at_most=0` is a step that must not
happen there ("no getPaymentStatus after refundPayment"). When a step is not met, the answer
names the nearest entries and how each differs: another operation, invoice, terminal,
resultCode or outcome, or it came before the previous step or after the next one.

Entries come in as `Seen`: made from a journal `Record` (the route, `POST /_emulator/verify`)
or from an entry of `GET /_emulator/journal` (the client's assertion helpers), so both
sides say the same words. The helpers' own checks (`polled_after_notification`,
`calls_after_final_status`) are here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emulator.journal import CALL, NOTIFICATION, Record

NEAREST = 3  # entries shown for a step that is not met
SHOWN = 8  # entries shown when nothing is near
POLL = "getPaymentStatus"
FINAL_STATUSES = frozenset({"PAID", "CANCELED", "FAILED", "EXPIRED"})
# calls that only make sense on an open invoice: after a final status, each is a mistake
OPEN_INVOICE_CALLS = frozenset({POLL, "updateInvoice", "cancelInvoice"})
NOTIFICATION_OUTCOMES = ("delivered", "failed", "dropped")

# the invoiceStatus of a getPaymentStatus answer; a token's <status> is a number, not a name
_STATUS = re.compile(r"<(?:[\w.-]+:)?status>\s*([A-Z_]+)\s*</")


class BadExpectation(ValueError):
    """An expectation that cannot be checked: the words say which step and why."""


# --- what was seen ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seen:
    """One journal entry as verification reads it."""

    seq: int
    at: datetime  # emulator time: the call's arrival, the attempt's start
    operation: str | None  # `notification` for an attempt; None for a call never read
    terminal: str | None = None
    invoice: str | None = None
    result_code: int | None = None
    outcome: str = ""  # in a few words: "resultCode 0", "SOAP Fault ...", "delivered (HTTP 200)"
    notification: str | None = None  # an attempt's outcome: delivered, failed or dropped
    invoice_status: str | None = None  # what a poll's answer reported, when its bytes were read

    @property
    def kind(self) -> str:
        return NOTIFICATION if self.operation == NOTIFICATION else CALL

    @classmethod
    def from_record(cls, record: Record) -> Seen:
        made = record.attempt
        if made is not None:
            return cls(
                record.seq,
                record.at,
                NOTIFICATION,
                record.terminal,
                record.invoice,
                outcome=_attempt_words(made.outcome.value, made.status, made.error, made.action),
                notification=made.outcome.value,
            )
        return cls(
            record.seq,
            record.at,
            record.operation,
            record.terminal,
            record.invoice,
            record.result_code,
            record.outcome(),
            # only a poll's answer says a status: no other answer is decoded
            invoice_status=_status_in(record.answer.decode("utf-8", "replace"))
            if record.operation == POLL
            else None,
        )

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> Seen:
        """An entry of `GET /_emulator/journal` (its answer's bytes read when it has them)."""
        at = datetime.fromisoformat(str(entry["at"]))
        if entry.get("kind") == NOTIFICATION:
            outcome = str(entry.get("notificationOutcome") or "")
            words = _attempt_words(
                outcome, entry.get("statusCode"), entry.get("error"), entry.get("action")
            )
            return cls(
                int(entry["seq"]),
                at,
                NOTIFICATION,
                entry.get("terminal"),
                entry.get("invoice"),
                outcome=words,
                notification=outcome or None,
            )
        answer = entry.get("answer")
        return cls(
            int(entry["seq"]),
            at,
            entry.get("operation"),
            entry.get("terminal"),
            entry.get("invoice"),
            entry.get("resultCode"),
            str(entry.get("outcome") or ""),
            invoice_status=_status_in(answer)
            if isinstance(answer, str) and entry.get("operation") == POLL
            else None,
        )

    def describe(self) -> str:
        """`#12 12:00:03.250 getPaymentStatus invoice R1: resultCode 0, PAID`."""
        what = self.operation or "(unreadable call)"
        invoice = f" invoice {self.invoice}" if self.invoice else ""
        status = f", {self.invoice_status}" if self.invoice_status else ""
        return f"#{self.seq} {clock_time(self.at)} {what}{invoice}: {self.outcome}{status}"


def _attempt_words(outcome: str, status: Any, error: Any, action: Any) -> str:
    """`delivered (HTTP 200)`, `failed: connection refused`, `dropped (drop)`."""
    if outcome == "dropped":
        return f"dropped ({action})" if action else "dropped"
    if status is None:
        return f"{outcome}: {error}" if error else outcome
    said = f" (HTTP {status})"
    return f"{outcome}{said}: {error}" if error and error != said[2:-1] else outcome + said


def _status_in(answer: str) -> str | None:
    found = _STATUS.search(answer)
    return found.group(1) if found else None


def clock_time(at: datetime) -> str:
    """The time of day to the millisecond: how entries name their time in a message."""
    return at.strftime("%H:%M:%S.") + f"{at.microsecond // 1000:03d}"


def seen_of(entries: Iterable[Record | Seen]) -> list[Seen]:
    return [e if isinstance(e, Seen) else Seen.from_record(e) for e in entries]


# --- what is expected ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expect:
    """One step: what an entry must be to count for it, and how many must.

    Build it with `expect(...)`, which takes exactly/at least/at most in words.
    """

    operation: str  # a SOAP operation, or `notification`
    invoice: str | None = None
    terminal: str | None = None
    result_code: int | None = None
    notification: str | None = None  # delivered, failed or dropped
    invoice_status: str | None = None  # e.g. PAID: a poll whose answer said so
    at_least: int = 1
    at_most: int | None = None

    def matches(self, seen: Seen) -> bool:
        return (
            seen.operation == self.operation
            and (self.invoice is None or seen.invoice == self.invoice)
            and (self.terminal is None or seen.terminal == self.terminal)
            and (self.result_code is None or seen.result_code == self.result_code)
            and (self.notification is None or seen.notification == self.notification)
            and (self.invoice_status is None or seen.invoice_status == self.invoice_status)
        )

    def differences(self, seen: Seen) -> list[str]:
        """How `seen` differs from what this step counts, in words; empty when it counts."""
        found: list[str] = []
        if seen.operation != self.operation:
            found.append(f"another operation ({seen.operation or 'unreadable'})")
        if self.invoice is not None and seen.invoice != self.invoice:
            found.append(f"another invoice ({seen.invoice or 'none'})")
        if self.terminal is not None and seen.terminal != self.terminal:
            found.append(f"another terminal ({seen.terminal or 'none'})")
        call = seen.kind == CALL  # an attempt has no resultCode, a call no outcome
        code = self.result_code
        if call and code is not None and seen.result_code != code:
            # the entry's own line already shows a Fault's words: name what was answered
            got = "a Fault" if seen.result_code is None else f"resultCode {seen.result_code}"
            found.append(f"{got}, not resultCode {code}")
        if not call and self.notification is not None and seen.notification != self.notification:
            found.append(f"not {self.notification}")
        status = self.invoice_status
        if (
            status is not None
            and seen.operation == self.operation
            and seen.invoice_status != status
        ):
            found.append(f"answered {seen.invoice_status or 'no status'}, not {status}")
        return found

    def counts(self, n: int) -> bool:
        return n >= self.at_least and (self.at_most is None or n <= self.at_most)

    def describe(self) -> str:
        """`getPaymentStatus at least once for invoice R1 with resultCode 0`, `notification
        delivered exactly once for invoice R1`."""
        words = [self.operation]
        if self.notification is not None:
            words.append(self.notification)
        words.append(how_many(self.at_least, self.at_most))
        if self.invoice is not None:
            words.append(f"for invoice {self.invoice}")
        if self.terminal is not None:
            words.append(f"from terminal {self.terminal}")
        if self.result_code is not None:
            words.append(f"with resultCode {self.result_code}")
        if self.invoice_status is not None:
            words.append(f"answering {self.invoice_status}")
        return " ".join(words)


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def how_many(at_least: int, at_most: int | None) -> str:
    """`exactly once`, `at least twice`, `at most 3 times`, `never`, `2 to 4 times`."""
    if at_most is None:
        return f"at least {_times(at_least)}"
    if at_most == 0:
        return "never"
    if at_least == at_most:
        return f"exactly {_times(at_least)}"
    if at_least == 0:
        return f"at most {_times(at_most)}"
    return f"{at_least} to {at_most} times"


def expect(
    operation: str,
    *,
    times: int | None = None,
    at_least: int | None = None,
    at_most: int | None = None,
    invoice: str | None = None,
    terminal: str | None = None,
    result_code: int | None = None,
    notification: str | None = None,
    invoice_status: str | None = None,
) -> Expect:
    """A step; `times=N` is exactly N, `at_least`/`at_most` bound it (together: a range);
    none of them: at least once. A bad count raises `BadExpectation`."""
    if not isinstance(operation, str) or not operation.strip():
        raise BadExpectation("operation must be a SOAP operation's name or 'notification'")
    for name, value in (("times", times), ("atLeast", at_least), ("atMost", at_most)):
        if value is not None and (type(value) is not int or value < 0):
            raise BadExpectation(f"{name} must be a non-negative integer (got {value!r})")
    if times is not None and (at_least is not None or at_most is not None):
        raise BadExpectation("times is exactly N: give it alone, or atLeast/atMost")
    high: int | None
    if times is not None:
        low, high = times, times
    else:
        low = at_least if at_least is not None else (0 if at_most is not None else 1)
        high = at_most
    if high is not None and low > high:
        raise BadExpectation(f"atLeast {low} is more than atMost {high}")
    if notification is not None:
        if operation != NOTIFICATION:
            raise BadExpectation("an outcome is for a step whose operation is 'notification'")
        if notification not in NOTIFICATION_OUTCOMES:
            raise BadExpectation(f"outcome must be one of {', '.join(NOTIFICATION_OUTCOMES)}")
    if result_code is not None and (type(result_code) is not int or operation == NOTIFICATION):
        raise BadExpectation("resultCode must be an integer, on a SOAP operation's step")
    return Expect(
        operation, invoice, terminal, result_code, notification, invoice_status, low, high
    )


_STEP_KEYS = frozenset(
    ("operation", "times", "atLeast", "atMost", "invoice", "terminal", "resultCode")
) | {"outcome", "status"}


def steps_from_json(raw: Any, invoice: str | None = None) -> list[Expect]:
    """The steps of a `POST /_emulator/verify` body: each an operation's name (at least
    once) or an object with `operation` and optional `times`/`atLeast`/`atMost`, `invoice`,
    `terminal`, `resultCode`, `outcome` (a notification's) and `status` (a poll's answer).
    `invoice` is every step's that names none."""
    if not isinstance(raw, list) or not raw:
        raise BadExpectation("steps must be a non-empty list")
    steps: list[Expect] = []
    for number, step in enumerate(raw, 1):
        if isinstance(step, str):
            step = {"operation": step}
        if not isinstance(step, dict):
            raise BadExpectation(f"step {number} must be an operation's name or an object")
        unknown = set(step) - _STEP_KEYS
        if unknown:
            raise BadExpectation(f"step {number}: unknown field {sorted(unknown)[0]!r}")
        for key in ("operation", "invoice", "terminal", "outcome", "status"):
            if step.get(key) is not None and not isinstance(step[key], str):
                raise BadExpectation(f"step {number}: {key} must be a string")
        try:
            steps.append(
                expect(
                    step.get("operation", ""),
                    times=step.get("times"),
                    at_least=step.get("atLeast"),
                    at_most=step.get("atMost"),
                    invoice=step.get("invoice", invoice),
                    terminal=step.get("terminal"),
                    result_code=step.get("resultCode"),
                    notification=step.get("outcome"),
                    invoice_status=step.get("status"),
                )
            )
        except BadExpectation as exc:
            raise BadExpectation(f"step {number}: {exc}") from None
    return steps


# --- the verdict -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Near:
    """An entry close to what a step wanted, and how it differs."""

    seen: Seen
    differences: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.seen.describe()}: {'; '.join(self.differences)}"


@dataclass(frozen=True, slots=True)
class StepResult:
    number: int  # 1-based
    expect: Expect
    matched: tuple[Seen, ...]  # what counted for it, extras included
    after: Seen | None  # the last entry of the step before it, if any counted
    before: Seen | None  # the first entry of the step after it, if any counted
    nearest: tuple[Near, ...] = ()  # for a step not met
    shown: tuple[Seen, ...] = ()  # when nothing is near: the entries that were read

    @property
    def ok(self) -> bool:
        return self.expect.counts(len(self.matched))

    def problem(self) -> str | None:
        """`saw none between sendInvoice #1 and refundPayment #4`, or None when met."""
        if self.ok:
            return None
        n = len(self.matched)
        where = ""
        if self.after is not None and self.before is not None:
            where = f" between {_named(self.after)} and {_named(self.before)}"
        elif self.after is not None:
            where = f" after {_named(self.after)}"
        elif self.before is not None:
            where = f" before {_named(self.before)}"
        return f"saw {'none' if n == 0 else _times(n)}{where}"


def _named(seen: Seen) -> str:
    return f"{seen.operation} #{seen.seq}"


@dataclass(frozen=True, slots=True)
class Verdict:
    steps: tuple[StepResult, ...]
    read: int  # entries read (of the terminal, when one was named)
    scope: str | None = None  # the terminal read, if one was

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)

    def message(self) -> str:
        """Every step not met with its nearest entries; then what the met steps counted."""
        if self.ok:
            return "the journal matches: " + "; ".join(
                f"{s.expect.operation} {_seqs(s.matched)}" for s in self.steps
            )
        lines: list[str] = []
        alone = len(self.steps) == 1
        for s in self.steps:
            if s.ok:
                continue
            head = "" if alone else f"step {s.number} of {len(self.steps)}, "
            lines.append(f"expected {head}{s.expect.describe()}: {s.problem()}")
            extra = max(len(s.matched) - (s.expect.at_most or 0), 0)
            if s.expect.at_most is not None and extra:
                lines.append("  counted:")
                lines += [f"    {m.describe()}" for m in s.matched]
            elif s.nearest:
                lines.append("  nearest:")
                lines += [f"    {n.describe()}" for n in s.nearest]
            else:
                whose = f" of terminal {self.scope}" if self.scope else ""
                if not s.shown:
                    lines.append(f"  the journal{whose} holds nothing")
                else:
                    lines.append(f"  nothing near it; the journal{whose} holds:")
                    lines += [f"    {e.describe()}" for e in s.shown]
        met = [s for s in self.steps if s.ok and s.matched]
        if met and not alone:
            lines.append("met: " + "; ".join(f"step {s.number} {_seqs(s.matched)}" for s in met))
        return "\n".join(lines)


def _seqs(seen: Sequence[Seen]) -> str:
    return ", ".join(f"#{s.seq}" for s in seen) if seen else "(none)"


def verify(
    entries: Iterable[Record | Seen], steps: Sequence[Expect], terminal: str | None = None
) -> Verdict:
    """Count the journal's entries (oldest first) against the steps, in order; see the
    module's docstring for how. Only `terminal`'s entries are read when one is named."""
    if not steps:
        raise BadExpectation("steps must be a non-empty list")
    read = [s for s in seen_of(entries) if terminal is None or s.terminal == terminal]
    claims: list[list[Seen]] = [[] for _ in steps]
    owner: dict[int, int] = {}  # seq -> the step it counted for
    at = 0
    begun = steps[0].at_least == 0
    for seen in read:
        here = steps[at]
        fits = here.matches(seen)
        taken = len(claims[at])
        full = here.at_most is not None and taken >= here.at_most
        if not fits or full or taken >= here.at_least:
            later = next((k for k in range(at + 1, len(steps)) if steps[k].matches(seen)), None)
            if later is not None and begun:
                at = later
                claims[at].append(seen)
                owner[seen.seq] = at
                continue
        if fits:
            claims[at].append(seen)
            owner[seen.seq] = at
            begun = True
    results = []
    for i, step in enumerate(steps):
        after = next((claims[k][-1] for k in range(i - 1, -1, -1) if claims[k]), None)
        before = next((claims[k][0] for k in range(i + 1, len(steps)) if claims[k]), None)
        result = StepResult(i + 1, step, tuple(claims[i]), after, before)
        if not result.ok and step.at_least > len(claims[i]):
            nearest = _nearest(read, step, i, owner, after, before)
            shown = () if nearest else tuple(read[-SHOWN:])
            result = StepResult(i + 1, step, tuple(claims[i]), after, before, nearest, shown)
        results.append(result)
    return Verdict(tuple(results), len(read), terminal)


def _nearest(
    read: list[Seen],
    step: Expect,
    index: int,
    owner: Mapping[int, int],
    after: Seen | None,
    before: Seen | None,
) -> tuple[Near, ...]:
    """The entries closest to what the step wanted: those of its operation anywhere, and those
    about its invoice inside its stretch, differing in at most two ways; fewest differences
    first (another operation counting double), then nearest to the stretch, then oldest."""
    low = after.seq if after is not None else 0
    high = before.seq if before is not None else None
    ranked: list[tuple[int, int, Near]] = []
    for seen in read:
        if owner.get(seen.seq) == index:
            continue
        inside = seen.seq > low and (high is None or seen.seq < high)
        # another operation is near only in the stretch, about the step's own invoice
        mine = step.invoice is not None and seen.invoice == step.invoice
        if seen.operation != step.operation and not (inside and mine):
            continue
        different = step.differences(seen)
        if len(different) > 2:
            continue
        where: list[str] = []
        distance = 0
        if after is not None and seen.seq < low:
            where.append(f"came before the previous step ({_named(after)})")
            distance = low - seen.seq
        elif high is not None and before is not None and seen.seq > high:
            where.append(f"came after the next step ({_named(before)})")
            distance = seen.seq - high
        elif not different and seen.seq in owner:
            where.append(f"counted for step {owner[seen.seq] + 1}")
        if not different and not where:
            continue  # an entry before the sequence began, matching it: not near, just early
        # another operation is further than any other difference
        weight = len(different) + (seen.operation != step.operation)
        ranked.append((weight, distance, Near(seen, tuple(different + where))))
    ranked.sort(key=lambda r: (r[0], r[1], r[2].seen.seq))
    return tuple(r[2] for r in ranked[:NEAREST])


# --- the helpers' own checks -----------------------------------------------------------------


def polled_after_notification(entries: Iterable[Seen], invoice: str, within: float) -> str | None:
    """Why the merchant did not poll the invoice within `within` emulator seconds after each
    delivered notification of it; None when it did. A poll counts from the attempt's start."""
    seen = [s for s in entries if s.invoice == invoice]
    attempts = [s for s in seen if s.operation == NOTIFICATION]
    delivered = [s for s in attempts if s.notification == "delivered"]
    if not delivered:
        lines = [f"no notification was delivered for invoice {invoice}"]
        lines += _listing("attempts", attempts) if attempts else _listing("the journal", seen)
        return "\n".join(lines)
    polls = [s for s in seen if s.operation == POLL]
    for note in delivered:
        later = [p for p in polls if p.at >= note.at]
        if later and (later[0].at - note.at).total_seconds() <= within:
            continue
        head = f"expected getPaymentStatus for invoice {invoice} within {within:g} s after its "
        if later:
            late = round((later[0].at - note.at).total_seconds(), 3)
            head += f"notification, but the first came {late:g} s after:"
        else:
            head += "notification, but none came after it:"
        return "\n".join([head, f"  notification: {note.describe()}", *_listing("polls", polls)])
    return None


def calls_after_final_status(entries: Iterable[Seen], invoice: str) -> str | None:
    """Why the merchant went on calling about the invoice after a poll's answer said it was
    final (PAID, CANCELED, FAILED, EXPIRED): a getPaymentStatus, updateInvoice or
    cancelInvoice after that; None when it stopped (or no answer said so)."""
    seen = [s for s in entries if s.invoice == invoice and s.operation != NOTIFICATION]
    final = next(
        (s for s in seen if s.operation == POLL and s.invoice_status in FINAL_STATUSES), None
    )
    if final is None:
        return None
    after = [s for s in seen if s.seq > final.seq and s.operation in OPEN_INVOICE_CALLS]
    if not after:
        return None
    calls = "1 call" if len(after) == 1 else f"{len(after)} calls"
    lines = [
        f"invoice {invoice} was {final.invoice_status} in the answer to {_named(final)} at "
        f"{clock_time(final.at)}, yet {calls} about it came after:"
    ]
    lines += [f"  {s.describe()}" for s in after]
    return "\n".join(lines)


def _listing(name: str, seen: Sequence[Seen]) -> list[str]:
    if not seen:
        return [f"  {name}: none"]
    return [f"  {name}:", *(f"    {s.describe()}" for s in seen[-SHOWN:])]
