"""The clock stays inside datetime's range whatever it is told, and the control routes that
take a number answer 400 for one they cannot use: no control call leaves the emulator
unable to serve."""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

import pytest

from emulator.backend import SeqrBackend
from emulator.clock import LATEST, Clock, ClockError
from emulator.server import EmulatorServer
from emulator.settings import CLOCK_LAST_YEAR, MAX_SECONDS, Settings
from emulator.soap.transport import SoapEndpoint
from tests.inproc import Till, answer_field, result_code
from tests.wire import envelope, post, send_invoice_xml


@pytest.mark.parametrize("seconds", [math.nan, math.inf, -math.inf, -1.0, 3e11, 1e300])
def test_the_clock_refuses_a_move_it_cannot_make_and_does_not_move(seconds):
    clock = Clock(frozen=True)
    before = clock.now()
    with pytest.raises(ClockError):
        clock.advance(seconds)
    assert clock.now() == before
    assert clock.advance(25) == before + timedelta(seconds=25)


def test_the_clock_goes_to_its_last_instant_and_no_further():
    clock = Clock(LATEST - timedelta(days=1), frozen=True)
    assert clock.advance(86_400) == LATEST
    with pytest.raises(ClockError, match="the clock stops at 9990-01-01"):
        clock.advance(1)
    assert clock.now() == LATEST


def test_a_fast_clock_that_runs_to_the_end_stays_there():
    clock = Clock(LATEST - timedelta(seconds=1), scale=1e6)
    time.sleep(0.01)
    assert clock.now() == LATEST


def test_the_last_instant_leaves_room_for_every_duration_a_setting_takes():
    assert LATEST.year == CLOCK_LAST_YEAR + 1
    assert LATEST + timedelta(seconds=MAX_SECONDS) < LATEST.max.replace(tzinfo=LATEST.tzinfo)
    with pytest.raises(ValueError):
        Clock(LATEST)


def test_every_operation_still_works_at_the_clocks_last_instant():
    """Payments, the acknowledgment window, refunds and reports all count from `now`."""
    clock = Clock(LATEST - timedelta(days=1), frozen=True)
    till = Till(SoapEndpoint(SeqrBackend(Settings(report_delay=MAX_SECONDS), clock)))
    till.backend.advance_clock(86_400)
    assert clock.now() == LATEST
    ref, ers = till.paid()
    assert answer_field(till.status(ref), "status") == "PAID"
    assert result_code(till.refund(ers, "1.00")) == 0
    till.context = (
        "<context><clientRequestTimeout>0</clientRequestTimeout><initiatorPrincipalId>"
        "<id>public_test_shop</id><type>RESELLERUSER</type><userId>9900</userId>"
        "</initiatorPrincipalId><password>1234</password></context>"
    )
    period = answer_field(till.call("markTransactionPeriod", ""), "transactionPeriodId")
    entry = f"<entry><key>transactionPeriodId</key><value>{period}</value></entry>"
    inner = f"<reportId>STD_RECON_001</reportId><parameters>{entry}</parameters>"
    assert result_code(till.call("executeReport", inner)) == 2  # REPORT_NOT_READY, no error


# --- the control API -------------------------------------------------------------------------


def _call(base: str, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(base + path, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


BAD_SECONDS = [
    b'{"seconds": NaN}',
    b'{"seconds": Infinity}',
    b'{"seconds": -Infinity}',
    b'{"seconds": 1e400}',
    b'{"seconds": 1' + b"0" * 400 + b"}",
    b'{"seconds": 3e11}',
    b'{"seconds": -1}',
    b'{"seconds": "25"}',
    b'{"seconds": true}',
    b'{"seconds": null}',
    b"{}",
]


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(Settings(port=0, ack_window=0)) as running:
        yield running


def test_a_clock_move_that_cannot_be_made_is_400_and_the_emulator_keeps_serving(server):
    before = _call(server.url, "GET", "/_emulator/clock")[1]["now"]
    for body in BAD_SECONDS:
        status, answer = _call(server.url, "POST", "/_emulator/clock/advance", body)
        assert status == 400 and answer["error"], body
        assert _call(server.url, "GET", "/_emulator/clock")[0] == 200
        reply = post(server.soap_url, envelope(send_invoice_xml()))
        assert reply.status == 200 and reply.field("resultCode") == "0", body
    assert _call(server.url, "GET", "/_emulator/clock")[1]["now"] >= before
    assert _call(server.url, "POST", "/_emulator/reset")[0] == 200
    assert _call(server.url, "POST", "/_emulator/clock/advance", b'{"seconds": 25}')[0] == 200


@pytest.mark.parametrize("route", ["/_emulator/invoices", "/_emulator/notifications"])
@pytest.mark.parametrize("limit", ["%C2%B2", "%D9%A3", "-1", "1.5", "1e3", "0x10", ""])
def test_a_limit_that_is_not_ascii_digits_is_400(server, route, limit):
    status, answer = _call(server.url, "GET", f"{route}?limit={limit}")
    assert status == 400 and "limit" in answer["error"]


@pytest.mark.parametrize("route", ["/_emulator/invoices", "/_emulator/notifications"])
@pytest.mark.parametrize("limit", ["9" * 5000, "0" * 5000 + "1", "99999999999999999999"])
def test_a_limit_of_any_length_is_read(server, route, limit):
    assert _call(server.url, "GET", f"{route}?limit={limit}")[0] == 200
