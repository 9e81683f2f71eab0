"""Wire compatibility: what real client stacks send, and the exact bytes CXF answered with."""

from __future__ import annotations

import pytest

from tests.wire import ENV, SEQR, context_xml, envelope, post, send_invoice_xml, status_xml


def test_answer_is_framed_exactly_as_cxf_did(emulator):
    reply = post(emulator.soap_url, envelope(send_invoice_xml()))
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/xml")
    text = reply.body.decode()
    assert text.startswith(f'<soap:Envelope xmlns:soap="{ENV}"><soap:Body>')
    assert f'<ns2:sendInvoiceResponse xmlns:ns2="{SEQR}"><return><resultCode>0</resultCode>' in text
    assert text.endswith("</return></ns2:sendInvoiceResponse></soap:Body></soap:Envelope>")
    assert "soap:Header" not in text


def test_issued_status_has_empty_customer_tokens_wrapper_and_schema_order(emulator):
    ref = post(emulator.soap_url, envelope(send_invoice_xml())).field("invoiceReference")
    reply = post(emulator.soap_url, envelope(status_xml(ref)))
    children = [c.tag for c in reply.xml.find(".//return")]
    assert children == ["resultCode", "resultDescription", "status", "customerTokens", "version"]
    assert b"<customerTokens/>" in reply.body


@pytest.mark.parametrize(
    ("env_prefix", "seqr_prefix"),
    [("soapenv", "ext"), ("SOAP-ENV", "ns1"), ("soap-env", "ns0"), ("S", "ns2"), ("soap", "tns")],
)
def test_any_prefixes_are_read_by_namespace(emulator, env_prefix, seqr_prefix):
    body = envelope(send_invoice_xml(seqr_prefix), env_prefix, seqr_prefix)
    assert post(emulator.soap_url, body).field("resultCode") == "0"


def test_two_prefixes_for_the_envelope_namespace_as_suds_sends(emulator):
    body = (
        f'<SOAP-ENV:Envelope xmlns:ns0="{ENV}" xmlns:ns1="{SEQR}" xmlns:SOAP-ENV="{ENV}">'
        f"<SOAP-ENV:Header/><ns0:Body>{send_invoice_xml('ns1')}</ns0:Body></SOAP-ENV:Envelope>"
    ).encode()
    assert post(emulator.soap_url, body).field("resultCode") == "0"


def test_default_namespace_wrapper_with_unqualified_children(emulator):
    inner = send_invoice_xml("x").replace("<x:sendInvoice>", f'<sendInvoice xmlns="{SEQR}">')
    inner = inner.replace("</x:sendInvoice>", "</sendInvoice>")
    # children under a default namespace become qualified: accepted as a tolerance
    assert post(emulator.soap_url, envelope(inner)).field("resultCode") == "0"


@pytest.mark.parametrize("action", [None, '""', "", "sendInvoice", '"urn:whatever"'])
def test_dispatch_ignores_soap_action(emulator, action):
    assert (
        post(emulator.soap_url, envelope(send_invoice_xml()), soap_action=action).field(
            "resultCode"
        )
        == "0"
    )


@pytest.mark.parametrize(
    "content_type", ["text/xml", "text/xml; charset=utf-8", "text/xml;charset=UTF-8", None]
)
def test_content_types(emulator, content_type):
    reply = post(emulator.soap_url, envelope(send_invoice_xml()), content_type=content_type)
    assert reply.field("resultCode") == "0"


def test_chunked_body_as_cxf_clients_send(emulator):
    body = envelope(send_invoice_xml())
    chunks = [body[i : i + 50] for i in range(0, len(body), 50)]
    assert post(emulator.soap_url, chunks, chunked=True).field("resultCode") == "0"


@pytest.mark.parametrize(
    "path",
    ["/extclientproxy/service/v2", "/extclientproxy/service", "/soap/merchant/cashregister-2"],
)
def test_every_documented_path_serves(emulator, path):
    assert post(emulator.url + path, envelope(send_invoice_xml())).field("resultCode") == "0"


