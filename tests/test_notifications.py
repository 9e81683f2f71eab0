"""Protocol §7.1: SEQR calls the merchant's notificationUrl, and the merchant never waits for it.

A real aiohttp server plays the merchant's endpoint (tests/merchant.py). The journal of
attempts is read over the control API, as a merchant's CI would.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from emulator.app import NOTIFIER
from emulator.journal import NotificationJournal, Outcome
from emulator.notifier import Notification
from emulator.scenario.model import DELIVER, Delivery, NotificationPlan
from emulator.server import EmulatorServer
from tests.merchant import Merchant, closed_port_url
from tests.shop import Control, attempts, send, wait_attempts

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def merchant():
    with Merchant() as endpoint:
        yield endpoint


def test_paid_invoice_posts_the_four_fields_once_keeping_the_query(
    zeep_service, context, control, merchant
):
    ref = send(
        zeep_service,
        context,
        notificationUrl=merchant.url("/seqr/notify?order=1001&notification=true"),
    )
    paid = control.pay(ref)

    [made] = wait_attempts(control, ref)
    assert made["outcome"] == "delivered" and made["statusCode"] == 200
    assert made["event"] == "paid" and made["action"] == "deliver"
    assert made["url"] == merchant.url("/seqr/notify?order=1001&notification=true")
    assert made["latencyMs"] is not None and made["error"] is None
    [got] = merchant.received
    assert got.method == "POST" and got.path == "/seqr/notify"
    assert got.content_type == FORM
    assert got.query == {"order": "1001", "notification": "true"}
    assert got.form == {
        "invoiceReference": ref,
        "clientInvoiceId": "1001",
        "msisdn": paid["payment"]["msisdn"],
        "subscriberKey": "4711",
    }
    # The merchant's poll that follows acknowledges the payment and sends nothing more.
    status = zeep_service.getPaymentStatus(context=context, invoiceReference=ref, invoiceVersion=0)
    assert status.status == "PAID"
    assert control.invoice(ref)["notifications"] == [made]
    assert len(merchant.received) == 1


def test_slow_merchant_never_holds_up_pay_or_the_status_poll(zeep_service, context, control):
    with Merchant(hold=True) as slow:
        ref = send(zeep_service, context, notificationUrl=slow.url())
        assert control.pay(ref)["status"] == "PAID"
        assert slow.answered == 0
        assert slow.wait_for(lambda m: len(m.received) == 1), "the notification never arrived"
        # The merchant is still sitting on the notification, and SOAP answers regardless.
        status = zeep_service.getPaymentStatus(
            context=context, invoiceReference=ref, invoiceVersion=1
        )
        assert status.status == "PAID" and status.ersReference
        assert slow.answered == 0 and attempts(control, ref) == []
        slow.release()
        [made] = wait_attempts(control, ref)
    assert made["outcome"] == "delivered" and made["statusCode"] == 200


def test_merchant_down_is_recorded_and_changes_nothing_else(zeep_service, context, control):
    url = closed_port_url("/notify?order=7")
    ref = send(zeep_service, context, notificationUrl=url)
    paid = control.pay(ref)

    [made] = wait_attempts(control, ref)
    assert made["outcome"] == "failed" and made["statusCode"] is None
    assert made["url"] == url and made["error"]
    after = control.invoice(ref)
    assert after.pop("notifications") == [made]
    assert after == {key: value for key, value in paid.items() if key in after}
    status = zeep_service.getPaymentStatus(context=context, invoiceReference=ref, invoiceVersion=1)
    assert (status.resultCode, status.status, status.version) == (0, "PAID", 1)


def test_merchant_error_status_is_a_failed_attempt(zeep_service, context, control):
    with Merchant(status=500) as broken:
        ref = send(zeep_service, context, notificationUrl=broken.url())
        control.pay(ref)
        [made] = wait_attempts(control, ref)
    assert made["outcome"] == "failed" and made["statusCode"] == 500
    assert made["error"] == "HTTP 500"
    assert control.invoice(ref)["status"] == "PAID"


def test_a_merchant_slower_than_the_timeout_fails_the_attempt(start_emulator, zeep_for, context):
    server = start_emulator(notification_timeout=0.2)
    control = Control(server.url)
    with Merchant(hold=True) as slow:
        ref = send(zeep_for(server), context, notificationUrl=slow.url())
        control.pay(ref)
        [made] = wait_attempts(control, ref)
        assert made["outcome"] == "failed" and "timed out" in made["error"]
        assert len(slow.received) == 1


def test_cancel_and_fail_send_nothing(zeep_service, context, control, merchant):
    canceled = send(zeep_service, context, notificationUrl=merchant.url("/n?i=canceled"))
    failed = send(zeep_service, context, notificationUrl=merchant.url("/n?i=failed"))
    control.cancel(canceled)
    control.fail(failed)
    paid = send(zeep_service, context, notificationUrl=merchant.url("/n?i=paid"))
    control.pay(paid)
    wait_attempts(control, paid)
    assert [r.query["i"] for r in merchant.received] == ["paid"]
    assert attempts(control, canceled) == [] and attempts(control, failed) == []


def test_reservation_notifies_when_reserved_and_again_when_committed(
    zeep_service, context, control, merchant
):
    ref = send(
        zeep_service, context, notificationUrl=merchant.url(), paymentMode="RESERVATION_REQUIRED"
    )
    assert control.pay(ref)["status"] == "RESERVED"
    [reserved] = wait_attempts(control, ref)
    assert reserved["event"] == "reserved" and reserved["outcome"] == "delivered"
    answer = zeep_service.commitReservation(context=context, invoiceReference=ref)
    assert answer.resultCode == 0
    second = wait_attempts(control, ref, 2)[1]
    assert second["event"] == "paid"
    assert [r.form["invoiceReference"] for r in merchant.received] == [ref, ref]


def test_reservation_notice_can_be_switched_off(start_emulator, zeep_for, context, merchant):
    server = start_emulator(notify_on_reserved=False)
    control, service = Control(server.url), zeep_for(server)
    ref = send(service, context, notificationUrl=merchant.url(), paymentMode="RESERVATION_REQUIRED")
    control.pay(ref)
    assert service.commitReservation(context=context, invoiceReference=ref).resultCode == 0
    [only] = wait_attempts(control, ref)
    assert only["event"] == "paid"


def test_a_payment_made_off_the_event_loop_is_delivered_too(emulator, zeep_service, context):
    control = Control(emulator.url)
    with Merchant() as endpoint:
        ref = send(zeep_service, context, notificationUrl=endpoint.url())
        emulator.backend.pay(ref)  # this thread, not the server's
        [made] = wait_attempts(control, ref)
    assert made["outcome"] == "delivered"


def test_journal_is_listed_newest_last_and_forgotten_on_reset(
    zeep_service, context, control, merchant
):
    first = send(zeep_service, context, notificationUrl=merchant.url("/a"))
    second = send(zeep_service, context, notificationUrl=merchant.url("/b"))
    control.pay(first)
    wait_attempts(control, first)
    control.pay(second)
    wait_attempts(control, second)
    listed = control.ok("GET", "/notifications")
    assert [a["invoiceReference"] for a in listed["notifications"]] == [first, second]
    assert listed["total"] == 2
    limited = control.ok("GET", "/notifications?limit=1")["notifications"]
    assert [a["invoiceReference"] for a in limited] == [second]
    assert control.request("GET", "/notifications?limit=x")[0] == 400
    control.ok("POST", "/reset")
    assert control.ok("GET", "/notifications")["notifications"] == []


# --- delivery plans: what a scenario engine may ask for ------------------------------------


def planned(server: EmulatorServer, plans: dict[str, NotificationPlan]) -> None:
    """Plan by clientInvoiceId; anything else is delivered."""
    notifier = server.app[NOTIFIER]
    notifier.planner = lambda n: plans.get(dict(n.form)["clientInvoiceId"], DELIVER)


@pytest.fixture
def planned_server(start_emulator, zeep_for, merchant):
    server = start_emulator()
    return server, Control(server.url), zeep_for(server)


def test_drop_sends_nothing_and_says_so(planned_server, context, merchant):
    server, control, service = planned_server
    planned(server, {"lost": NotificationPlan(Delivery.DROP)})
    lost = send(service, context, notificationUrl=merchant.url("/n?i=lost"), clientInvoiceId="lost")
    control.pay(lost)
    [made] = wait_attempts(control, lost)
    assert made["outcome"] == "dropped" and made["action"] == "drop"
    kept = send(service, context, notificationUrl=merchant.url("/n?i=kept"), clientInvoiceId="kept")
    control.pay(kept)
    wait_attempts(control, kept)
    assert [r.query["i"] for r in merchant.received] == ["kept"]


def test_duplicate_posts_the_same_notification_n_times(planned_server, context, merchant):
    server, control, service = planned_server
    planned(server, {"twice": NotificationPlan(Delivery.DUPLICATE, copies=3)})
    ref = send(service, context, notificationUrl=merchant.url(), clientInvoiceId="twice")
    control.pay(ref)
    made = wait_attempts(control, ref, 3)
    assert [a["outcome"] for a in made] == ["delivered"] * 3
    assert {a["action"] for a in made} == {"duplicate"}
    assert len(merchant.received) == 3 and len({str(r.form) for r in merchant.received}) == 1


def test_delay_sends_later(planned_server, context, merchant):
    server, control, service = planned_server
    planned(server, {"later": NotificationPlan(Delivery.DELAY, delay=0.05)})
    ref = send(service, context, notificationUrl=merchant.url(), clientInvoiceId="later")
    control.pay(ref)
    [made] = wait_attempts(control, ref)
    assert made["outcome"] == "delivered" and made["action"] == "delay"


def test_shutdown_cancels_and_awaits_deliveries_still_waiting(planned_server, context, merchant):
    server, control, service = planned_server
    planned(server, {"never": NotificationPlan(Delivery.DELAY, delay=3600)})
    ref = send(service, context, notificationUrl=merchant.url(), clientInvoiceId="never")
    control.pay(ref)
    notifier = server.app[NOTIFIER]
    deadline = time.monotonic() + 10
    while notifier.pending == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert notifier.pending == 1
    server.stop()
    assert notifier.pending == 0
    assert merchant.received == [] and notifier.journal.for_invoice(ref) == []


def test_delivery_plans_are_validated():
    assert NotificationPlan() == DELIVER and DELIVER.delivery is Delivery.DELIVER
    with pytest.raises(ValueError):
        NotificationPlan(Delivery.DELAY, delay=-1)
    with pytest.raises(ValueError):
        NotificationPlan(Delivery.DELAY, delay=float("nan"))
    with pytest.raises(ValueError):
        NotificationPlan(Delivery.DUPLICATE, copies=0)


def test_an_invoice_without_notification_url_sends_nothing(zeep_service, context, emulator):
    ref = send(
        zeep_service, context, notificationUrl="https://shop.example/n?x=1", clientInvoiceId=""
    )
    invoice = emulator.backend.invoice(ref)
    made = Notification.of(invoice, "paid")
    assert made is not None and dict(made.form)["clientInvoiceId"] == ""
    invoice.data.notification_url = None
    assert Notification.of(invoice, "paid") is None
    assert made.url == "https://shop.example/n?x=1"


# --- the journal itself ------------------------------------------------------------------


def _record(journal: NotificationJournal, ref: str) -> None:
    journal.record(ref, "paid", "http://m/", datetime.now(UTC), "deliver", Outcome.DELIVERED)


def test_journal_is_bounded_overall_and_per_invoice():
    journal = NotificationJournal(limit=3, per_invoice=2)
    for ref in ("a", "a", "a", "b", "c", "d"):
        _record(journal, ref)
    assert [a.invoice_reference for a in journal.recent()] == ["b", "c", "d"]
    assert journal.total == 6 and len(journal) == 3
    assert [a.seq for a in journal.for_invoice("a")] == []  # forgotten: 3 invoices newer
    assert [a.seq for a in journal.for_invoice("d")] == [6]
    journal = NotificationJournal(limit=10, per_invoice=2)
    for _ in range(5):
        _record(journal, "a")
    assert [a.seq for a in journal.for_invoice("a")] == [4, 5]
    assert [a.seq for a in journal.recent(2)] == [4, 5]
    journal.clear()
    assert journal.recent() == [] and journal.for_invoice("a") == []
