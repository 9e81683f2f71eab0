"""The payment lifecycle as a merchant's zeep client (built from the emulator's WSDL) sees it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.shop import Control, make_invoice, refund, send, send_invoice, status


def test_send_invoice_returns_reference_and_upper_case_qr(zeep_service, context):
    answer = send_invoice(zeep_service, context)
    assert answer.resultCode == 0
    assert answer.resultDescription == "SUCCESS"
    assert answer.invoiceReference.isdigit() and len(answer.invoiceReference) == 17
    assert answer.invoiceQRCode == f"HTTP://SEQR.SE/R{answer.invoiceReference}"
    assert answer.ersReference is None


def test_new_invoice_is_issued_at_version_zero_with_empty_tokens(zeep_service, context):
    ref = send(zeep_service, context)
    answer = status(zeep_service, context, ref)
    assert (answer.resultCode, answer.status, answer.version) == (0, "ISSUED", 0)
    assert answer.ersReference is None and answer.receipt is None
    # zeep reads the empty <customerTokens/> wrapper as None; test_wire checks the bytes.
    assert not (answer.customerTokens and answer.customerTokens.token)


def test_paid_invoice_has_receipt_and_matching_ers_reference(zeep_service, context, control):
    ref = send(zeep_service, context, total="398.00")
    control.pay(ref)
    answer = status(zeep_service, context, ref)
    assert answer.status == "PAID" and answer.version == 1
    assert len(answer.ersReference) == 25 and answer.ersReference.isdigit()
    receipt = answer.receipt
    assert receipt.paymentReference == answer.ersReference
    assert receipt.invoiceReference == ref
    assert receipt.terminalId == context["initiatorPrincipalId"]["id"]
    assert receipt.clientInvoiceId == "1001"
    assert receipt.invoice.totalAmount.value == Decimal("398.00")
    assert receipt.invoice.invoiceRows.invoiceRow[0].itemDescription == "T-shirt"
    assert receipt.paymentDate is not None and receipt.payerTerminalId


def test_partial_and_repeated_refunds_then_over_refund_is_98(zeep_service, context, control):
    ref = send(zeep_service, context, total="100.00")
    control.pay(ref)
    ers = status(zeep_service, context, ref).ersReference
    first = refund(zeep_service, context, ers, "30.00")
    assert first.resultCode == 0 and len(first.ersReference) == 25
    assert first.ersReference != ers
    assert refund(zeep_service, context, ers, "70.00").resultCode == 0
    over = refund(zeep_service, context, ers, "0.01")
    assert over.resultCode == 98
    assert over.resultDescription == "Sum of refunds can not be more than original transaction"
    assert status(zeep_service, context, ref).status == "PAID"
    assert control.invoice(ref)["refundedTotal"] == "100.00"


@pytest.mark.parametrize("url", ["ftp://shop.example/n", "javascript:alert(1)", "/relative"])
def test_refund_with_a_notification_url_that_is_not_http_is_64(zeep_service, context, control, url):
    """As sendInvoice: the refund's `invoice` carries notificationUrl, and SEQR listed 64 for
    refundPayment. Nothing is refunded."""
    ref = send(zeep_service, context, total="100.00")
    control.pay(ref)
    ers = status(zeep_service, context, ref).ersReference
    invoice = {"totalAmount": {"currency": "SEK", "value": "10.00"}, "notificationUrl": url}
    answer = zeep_service.refundPayment(context=context, ersReference=ers, invoice=invoice)
    assert (answer.resultCode, answer.resultDescription) == (64, "INVALID_NOTIFICATION_URL")
    assert answer.ersReference is None
    assert control.invoice(ref)["refunds"] == []
    invoice["notificationUrl"] = "https://shop.example/seqr/refunded?order=1001"
    assert (
        zeep_service.refundPayment(context=context, ersReference=ers, invoice=invoice).resultCode
        == 0
    )


def test_refund_of_unknown_reference_is_23(zeep_service, context):
    assert refund(zeep_service, context, "2015120408531541501005256", "1.00").resultCode == 23


def test_refund_before_payment_is_23(zeep_service, context):
    send_invoice(zeep_service, context)
    assert refund(zeep_service, context, "", "1.00").resultCode == 23


def test_cancel_issued_then_again_is_95(zeep_service, context):
    ref = send(zeep_service, context)
    first = zeep_service.cancelInvoice(context=context, invoiceReference=ref)
    assert (first.resultCode, first.resultDescription) == (0, "SUCCESS")
    assert status(zeep_service, context, ref).status == "CANCELED"
    again = zeep_service.cancelInvoice(context=context, invoiceReference=ref)
    assert (again.resultCode, again.resultDescription) == (95, "INVOICE_ALREADY_CANCELED")


def test_cancel_paid_invoice_is_50(zeep_service, context, control):
    ref = send(zeep_service, context)
    control.pay(ref)
    answer = zeep_service.cancelInvoice(context=context, invoiceReference=ref)
    assert (answer.resultCode, answer.resultDescription) == (50, "CANNOT_CANCEL_PAID_INVOICE")


def test_cancel_while_customer_confirms_is_51(zeep_service, context, control):
    ref = send(zeep_service, context)
    control.scan(ref)
    assert zeep_service.cancelInvoice(context=context, invoiceReference=ref).resultCode == 51
    update = zeep_service.updateInvoice(
        context=context, invoiceReference=ref, invoice=make_invoice()
    )
    assert update.resultCode == 48


def test_unknown_reference_is_54_with_version_zero(zeep_service, context):
    answer = status(zeep_service, context, "20990101000000000")
    assert (answer.resultCode, answer.resultDescription, answer.version) == (
        54,
        "INVALID_INVOICE_REFERENCE",
        0,
    )
    assert answer.status is None
    cancel = zeep_service.cancelInvoice(context=context, invoiceReference="nope")
    assert cancel.resultCode == 54


def test_invoice_of_another_terminal_is_54(zeep_service, context):
    ref = send(zeep_service, context)
    other = {**context, "initiatorPrincipalId": {"id": "another-till", "type": "TERMINALID"}}
    assert status(zeep_service, other, ref).resultCode == 54


@pytest.mark.parametrize("url", ["ftp://shop.example/n", "shop.example/notify", "http://", "  "])
def test_bad_notification_url_is_64(zeep_service, context, url):
    answer = send_invoice(zeep_service, context, notificationUrl=url)
    assert (answer.resultCode, answer.resultDescription) == (64, "INVALID_NOTIFICATION_URL")
    assert answer.invoiceReference is None and answer.invoiceQRCode is None


def test_notification_url_keeps_query_and_is_accepted(zeep_service, context):
    answer = send_invoice(
        zeep_service, context, notificationUrl="https://shop.example/n?order=7&x=y"
    )
    assert answer.resultCode == 0


@pytest.mark.parametrize(
    ("total", "code"),
    [
        (None, 49),
        ({"currency": "KRONOR", "value": "10"}, 49),
        ({"currency": "SEK", "value": "0"}, 11),
        ({"currency": "SEK", "value": "-5.00"}, 11),
    ],
)
def test_bad_invoice_data(zeep_service, context, total, code):
    invoice = make_invoice()
    invoice["totalAmount"] = total
    answer = zeep_service.sendInvoice(context=context, invoice=invoice)
    assert answer.resultCode == code


def test_update_invoice_replaces_data_and_bumps_version(zeep_service, context, control):
    ref = send(zeep_service, context)
    answer = zeep_service.updateInvoice(
        context=context, invoiceReference=ref, invoice=make_invoice(total="80.00", title="New")
    )
    assert answer.resultCode == 0
    assert status(zeep_service, context, ref).version == 1
    assert control.invoice(ref)["totalAmount"] == {"value": "80.00", "currency": "SEK"}


def test_update_final_invoice_is_10(zeep_service, context, control):
    ref = send(zeep_service, context)
    control.pay(ref)
    answer = zeep_service.updateInvoice(
        context=context, invoiceReference=ref, invoice=make_invoice()
    )
    assert answer.resultCode == 10


def test_loyalty_acknowledgment_flow(zeep_service, context, control: Control):
    ref = send(zeep_service, context, acknowledgmentMode="REQUIRE_ACKNOWLEDGMENT")
    token = {"id": "X_CARD", "value": "4711", "description": "Gold card"}
    control.scan(ref, tokens=[token])
    pending = status(zeep_service, context, ref)
    assert pending.status == "PENDING_ISSUER_ACKNOWLEDGE" and pending.version == 1
    assert [(t.id, t.value, t.status) for t in pending.customerTokens.token] == [
        ("X_CARD", "4711", 0)
    ]
    assert control.request("POST", f"/invoices/{ref}/pay")[0] == 409
    used = {**token, "status": 1}
    answer = zeep_service.updateInvoice(
        context=context, invoiceReference=ref, invoice=make_invoice(total="90.00"), tokens=[used]
    )
    assert answer.resultCode == 0
    assert status(zeep_service, context, ref, 1).status == "ISSUED"
    control.pay(ref)
    paid = status(zeep_service, context, ref, 2)
    assert paid.status == "PAID" and paid.receipt.invoice.totalAmount.value == Decimal("90.00")


def test_reservation_then_commit(zeep_service, context, control):
    ref = send(zeep_service, context, paymentMode="RESERVATION_REQUIRED")
    assert zeep_service.commitReservation(context=context, invoiceReference=ref).resultCode == 96
    assert control.pay(ref)["status"] == "RESERVED"
    reserved = status(zeep_service, context, ref)
    assert reserved.status == "RESERVED" and reserved.ersReference is None
    answer = zeep_service.commitReservation(context=context, invoiceReference=ref)
    assert (answer.resultCode, answer.resultDescription) == (0, "SUCCESS")
    paid = status(zeep_service, context, ref)
    assert paid.status == "PAID" and paid.ersReference == paid.receipt.paymentReference
    again = zeep_service.commitReservation(context=context, invoiceReference=ref)
    assert (again.resultCode, again.resultDescription) == (96, "INVOICE_STATE_NOT_RESERVED")


def test_cancel_reservation_releases_it(zeep_service, context, control):
    ref = send(zeep_service, context, paymentMode="RESERVATION_DESIRED")
    control.pay(ref)
    assert zeep_service.cancelInvoice(context=context, invoiceReference=ref).resultCode == 0
    assert status(zeep_service, context, ref).status == "CANCELED"


def test_customer_cancel_and_failure_are_final(zeep_service, context, control):
    canceled = send(zeep_service, context)
    failed = send(zeep_service, context)
    assert control.cancel(canceled)["backURL"] == "https://shop.example/done?order=1001"
    control.fail(failed)
    assert status(zeep_service, context, canceled).status == "CANCELED"
    assert status(zeep_service, context, failed).status == "FAILED"
    assert zeep_service.cancelInvoice(context=context, invoiceReference=failed).resultCode == 0


def test_submit_payment_receipt(zeep_service, context, control):
    ref = send(zeep_service, context)
    control.pay(ref)
    ers = control.invoice(ref)["payment"]["ersReference"]
    answer = zeep_service.submitPaymentReceipt(
        context=context,
        ersReference=ers,
        receiptDocument={
            "mimeType": "text/html",
            "receiptData": b"<p>Thanks</p>",
            "receiptType": "PAYMENT_RECEIPT",
        },
    )
    assert answer.resultCode == 0 and len(answer.ersReference) == 25
    view = control.invoice(ref)
    assert view["payment"]["acknowledged"] is True
    assert view["receipts"][0]["bytes"] == len(b"<p>Thanks</p>")
    empty = zeep_service.submitPaymentReceipt(context=context, ersReference=ers)
    assert empty.resultCode == 0
    unknown = zeep_service.submitPaymentReceipt(context=context, ersReference="123")
    assert unknown.resultCode == 23


def test_benchmarking_nop(zeep_service):
    assert zeep_service.benchmarkingNop().resultCode == 0


@pytest.mark.parametrize(
    ("operation", "kwargs"),
    [
        ("requestTopup", {}),
        ("requestTransfer", {}),
        ("requestPurchase", {}),
        ("requestPrincipalInformation", {}),
        ("changePrincipalPassword", {"newPassword": "x"}),
        ("confirmCustomerRegistration", {}),
    ],
)
def test_out_of_scope_operations_answer_91(zeep_service, context, operation, kwargs):
    answer = getattr(zeep_service, operation)(context=context, **kwargs)
    assert (answer.resultCode, answer.resultDescription) == (91, "UNSUPPORTED_OPERATION")
