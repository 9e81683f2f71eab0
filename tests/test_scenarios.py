"""Every scenario of the catalogue, end to end, as a merchant's CI meets it.

Each file in `scenarios/` is selected for a terminal of its own through the control API; zeep
(from the emulator's own WSDL) plays the merchant's SOAP client and a real aiohttp server its
notification endpoint. The expectation for each file below asserts what the merchant can see:
statuses, result codes, notifications received, faults. A file without an expectation here
fails the test, so the catalogue cannot grow untested.

The emulator's clock is frozen (time moves only by `/_emulator/clock/advance`), so nothing
timed can happen behind a test's back; its scale (100) only shortens `slow` answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
import zeep.exceptions
from zeep.transports import Transport

from emulator.server import EmulatorServer
from emulator.settings import Settings
from tests.conftest import audited_app
from tests.merchant import Merchant
from tests.shop import Shop, make_invoice, own_zeep, service_at

CATALOGUE = Path(__file__).resolve().parents[1] / "scenarios"
FILES = sorted(CATALOGUE.glob("*.toml"))
SCALE = 100.0
SEED = 11

Expectation = Callable[[Shop], None]
EXPECT: dict[str, Expectation] = {}


def expect(name: str) -> Callable[[Expectation], Expectation]:
    def register(check: Expectation) -> Expectation:
        EXPECT[name] = check
        return check

    return register


@pytest.fixture(scope="module")
def scripted(schema_audit) -> Iterator[EmulatorServer]:
    settings = Settings(port=0, freeze_clock=True, clock_scale=SCALE, seed=SEED)
    server = EmulatorServer(settings, app_factory=audited_app(schema_audit))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def shop(scripted, _zeep_client, request) -> Iterator[Shop]:
    scripted.backend.reset()
    with Merchant() as receiver:
        yield Shop(scripted, _zeep_client, receiver, f"ci-{request.node.callspec.id}")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_catalogue_scenario_end_to_end(path: Path, shop: Shop):
    check = EXPECT.get(path.stem)
    assert check is not None, f"scenarios/{path.name} has no expectation in {Path(__file__).name}"
    shop.use(path.stem)
    check(shop)


def test_every_expectation_has_its_file():
    assert set(EXPECT) == {p.stem for p in FILES}


# --- the customer ----------------------------------------------------------------------------


def _paid_and_notified(shop: Shop, ref: str) -> dict[str, Any]:
    [made] = shop.wait_attempts(ref)
    assert (made["event"], made["action"], made["outcome"]) == ("paid", "deliver", "delivered")
    status = shop.status(ref)
    assert (status.resultCode, status.status) == (0, "PAID")
    assert status.ersReference and status.receipt.paymentReference == status.ersReference
    assert shop.posts(ref) == [
        {
            "invoiceReference": ref,
            "clientInvoiceId": "1001",
            "msisdn": "46700000001",
            "subscriberKey": "4711",
        }
    ]
    return made


@expect("pay")
def _pay(shop: Shop) -> None:
    _paid_and_notified(shop, shop.send())


@expect("manual")
def _manual(shop: Shop) -> None:
    ref = shop.send()
    assert shop.statuses(ref, 2) == ["ISSUED", "ISSUED"]
    shop.control.pay(ref)  # the customer acts only when told
    _paid_and_notified(shop, ref)


@expect("cancel")
def _cancel(shop: Shop) -> None:
    ref = shop.send()
    status = shop.status(ref)
    assert (status.resultCode, status.status, status.version) == (0, "CANCELED", 1)
    assert status.ersReference is None and status.receipt is None
    assert shop.attempts(ref) == [] and shop.posts(ref) == []


@expect("fail")
def _fail(shop: Shop) -> None:
    ref = shop.send()
    assert shop.status(ref).status == "FAILED"
    assert shop.service.cancelInvoice(context=shop.context, invoiceReference=ref).resultCode == 0
    assert shop.attempts(ref) == [] and shop.posts(ref) == []


@expect("pay-after-polls")
def _pay_after_polls(shop: Shop) -> None:
    ref = shop.send()
    first, second = shop.status(ref), shop.status(ref)
    assert (first.status, second.status) == ("ISSUED", "ISSUED")
    _paid_and_notified(shop, ref)  # the third poll


@expect("slow-payer")
def _slow_payer(shop: Shop) -> None:
    ref = shop.send()
    assert shop.status(ref).status == "ISSUED"
    busy = shop.service.cancelInvoice(context=shop.context, invoiceReference=ref)
    assert (busy.resultCode, busy.resultDescription) == (51, "CANNOT_CANCEL_INVOICE_IN_PROGRESS")
    shop.advance(89)
    assert shop.status(ref).status == "ISSUED"
    shop.advance(1)
    _paid_and_notified(shop, ref)


@expect("reservation-commit")
def _reservation_commit(shop: Shop) -> None:
    ref = shop.send(paymentMode="RESERVATION_REQUIRED")
    assert shop.status(ref).status == "RESERVED"
    [reserved] = shop.wait_attempts(ref)
    assert (reserved["event"], reserved["outcome"]) == ("reserved", "delivered")
    commit = shop.service.commitReservation(context=shop.context, invoiceReference=ref)
    assert commit.resultCode == 0
    assert shop.status(ref).status == "PAID"
    assert [a["event"] for a in shop.wait_attempts(ref, 2)] == ["reserved", "paid"]
    assert len(shop.posts(ref)) == 2


@expect("reservation-timeout")
def _reservation_timeout(shop: Shop) -> None:
    ref = shop.send(paymentMode="RESERVATION_REQUIRED")
    assert shop.status(ref).status == "RESERVED"
    shop.advance(59)
    assert shop.status(ref).status == "RESERVED"
    shop.advance(1)
    assert shop.status(ref).status == "CANCELED"
    late = shop.service.commitReservation(context=shop.context, invoiceReference=ref)
    assert (late.resultCode, late.resultDescription) == (96, "INVOICE_STATE_NOT_RESERVED")


@expect("loyalty-acknowledge")
def _loyalty_acknowledge(shop: Shop) -> None:
    ref = shop.send(acknowledgmentMode="OPTIONAL_ACKNOWLEDGMENT")
    pending = shop.status(ref)
    assert (pending.status, pending.version) == ("PENDING_ISSUER_ACKNOWLEDGE", 1)
    [token] = pending.customerTokens.token
    assert (token.id, token.value, token.status) == ("X_CARD", "4711", 0)
    discounted = shop.service.updateInvoice(
        context=shop.context,
        invoiceReference=ref,
        invoice=shop.invoice_data("90.00", acknowledgmentMode="OPTIONAL_ACKNOWLEDGMENT"),
        tokens=[{"id": "X_CARD", "value": "4711", "status": 1}],
    )
    assert discounted.resultCode == 0
    paid = shop.status(ref)
    assert paid.status == "PAID" and paid.receipt.invoice.totalAmount.value == 90
    assert shop.wait_attempts(ref)[0]["outcome"] == "delivered"


# --- the notification ------------------------------------------------------------------------


@expect("drop-notification")
def _drop_notification(shop: Shop) -> None:
    ref = shop.send()
    [made] = shop.wait_attempts(ref)
    assert (made["action"], made["outcome"], made["statusCode"]) == ("drop", "dropped", None)
    assert shop.status(ref).status == "PAID"
    shop.advance(60)  # polled in time: the payment stays
    assert shop.status(ref).status == "PAID" and shop.posts(ref) == []


@expect("delay-notification")
def _delay_notification(shop: Shop) -> None:
    ref = shop.send()
    assert shop.status(ref).status == "PAID"
    assert shop.attempts(ref) == []  # the clock stands still: nothing can be due yet
    paid_at = shop.invoice(ref)["payment"]["date"]
    shop.advance(10)
    [made] = shop.wait_attempts(ref)
    assert (made["action"], made["outcome"]) == ("delay", "delivered")
    assert _seconds_between(paid_at, made["at"]) == 10
    assert len(shop.posts(ref)) == 1


@expect("duplicate-notification")
def _duplicate_notification(shop: Shop) -> None:
    ref = shop.send()
    made = shop.wait_attempts(ref, 3)
    assert [(a["action"], a["outcome"]) for a in made] == [("duplicate", "delivered")] * 3
    posts = shop.posts(ref)
    assert len(posts) == 3 and posts[0] == posts[1] == posts[2]
    assert shop.status(ref).status == "PAID"


@expect("late-notification")
def _late_notification(shop: Shop) -> None:
    ref = shop.send()
    assert shop.attempts(ref) == []
    paid_at = shop.invoice(ref)["payment"]["date"]
    shop.advance(20)  # the shop waited for the notification and never polled
    [made] = shop.wait_attempts(ref)
    assert (made["action"], made["outcome"]) == ("late", "delivered")
    assert _seconds_between(paid_at, made["at"]) == 20
    assert len(shop.posts(ref)) == 1
    status = shop.status(ref)  # what the notification is worth: a reason to ask
    assert (status.status, status.receipt) == ("CANCELED", None)


@expect("merchant-endpoint-error")
def _merchant_endpoint_error(shop: Shop) -> None:
    with Merchant(status=500) as broken:
        ref = shop.send(notify=broken.url("/seqr/notify"))
        [made] = shop.wait_attempts(ref)
        assert (made["outcome"], made["statusCode"], made["error"]) == ("failed", 500, "HTTP 500")
        assert shop.status(ref).status == "PAID"  # the shop polled anyway: acknowledged
        shop.advance(60)
        assert shop.status(ref).status == "PAID"
        assert len(shop.attempts(ref)) == 1 and len(broken.received) == 1  # never retried


@expect("unacknowledged-reversal")
def _unacknowledged_reversal(shop: Shop) -> None:
    ref = shop.send()
    assert shop.wait_attempts(ref)[0]["outcome"] == "delivered"
    shop.advance(19)
    assert shop.invoice(ref)["status"] == "PAID"
    shop.advance(1)
    status = shop.status(ref)
    assert (status.status, status.ersReference, status.version) == ("CANCELED", None, 2)
    assert "reversed" in shop.invoice(ref)["history"][-1]["event"]


# --- SEQR's answers --------------------------------------------------------------------------


@expect("refund-rejected")
def _refund_rejected(shop: Shop) -> None:
    ref = shop.send()
    ers = shop.status(ref).ersReference
    refund = make_invoice("40.00")
    first = shop.service.refundPayment(context=shop.context, ersReference=ers, invoice=refund)
    assert (first.resultCode, first.resultDescription, first.ersReference) == (
        99,
        "RECEIVER_ACCOUNT_DOES_NOT_ALLOW_REFUNDS",
        None,
    )
    assert shop.invoice(ref)["refundedTotal"] == "0"
    again = shop.service.refundPayment(context=shop.context, ersReference=ers, invoice=refund)
    assert again.resultCode == 0 and again.ersReference
    assert shop.invoice(ref)["refundedTotal"] == "40.00"


@expect("system-error")
def _system_error(shop: Shop) -> None:
    refused = shop.try_send()
    assert (refused.resultCode, refused.resultDescription) == (90, "SYSTEM_ERROR")
    assert refused.invoiceReference is None
    assert shop.control.ok("GET", "/invoices")["invoices"] == []
    _paid_and_notified(shop, shop.send())  # the shop's retry


@expect("service-unavailable")
def _service_unavailable(shop: Shop) -> None:
    ref = shop.send()
    for _ in range(2):
        down = shop.status(ref)
        assert (down.resultCode, down.resultDescription) == (94, "SERVICE_UNAVAILABLE")
        assert (down.status, down.version) == (None, 0)
    assert shop.invoice(ref)["payment"]["acknowledged"] is False  # those polls never arrived
    _paid_and_notified(shop, ref)
    assert shop.invoice(ref)["payment"]["acknowledged"] is True


@expect("soap-fault")
def _soap_fault(shop: Shop) -> None:
    ref = shop.send()
    with pytest.raises(zeep.exceptions.Fault) as fault:
        shop.status(ref)
    assert (fault.value.code, fault.value.message) == (
        "soap:Server",
        "Fault occurred while processing.",
    )
    _paid_and_notified(shop, ref)


# --- the connection --------------------------------------------------------------------------


def _answer_lost_then_paid(shop: Shop, error: type[Exception]) -> None:
    ref = shop.send()
    with pytest.raises(error):
        shop.status(ref)
    assert shop.invoice(ref)["payment"]["acknowledged"] is True  # SEQR did carry the poll out
    _paid_and_notified(shop, ref)


@expect("connection-reset")
def _connection_reset(shop: Shop) -> None:
    _answer_lost_then_paid(shop, requests.exceptions.ConnectionError)


@expect("empty-response")
def _empty_response(shop: Shop) -> None:
    _answer_lost_then_paid(shop, requests.exceptions.ConnectionError)


@expect("truncated-response")
def _truncated_response(shop: Shop) -> None:
    _answer_lost_then_paid(shop, zeep.exceptions.TransportError)


@expect("slow-response")
def _slow_response(shop: Shop) -> None:
    # 30 emulator seconds at scale 100 take 0.3 s; this client gives up after 0.05 s.
    ref = shop.send()
    with own_zeep(shop.server.soap_url, transport=Transport(operation_timeout=0.05)) as impatient:
        service = service_at(impatient, shop.server.soap_url)
        with pytest.raises(requests.exceptions.Timeout):
            service.getPaymentStatus(context=shop.context, invoiceReference=ref, invoiceVersion=0)
    _paid_and_notified(shop, ref)  # only the first poll was slow


@expect("flaky-network")
def _flaky_network(shop: Shop) -> None:
    ref = shop.send()
    outcomes = []
    for _ in range(16):
        try:
            outcomes.append(shop.status(ref).status)
        except requests.exceptions.ConnectionError:
            outcomes.append("reset")
    assert outcomes.count("reset") == 3 and set(outcomes) == {"reset", "PAID"}
    assert outcomes[:3] != ["reset"] * 3  # spread by the seeded draws, not bunched


def _seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()
