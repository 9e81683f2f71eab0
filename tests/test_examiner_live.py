"""The conformance monitor and the coverage in a running emulator: scripted merchants make
real SOAP calls with zeep, the customer pays over the control API, a real endpoint takes the
notifications, and `/_emulator/conformance` and `/_emulator/coverage` judge the traffic."""

from __future__ import annotations

from typing import Any

from tests.merchant import Merchant
from tests.shop import Control, make_invoice, refund, send, status, wait_attempts


def conformance(control: Control, terminal: str, **query: str) -> dict[str, Any]:
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return control.ok("GET", f"/conformance?terminal={terminal}{extra}")


def broken(control: Control, terminal: str, **query: str) -> dict[str, list[tuple[int, str]]]:
    """rule -> (seq, operation) of the entries each violation rests on."""
    found: dict[str, list[tuple[int, str]]] = {}
    for violation in conformance(control, terminal, **query)["violations"]:
        found.setdefault(violation["rule"], []).extend(
            (e["seq"], e["operation"]) for e in violation["evidence"]
        )
    return found


def journal_seq(control: Control, terminal: str, operation: str) -> list[int]:
    """The seqs of the terminal's calls of `operation`, oldest first, from the journal."""
    page = control.ok("GET", f"/journal?terminal={terminal}&operation={operation}&bodies=false")
    return sorted(e["seq"] for e in page["entries"])


def shop_context(context: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**context, "clientReference": "Example webshop 1.0", **extra}


def checkout(zeep_service: Any, ctx: dict, control: Control, merchant: Merchant, order: str) -> Any:
    """The webshop procedure done right, up to the PAID answer."""
    invoice = make_invoice(notificationUrl=merchant.url(f"/seqr/notify?order={order}"))
    ref = zeep_service.sendInvoice(context=ctx, invoice=invoice).invoiceReference
    assert status(zeep_service, ctx, ref).status == "ISSUED"
    control.pay(ref)
    wait_attempts(control, ref)
    paid = status(zeep_service, ctx, ref)
    assert paid.status == "PAID"
    return ref, paid.ersReference


def test_a_shop_that_follows_the_rules_is_conformant(zeep_service, context, control) -> None:
    terminal = context["initiatorPrincipalId"]["id"]
    ctx = shop_context(context)
    with Merchant() as merchant:
        _, ers = checkout(zeep_service, ctx, control, merchant, "1001")
        receipt = {"mimeType": "Base64", "receiptData": b"", "receiptType": "PAYMENT_RECEIPT"}
        assert (
            zeep_service.submitPaymentReceipt(
                context=ctx, ersReference=ers, receiptDocument=receipt
            ).resultCode
            == 0
        )
        assert refund(zeep_service, ctx, ers, "40.00").resultCode == 0
    found = conformance(control, terminal)
    assert found["violations"] == [] and found["conformant"] is True
    assert {r["id"] for r in found["rules"]} >= {"poll-after-notification", "refund-within-paid"}


def test_a_shop_that_breaks_rules_is_told_which_requests(zeep_service, context, control) -> None:
    terminal = context["initiatorPrincipalId"]["id"]
    ctx = shop_context(context, clientRequestTimeout=30)
    with Merchant() as merchant:
        ref, ers = checkout(zeep_service, ctx, control, merchant, "1001")
        for _ in range(2):
            status(zeep_service, ctx, ref)  # polling on after PAID
        assert refund(zeep_service, ctx, ers, "60.00").resultCode == 0
        assert refund(zeep_service, ctx, ers, "60.00").resultCode == 98
    polls = journal_seq(control, terminal, "getPaymentStatus")
    refunds = journal_seq(control, terminal, "refundPayment")
    sends = journal_seq(control, terminal, "sendInvoice")
    found = broken(control, terminal)
    assert found == {
        "request-timeout-zero": [(sends[0], "sendInvoice")],
        "poll-stops-at-final": [(polls[1], "getPaymentStatus"), (polls[3], "getPaymentStatus")],
        "refund-within-paid": [(refunds[1], "refundPayment")],
    }
    assert conformance(control, terminal)["conformant"] is False


