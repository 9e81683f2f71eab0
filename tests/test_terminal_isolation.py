"""Parallel CI jobs on one emulator: each terminal has its own slate and its own clock.

Advancing a terminal's clock plays only that terminal's timed rules (acknowledgment
reversals, reservation timeouts, scenario timers); resetting a terminal forgets only its
invoices, scenario, notification attempts and clock. The emulator's clock stands still
here (`freeze_clock`), so nothing timed happens behind the test's back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.shop import Control, own_zeep, send, service_at, status


def context_of(terminal: str) -> dict[str, Any]:
    return {
        "clientRequestTimeout": 0,
        "initiatorPrincipalId": {"id": terminal, "type": "TERMINALID"},
        "password": f"{terminal}-secret",
    }


class Job:
    """One CI job: its own terminal on the shared emulator."""

    def __init__(self, service: Any, control: Control, terminal: str) -> None:
        self.service, self.control, self.terminal = service, control, terminal
        self.context = context_of(terminal)

    def send(self, **invoice: Any) -> str:
        return send(self.service, self.context, **invoice)

    def state(self, ref: str) -> str:
        return self.control.invoice(ref)["status"]

    def advance(self, seconds: float) -> dict[str, Any]:
        path = f"/terminals/{self.terminal}/clock/advance"
        return self.control.ok("POST", path, {"seconds": seconds})


@pytest.fixture
def shared(start_emulator) -> Iterator[tuple[Job, Job, Control]]:
    server = start_emulator(freeze_clock=True, ack_window=20)
    control = Control(server.url)
    with own_zeep(server.soap_url) as client:
        service = service_at(client, server.soap_url)
        yield Job(service, control, "job-a"), Job(service, control, "job-b"), control


def test_a_terminals_clock_reverses_only_its_own_unacknowledged_payment(shared):
    a, b, control = shared
    mine, theirs = a.send(), b.send()
    control.pay(mine)
    control.pay(theirs)
    moved = a.advance(25)
    assert moved["aheadBy"] == 25
    assert a.state(mine) == "CANCELED"  # not polled within 20 s of its terminal's time
    assert b.state(theirs) == "PAID"
    assert status(b.service, b.context, theirs).status == "PAID"  # b still acknowledges


def test_a_terminals_clock_lapses_only_its_own_reservation(shared):
    a, b, control = shared
    reserve = {
        "inline": {
            "description": "the customer reserves; it lapses unless committed in 30 s",
            "steps": [{"when": "now", "do": "reserve", "timeout": 30}],
        }
    }
    for job in (a, b):
        control.ok("PUT", f"/terminals/{job.terminal}/scenario", reserve)
    mine = a.send(paymentMode="RESERVATION_REQUIRED")
    theirs = b.send(paymentMode="RESERVATION_REQUIRED")
    assert (a.state(mine), b.state(theirs)) == ("RESERVED", "RESERVED")
    a.advance(31)
    assert (a.state(mine), b.state(theirs)) == ("CANCELED", "RESERVED")


def test_a_terminals_clock_fires_only_its_own_scenario_timers(shared):
    a, b, control = shared
    later = {
        "inline": {
            "description": "pays 10 s later",
            "steps": [{"when": "after", "seconds": 10, "do": "pay"}],
        }
    }
    for job in (a, b):
        control.ok("PUT", f"/terminals/{job.terminal}/scenario", later)
    mine, theirs = a.send(), b.send()
    a.advance(10)
    assert (a.state(mine), b.state(theirs)) == ("PAID", "ISSUED")


def test_a_terminals_times_follow_its_clock(shared):
    a, b, control = shared
    a.advance(3600)
    mine, theirs = control.invoice(a.send()), control.invoice(b.send())
    ahead = datetime.fromisoformat(mine["createdAt"]) - datetime.fromisoformat(theirs["createdAt"])
    assert ahead.total_seconds() == pytest.approx(3600, abs=1)


def test_the_emulator_clock_moves_every_terminal(shared):
    a, b, control = shared
    mine, theirs = a.send(), b.send()
    control.pay(mine)
    control.pay(theirs)
    control.advance(25)
    assert (a.state(mine), b.state(theirs)) == ("CANCELED", "CANCELED")


def test_resetting_a_terminal_forgets_only_its_slate(shared):
    a, b, control = shared
    control.ok("PUT", f"/terminals/{a.terminal}/scenario", {"name": "pay"})
    mine, theirs = a.send(), b.send()
    a.advance(5)
    assert control.ok("POST", f"/terminals/{a.terminal}/reset") == {
        "terminalId": a.terminal,
        "forgotten": 1,
    }
    assert control.request("GET", f"/invoices/{mine}")[0] == 404
    assert control.invoice(theirs)["status"] == "ISSUED"
    assert control.ok("GET", f"/terminals/{a.terminal}/scenario")["scenario"] is None
    assert control.ok("GET", f"/terminals/{a.terminal}/clock")["aheadBy"] == 0
    assert control.ok("GET", f"/invoices?terminal={a.terminal}")["invoices"] == []
    listed = control.ok("GET", f"/invoices?terminal={b.terminal}")["invoices"]
    assert [i["reference"] for i in listed] == [theirs]
    assert a.send()  # the terminal itself stays: it logs in as before


def test_a_shared_emulator_can_refuse_the_global_reset(start_emulator):
    server = start_emulator(global_reset=False)
    status_code, body = Control(server.url).request("POST", "/reset")
    assert status_code == 403 and "terminals/{id}/reset" in body["error"]


def test_a_terminals_clock_sends_only_its_own_delayed_notifications(shared):
    from tests.merchant import Merchant

    a, b, control = shared
    late = {
        "inline": {
            "description": "paid at once; the notification 30 s later",
            "steps": [{"when": "now", "do": "pay", "notification": "delay", "delay": 30}],
        }
    }
    for job in (a, b):
        control.ok("PUT", f"/terminals/{job.terminal}/scenario", late)
    with Merchant() as shop:
        mine = a.send(notificationUrl=shop.url("/n?job=a"))
        theirs = b.send(notificationUrl=shop.url("/n?job=b"))
        a.advance(30)
        assert shop.wait_for(lambda m: len(m.received) == 1)
        assert [r.query["job"] for r in shop.received] == ["a"]
        assert shop.received[0].form["invoiceReference"] == mine
        assert control.ok("GET", f"/notifications?terminal={b.terminal}")["notifications"] == []
        assert control.invoice(theirs)["status"] == "PAID"


@pytest.mark.parametrize("seconds", [3e11, 1e400, -1])
def test_a_terminal_clock_move_it_cannot_make_is_400_and_moves_nothing(shared, seconds):
    a, _, control = shared
    status_code, body = control.request(
        "POST", f"/terminals/{a.terminal}/clock/advance", {"seconds": seconds}
    )
    assert status_code == 400 and body["error"]
    assert control.ok("GET", f"/terminals/{a.terminal}/clock")["aheadBy"] == 0
    assert a.send()  # it still serves


@pytest.mark.parametrize("key", ["seconds", "delay", "timeout"])
def test_a_scenario_with_an_absurd_duration_is_refused_with_400(emulator, control, key):
    step = {"when": "after", "seconds": 1, "do": "pay"}
    if key == "delay":
        step.update(notification="delay", delay=10**400)
    elif key == "timeout":
        step.update(do="reserve", timeout=10**400)
    else:
        step["seconds"] = 10**400
    status_code, body = control.request(
        "PUT", "/scenario", {"inline": {"description": "x", "steps": [step]}}
    )
    assert status_code == 400 and "ten years" in body["error"], body
