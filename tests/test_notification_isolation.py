"""One receiver that hangs, drips or floods never delays another merchant's notification.

The misbehaving receivers (tests/receivers.py) accept connections on loopback ports; the
healthy one is tests/merchant.py. Notifications are handed to the emulator's notifier as a
payment would hand them, so a test can put hundreds under way in a moment. Every wait is
bounded, and what is compared with a bound is generous next to what it measures: a healthy
notification takes a few milliseconds, the bound is seconds, and the hanging attempts' own
timeout is longer still.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from emulator import notifier as notifier_module
from emulator.app import NOTIFIER
from emulator.journal import Attempt
from emulator.notifier import Notification, Notifier
from emulator.server import EmulatorServer
from tests.merchant import Merchant
from tests.receivers import BadReceiver

FORM = (("invoiceReference", "x"), ("clientInvoiceId", ""), ("msisdn", ""), ("subscriberKey", ""))
PROMPT = 2000.0  # ms: a healthy notification here takes a few; the hanging ones time out later


def notify(server: EmulatorServer, url: str, ref: str) -> None:
    notifier: Notifier = server.app[NOTIFIER]  # type: ignore[index]
    notifier.submit(Notification(ref, "paid", url, FORM))


def settled(server: EmulatorServer, refs: list[str], timeout: float = 15.0) -> list[Attempt]:
    """The attempts for `refs`, once there is one for each (polled, bounded)."""
    journal = server.backend.journal
    deadline = time.monotonic() + timeout
    while True:
        found = [a for a in journal.recent() if a.invoice_reference in set(refs)]
        if len(found) >= len(refs) or time.monotonic() > deadline:
            assert len(found) >= len(refs), f"{len(found)} of {len(refs)} attempts settled"
            return found
        time.sleep(0.01)


@pytest.fixture
def emulator_with(start_emulator: Callable[..., EmulatorServer]) -> Callable[..., EmulatorServer]:
    """An emulator of the test's own; stop it inside the receivers' `with`, so that no
    attempt still under way is left to knock on a receiver that has gone."""
    return lambda **settings: start_emulator(ack_window=0, **settings)


def test_a_healthy_merchant_is_notified_promptly_while_another_receiver_hangs(emulator_with):
    server = emulator_with(notification_timeout=20, notification_per_receiver=4)
    notifier: Any = server.app[NOTIFIER]
    with BadReceiver("hang") as dead, Merchant() as healthy:
        hanging = [f"H{i}" for i in range(300)]
        for ref in hanging:
            notify(server, dead.url(), ref)
        assert dead.wait_for_open(4), "the hanging receiver never got its connections"
        fine = [f"OK{i}" for i in range(20)]
        for ref in fine:
            notify(server, healthy.url(), ref)
        made = settled(server, fine)
        # Every hanging attempt is still under way: the healthy ones did not wait for them.
        assert notifier.pending >= len(hanging)
        assert dead.most == 4, "at most notification_per_receiver attempts to one receiver"
        server.stop()
    assert [a.outcome for a in made] == ["delivered"] * len(fine)
    slowest = max(a.latency_ms or 0 for a in made)
    assert slowest < PROMPT, f"a healthy notification took {slowest} ms"
    assert len(healthy.received) == len(fine)


def test_an_attempt_that_waits_for_its_receiver_says_so_and_keeps_its_timeout(emulator_with):
    server = emulator_with(notification_timeout=0.5, notification_per_receiver=2)
    with BadReceiver("hang") as dead:
        refs = [f"W{i}" for i in range(20)]
        started = time.monotonic()
        for ref in refs:
            notify(server, dead.url(), ref)
        made = settled(server, refs)
        took = time.monotonic() - started
        server.stop()
    assert all(a.outcome == "failed" for a in made)
    assert all((a.error or "").startswith("timed out after 0.5 s") for a in made)
    # Two attempts had the receiver's two connections at once; nearly all the others were
    # still waiting for one when their own timeout, counted from when they were due, ran out.
    waited = "timed out after 0.5 s waiting for its receiver's 2 connections (all busy)"
    assert sum(a.error == waited for a in made) >= len(refs) // 2
    assert server.app[NOTIFIER].most_in_flight == 2  # type: ignore[index]
    assert took < 10, "the wait for a free connection counts against the attempt's timeout"


def test_the_timeout_holds_until_the_last_byte_of_a_dripping_answer(emulator_with):
    server = emulator_with(notification_timeout=0.5)
    with BadReceiver("drip") as slow:
        notify(server, slow.url(), "D1")
        [made] = settled(server, ["D1"])
        server.stop()
    assert made.outcome == "failed" and made.status == 200
    assert made.error == "timed out after 0.5 s"


def test_an_endless_answer_is_read_only_so_far(emulator_with):
    server = emulator_with(notification_timeout=20)
    with BadReceiver("flood") as flood:
        notify(server, flood.url(), "F1")
        [made] = settled(server, ["F1"])
        server.stop()
    assert made.outcome == "delivered" and made.status == 200
    assert made.latency_ms is not None and made.latency_ms < PROMPT


def test_attempts_in_flight_never_outnumber_the_notification_connections(emulator_with):
    server = emulator_with(
        notification_timeout=1, notification_connections=6, notification_per_receiver=2
    )
    with BadReceiver("hang", ports=5) as dead:
        refs = [f"C{i}" for i in range(50)]
        for i, ref in enumerate(refs):
            notify(server, dead.url(i), ref)
        assert dead.wait_for_open(6)
        made = settled(server, refs, timeout=30)
        most = server.app[NOTIFIER].most_in_flight  # type: ignore[index]
        server.stop()
    assert most == 6, "six attempts in flight at once, never more"
    assert all(a.outcome == "failed" and "timed out" in (a.error or "") for a in made)


def test_past_the_backlog_a_notification_fails_at_once(emulator_with, monkeypatch):
    monkeypatch.setattr(notifier_module, "BACKLOG", 5)
    server = emulator_with(notification_timeout=20)
    with BadReceiver("hang") as dead:
        refs = [f"B{i}" for i in range(8)]
        for ref in refs:
            notify(server, dead.url(), ref)
        made = settled(server, refs[5:])
        server.stop()
    assert {a.invoice_reference for a in made} == set(refs[5:])
    assert {a.error for a in made} == {"not sent: 5 notifications already under way"}
