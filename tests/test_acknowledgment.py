"""A PAID payment nobody acknowledges is reversed when the window passes (emulator clock)."""

from __future__ import annotations

import pytest

from tests.shop import Control, paid, send, status
from tests.wire import context_xml, envelope, post, send_invoice_xml


def test_unacknowledged_payment_is_reversed_after_the_window(
    emulator, zeep_service, context, control
):
    ref = paid(zeep_service, context, control)
    control.advance(19.9)
    assert control.invoice(ref)["status"] == "PAID"
    control.advance(0.2)
    view = control.invoice(ref)
    assert view["status"] == "CANCELED"
    assert "reversed" in view["history"][-1]["event"]
    reversed_ = status(zeep_service, context, ref)
    assert (reversed_.status, reversed_.version) == ("CANCELED", 2)
    assert reversed_.ersReference is None and reversed_.receipt is None


def test_polling_acknowledges_the_payment(zeep_service, context, control):
    ref = paid(zeep_service, context, control)
    assert status(zeep_service, context, ref).status == "PAID"
    control.advance(3600)
    assert status(zeep_service, context, ref).status == "PAID"
    assert control.invoice(ref)["payment"]["acknowledged"] is True


def test_a_late_poll_sees_the_reversal_not_the_payment(zeep_service, context, control):
    ref = paid(zeep_service, context, control)
    control.advance(25)
    assert status(zeep_service, context, ref).status == "CANCELED"


def test_submit_payment_receipt_acknowledges_too(zeep_service, context, control):
    ref = paid(zeep_service, context, control)
    ers = control.invoice(ref)["payment"]["ersReference"]
    assert zeep_service.submitPaymentReceipt(context=context, ersReference=ers).resultCode == 0
    control.advance(60)
    assert control.invoice(ref)["status"] == "PAID"


@pytest.mark.parametrize(
    ("window", "wait", "expected"),
    [(0.5, 0.5, "CANCELED"), (0, 86400, "PAID")],
    ids=["short window from settings", "zero window disables reversal"],
)
def test_window_from_settings(start_emulator, zeep_for, context, window, wait, expected):
    server = start_emulator(ack_window=window)
    service, control = zeep_for(server), Control(server.url)
    ref = paid(service, context, control)
    control.advance(wait)
    assert status(service, context, ref).status == expected


def test_reversal_happens_without_any_request(start_emulator, zeep_for, context):
    """The sweeper applies due deadlines by itself; the backend hears of it at once."""
    import threading

    server = start_emulator(ack_window=20)
    service, control = zeep_for(server), Control(server.url)
    reversed_ = threading.Event()
    server.call(
        lambda: server.backend.subscribe(lambda e: e.kind == "reversed" and reversed_.set())
    )
    paid(service, context, control)
    server.call(lambda: server.backend.clock.advance(21))  # no backend verb runs the heap
    assert reversed_.wait(5), "the sweeper did not reverse the payment"


def test_reservation_without_timeout_waits_for_the_commit(zeep_service, context, control):
    ref = send(zeep_service, context, paymentMode="RESERVATION_REQUIRED")
    control.pay(ref)
    control.advance(3600)
    assert status(zeep_service, context, ref).status == "RESERVED"


def test_commit_reservation_timeout_lapses_the_reservation(emulator, control):
    # commitReservationTimeout is a 2.9-client field, absent from the WSDL: sent as bytes.
    extra = (
        "<paymentMode>RESERVATION_REQUIRED</paymentMode>"
        "<commitReservationTimeout>30</commitReservationTimeout>"
    )
    ref = post(emulator.soap_url, envelope(send_invoice_xml(extra=extra))).field("invoiceReference")
    control.pay(ref)
    control.advance(29)
    assert control.invoice(ref)["status"] == "RESERVED"
    control.advance(2)
    assert control.invoice(ref)["status"] == "CANCELED"
    commit = post(
        emulator.soap_url,
        envelope(
            f"<ext:commitReservation>{context_xml()}<invoiceReference>{ref}</invoiceReference>"
            "</ext:commitReservation>"
        ),
    )
    assert commit.field("resultCode") == "96"
