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


def _freezers(server) -> list[object]:
    listeners = server.backend.outbox._listeners
    return [f for f in listeners if isinstance(getattr(f, "__self__", None), OldObjects)]


def test_emulators_sharing_a_process_freeze_nothing(start_emulator):
    """gc.freeze() reaches every object of the process: only `serve` asks for it."""
    assert _freezers(start_emulator()) == [] and _freezers(start_emulator()) == []


def test_serve_keeps_its_state_out_of_the_collectors_way():
    from emulator.app import create_app
    from emulator.settings import Settings

    app = create_app(Settings(port=0), freeze_heap=True)
    from emulator.app import BACKEND

    listeners = app[BACKEND].outbox._listeners
    assert any(isinstance(getattr(f, "__self__", None), OldObjects) for f in listeners)