def test_a_shop_that_never_acknowledges_is_caught_once_time_passes(
    zeep_service, context, control
) -> None:
    terminal = context["initiatorPrincipalId"]["id"]
    ctx = shop_context(context)
    with Merchant() as merchant:
        invoice = make_invoice(notificationUrl=merchant.url("/seqr/notify?order=7"))
        ref = zeep_service.sendInvoice(context=ctx, invoice=invoice).invoiceReference
        control.pay(ref)
        assert wait_attempts(control, ref)[0]["outcome"] == "delivered"
    assert broken(control, terminal) == {}  # it still has time to poll
    control.advance(25)  # and never does: SEQR reverses the payment
    notified = [
        e["seq"] for e in control.ok("GET", f"/journal?invoice={ref}&kind=notification")["entries"]
    ]
    assert broken(control, terminal) == {"poll-after-notification": [(notified[0], "notification")]}
    assert control.invoice(ref)["status"] == "CANCELED"


def test_the_monitor_forgets_with_a_reset(zeep_service, context, control) -> None:
    terminal = context["initiatorPrincipalId"]["id"]
    zeep_service.sendInvoice(context=context, invoice=make_invoice(acknowledgmentMode=None))
    assert "ack-mode-set" in broken(control, terminal)
    control.ok("POST", "/reset")
    assert broken(control, terminal) == {}


def test_closing_judges_mark_transaction_period(zeep_service, context, control) -> None:
    terminal = context["initiatorPrincipalId"]["id"]
    ctx = shop_context(context)
    with Merchant() as merchant:
        checkout(zeep_service, ctx, control, merchant, "1")
    assert broken(control, terminal) == {}
    assert list(broken(control, terminal, closing="true")) == ["mark-period-at-close"]
    reseller = {
        "clientRequestTimeout": 0,
        "initiatorPrincipalId": {
            "id": "public_test_shop",
            "type": "RESELLERUSER",
            "userId": "9900",
        },
        "password": "1234",
    }
    assert zeep_service.markTransactionPeriod(context=reseller).resultCode == 0
    assert broken(control, terminal, closing="true") == {}


def test_coverage_counts_what_the_traffic_met(zeep_service, context, control) -> None:
    terminal = context["initiatorPrincipalId"]["id"]
    failed = zeep_service.sendInvoice(context=context, invoice=make_invoice()).invoiceReference
    control.fail(failed)
    status(zeep_service, context, failed)
    assert zeep_service.cancelInvoice(context=context, invoiceReference=failed).resultCode == 0
    assert status(zeep_service, context, "404404").resultCode == 54
    found = control.ok("GET", f"/coverage?terminal={terminal}")
    seen = {b["id"] for b in found["behaviours"] if b["times"]}
    assert seen == {"state:failed", "code:getPaymentStatus:54"}
    assert found["resultCodes"]["getPaymentStatus"] == {"0": 1, "54": 1}
    assert "a FAILED payment" not in found["summary"]
    assert "a PAID payment" in found["neverSaw"]
    assert control.ok("GET", "/coverage?prefix=nobody-")["terminals"] == []


def test_what_the_journal_dropped_before_the_examiner_read_it_is_counted(
    start_emulator, zeep_for, context
) -> None:
    """The examiner reads the journal when asked, not on every call: what a small journal
    let go of in between is said, not silently missing."""
    server = start_emulator(journal_size=5)
    service, control = zeep_for(server), Control(server.url)
    terminal = context["initiatorPrincipalId"]["id"]
    for _ in range(12):
        send(service, context)
    assert conformance(control, terminal)["unread"] == 7  # entries 1-7 went before the read
    send(service, context)
    assert conformance(control, terminal)["unread"] == 7  # read in time: nothing more missed
    assert control.ok("GET", "/coverage")["unread"] == 7
