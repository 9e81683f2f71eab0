"""The examiner in the pytest plugin, as a merchant's suite meets it (pytester, subprocesses):
`assert_conformant()`, the `--seqr-conformance` flag, and the coverage summary."""

from __future__ import annotations

import pytest

from emulator.examiner.coverage import CATALOGUE
from tests.inner_suite import QUIET, SHOP, isolate

SUITE = (
    SHOP
    + """
import itertools

ORDERS = itertools.count(1)

def send(shop, seqr_emulator, **extra):
    invoice = {"title": "Order", "clientInvoiceId": "1",
               "acknowledgmentMode": "NO_ACKNOWLEDGMENT",
               "notificationUrl": "http://127.0.0.1:9/notify?order=" + str(next(ORDERS)),
               "totalAmount": {"currency": "SEK", "value": "10.00"}, **extra}
    answer = shop.sendInvoice(context=seqr_emulator.context, invoice=invoice)
    assert answer.resultCode == 0, answer
    return answer.invoiceReference

def status(shop, seqr_emulator, ref):
    return shop.getPaymentStatus(
        context=seqr_emulator.context, invoiceReference=ref, invoiceVersion=0).status
"""
)


@pytest.fixture(autouse=True)
def _merchant_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    ini = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    isolate(pytester, monkeypatch, ini)


def failed_tests(result: pytest.RunResult) -> set[str]:
    return {
        line.split("::")[1].split()[0] for line in result.outlines if line.startswith("FAILED ")
    }


RULE_BREAKERS = """
def test_keeps_the_rules(seqr_emulator, shop):
    ref = send(shop, seqr_emulator)
    assert status(shop, seqr_emulator, ref) == "ISSUED"

def test_forgets_the_acknowledgment_mode(seqr_emulator, shop):
    send(shop, seqr_emulator, acknowledgmentMode=None)

def test_checks_itself(seqr_emulator, shop):
    send(shop, seqr_emulator, acknowledgmentMode=None)
    seqr_emulator.assert_conformant()
"""


def test_assert_conformant_fails_the_test_that_broke_a_rule(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SUITE + RULE_BREAKERS)
    result = pytester.runpytest_subprocess("--no-seqr-coverage", *QUIET)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E * AssertionError: 1 SEQR conformance violation(s):",
            "E * ack-mode-set (warning): #* sendInvoice * sent no acknowledgmentMode *",
        ]
    )
    assert failed_tests(result) == {"test_checks_itself"}


def test_the_flag_fails_every_test_that_broke_a_rule(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SUITE + RULE_BREAKERS)
    result = pytester.runpytest_subprocess("--seqr-conformance", "--no-seqr-coverage", *QUIET)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*ack-mode-set (warning): #* sendInvoice * sent no acknowledgmentMode*",
            "*source: SEQR FAQ*",
        ]
    )
    assert failed_tests(result) == {"test_forgets_the_acknowledgment_mode", "test_checks_itself"}


def test_the_session_ends_with_what_the_suite_never_exercised(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        SUITE
        + """
def test_customer_pays(seqr_emulator, shop):
    ref = send(shop, seqr_emulator, notificationUrl=None)
    seqr_emulator.pay(ref)
    assert status(shop, seqr_emulator, ref) == "PAID"

def test_payment_fails(seqr_emulator, shop):
    ref = send(shop, seqr_emulator, notificationUrl=None)
    seqr_emulator.fail(ref)
    assert status(shop, seqr_emulator, ref) == "FAILED"

def test_unknown_invoice(seqr_emulator, shop):
    answer = shop.getPaymentStatus(
        context=seqr_emulator.context, invoiceReference="1", invoiceVersion=0)
    assert answer.resultCode == 54
"""
    )
    result = pytester.runpytest_subprocess(*QUIET)
    result.assert_outcomes(passed=3)
    exercised = {"state:paid", "state:failed", "code:getPaymentStatus:54"}
    never = [b.label for b in CATALOGUE if b.id not in exercised]
    [summary] = [line for line in result.outlines if line.startswith("never saw: ")]
    assert summary == "never saw: " + ", ".join(never)
    result.stdout.fnmatch_lines(
        [
            "*SEQR behaviour coverage*",
            "exercised: a PAID payment, a FAILED payment, a getPaymentStatus answered 54",
        ]
    )


def test_the_summary_covers_all_workers_of_an_xdist_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        SUITE
        + "".join(
            f"""
def test_{n}(seqr_emulator, shop):
    ref = send(shop, seqr_emulator, notificationUrl=None)
    seqr_emulator.{verb}(ref)
"""
            for n, verb in enumerate(["pay", "fail", "cancel", "pay"])
        )
    )
    result = pytester.runpytest_subprocess("-n", "2", *QUIET)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        ["exercised: a PAID payment, an invoice canceled by the customer, a FAILED payment"]
    )
