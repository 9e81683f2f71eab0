"""Every write of a verb goes through the store's seam, and is flushed before the verb returns.

A lasting store (`--state`) is a subclass of `Store` that writes what it is told; this test
is the contract it relies on: each invoice a verb changed was named to `changed()` (or
`add_invoice()`), and `flush()` came after the last of them, before the verb answered.

The second half holds every record to it, not only invoices: `MirrorStore` is a lasting
store (`TrackingStore`) whose file is a mirror built from nothing but the batches it was
handed. After each step of a tour of every kind of write, the mirror must equal the live
state, and the indexes (payments, SEQR ids) must be what the records imply; a write that
bypasses the seam (an invoice changed and not named, a sticker bound without putting its
terminal, a period recorded past the store's ledger) leaves the mirror behind and fails.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from emulator.backend import SeqrBackend, Store, records
from emulator.backend.ledger import Ledger
from emulator.backend.periods import Periods
from emulator.backend.principals import Principals
from emulator.backend.tracking import Changes, Forgotten, Marked, Recorded, TrackingStore
from emulator.clock import Clock
from emulator.domain import invoice as rules
from emulator.domain import reports
from emulator.domain import terminals as tills
from emulator.domain.model import Amount, Credentials, InvoiceData, Terminal
from emulator.settings import Settings
from tests.tour import SHOP, order, tour

TERMINAL = Credentials("store-terminal", "TERMINALID", None, "secret-1")


class RecordingStore(Store):
    made: list[RecordingStore] = []

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, str]] = []
        RecordingStore.made.append(self)

    def add_invoice(self, invoice):  # type: ignore[no-untyped-def]
        super().add_invoice(invoice)
        self.log.append(("add", invoice.reference))

    def changed(self, invoice):  # type: ignore[no-untyped-def]
        self.log.append(("changed", invoice.reference))

    def flush(self) -> None:
        self.log.append(("flush", ""))

    def take(self) -> list[tuple[str, str]]:
        log, self.log = self.log, []
        return log


@pytest.fixture
def backend() -> SeqrBackend:
    RecordingStore.made.clear()
    return SeqrBackend(Settings(ack_window=5), Clock(frozen=True), store=RecordingStore)


def store_of(backend: SeqrBackend) -> RecordingStore:
    assert isinstance(backend.store, RecordingStore)
    return backend.store


def written_then_flushed(log: list[tuple[str, str]], reference: str) -> bool:
    writes = [i for i, (kind, ref) in enumerate(log) if ref == reference]
    flushes = [i for i, (kind, _) in enumerate(log) if kind == "flush"]
    return bool(writes) and bool(flushes) and max(flushes) > max(writes)


def test_each_verb_that_changes_an_invoice_writes_it_and_flushes(backend):
    store = store_of(backend)
    data = InvoiceData(total=Amount(Decimal("10.00"), "SEK"))
    ref = backend.send_invoice(TERMINAL, data).reference
    assert ("add", ref) in store.log and written_then_flushed(store.take(), ref)
    backend.pay(ref)
    assert written_then_flushed(store.take(), ref)
    backend.get_payment_status(TERMINAL, ref)  # the acknowledgment is a write
    assert written_then_flushed(store.take(), ref)
    backend.get_payment_status(TERMINAL, ref)  # a repeated poll changes nothing
    assert ("changed", ref) not in store.take()
    ers = backend.invoice(ref).payment.ers_reference
    backend.refund_payment(TERMINAL, ers, Amount(Decimal("4.00"), "SEK"))
    assert written_then_flushed(store.take(), ref)
    backend.submit_payment_receipt(TERMINAL, ers, "text/plain", "SALE", b"ok")
    assert written_then_flushed(store.take(), ref)


def test_a_timed_rule_writes_through_the_seam_too(backend):
    store = store_of(backend)
    ref = backend.send_invoice(TERMINAL, InvoiceData(total=Amount(Decimal(1), "SEK"))).reference
    backend.pay(ref)
    store.take()
    backend.advance_clock(6)  # nobody polled: the payment is reversed
    assert backend.invoice(ref).status.value == "CANCELED"
    assert written_then_flushed(store.take(), ref)


def test_a_reset_starts_a_new_store(backend):
    first = store_of(backend)
    backend.reset()
    assert store_of(backend) is not first and len(RecordingStore.made) == 2


# --- every record, through a mirror ------------------------------------------------------------


class MirrorStore(TrackingStore):
    """A lasting store whose file is `mirror`: encoded records, kept from the batches alone."""

    def __init__(self) -> None:
        super().__init__()
        self.mirror: dict[str, Any] = {
            "invoices": {},
            "payments": {},
            "terminals": {},
            "removed": set(),
            "services": {},
            "sessions": {},
            "session_count": 0,
            "scenarios": {},
            "ids": None,
            "rng": None,
        }
        self.ledger = reports.Ledger()  # the mirror's periods, from the batches' changes
        self.batches = 0

    def write(self, changes: Changes) -> None:
        self.batches += 1
        m = self.mirror
        for invoice in changes.invoices.values():
            m["invoices"][invoice.reference] = records.encode_invoice(invoice)
        m["payments"].update(changes.payments)
        for terminal in changes.terminals.values():
            m["terminals"][terminal.id] = records.encode_terminal(terminal)
        for terminal_id in changes.removed:
            m["terminals"].pop(terminal_id, None)
            m["removed"].add(terminal_id)
        for event in changes.periods:
            if isinstance(event, Recorded):
                reports.Ledger.record(self.ledger, event.shop, event.transaction)
            elif isinstance(event, Marked):
                p = event.period
                reports.Ledger.mark(self.ledger, p.reseller_id, p.terminal_id, p.id, p.closed_at)
            else:
                assert isinstance(event, Forgotten)
                reports.Ledger.forget_terminal(self.ledger, event.shop, event.terminal_id)
        for key, definition in changes.definitions.items():
            if definition is None:
                m["services"].pop(key, None)
            else:
                m["services"][key] = records.encode_definition(definition)
        for session in changes.sessions.values():
            m["sessions"][session.token] = records.encode_session(session)
        for token in changes.forgotten:
            m["sessions"].pop(token, None)
        if changes.session_count is not None:
            m["session_count"] = changes.session_count
        for terminal_id, scenario in changes.scenarios.items():
            if scenario is None:
                m["scenarios"].pop(terminal_id, None)
            else:
                m["scenarios"][terminal_id] = records.encode_scenario(scenario)
        if changes.ids is not None:
            p = changes.ids
            m["ids"] = (p.invoice_base, p.invoice_seq, p.ers_seq, p.virtual_ms)
            if changes.rng:
                m["rng"] = p.rng


def live(backend: SeqrBackend) -> dict[str, Any]:
    """The backend's state in the mirror's terms, read from its records directly."""
    store = backend.store
    p = backend.ids.position()
    return {
        "invoices": {i.reference: records.encode_invoice(i) for i in store.all_invoices()},
        "payments": dict(store.payments),
        "terminals": {t.id: records.encode_terminal(t) for t in store.terminals.values()},
        "removed": set(store.removed_terminals),
        "services": {
            d.id.casefold(): records.encode_definition(d) for d in store.services.definitions()
        },
        "sessions": {s.token: records.encode_session(s) for s in store.services.sessions()},
        "session_count": store.services.count,
        "scenarios": {
            tid: records.encode_scenario(s) for tid, s in store.terminal_scenarios.items()
        },
        "ids": (p.invoice_base, p.invoice_seq, p.ers_seq, p.virtual_ms),
        "rng": p.rng,
    }


def periods(ledger: reports.Ledger) -> tuple[Any, ...]:
    return ledger.open_periods(), ledger.marks(), ledger.closed_periods()


def assert_mirrored(backend: SeqrBackend, step: str = "") -> None:
    store = backend.store
    assert isinstance(store, MirrorStore)
    state = live(backend)
    for key, value in state.items():
        assert store.mirror[key] == value, f"after {step!r}: {key} differs from what was written"
    assert periods(store.ledger) == periods(store.periods), f"after {step!r}: periods differ"
    # the indexes a lasting store rebuilds at load are what the records imply
    implied = {t.seqr_id: t.id for t in store.terminals.values() if t.seqr_id is not None}
    assert store.seqr_ids == implied, f"after {step!r}: the SEQR ids are not the terminals'"
    payments = {}
    for invoice in store.all_invoices():
        made = [invoice.payment] if invoice.payment else []
        payments.update((x.ers_reference, invoice.reference) for x in [*made, *invoice.refunds])
    assert store.payments == payments, f"after {step!r}: the payment index is not the invoices'"


@pytest.fixture
def mirrored() -> SeqrBackend:
    settings = Settings(ack_window=5, session_lifetime=60)
    return SeqrBackend(settings, Clock(frozen=True), store=MirrorStore)


def test_every_write_of_a_tour_reaches_the_store(mirrored):
    steps = 0
    for step in tour(mirrored):
        assert_mirrored(mirrored, step)
        steps += 1
    assert steps > 30 and mirrored.store.batches > 30


def test_a_verb_that_changes_nothing_writes_nothing(mirrored):
    ref = mirrored.send_invoice(SHOP, order()).reference
    store = mirrored.store
    assert isinstance(store, MirrorStore)
    before = store.batches
    for _ in range(3):
        mirrored.get_payment_status(SHOP, ref)  # an ISSUED invoice: a read
        mirrored.list_invoices()
    assert store.batches == before


def test_a_reset_empties_the_mirror_too(mirrored):
    for _ in zip(range(8), tour(mirrored), strict=False):
        pass
    mirrored.reset()
    mirrored.send_invoice(SHOP, order())
    assert_mirrored(mirrored, "reset, then sendInvoice")
    assert len(mirrored.store.mirror["invoices"]) == 1


# A write that bypasses the seam is caught: each plants one in a part of the backend.


def test_an_invoice_changed_without_saying_so_is_caught(mirrored, monkeypatch):
    ref = mirrored.send_invoice(SHOP, order()).reference
    mirrored.pay(ref)
    monkeypatch.setattr(Ledger, "poll", lambda self, found: rules.acknowledge(found))
    mirrored.get_payment_status(SHOP, ref)  # acknowledged, never named to the store
    with pytest.raises(AssertionError, match="invoices differs"):
        assert_mirrored(mirrored)


def test_a_sticker_bound_without_putting_its_terminal_is_caught(mirrored, monkeypatch):
    def forgetful(self: Principals, terminal: Terminal, seqr_id: str | None) -> None:
        tills.assign_seqr_id(terminal, seqr_id, self.store.seqr_ids)

    mirrored.send_invoice(SHOP, order())  # the terminal registers and is written
    monkeypatch.setattr(Principals, "assign_seqr_id", forgetful)
    mirrored.assign_seqr_id(SHOP, "STICKER1")
    with pytest.raises(AssertionError, match="terminals differs"):
        assert_mirrored(mirrored)


def test_a_transaction_recorded_past_the_stores_ledger_is_caught(mirrored, monkeypatch):
    def past(self: Periods, invoice: Any, ers: str, amount: Any, cashier: Any, now: Any) -> None:
        made = reports.Transaction(ers, invoice.terminal_id, cashier, amount, now)
        reports.Ledger.record(self.store.periods, "public_test_shop", made)  # the base method

    monkeypatch.setattr(Periods, "record", past)
    ref = mirrored.send_invoice(SHOP, order()).reference
    mirrored.pay(ref)
    with pytest.raises(AssertionError, match="periods differ"):
        assert_mirrored(mirrored)
