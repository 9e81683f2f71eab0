"""The plugin handle's journal and its assertion helpers, as a merchant's suite meets them.

Each inner suite is a merchant's test file run with pytester in a process of its own: zeep
loads the emulator's own WSDL, a stdlib HTTP server is the shop's notification endpoint. In
the failing suites the merchant misbehaves on purpose (polls the wrong invoice, refunds
twice, never polls after the notification, polls late, keeps polling a paid invoice, has an
endpoint that answers 500); each helper must fail, and its words are read here.
"""

from __future__ import annotations

import re

import pytest

from tests.inner_suite import QUIET, SHOP, isolate


@pytest.fixture(autouse=True)
def _merchant_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(pytester, monkeypatch, "[pytest]\nasyncio_default_fixture_loop_scope = function\n")


MERCHANT = (
    SHOP
    + """
import http.server, threading

class Endpoint(http.server.BaseHTTPRequestHandler):
    status = 200
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(self.server.answer)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.server.got.set()
    def log_message(self, *args):
        pass

@pytest.fixture
def endpoint():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    server.got, server.answer = threading.Event(), 200
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/seqr/notify"
    yield server
    server.shutdown()
    server.server_close()

def send(shop, seqr_emulator, **extra):
    invoice = {"title": "Order", "clientInvoiceId": "1",
               "totalAmount": {"currency": "SEK", "value": "10.00"}, **extra}
    answer = shop.sendInvoice(context=seqr_emulator.context, invoice=invoice)
    assert answer.resultCode == 0, answer
    return answer.invoiceReference

def poll(shop, seqr_emulator, ref):
    return shop.getPaymentStatus(context=seqr_emulator.context, invoiceReference=ref,
                                 invoiceVersion=0)

def refund(shop, seqr_emulator, ers):
    return shop.refundPayment(context=seqr_emulator.context, ersReference=ers,
        invoice={"title": "refund", "totalAmount": {"currency": "SEK", "value": "5.00"}})

def paid_and_notified(shop, seqr_emulator, endpoint):
    ref = send(shop, seqr_emulator, notificationUrl=endpoint.url)
    seqr_emulator.pay(ref)
    assert endpoint.got.wait(10), "the notification never came"
    return ref
"""
)


def test_a_merchant_that_behaves_passes_every_helper(pytester: pytest.Pytester):
    pytester.makepyfile(
        MERCHANT
        + """
def test_checkout(seqr_emulator, shop, endpoint):
    ref = paid_and_notified(shop, seqr_emulator, endpoint)
    answer = poll(shop, seqr_emulator, ref)
    assert answer.status == "PAID"
    assert refund(shop, seqr_emulator, answer.ersReference).resultCode == 0

    seqr_emulator.assert_called_once("sendInvoice", invoice=ref)
    seqr_emulator.assert_called("getPaymentStatus", invoice=ref, result_code=0)
    seqr_emulator.assert_called_once("refundPayment", invoice=ref)
    seqr_emulator.assert_not_called("cancelInvoice")
    seqr_emulator.assert_notified(ref, delivered=1)
    seqr_emulator.assert_polled_after_notification(ref, within=2.0)
    seqr_emulator.assert_no_call_after_final_status(ref)
    seqr_emulator.verify(["sendInvoice", "notification",
                          {"operation": "getPaymentStatus", "status": "PAID", "times": 1},
                          {"operation": "refundPayment", "times": 1}], invoice=ref)

    journal = seqr_emulator.journal()
    assert [e["operation"] or e["kind"] for e in journal] == [
        "sendInvoice", "notification", "getPaymentStatus", "refundPayment"]
    assert {e["terminal"] for e in journal} == {seqr_emulator.terminal}
    assert "<password>***</password>" in journal[0]["request"]
    assert [e["seq"] for e in seqr_emulator.journal(operation="refundPayment")] == [
        journal[-1]["seq"]]
    assert "request" not in seqr_emulator.journal(bodies=False)[0]

def test_another_test_sees_none_of_it(seqr_emulator):
    assert seqr_emulator.journal() == []
"""
    )
    pytester.runpytest_subprocess(*QUIET).assert_outcomes(passed=2)


