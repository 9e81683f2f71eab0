"""Clients generated from the real SEQR WSDL work against the emulator, only the endpoint changed.

zeep and suds load each reference document beside the project (`../shared/reference/`: the
2013 WSDL in one file and the live v2 pair) and are pointed at the emulator's address, nothing
else changed. They send an invoice, see it paid, refund it, and meet SOAP faults and business
result codes the way they would against SEQR. Where the reference is absent these tests skip,
saying so; every other SOAP test loads the emulator's own WSDL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import suds
import suds.client
import zeep
import zeep.exceptions

from emulator.server import EmulatorServer
from tests.reference import local_live_v2, reference_path
from tests.shop import PASSWORD, TERMINAL, Control, make_invoice, refund, send, service_at, status
from tests.test_suds_client import suds_amount, suds_context, suds_invoice

OVER_REFUND = "Sum of refunds can not be more than original transaction"
SERVER_FAULT = "Fault occurred while processing."


@pytest.fixture(scope="module", params=["2013", "live-v2"])
def reference_wsdl(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The reference document, as a local file a generated client is built from."""
    if request.param == "2013":
        return reference_path()
    return local_live_v2(tmp_path_factory.mktemp("live-v2"))


@pytest.fixture(scope="module")
def _zeep_reference(reference_wsdl: Path) -> Iterator[zeep.Client]:
    client = zeep.Client(str(reference_wsdl))
    yield client
    client.transport.session.close()


@pytest.fixture
def zeep_ref(_zeep_reference: zeep.Client, emulator: EmulatorServer) -> Any:
    """zeep from the reference document, only its address pointing at the emulator."""
    return service_at(_zeep_reference, emulator.soap_url)


@pytest.fixture(scope="module")
def _suds_reference(reference_wsdl: Path) -> suds.client.Client:
    return suds.client.Client(reference_wsdl.as_uri(), cache=None, timeout=10)


@pytest.fixture
def suds_ref(_suds_reference: suds.client.Client, emulator: EmulatorServer) -> suds.client.Client:
    """suds from the reference document, only its `location` option set to the emulator."""
    _suds_reference.set_options(location=emulator.soap_url)
    return _suds_reference


@pytest.fixture
def ctx() -> dict[str, Any]:
    return {"clientRequestTimeout": 0, "initiatorPrincipalId": dict(TERMINAL), "password": PASSWORD}


# --- zeep -----------------------------------------------------------------------------------


def test_zeep_sends_sees_the_payment_and_refunds(zeep_ref: Any, ctx: dict, control: Control):
    sent = zeep_ref.sendInvoice(context=ctx, invoice=make_invoice("60.00"))
    assert sent.resultCode == 0
    ref = sent.invoiceReference
    assert sent.invoiceQRCode == f"HTTP://SEQR.SE/R{ref}"
    assert control.invoice(ref)["status"] == "ISSUED"  # it reached the emulator
    issued = status(zeep_ref, ctx, ref)
    assert (issued.resultCode, issued.status, issued.version) == (0, "ISSUED", 0)
    control.pay(ref)
    paid = status(zeep_ref, ctx, ref)
    assert (paid.status, paid.version) == ("PAID", 1)
    assert paid.ersReference == paid.receipt.paymentReference
    assert paid.ersReference == control.invoice(ref)["payment"]["ersReference"]
    assert paid.receipt.invoice.totalAmount.value == 60
    assert refund(zeep_ref, ctx, paid.ersReference, "10.00").resultCode == 0
    over = refund(zeep_ref, ctx, paid.ersReference, "60.00")
    assert (over.resultCode, over.resultDescription) == (98, OVER_REFUND)
    assert zeep_ref.cancelInvoice(context=ctx, invoiceReference=ref).resultCode == 50


