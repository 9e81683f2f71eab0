"""The conformance monitor over hand-made traffic: each rule caught, and a clean shop clean."""

from __future__ import annotations

from datetime import timedelta

import pytest

from emulator.examiner import rules
from emulator.examiner.facts import read, read_all
from emulator.examiner.monitor import Monitor
from emulator.journal import Outcome
from tests.traffic import Traffic


def judge(traffic: Traffic, *, closing: bool = False, later: float = 0.0) -> Monitor:
    monitor = Monitor()
    monitor.feed(read_all(traffic.records))
    return monitor


def broken(traffic: Traffic, *, closing: bool = False, later: float = 0.0) -> dict[str, list[int]]:
    """rule id -> the seqs of the entries its violations rest on."""
    monitor = judge(traffic)
    now = traffic.now + timedelta(seconds=later)
    found: dict[str, list[int]] = {}
    for violation in monitor.violations(now=now, closing=closing):
        found.setdefault(violation.rule.id, []).extend(e.seq for e in violation.evidence)
    return found


def good_shop() -> Traffic:
    """The webshop procedure done right: send, poll, pay, notified, poll, receipt, refund, mark."""
    t = Traffic()
    t.send("1001")
    t.poll("1001")
    t.tick(1)
    t.notify("1001")
    t.tick(0.2)
    t.poll("1001", "PAID", ers="E1", total="100.00")
    t.receipt("E1")
    t.refund("E1", "40.00", made="R1")
    t.refund("E1", "60.00", made="R2")
    t.receipt("R1")
    t.send("1002")
    t.poll("1002")
    t.cancel("1002")
    t.mark()
    return t


def test_a_shop_that_follows_the_documentation_breaks_nothing() -> None:
    assert broken(good_shop(), closing=True, later=60) == {}


def test_every_rule_has_a_source_and_a_unique_id() -> None:
    ids = [rule.id for rule in rules.RULES]
    assert len(ids) == len(set(ids))
    for rule in rules.RULES:
        assert rule.source.document and rule.source.section and rule.source.sheet.startswith("§")


def test_the_request_bytes_are_read_by_local_name() -> None:
    t = Traffic(timeout="30")
    fact = read(t.send("1001"))
    assert fact.request["context/clientRequestTimeout"] == "30"
    assert fact.request["invoice/notificationUrl"] == "https://shop.example/notify?order=1001"
    assert fact.rows == ({"itemQuantity": "1", "itemTotalAmount/currency": "SEK",
                          "itemTotalAmount/value": "100.00"},)  # fmt: skip
    assert fact.invoice == "1001"


def test_a_body_cut_by_the_journal_is_read_as_far_as_it_goes() -> None:
    t = Traffic()
    record = t.send("1001")
    from dataclasses import replace

    cut = replace(record, request=record.request[:300])
    assert read(cut).request["context/clientId"] == "Example AB"


def test_client_request_timeout_30_is_reported_once_per_terminal() -> None:
    t = Traffic(timeout="30")
    first = t.send("1001")
    t.poll("1001")
    assert broken(t)["request-timeout-zero"] == [first.seq]


def test_missing_client_id_and_reference_are_information() -> None:
    t = Traffic(client_id=None, client_reference=None)
    t.send("1001")
    [violation] = judge(t).violations()
    assert violation.rule.id == "client-identified"
    assert violation.rule.severity is rules.Severity.INFO
    assert "no clientId and no clientReference" in violation.message


def test_an_invoice_without_acknowledgment_mode_or_notification_url() -> None:
    t = Traffic()
    sent = t.send("1001", ack=None, url=None)
    assert broken(t) == {"ack-mode-set": [sent.seq], "notification-url-present": [sent.seq]}


def test_one_notification_url_for_every_order_is_reported_with_both_requests() -> None:
    t = Traffic()
    a = t.send("1001", url="https://shop.example/notify")
    b = t.send("1002", url="https://shop.example/notify")
    assert broken(t) == {"notification-url-per-order": [a.seq, b.seq]}


def test_a_poll_that_comes_late_after_the_notification() -> None:
    t = Traffic()
    t.send("1001")
    note = t.notify("1001")
    t.tick(12)
    poll = t.poll("1001", "PAID")
    found = judge(t).violations()
    assert [(v.rule.id, [e.seq for e in v.evidence]) for v in found] == [
        ("poll-after-notification", [note.seq, poll.seq])
    ]
    assert "12 s after" in found[0].message


