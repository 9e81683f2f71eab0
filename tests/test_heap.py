"""The stored state is frozen out of the collector's way while it changes, and only then."""

from __future__ import annotations

import gc

from emulator.heap import OldObjects
from tests.wire import envelope, post, send_invoice_xml


def test_nothing_is_frozen_while_the_state_stands_still():
    old = OldObjects()
    frozen = gc.get_freeze_count()
    assert not old.settle()
    assert gc.get_freeze_count() == frozen


def test_a_change_freezes_what_it_made_once():
    old = OldObjects()
    kept = [[n] for n in range(100)]  # what a state change leaves behind
    old.changed("paid")
    frozen = gc.get_freeze_count()
    assert old.settle()
    assert gc.get_freeze_count() >= frozen + len(kept)
    assert not old.settle()  # nothing changed since


def test_paying_is_a_change_though_no_invoice_is_added(start_emulator):
    emulator = start_emulator()
    old = OldObjects()
    emulator.backend.subscribe(old.changed)
    ref = post(emulator.soap_url, envelope(send_invoice_xml())).field("invoiceReference")
    assert old.settle()  # the issue
    emulator.backend.pay(ref)
    assert old.settle()  # the payment
    assert not old.settle()
