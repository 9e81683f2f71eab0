"""The journal: a record of every SOAP call and every notification attempt.

Pure data, standard library only. Two records, one linked into the other:

- `Journal`, the request journal: one sequence of entries of two kinds, numbered in the order
  they were recorded. A "call" is a SOAP call as the emulator saw it (operation, terminal,
  invoice, resultCode or fault, the scenario step that answered or disturbed it, the emulator
  time and the real time it took, the path, the bytes both ways); a "notification" is an
  attempt, as below. Bounded (`Settings.journal_size`): the oldest
  entries are dropped, and counted.
- `NotificationJournal`, the notification attempts with an index per invoice, as
  `/_emulator/notifications` lists them. Each attempt it records is also an entry of the
  `Journal` it is linked to, so there is one journal of everything, in one order.

Recording a call is on the SOAP path, so it costs one tuple appended to a deque: no lock (the
append and the numbering are each one atomic step under the GIL), no object made per field,
no conversion, no copy of the bytes. Everything else is done when the journal is read:
`Record`s are made for the entries a reader asks for, and they are the only way out of it,
so that is where passwords are hidden (`redact`): nothing that reads the journal (the control
API, the dashboard, a test) can see one. `select` (the filters and pages of
`GET /_emulator/journal`) is a pure function over the entries.

Tests and the dashboard read calls and attempts from here, never from logs.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from emulator.clock import Clock
from emulator.scenario.model import Step

DEFAULT_LIMIT = 1000
PER_INVOICE_LIMIT = 16
DEFAULT_SIZE = 10_000  # entries the request journal keeps (`Settings.journal_size`)
BODY_LIMIT = 16 * 1024  # bytes of a request or an answer kept in an entry; the rest is cut
# Bytes of requests and answers the journal holds in all: past it the oldest entries go, as
# past its size, so 10,000 calls of the largest bodies cannot take 320 MB.
BYTES_LIMIT = 64 * 1024 * 1024
CALL = "call"
NOTIFICATION = "notification"
KINDS = (CALL, NOTIFICATION)


class Outcome(StrEnum):
    DELIVERED = "delivered"  # the merchant answered 2xx
    FAILED = "failed"  # another status, a timeout, or no connection
    DROPPED = "dropped"  # a delivery plan said not to send it


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST to a notificationUrl, or one decision not to make it."""

    seq: int
    invoice_reference: str
    event: str  # the change that caused it: "paid" or "reserved"
    url: str
    at: datetime  # emulator time the attempt started
    action: str  # the delivery plan applied, e.g. "deliver", "drop", "delay"
    outcome: Outcome
    status: int | None = None  # HTTP status, when the merchant (or the plan) answered
    error: str | None = None  # why nothing usable came back
    latency_ms: float | None = None  # real time from sending to the answer or the failure

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.DELIVERED


# --- the request journal -----------------------------------------------------------------------

_PASSWORD = b"password"
# a start tag whose name ends in `password` (`password`, `newPassword`, any prefix; not
# `<password/>`), matched on lower-cased bytes from the `<` before a `password` found; the
# prefix is possessive, so a tag of another name fails at once
_PASSWORD_TAG = re.compile(
    rb"<((?:[^\s<>/!?:'\"=]++:)?[^\s<>/!?:'\"=]*password)(?:\s[^<>]*)?(?<!/)>"
)
# what follows a `password` that is a key given a value: `password=...` (a form, a query, an
# attribute), `"password": "..."` (JSON; a colon only after a quoted key, so that words such
# as "wrong password: try again" stay); the group is the value, quoted or up to a delimiter
_PASSWORD_VALUE = re.compile(
    rb"""(?:[ \t]*=|["'][ \t]*[=:])[ \t]*(?:"([^"]*)"?|'([^']*)'?|([^&\s<>,;}"']*))"""
)