def test_zeep_meets_faults_as_exceptions_and_business_errors_as_result_codes(
    zeep_ref: Any, ctx: dict, control: Control
):
    with pytest.raises(zeep.exceptions.Fault) as fault:
        zeep_ref.sendInvoice(context=ctx, invoice=make_invoice(title="Order [scenario:nope]"))
    assert fault.value.code == "soap:Client" and "no scenario named 'nope'" in fault.value.message
    assert control.ok("GET", "/invoices")["invoices"] == []

    control.ok("PUT", f"/terminals/{TERMINAL['id']}/scenario", {"name": "soap-fault"})
    ref = send(zeep_ref, ctx)
    with pytest.raises(zeep.exceptions.Fault) as fault:
        status(zeep_ref, ctx, ref)
    assert (fault.value.code, fault.value.message) == ("soap:Server", SERVER_FAULT)
    assert status(zeep_ref, ctx, ref).status == "PAID"

    wrong = zeep_ref.sendInvoice(context={**ctx, "password": "not-it"}, invoice=make_invoice())
    assert (wrong.resultCode, wrong.resultDescription) == (20, "AUTHENTICATION_FAILED")
    unknown = status(zeep_ref, ctx, "20990101000000000")
    assert (unknown.resultCode, unknown.resultDescription, unknown.version) == (
        54,
        "INVALID_INVOICE_REFERENCE",
        0,
    )


# --- suds -----------------------------------------------------------------------------------


def test_suds_sends_sees_the_payment_and_refunds(suds_ref: suds.client.Client, control: Control):
    context = suds_context(suds_ref)
    sent = suds_ref.service.sendInvoice(context, suds_invoice(suds_ref, "49.90"))
    assert sent.resultCode == 0
    ref = sent.invoiceReference
    assert sent.invoiceQRCode == f"HTTP://SEQR.SE/R{ref}"
    assert control.invoice(ref)["status"] == "ISSUED"  # it reached the emulator
    issued = suds_ref.service.getPaymentStatus(context, ref, 0)
    assert (issued.resultCode, issued.status, issued.version) == (0, "ISSUED", 0)
    control.pay(ref)
    paid = suds_ref.service.getPaymentStatus(context, ref, 0)
    assert (paid.status, paid.version) == ("PAID", 1)
    assert paid.ersReference == paid.receipt.paymentReference
    assert paid.ersReference == control.invoice(ref)["payment"]["ersReference"]
    back = suds_ref.factory.create("ns0:invoice")
    back.totalAmount = suds_amount(suds_ref, "10.00")
    assert suds_ref.service.refundPayment(context, paid.ersReference, back).resultCode == 0
    back.totalAmount = suds_amount(suds_ref, "40.00")
    over = suds_ref.service.refundPayment(context, paid.ersReference, back)
    assert (over.resultCode, over.resultDescription) == (98, OVER_REFUND)
    assert suds_ref.service.cancelInvoice(context, ref).resultCode == 50


def test_suds_meets_faults_as_exceptions_and_business_errors_as_result_codes(
    suds_ref: suds.client.Client, control: Control
):
    context = suds_context(suds_ref)
    marked = suds_invoice(suds_ref)
    marked.title = "Order [scenario:nope]"
    with pytest.raises(suds.WebFault) as fault:
        suds_ref.service.sendInvoice(context, marked)
    assert fault.value.fault.faultcode == "soap:Client"
    assert "no scenario named 'nope'" in fault.value.fault.faultstring
    assert control.ok("GET", "/invoices")["invoices"] == []

    control.ok("PUT", f"/terminals/{TERMINAL['id']}/scenario", {"name": "soap-fault"})
    ref = suds_ref.service.sendInvoice(context, suds_invoice(suds_ref)).invoiceReference
    with pytest.raises(suds.WebFault) as fault:
        suds_ref.service.getPaymentStatus(context, ref, 0)
    assert (fault.value.fault.faultcode, fault.value.fault.faultstring) == (
        "soap:Server",
        SERVER_FAULT,
    )
    assert suds_ref.service.getPaymentStatus(context, ref, 0).status == "PAID"

    wrong = suds_ref.service.sendInvoice(
        suds_context(suds_ref, password="not-it"), suds_invoice(suds_ref)
    )
    assert (wrong.resultCode, wrong.resultDescription) == (20, "AUTHENTICATION_FAILED")
    unknown = suds_ref.service.getPaymentStatus(context, "20990101000000000", 0)
    assert (unknown.resultCode, unknown.resultDescription, unknown.version) == (
        54,
        "INVALID_INVOICE_REFERENCE",
        0,
    )