def test_each_helper_fails_with_the_calls_it_saw(pytester: pytest.Pytester):
    pytester.makepyfile(
        MERCHANT
        + """
def test_polls_the_wrong_invoice(seqr_emulator, shop):
    older, ref = send(shop, seqr_emulator), send(shop, seqr_emulator)
    poll(shop, seqr_emulator, older)
    print("OLDER", older)
    seqr_emulator.assert_called("getPaymentStatus", invoice=ref)

def test_refunds_twice(seqr_emulator, shop):
    ref = send(shop, seqr_emulator)
    seqr_emulator.pay(ref)
    ers = poll(shop, seqr_emulator, ref).ersReference
    refund(shop, seqr_emulator, ers)
    refund(shop, seqr_emulator, ers)
    seqr_emulator.assert_called_once("refundPayment", invoice=ref)

def test_endpoint_answers_500(seqr_emulator, shop, endpoint):
    endpoint.answer = 500
    ref = paid_and_notified(shop, seqr_emulator, endpoint)
    seqr_emulator.assert_notified(ref, delivered=1)

def test_never_polls_after_the_notification(seqr_emulator, shop, endpoint):
    ref = paid_and_notified(shop, seqr_emulator, endpoint)
    seqr_emulator.assert_polled_after_notification(ref, within=2.0)

def test_polls_late(seqr_emulator, shop, endpoint):
    ref = paid_and_notified(shop, seqr_emulator, endpoint)
    seqr_emulator.advance_clock(5)  # the shop's queue took five seconds
    poll(shop, seqr_emulator, ref)
    seqr_emulator.assert_polled_after_notification(ref, within=2.0)

def test_keeps_polling_a_paid_invoice(seqr_emulator, shop):
    ref = send(shop, seqr_emulator)
    seqr_emulator.pay(ref)
    for _ in range(3):
        poll(shop, seqr_emulator, ref)
    seqr_emulator.assert_no_call_after_final_status(ref)

def test_refunds_before_it_polls(seqr_emulator, shop):
    ref = send(shop, seqr_emulator)
    seqr_emulator.pay(ref)
    ers = seqr_emulator.invoice(ref)["payment"]["ersReference"]
    refund(shop, seqr_emulator, ers)
    poll(shop, seqr_emulator, ref)
    seqr_emulator.verify(["sendInvoice", "getPaymentStatus", "refundPayment"], invoice=ref)
"""
    )
    result = pytester.runpytest_subprocess("-rA", *QUIET)
    result.assert_outcomes(failed=7)
    out = result.stdout.str()
    older = next(line.split()[-1] for line in result.outlines if line.startswith("OLDER "))

    def failure(test: str) -> str:
        """The `E` lines pytest wrote for one test's failure, without the `E`."""
        block = out.split(f"_ {test} _", 1)[1].split("\n____", 1)[0]
        return "\n".join(line[1:].strip() for line in block.splitlines() if line.startswith("E"))

    wrong = failure("test_polls_the_wrong_invoice")
    assert "AssertionError: expected getPaymentStatus at least once for invoice" in wrong
    assert "saw none" in wrong and "nearest:" in wrong
    assert f"getPaymentStatus invoice {older}: resultCode 0, ISSUED: another invoice ({older})" in (
        wrong
    )

    twice = failure("test_refunds_twice")
    assert "expected refundPayment exactly once for invoice" in twice and "saw twice" in twice
    assert twice.count("refundPayment invoice") == 2 and "counted:" in twice

    refused = failure("test_endpoint_answers_500")
    assert "expected notification delivered exactly once for invoice" in refused
    assert ": saw none" in refused
    assert "notification invoice" in refused and "failed (HTTP 500): not delivered" in refused

    never = failure("test_never_polls_after_the_notification")
    assert "expected getPaymentStatus for invoice" in never
    assert "within 2 s after its notification, but none came after it:" in never
    assert "notification: #" in never and "delivered (HTTP 200)" in never
    assert "polls: none" in never

    late = failure("test_polls_late")
    assert re.search(r"but the first came 5\.0\d* s after:", late), late
    assert "getPaymentStatus invoice" in late and "resultCode 0, PAID" in late

    polling = failure("test_keeps_polling_a_paid_invoice")
    assert re.search(
        r"was PAID in the answer to getPaymentStatus #\d+ at [\d:.]+, yet 2 calls", polling
    )
    assert polling.count("getPaymentStatus invoice") == 2  # the two after it

    early = failure("test_refunds_before_it_polls")
    assert "expected step 2 of 3, getPaymentStatus at least once for invoice" in early
    between = re.search(r"saw none between sendInvoice #(\d+) and refundPayment #(\d+)", early)
    assert between, early
    assert f"came after the next step (refundPayment #{between[2]})" in early