def redact(body: bytes) -> bytes:
    """`body` with every password hidden as `***`: the text of every element whose name ends
    in `password` (any prefix, any case: `<password>***</password>`, changePrincipalPassword's
    `newPassword`), and the value of a `password` given one as a key (`password=***`,
    `"password": "***"`), for a body that is not the XML it should be. How the journal shows
    a request or an answer.

    A start tag whose end tag never comes (a body cut or broken) hides everything after it.
    `bytes.find` over a lower-cased copy, and a regular expression only where `password`
    was found: a regular expression over the whole body cost three times as much.
    """
    low = body.lower()
    at = low.find(_PASSWORD)
    if at < 0:
        return body
    tag_at, value_at = _PASSWORD_TAG.match, _PASSWORD_VALUE.match
    parts: list[bytes] = []
    done = 0
    while at >= 0:
        after = at + len(_PASSWORD)
        tag = tag_at(low, low.rfind(b"<", 0, at))  # the tag this `password` names, if any
        if tag is None or tag.end() < after:  # text, an attribute, or another tag's name
            value = value_at(low, after)
            group = next((g for g in (1, 2, 3) if value and value.group(g)), None)
            if value is not None and group is not None:
                parts += (body[done : value.start(group)], b"***")
                done = value.end(group)
                after = done
            at = low.find(_PASSWORD, after)
            continue
        start, name = tag.end(), tag.group(1)
        close = low.find(b"</" + name, start)
        parts += (body[done:start], b"***")
        if close < 0:
            done = len(body)
            break
        done = close
        at = low.find(_PASSWORD, close + 2 + len(name))
    if not parts:
        return body
    parts.append(body[done:])
    return b"".join(parts)


CallFacts = tuple[
    float,  # at: emulator seconds since the clock started (`Clock.elapsed`)
    str,  # the SOAP path the call came to
    str | None,  # operation; None when the request could not be read that far
    str | None,  # terminal: the context's principal id
    str | None,  # invoice reference (for sendInvoice, the one it issued)
    str | None,  # ersReference
    int | None,  # resultCode; None for a Fault or a refused request
    str | None,  # fault code, e.g. "soap:Client"
    str | None,  # fault string, or why the request was refused
    int,  # HTTP status
    Step | None,  # the scenario step that answered or disturbed the call
    float,  # real time the emulator took to handle it, in ms
    bytes,  # the request as received, at most BODY_LIMIT bytes (shown redacted)
    int,  # the request's length as received
    bytes,  # the answer, at most BODY_LIMIT bytes (shown redacted)
    int,  # the answer's length
]
"""A call as the SOAP path hands it to `Journal.call`: one plain tuple, made in one step."""

RepeatFacts = tuple[
    str, str | None, str | None, str | None, str | None, int | None, str | None, str | None,
    int, Step | None, bytes, int, bytes, int, int,
]  # fmt: skip
"""A call's `CallFacts` but for its time and duration, then the bytes it holds: what a call
that repeats (a poll whose reading and answer the SOAP path kept) shares with the last one
(`Journal.repeat`), made once for all of them."""

CallEntry = tuple[
    int, float, str, str | None, str | None, str | None, str | None, int | None, str | None,
    str | None, int, Step | None, float, bytes, int, bytes, int,
]  # fmt: skip
"""A call as the journal holds it: its seq, then its `CallFacts` (one tuple, so one object
per call that the garbage collector counts, not two)."""
RepeatEntry = tuple[int, float, float, RepeatFacts]  # seq, at, duration, the shared facts
_Entry = CallEntry | tuple[int, Attempt]  # a call, or (seq, a notification attempt)
_Held = _Entry | RepeatEntry  # what the deque holds: a repeat is read as a call (`_expand`)


def repeat_facts(facts: CallFacts) -> RepeatFacts:
    """The part of `facts` that a repeat of the call shares (see `Journal.repeat`)."""
    shared = facts[1:11] + facts[12:]
    return (*shared, len(facts[12]) + len(facts[14]))


def _expand(entry: _Held) -> _Entry:
    """A repeat's entry as a call's (`CallEntry`); any other entry as it is."""
    if len(entry) != 4:
        return entry
    seq, at, took, shared = entry
    return (seq, at, *shared[:10], took, *shared[10:14])


@dataclass(frozen=True, slots=True)
class Record:
    """One journal entry as readers see it: a call, or a notification attempt."""

    seq: int
    kind: str  # CALL or NOTIFICATION
    at: datetime  # emulator time: the call's arrival, the attempt's start
    operation: str | None = None
    terminal: str | None = None  # for an attempt: the terminal of its invoice, where known
    invoice: str | None = None
    ers_reference: str | None = None
    result_code: int | None = None
    fault_code: str | None = None
    fault_string: str | None = None
    status: int | None = None  # the HTTP status answered (an attempt: the merchant's)
    step: Step | None = None
    duration_ms: float | None = None
    path: str | None = None
    request: bytes = b""
    request_size: int = 0
    answer: bytes = b""
    answer_size: int = 0
    attempt: Attempt | None = None

    @property
    def fault(self) -> bool:
        return self.fault_code is not None or (self.kind == CALL and self.result_code is None)

    def outcome(self) -> str:
        """What came of it, in a few words: `resultCode 0`, a Fault, an attempt's outcome."""
        if self.attempt is not None:
            return f"notification {self.attempt.outcome.value}"
        if self.result_code is not None:
            return f"resultCode {self.result_code}"
        if self.fault_code is not None:
            return f"SOAP Fault {self.fault_code}: {self.fault_string}"
        return f"HTTP {self.status}: {self.fault_string}"


