"""Behaviour coverage over hand-made traffic and invoice events."""

from __future__ import annotations

from emulator.examiner.coverage import CATALOGUE, Coverage, event_behaviours
from emulator.examiner.facts import read_all
from emulator.journal import Outcome
from tests.traffic import Traffic


def test_nothing_seen_means_the_whole_catalogue_is_never_seen() -> None:
    report = Coverage().report()
    assert report.never == list(CATALOGUE)
    assert report.summary().startswith("never saw: a PAID payment, ")


def test_result_codes_notification_faults_and_states_are_counted() -> None:
    t = Traffic()
    t.send("1001")
    t.poll("1001", "PAID", ers="E1")
    t.refund("E1", "500.00", result_code=98)
    t.cancel("1001", result_code=50)
    t.notify("1001", action="duplicate")
    t.notify("1001", action="drop", outcome=Outcome.DROPPED)
    coverage = Coverage()
    coverage.feed(read_all(t.records))
    coverage.event("shop-1", "paid", "paid by the customer", "duplicate-notification")
    report = coverage.report()
    seen = {b.id for b in CATALOGUE} - {b.id for b in report.never}
    assert seen == {
        "state:paid",
        "code:refundPayment:98",
        "code:cancelInvoice:50",
        "note:duplicated",
        "note:dropped",
    }
    assert report.codes["refundPayment"] == {98: 1}
    assert report.codes["getPaymentStatus"] == {0: 1}
    assert report.scenarios == ["duplicate-notification"]
    assert "a refund answered 98" not in report.summary()
    assert "a FAILED payment" in report.summary()


def test_events_tell_the_customer_cancel_from_the_merchant_and_a_commit() -> None:
    assert event_behaviours("canceled", "canceled by the customer") == [
        "state:canceled-by-customer"
    ]
    assert event_behaviours("canceled", "canceled by a newer invoice on the cash register") == [
        "state:canceled-by-merchant"
    ]
    assert event_behaviours("paid", "reservation committed by the merchant") == [
        "state:paid",
        "state:reserved-committed",
    ]
    assert event_behaviours("scanned", None) == []


def test_a_report_sums_only_the_terminals_chosen() -> None:
    coverage = Coverage()
    coverage.event("suite-a-1", "failed", "payment failed")
    coverage.event("suite-a-2", "reversed", "reversed: payment not acknowledged in time")
    coverage.event("other-job", "paid", "paid by the customer")
    report = coverage.report(lambda t: t.startswith("suite-a-"))
    assert report.terminals == ["suite-a-1", "suite-a-2"]
    assert set(report.seen) == {"state:failed", "state:reversed"}