def test_post_to_the_wsdl_url_is_served_too(emulator):
    assert (
        post(emulator.soap_url + "?wsdl", envelope(send_invoice_xml())).field("resultCode") == "0"
    )


def test_lenient_request_shapes(emulator):
    # Children out of order, value before currency, unknown and 2.9-only elements, userId
    # on a TERMINALID principal, 12-hour issueDate without zone, negative row, odd tax rate.
    inner = (
        "<ext:sendInvoice><invoice>"
        "<totalAmount><value>149.99</value><currency>SEK</currency></totalAmount>"
        "<issueDate>2016-03-01T02:05:00</issueDate><title>Lenient</title>"
        "<invoiceRows><invoiceRow><itemTotalAmount><currency>SEK</currency><value>-10</value>"
        "</itemTotalAmount><itemTaxRate>150</itemTaxRate><itemSKU/><itemQuantity>1.0000</itemQuantity>"
        "</invoiceRow></invoiceRows><deliveryAddress>Somewhere</deliveryAddress>"
        "<commitReservationTimeout>600</commitReservationTimeout></invoice>"
        "<context><password>wire-secret</password><initiatorPrincipalId><userId>9900</userId>"
        "<type>TERMINALID</type><id>wire-terminal</id></initiatorPrincipalId></context>"
        "</ext:sendInvoice>"
    )
    reply = post(emulator.soap_url, envelope(inner))
    assert reply.field("resultCode") == "0"
    ref = reply.field("invoiceReference")
    # <invoiceVersion/> empty and absent both read as 0
    assert (
        post(emulator.soap_url, envelope(status_xml(ref, version="<invoiceVersion/>"))).field(
            "status"
        )
        == "ISSUED"
    )
    assert (
        post(emulator.soap_url, envelope(status_xml(ref, version=""))).field("status") == "ISSUED"
    )


def test_commit_reservation_with_client_29_amount(emulator, control):
    extra = "<paymentMode>RESERVATION_REQUIRED_PRELIMINARY_AMOUNT</paymentMode>"
    ref = post(emulator.soap_url, envelope(send_invoice_xml(total="100.00", extra=extra))).field(
        "invoiceReference"
    )
    control.pay(ref)
    commit = (
        f"<ext:commitReservation>{context_xml()}"
        "<amount><currency>SEK</currency><value>80.00</value></amount>"
        f"<invoiceReference>{ref}</invoiceReference></ext:commitReservation>"
    )
    too_much = commit.replace("80.00", "100.01")
    assert post(emulator.soap_url, envelope(too_much)).field("resultCode") == "11"
    assert post(emulator.soap_url, envelope(commit)).field("resultCode") == "0"
    paid = post(emulator.soap_url, envelope(status_xml(ref)))
    assert paid.field("status") == "PAID"
    assert paid.xml.findtext(".//receipt/invoice/totalAmount/value") == "80.00"
    assert control.invoice(ref)["payment"]["amount"] == {"value": "80.00", "currency": "SEK"}


def test_unqualified_result_elements_and_no_nulls(emulator):
    reply = post(emulator.soap_url, envelope(send_invoice_xml()))
    ret = reply.xml.find(".//return")
    assert ret is not None and ret.tag == "return"
    assert all(child.tag == etree_local(child.tag) for child in ret)
    assert ret.find("ersReference") is None


def etree_local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def test_schema_audit_catches_a_bad_answer(schema_audit):
    """The autouse validation would fail a test whose answer breaks the schema, whichever."""
    bad = (
        f'<soap:Envelope xmlns:soap="{ENV}"><soap:Body>'
        f'<ns2:cancelInvoiceResponse xmlns:ns2="{SEQR}">'
        "<return><resultDescription>SUCCESS</resultDescription><resultCode>0</resultCode></return>"
        "</ns2:cancelInvoiceResponse></soap:Body></soap:Envelope>"
    ).encode()
    schema_audit.check(bad)
    assert len(schema_audit.take()) == 1