@dataclass(frozen=True, slots=True)
class Query:
    """What `GET /_emulator/journal` asks for: filters, then a page of the newest matches."""

    terminal: str | None = None
    operation: str | None = None  # a SOAP operation, or "notification" for the attempts
    invoice: str | None = None
    kind: str | None = None  # CALL or NOTIFICATION
    since: datetime | None = None  # emulator time, inclusive
    until: datetime | None = None  # emulator time, inclusive
    before: int | None = None  # the cursor: only entries with a smaller seq
    limit: int = 100


def parse_instant(value: Any, name: str) -> datetime | None:
    """An ISO 8601 instant; one without an offset is UTC, as the emulator clock is."""
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise TypeError
        instant = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an ISO 8601 instant (got {value!r})") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant


@dataclass(frozen=True, slots=True)
class Page:
    records: list[Record]  # newest first
    matched: int  # entries held that match the filters, on every page
    total: int  # entries recorded since the journal was made or cleared, dropped ones too
    held: int
    dropped: int  # the oldest, forgotten to keep the journal at its bound
    next_before: int | None  # the cursor of the next (older) page; None on the last one


class Journal:
    """The request journal: bounded, oldest dropped first, safe to append from any thread."""

    def __init__(self, limit: int, clock: Clock, byte_limit: int = BYTES_LIMIT) -> None:
        if limit < 0:
            raise ValueError("the journal's size cannot be negative")
        self.limit = limit
        self.byte_limit = byte_limit
        self._bytes = 0  # of the requests and answers held
        # now() = the clock's start + elapsed(): the instant that elapsed() counts from
        self._origin = clock.now() - timedelta(seconds=clock.elapsed())
        self._entries: deque[_Held] = deque(maxlen=max(limit, 1))
        self._seq = itertools.count(1)
        self._top = 0  # the highest seq a `forget` saw: the count survives a terminal's reset
        self._forgotten = 0  # entries a terminal's reset took: not dropped for the bound

    @property
    def enabled(self) -> bool:
        """False for size 0: nothing is recorded, and the SOAP path does not even look."""
        return self.limit > 0

    def call(self, facts: CallFacts) -> None:
        if self.limit:
            entries = self._entries
            if len(entries) == self.limit:  # the append drops the oldest, and its bytes
                self._bytes -= _weight(entries[0])
            # one concatenation: `(seq, *facts)` builds a list first, then the tuple
            entries.append((next(self._seq),) + facts)  # noqa: RUF005
            self._bytes += len(facts[12]) + len(facts[14])
            if self._bytes > self.byte_limit:
                self._shed()

    def _snapshot(self) -> list[_Entry]:
        """The entries held, copied in one step (calls may be recorded meanwhile, from any
        thread), the repeats expanded: what every reader reads."""
        return list(map(_expand, list(self._entries)))

    def repeat(self, at: float, took: float, shared: RepeatFacts) -> None:
        """A call that repeats one before it, down to its bytes: only its time and duration
        are its own, the rest is `shared` (`repeat_facts`), one tuple for every repeat.

        The poll that merchants repeat once a second is most of their calls; its entry was a
        quarter of its cost. Worth (callgrind, instructions per repeating poll, a full
        journal): the journal's part 7.5k against 10.4k.
        """
        limit = self.limit
        if limit:
            entries = self._entries
            held = self._bytes + shared[14]
            if len(entries) == limit:  # the oldest goes: mostly a repeat too, read inline
                old = entries[0]
                held -= old[3][14] if len(old) == 4 else _weight(old)
            entries.append((next(self._seq), at, took, shared))
            self._bytes = held
            if held > self.byte_limit:
                self._shed()

    def notification(self, attempt: Attempt) -> None:
        if self.limit:
            entries = self._entries
            if len(entries) == self.limit:
                self._bytes -= _weight(entries[0])
            entries.append((next(self._seq), attempt))

    def _shed(self) -> None:
        """Drop the oldest entries until the bytes held are within the limit (the newest
        stays, whatever its size: a body is at most 2 * BODY_LIMIT)."""
        entries = self._entries
        while self._bytes > self.byte_limit and len(entries) > 1:
            self._bytes -= _weight(entries.popleft())

    def clear(self) -> None:
        """Forget everything, the counts too: after a reset the emulator starts afresh."""
        self._entries = deque(maxlen=max(self.limit, 1))
        self._seq = itertools.count(1)
        self._top = self._forgotten = self._bytes = 0

    def forget(self, terminal: str, references: Iterable[str]) -> None:
        """Forget one terminal's entries: its calls, and the attempts for its invoices (the
        terminal was reset). The numbering goes on, so a reader's cursor stays valid."""
        gone = set(references)
        entries = self._snapshot()
        kept = [
            e
            for e in entries
            if (e[1].invoice_reference not in gone if len(e) == 2 else e[4] != terminal)
        ]
        if entries:
            self._top = max(self._top, entries[-1][0])
        self._forgotten += len(entries) - len(kept)
        self._entries = deque(kept, maxlen=max(self.limit, 1))
        self._bytes = sum(map(_weight, kept))

    # --- reading -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def last_seq(self) -> int:
        """The seq of the latest entry recorded (0 before any), dropped or forgotten or not."""
        entries = self._entries
        try:
            return max(entries[-1][0], self._top)
        except IndexError:  # empty
            return self._top

    def records(
        self,
        after: int = 0,
        terminal_of: Callable[[str], str | None] | None = None,
        *,
        bodies: bool = True,
    ) -> list[Record]:
        """Every entry held with a seq above `after`, oldest first; without the bytes (empty,
        their sizes kept) unless `bodies`."""
        entries = self._snapshot()
        owners = _owners(entries, terminal_of)
        return [self._record(e, owners, bodies) for e in entries if e[0] > after]

    def select(self, query: Query, terminal_of: Callable[[str], str | None] | None = None) -> Page:
        """The newest entries that match, at most `query.limit`, and where the next page starts.

        A notification has no terminal of its own: it belongs to the terminal that the
        journal's calls about its invoice came from, else to the one `terminal_of` names.
        """
        entries = self._snapshot()
        total = max(entries[-1][0] if entries else 0, self._top)
        held = len(entries)
        dropped = total - held - self._forgotten
        owners = _owners(entries, terminal_of)
        origin = self._origin
        since = None if query.since is None else (query.since - origin).total_seconds()
        until = None if query.until is None else (query.until - origin).total_seconds()
        operation, kind = query.operation, query.kind
        if operation == NOTIFICATION:
            operation, kind = None, kind or NOTIFICATION
            if kind != NOTIFICATION:
                return Page([], 0, total, held, dropped, None)
        before = query.before
        found: list[_Entry] = []
        matched = 0
        for entry in reversed(entries):
            seq = entry[0]
            if before is not None and seq >= before:
                continue
            if len(entry) == 2:
                what = entry[1]
                if kind == CALL or operation is not None:
                    continue
                invoice: str | None = what.invoice_reference
                if query.invoice is not None and invoice != query.invoice:
                    continue
                if query.terminal is not None and owners.get(invoice or "") != query.terminal:
                    continue
                at = (what.at - origin).total_seconds()
            else:
                if kind == NOTIFICATION:
                    continue
                if operation is not None and entry[3] != operation:
                    continue
                if query.invoice is not None and entry[5] != query.invoice:
                    continue
                if query.terminal is not None and entry[4] != query.terminal:
                    continue
                at = entry[1]
            if (since is not None and at < since) or (until is not None and at > until):
                continue
            matched += 1
            if len(found) < query.limit:
                found.append(entry)
        records = [self._record(e, owners) for e in found]
        more = matched > len(found) and found
        return Page(records, matched, total, held, dropped, found[-1][0] if more else None)

    def _record(self, entry: _Entry, owners: Mapping[str, str], bodies: bool = True) -> Record:
        if len(entry) == 2:
            seq, what = entry
            return Record(
                seq,
                NOTIFICATION,
                what.at,
                terminal=owners.get(what.invoice_reference),
                invoice=what.invoice_reference,
                status=what.status,
                duration_ms=what.latency_ms,
                attempt=what,
            )
        seq, at, path, operation, terminal, invoice, ers, code, fcode, fstring, status = entry[:11]
        step, duration, request, request_size, answer, answer_size = entry[11:]
        return Record(
            seq,
            CALL,
            self._origin + timedelta(seconds=at),
            operation,
            terminal,
            invoice,
            ers,
            code,
            fcode,
            fstring,
            status,
            step,
            duration,
            path,
            redact(request) if bodies else b"",
            request_size,
            redact(answer) if bodies else b"",
            answer_size,
        )


