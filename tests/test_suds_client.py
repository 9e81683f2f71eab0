"""A suds client that loads the emulator's own `?wsdl`, as the documented Python samples do."""

from __future__ import annotations

from typing import Any

import pytest
from suds.client import Client

from emulator.server import EmulatorServer
from tests.shop import PASSWORD, TERMINAL, Control


@pytest.fixture
def suds(emulator: EmulatorServer) -> Client:
    return Client(emulator.soap_url + "?wsdl", cache=None, timeout=10)


def suds_context(client: Client, password: str = PASSWORD) -> Any:
    principal = client.factory.create("ns0:principalId")
    principal.id = TERMINAL["id"]
    principal.type = TERMINAL["type"]
    context = client.factory.create("ns0:clientContext")
    context.clientRequestTimeout = 0
    context.initiatorPrincipalId = principal
    context.password = password
    return context


def suds_amount(client: Client, value: str) -> Any:
    amount = client.factory.create("ns0:amount")
    amount.currency = "SEK"
    amount.value = value
    return amount


def suds_invoice(client: Client, total: str = "49.90") -> Any:
    invoice = client.factory.create("ns0:invoice")
    invoice.title = "Suds order"
    invoice.clientInvoiceId = "S-1"
    invoice.paymentMode = "IMMEDIATE_DEBIT"
    invoice.acknowledgmentMode = "NO_ACKNOWLEDGMENT"
    invoice.totalAmount = suds_amount(client, total)
    row = client.factory.create("ns0:paymentInvoiceRow")
    row.itemDescription = "Coffee"
    row.itemTotalAmount = suds_amount(client, total)
    invoice.invoiceRows = {"invoiceRow": [row]}
    return invoice


def test_suds_posts_to_the_address_in_the_served_wsdl(suds, emulator):
    port = suds.wsdl.services[0].ports[0]
    assert port.location == emulator.soap_url


def test_suds_pays_polls_and_refunds(suds, control: Control):
    context = suds_context(suds)
    sent = suds.service.sendInvoice(context, suds_invoice(suds, "49.90"))
    assert sent.resultCode == 0
    ref = sent.invoiceReference
    # The documented sample calls getPaymentStatus(context, ref): suds sends <invoiceVersion/>.
    issued = suds.service.getPaymentStatus(context, ref)
    assert (issued.resultCode, issued.status, issued.version) == (0, "ISSUED", 0)
    control.pay(ref)
    paid = suds.service.getPaymentStatus(context, ref, 0)
    assert paid.status == "PAID"
    assert paid.ersReference == paid.receipt.paymentReference
    refund_invoice = suds.factory.create("ns0:invoice")
    refund_invoice.totalAmount = suds_amount(suds, "10.00")
    assert suds.service.refundPayment(context, paid.ersReference, refund_invoice).resultCode == 0
    refund_invoice.totalAmount = suds_amount(suds, "40.00")
    assert suds.service.refundPayment(context, paid.ersReference, refund_invoice).resultCode == 98


def test_suds_cancel_twice(suds):
    context = suds_context(suds)
    ref = suds.service.sendInvoice(context, suds_invoice(suds)).invoiceReference
    assert suds.service.cancelInvoice(context, ref).resultCode == 0
    assert suds.service.cancelInvoice(context, ref).resultCode == 95


def test_suds_wrong_password_is_20(suds):
    context = suds_context(suds)
    assert suds.service.sendInvoice(context, suds_invoice(suds)).resultCode == 0
    wrong = suds_context(suds, password="not-the-password")
    answer = suds.service.sendInvoice(wrong, suds_invoice(suds))
    assert (answer.resultCode, answer.resultDescription) == (20, "AUTHENTICATION_FAILED")


def test_suds_reservation_and_commit(suds, control: Control):
    context = suds_context(suds)
    invoice = suds_invoice(suds, "120.00")
    invoice.paymentMode = "RESERVATION_REQUIRED"
    ref = suds.service.sendInvoice(context, invoice).invoiceReference
    control.pay(ref)
    assert suds.service.getPaymentStatus(context, ref, 0).status == "RESERVED"
    assert suds.service.commitReservation(context, ref).resultCode == 0
    assert suds.service.getPaymentStatus(context, ref, 0).status == "PAID"


def test_suds_sees_get_client_session_info(suds):
    assert "getClientSessionInfo" in [m[0] for m in suds.wsdl.services[0].ports[0].methods.items()]