def test_a_notification_never_answered_waits_then_is_reported() -> None:
    t = Traffic()
    t.send("1001")
    note = t.notify("1001")
    assert broken(t, later=2) == {}  # still time to answer it
    assert broken(t, later=6) == {"poll-after-notification": [note.seq]}
    assert broken(t, closing=True) == {"poll-after-notification": [note.seq]}


def test_a_dropped_notification_asks_for_nothing() -> None:
    t = Traffic()
    t.send("1001")
    t.notify("1001", action="drop", outcome=Outcome.DROPPED)
    assert broken(t, closing=True, later=60) == {}


def test_polling_after_paid_is_reported_past_the_done_page_read() -> None:
    t = Traffic()
    t.send("1001")
    paid = t.poll("1001", "PAID")
    t.tick(1)
    t.poll("1001", "PAID")  # the done page's one final read: allowed
    t.tick(1)
    again = t.poll("1001", "PAID")
    assert broken(t) == {"poll-stops-at-final": [paid.seq, again.seq]}


def test_duplicated_notifications_answered_by_polls_are_not_polling_after_final() -> None:
    t = Traffic()
    t.send("1001")
    t.notify("1001")
    t.poll("1001", "PAID")
    for _ in range(3):
        t.tick(10)
        t.notify("1001")
        t.poll("1001", "PAID")
    assert broken(t, later=60) == {}


def test_a_busy_poll_loop_is_reported_once() -> None:
    t = Traffic()
    t.send("1001")
    polls = []
    for _ in range(15):
        polls.append(t.poll("1001"))
        t.tick(0.05)
    assert broken(t) == {"poll-rate": [polls[rules.BURST].seq]}


def test_once_a_second_is_a_sane_rate() -> None:
    t = Traffic()
    t.send("1001")
    for _ in range(30):
        t.poll("1001")
        t.tick(1)
    assert broken(t) == {}


def test_a_receipt_before_the_payment_was_seen() -> None:
    t = Traffic()
    t.send("1001")
    receipt = t.receipt("1001")
    assert broken(t) == {"receipt-after-paid": [receipt.seq]}


@pytest.mark.parametrize(
    ("reference", "why"),
    [("1001", "an invoiceReference"), ("R1", "a refund's ersReference"), ("X", "not the")],
)
def test_a_refund_by_another_reference(reference: str, why: str) -> None:
    t = Traffic()
    t.send("1001")
    t.poll("1001", "PAID", ers="E1")
    t.refund("E1", "10.00", made="R1")
    wrong = t.refund(reference, "10.00", result_code=23)
    [violation] = judge(t).violations()
    assert violation.rule.id == "refund-by-payment-reference"
    assert [e.seq for e in violation.evidence] == [wrong.seq]
    assert why in violation.message


def test_an_over_refund_is_reported_whatever_seqr_answered() -> None:
    t = Traffic()
    t.send("1001")
    t.poll("1001", "PAID", ers="E1", total="100.00")
    t.refund("E1", "70.00")
    over = t.refund("E1", "40.00", result_code=98)
    assert broken(t) == {"refund-within-paid": [over.seq]}
    assert "asked for 40.00 with 70.00 refunded already of 100.00 paid" in (
        judge(t).violations()[0].message
    )


def test_cancel_after_paid_and_commit_without_reservation() -> None:
    t = Traffic()
    t.send("1001")
    t.poll("1001", "PAID")
    cancel = t.cancel("1001", result_code=50)
    commit = t.commit("1001", result_code=96)
    assert broken(t) == {"cancel-before-paid": [cancel.seq], "commit-reserved-only": [commit.seq]}


def test_mark_transaction_period_is_judged_at_close_only() -> None:
    t = Traffic()
    t.send("1001")
    paid = t.poll("1001", "PAID")
    assert broken(t, later=60) == {}
    assert broken(t, closing=True) == {"mark-period-at-close": [paid.seq]}
    t.mark(till="other-till")
    assert broken(t, closing=True) == {"mark-period-at-close": [paid.seq]}
    t.mark(till="shop-1")
    assert broken(t, closing=True) == {}


def test_violations_are_per_terminal_and_entries_are_read_once() -> None:
    t = Traffic()
    t.send("1001", ack=None)
    t.send("2001", ack=None, terminal="shop-2")
    monitor = Monitor()
    facts = read_all(t.records)
    monitor.feed(facts)
    monitor.feed(facts)  # handed twice: counted once
    assert [v.terminal for v in monitor.violations()] == ["shop-1", "shop-2"]
    assert [v.terminal for v in monitor.violations("shop-2")] == ["shop-2"]