def _weight(entry: _Held) -> int:
    """The bytes an entry holds: a call's request and answer (an attempt holds none)."""
    size = len(entry)
    if size == 4:
        return cast(RepeatEntry, entry)[3][14]
    if size == 2:
        return 0
    call = cast(CallEntry, entry)
    return len(call[13]) + len(call[15])


def _owners(
    entries: Iterable[_Entry], terminal_of: Callable[[str], str | None] | None
) -> dict[str, str]:
    """invoice -> terminal, from the calls held (the first call naming both), then for the
    notified invoices no call names, from `terminal_of`."""
    owners: dict[str, str] = {}
    notified: list[str] = []
    for entry in entries:
        if len(entry) == 2:
            notified.append(entry[1].invoice_reference)
        elif entry[5] is not None and entry[4] is not None:
            owners.setdefault(entry[5], entry[4])
    if terminal_of is not None:
        for invoice in notified:
            if invoice not in owners:
                owner = terminal_of(invoice)
                if owner is not None:
                    owners[invoice] = owner
    return owners


# --- the notification attempts -----------------------------------------------------------------


class NotificationJournal:
    """Bounded, thread-safe record of notification attempts, oldest first.

    Bounded twice so a CI fleet can run for days: a ring of the latest attempts overall, and a
    per-invoice index that keeps the latest attempts of the most recently notified invoices.
    Appending is O(1); the index forgets the invoice that was notified longest ago once it
    holds `max_invoices`. Linked to a `Journal`, every attempt is an entry there too; its `seq`
    here counts the attempts alone, as `/_emulator/notifications` always has.
    """

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        per_invoice: int = PER_INVOICE_LIMIT,
        journal: Journal | None = None,
    ) -> None:
        if limit < 1 or per_invoice < 1:
            raise ValueError("journal limits must be positive")
        self.limit = limit
        self.per_invoice = per_invoice
        self.max_invoices = limit
        self.journal = journal
        self._lock = threading.Lock()
        self._recent: deque[Attempt] = deque(maxlen=limit)
        self._by_invoice: OrderedDict[str, deque[Attempt]] = OrderedDict()
        self._seq = 0

    def record(
        self,
        invoice_reference: str,
        event: str,
        url: str,
        at: datetime,
        action: str,
        outcome: Outcome,
        *,
        status: int | None = None,
        error: str | None = None,
        latency_ms: float | None = None,
    ) -> Attempt:
        with self._lock:
            self._seq += 1
            attempt = Attempt(
                self._seq,
                invoice_reference,
                event,
                url,
                at,
                action,
                outcome,
                status,
                error,
                latency_ms,
            )
            self._recent.append(attempt)
            index = self._by_invoice
            found = index.get(invoice_reference)
            if found is None:
                found = index[invoice_reference] = deque(maxlen=self.per_invoice)
                if len(index) > self.max_invoices:
                    index.popitem(last=False)
            else:
                index.move_to_end(invoice_reference)
            found.append(attempt)
        if self.journal is not None:
            self.journal.notification(attempt)
        return attempt

    @property
    def total(self) -> int:
        """Attempts recorded since the journal was made or cleared, forgotten ones included."""
        return self._seq

    def recent(self, limit: int | None = None) -> list[Attempt]:
        """The latest attempts, oldest first; at most `limit` of them."""
        with self._lock:
            items = list(self._recent)
        return items if limit is None else items[max(len(items) - limit, 0) :]

    def for_invoice(self, invoice_reference: str) -> list[Attempt]:
        with self._lock:
            return list(self._by_invoice.get(invoice_reference, ()))

    def clear(self) -> None:
        """Forget everything, the count too: after a reset the emulator starts afresh."""
        with self._lock:
            self._recent.clear()
            self._by_invoice.clear()
            self._seq = 0

    def forget(self, references: list[str]) -> None:
        """Forget the attempts for these invoices (their terminal was reset)."""
        if not references:
            return
        gone = set(references)
        with self._lock:
            for reference in gone:
                self._by_invoice.pop(reference, None)
            kept = [a for a in self._recent if a.invoice_reference not in gone]
            self._recent = deque(kept, maxlen=self.limit)

    def __len__(self) -> int:
        return len(self._recent)
