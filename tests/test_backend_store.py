"""Every write of a verb goes through the store's seam, and is flushed before the verb returns.

A lasting store (`--state`) is a subclass of `Store` that writes what it is told; this test
is the contract it relies on: each invoice a verb changed was named to `changed()` (or
`add_invoice()`), and `flush()` came after the last of them, before the verb answered.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from emulator.backend import SeqrBackend, Store
from emulator.clock import Clock
from emulator.domain.model import Amount, Credentials, InvoiceData
from emulator.settings import Settings

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
