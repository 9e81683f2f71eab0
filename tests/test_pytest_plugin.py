"""The pytest plugin as a merchant's suite meets it: run with pytester, in process and on xdist.

Each inner suite is a merchant's test file: zeep loads the emulator's own WSDL and sends with
the handle's context; the customer's moves, scenarios and clocks go through the handle.
"""

from __future__ import annotations

import json

import pytest

from tests.inner_suite import QUIET, SHOP, isolate


@pytest.fixture(autouse=True)
def _merchant_ini(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    ini = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    isolate(pytester, monkeypatch, ini)


CLIENT = (
    SHOP
    + """
def send(shop, seqr_emulator, **extra):
    invoice = {"title": "Order", "clientInvoiceId": "1",
               "totalAmount": {"currency": "SEK", "value": "10.00"}, **extra}
    answer = shop.sendInvoice(context=seqr_emulator.context, invoice=invoice)
    assert answer.resultCode == 0, answer
    return answer.invoiceReference

def status(shop, seqr_emulator, ref):
    return shop.getPaymentStatus(
        context=seqr_emulator.context, invoiceReference=ref, invoiceVersion=0).status
"""
)


def test_each_test_sees_only_its_own_invoices_scenario_and_clock(pytester: pytest.Pytester):
    pytester.makepyfile(
        CLIENT
        + """
def test_first(seqr_emulator, shop):
    ref = send(shop, seqr_emulator)
    seqr_emulator.use_scenario("pay")
    seqr_emulator.advance_clock(100)
    assert [i["reference"] for i in seqr_emulator.invoices()] == [ref]

def test_second(seqr_emulator, shop):
    assert seqr_emulator.invoices() == []
    assert seqr_emulator.call("GET", f"/terminals/{seqr_emulator.terminal}/clock")["aheadBy"] == 0
    ref = send(shop, seqr_emulator)
    assert status(shop, seqr_emulator, ref) == "ISSUED"  # no scenario of its own: it waits
    seqr_emulator.pay(ref)
    assert status(shop, seqr_emulator, ref) == "PAID"
"""
    )
    pytester.runpytest_subprocess(*QUIET).assert_outcomes(passed=2)


def test_async_tests_use_the_handle_too(pytester: pytest.Pytester):
    pytester.makepyfile(
        CLIENT
        + """
async def test_pay_from_a_coroutine(seqr_emulator, shop):
    ref = send(shop, seqr_emulator)
    paid = await seqr_emulator.apay(ref)
    assert paid["status"] == "PAID"
    await seqr_emulator.aadvance_clock(5)
"""
    )
    pytester.runpytest_subprocess(*QUIET).assert_outcomes(passed=1)


def test_xdist_workers_share_one_emulator_without_interfering(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    """Eight tests on three workers: one moves its clock past the acknowledgment window, one
    resets its terminal, while the others pay and poll; each sees only its own outcome."""
    pytester.makepyfile(
        CLIENT
        + """
import os, json, pathlib

def record(seqr_emulator):
    out = pathlib.Path(os.environ["SEEN"]) / seqr_emulator.terminal
    out.write_text(json.dumps({"url": seqr_emulator.url}))

@pytest.mark.parametrize("n", range(6))
def test_pays_and_stays_paid(seqr_emulator, shop, n):
    record(seqr_emulator)
    ref = send(shop, seqr_emulator)
    seqr_emulator.pay(ref)
    assert status(shop, seqr_emulator, ref) == "PAID"  # acknowledged: no reversal later
    assert [i["reference"] for i in seqr_emulator.invoices()] == [ref]

def test_moves_its_clock(seqr_emulator, shop):
    record(seqr_emulator)
    ref = send(shop, seqr_emulator)
    seqr_emulator.pay(ref)
    seqr_emulator.advance_clock(3600)  # unpolled: reversed, for this terminal only
    assert seqr_emulator.invoice(ref)["status"] == "CANCELED"

def test_resets_its_terminal(seqr_emulator, shop):
    record(seqr_emulator)
    for _ in range(3):
        send(shop, seqr_emulator)
    assert seqr_emulator.reset()["forgotten"] == 3
    assert seqr_emulator.invoices() == []
"""
    )
    seen = pytester.mkdir("seen")
    monkeypatch.setenv("SEEN", str(seen))
    monkeypatch.delenv("SEQR_EMULATOR_URL", raising=False)
    result = pytester.runpytest_subprocess("-n", "3", *QUIET)
    result.assert_outcomes(passed=8)
    urls = {json.loads(p.read_text())["url"] for p in seen.iterdir()}
    assert len(list(seen.iterdir())) == 8 and len(urls) == 1, urls


def test_an_emulator_started_outside_is_used_and_left_alone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, emulator
):
    pytester.makepyfile(
        CLIENT
        + """
import os

def test_uses_it(seqr_emulator_server, seqr_emulator, shop):
    assert seqr_emulator_server.url == os.environ["SEQR_EMULATOR_URL"]
    send(shop, seqr_emulator)
"""
    )
    monkeypatch.setenv("SEQR_EMULATOR_URL", emulator.url)
    pytester.runpytest_subprocess(*QUIET).assert_outcomes(passed=1)
    assert emulator.backend.invoice_count() == 0  # its test's terminal was reset after it
