"""The stored state is frozen out of the collector's way while it changes, and only then."""

from __future__ import annotations

import pytest

from emulator.heap import OldObjects
from tests.wire import envelope, post, send_invoice_xml


@pytest.fixture
def freezes() -> list[int]:
    """Each freeze the OldObjects under test makes, counted instead of done: gc.freeze() is
    process-wide, and the other emulators' sweepers in this process make their own."""
    return []


def _old(freezes: list[int]) -> OldObjects:
    return OldObjects(freeze=lambda: freezes.append(1))


def test_nothing_is_frozen_while_the_state_stands_still(freezes):
    assert not _old(freezes).settle()
    assert freezes == []


def test_a_change_freezes_once(freezes):
    old = _old(freezes)
    old.changed("paid")
    assert old.settle()
    assert not old.settle()  # nothing changed since
    assert freezes == [1]


def test_paying_is_a_change_though_no_invoice_is_added(start_emulator, freezes):
    emulator = start_emulator()
    old = _old(freezes)
    emulator.backend.subscribe(old.changed)
    ref = post(emulator.soap_url, envelope(send_invoice_xml())).field("invoiceReference")
    assert old.settle()  # the issue
    emulator.backend.pay(ref)
    assert old.settle()  # the payment
    assert not old.settle()
    assert freezes == [1, 1]
