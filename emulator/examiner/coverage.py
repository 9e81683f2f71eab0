"""Behaviour coverage: which of SEQR's behaviours a merchant's suite made its code meet.

A suite that only ever sees a payment go through has tested the easy tenth of SEQR. This
tallies, per terminal, what the traffic and the invoices went through: the states invoices
reached (paid, canceled by the customer, failed, reserved then committed, reversed for want
of acknowledgment...), the result codes answered (49, 50, 54, 95, 98...), the notification
faults met (dropped, duplicated, delayed, late, refused by the merchant's endpoint), the
transport faults met, and the scenarios used. `never_saw` is the catalogue's behaviours
nothing exercised, in catalogue order, for "never saw: ..." at the end of a test session.

Fed journal facts (`facts.read`) and the backend's invoice events (`event`); it keeps
counts only, never the invoices, so a terminal's reset in the middle of a session forgets
nothing of what its tests exercised. Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the facts are read from the journal by the examiner's first reading: a
    # start, whose coverage hears only the backend's events, has no use for them (18M
    # instructions of a served start to `listening`, 1,471M against 1,452M; callgrind)
    from emulator.examiner.facts import Fact


@dataclass(frozen=True, slots=True)
class Behaviour:
    id: str
    group: str  # state, result code, notification, transport
    label: str  # how "never saw: ..." names it


def _code(operation: str | None, code: int, label: str) -> Behaviour:
    return Behaviour(f"code:{operation or '*'}:{code}", "result code", label)


CATALOGUE: tuple[Behaviour, ...] = (
    Behaviour("state:paid", "state", "a PAID payment"),
    Behaviour("state:canceled-by-customer", "state", "an invoice canceled by the customer"),
    Behaviour("state:canceled-by-merchant", "state", "an invoice canceled by the merchant"),
    Behaviour("state:failed", "state", "a FAILED payment"),
    Behaviour("state:pending-acknowledge", "state", "a loyalty scan (PENDING_ISSUER_ACKNOWLEDGE)"),
    Behaviour("state:reserved", "state", "a RESERVED invoice"),
    Behaviour("state:reserved-committed", "state", "a reservation committed"),
    Behaviour("state:reservation-expired", "state", "a reservation that lapsed"),
    Behaviour("state:reversed", "state", "a payment reversed for want of acknowledgment"),
    Behaviour("state:refunded", "state", "a refund"),
    _code("sendInvoice", 49, "a sendInvoice answered 49"),
    _code("getPaymentStatus", 54, "a getPaymentStatus answered 54"),
    _code("cancelInvoice", 50, "a cancelInvoice answered 50"),
    _code("cancelInvoice", 51, "a cancelInvoice answered 51"),
    _code("cancelInvoice", 95, "a cancelInvoice answered 95"),
    _code("refundPayment", 98, "a refund answered 98"),
    _code("commitReservation", 96, "a commitReservation answered 96"),
    _code(None, 90, "an answer 90 SYSTEM_ERROR"),
    _code(None, 94, "an answer 94 SERVICE_UNAVAILABLE"),
    Behaviour("note:dropped", "notification", "a dropped notification"),
    Behaviour("note:duplicated", "notification", "a duplicated notification"),
    Behaviour("note:delayed", "notification", "a delayed notification"),
    Behaviour("note:late", "notification", "a notification after the reversal"),
    Behaviour("note:failed", "notification", "a notification your endpoint refused"),
    Behaviour("wire:fault", "transport", "a SOAP Fault"),
    Behaviour("wire:reset", "transport", "a connection reset"),
    Behaviour("wire:empty", "transport", "an empty answer"),
    Behaviour("wire:truncate", "transport", "a truncated answer"),
    Behaviour("wire:slow", "transport", "a slow answer"),
)
BY_ID = {b.id: b for b in CATALOGUE}

_NOTE_ACTIONS = {
    "drop": "note:dropped",
    "duplicate": "note:duplicated",
    "delay": "note:delayed",
    "late": "note:late",
}
_EVENTS = {
    "paid": "state:paid",
    "reserved": "state:reserved",
    "failed": "state:failed",
    "reversed": "state:reversed",
    "expired": "state:reservation-expired",
    "pending": "state:pending-acknowledge",
    "refunded": "state:refunded",
}


def event_behaviours(kind: str, history: str | None) -> list[str]:
    """The behaviours one backend event of an invoice shows; `history` is the invoice's
    latest history line (it tells the customer's cancel from the merchant's)."""
    if kind == "canceled":
        by = "customer" if history and "customer" in history else "merchant"
        return [f"state:canceled-by-{by}"]
    found = [_EVENTS[kind]] if kind in _EVENTS else []
    if kind == "paid" and history and "reservation committed" in history:
        found.append("state:reserved-committed")
    return found


def fact_behaviours(fact: Fact) -> list[str]:
    from emulator.examiner.facts import Note

    if isinstance(fact, Note):
        found = [_NOTE_ACTIONS[fact.action]] if fact.action in _NOTE_ACTIONS else []
        if fact.outcome == "failed":
            found.append("note:failed")
        return found
    found = []
    if fact.fault:
        found.append("wire:fault")
    if fact.action in ("reset", "empty", "truncate", "slow"):
        found.append(f"wire:{fact.action}")
    if fact.status == "PENDING_ISSUER_ACKNOWLEDGE":
        found.append("state:pending-acknowledge")
    return found


@dataclass(slots=True)
class _Tally:
    behaviours: Counter[str] = field(default_factory=Counter)
    codes: Counter[tuple[str, int]] = field(default_factory=Counter)
    scenarios: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Report:
    seen: dict[str, int]  # behaviour id -> times
    codes: dict[str, dict[int, int]]  # operation -> resultCode -> times
    scenarios: list[str]
    never: list[Behaviour]
    terminals: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "terminals": self.terminals,
            "behaviours": [
                {"id": b.id, "group": b.group, "label": b.label, "times": self.seen.get(b.id, 0)}
                for b in CATALOGUE
            ],
            "resultCodes": {
                op: {str(code): n for code, n in sorted(codes.items())}
                for op, codes in sorted(self.codes.items())
            },
            "scenarios": self.scenarios,
            "neverSaw": [b.label for b in self.never],
        }

    def summary(self) -> str:
        """One line: what the traffic never exercised."""
        if not self.never:
            return "every SEQR behaviour in the catalogue was exercised"
        return "never saw: " + ", ".join(b.label for b in self.never)


class Coverage:
    """Counts per terminal; `report` sums the terminals a reader asks about."""

    def __init__(self) -> None:
        self._tallies: dict[str, _Tally] = {}

    def _tally(self, terminal: str | None) -> _Tally:
        key = terminal or ""
        found = self._tallies.get(key)
        if found is None:
            found = self._tallies[key] = _Tally()
        return found

    def feed(self, facts: Iterable[Fact]) -> None:
        from emulator.examiner.facts import Call

        for fact in facts:
            tally = self._tally(fact.terminal)
            tally.behaviours.update(fact_behaviours(fact))
            if isinstance(fact, Call) and fact.operation and fact.result_code is not None:
                tally.codes[(fact.operation, fact.result_code)] += 1

    def event(
        self, terminal: str, kind: str, history: str | None, scenario: str | None = None
    ) -> None:
        tally = self._tallies.get(terminal) or self._tally(terminal)
        behaviours = tally.behaviours
        for behaviour in event_behaviours(kind, history):  # not `Counter.update`: see `on_event`
            behaviours[behaviour] += 1
        if scenario:
            tally.scenarios.add(scenario)

    def report(self, chosen: Callable[[str], bool] | None = None) -> Report:
        """The sum over the terminals `chosen` accepts (every one without it)."""
        seen: Counter[str] = Counter()
        codes: Counter[tuple[str, int]] = Counter()
        scenarios: set[str] = set()
        terminals = []
        for terminal, tally in sorted(self._tallies.items()):
            if chosen is not None and not chosen(terminal):
                continue
            terminals.append(terminal)
            seen.update(tally.behaviours)
            codes.update(tally.codes)
            scenarios |= tally.scenarios
        for (operation, code), times in codes.items():
            for key in (f"code:{operation}:{code}", f"code:*:{code}"):
                if key in BY_ID:
                    seen[key] += times
        by_operation: dict[str, dict[int, int]] = {}
        for (operation, code), times in codes.items():
            by_operation.setdefault(operation, {})[code] = times
        never = [b for b in CATALOGUE if not seen.get(b.id)]
        return Report(dict(seen), by_operation, sorted(scenarios), never, terminals)
