"""Wire compatibility: what real client stacks send, and the exact bytes CXF answered with."""

from __future__ import annotations

import asyncio
import gzip
import socket
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from emulator.app import SOAP_POSTS, Handler, create_app, front_door
from emulator.settings import Settings
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


def _head(url: str, length: int, *lines: str) -> bytes:
    """The head of a raw HTTP/1.1 SOAP POST of `length` bytes, with header `lines` besides."""
    parts = urlsplit(url)
    extra = "".join(f"{line}\r\n" for line in lines)
    return (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: text/xml\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    ).encode()


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def _rest(sock: socket.socket) -> bytes:
    data = b""
    while b"</soap:Envelope>" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_a_client_that_expects_100_continue_is_answered(emulator):
    # .NET's and PHP curl's clients ask before they send a larger body
    body = envelope(send_invoice_xml())
    with _connect(emulator.soap_url) as sock:
        sock.sendall(_head(emulator.soap_url, len(body), "Expect: 100-continue"))
        go_on = b""
        while b"\r\n\r\n" not in go_on:
            go_on += sock.recv(65536)
        sock.sendall(body)
        answer = _rest(sock)
    assert go_on.startswith(b"HTTP/1.1 100 Continue")
    assert answer.startswith(b"HTTP/1.1 200") and b"<resultCode>0</resultCode>" in answer


def test_a_body_that_arrives_after_its_head_is_read_whole(emulator):
    body = envelope(send_invoice_xml())
    half = len(body) // 2
    with _connect(emulator.soap_url) as sock:
        sock.sendall(_head(emulator.soap_url, len(body)) + body[:half])
        sock.sendall(body[half:])
        answer = _rest(sock)
    assert answer.startswith(b"HTTP/1.1 200") and b"<resultCode>0</resultCode>" in answer


def test_a_gzipped_body_is_read_uncompressed(emulator):
    body = gzip.compress(envelope(send_invoice_xml()))
    with _connect(emulator.soap_url) as sock:
        sock.sendall(_head(emulator.soap_url, len(body), "Content-Encoding: gzip") + body)
        answer = _rest(sock)
    assert answer.startswith(b"HTTP/1.1 200") and b"<resultCode>0</resultCode>" in answer


def test_an_escaped_path_is_served_by_the_router(emulator):
    # the front door matches a SOAP path as sent; an escaped one is the router's to read
    url = emulator.url + "/extclientproxy/service/%76%32"
    assert post(url, envelope(send_invoice_xml())).field("resultCode") == "0"


def test_the_front_door_takes_a_soap_post_past_the_router():
    app = create_app(Settings())
    path = Settings().soap_paths[0]
    taken: list[str] = []

    def recorder(name: str):  # type: ignore[no-untyped-def]
        async def handler(request: web.BaseRequest) -> web.Response:
            taken.append(name)
            return web.Response()

        return handler

    app[SOAP_POSTS][path] = recorder("soap")
    dispatch = front_door(app, recorder("router"))
    requests = [
        make_mocked_request("POST", path),
        make_mocked_request("GET", path),
        make_mocked_request("POST", path + "?wsdl"),
        make_mocked_request("POST", path, headers={"Expect": "100-continue"}),
        make_mocked_request("POST", "/_emulator/health"),
    ]
    for request in requests:
        asyncio.run(dispatch(request))
    assert taken == ["soap", "router", "router", "router", "router"]


def test_an_emulator_given_middleware_keeps_the_router_for_everything():
    app = create_app(Settings())

    async def routed(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response()

    @web.middleware
    async def note(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await handler(request)

    assert front_door(app, routed) is not routed
    app.middlewares.append(note)
    assert front_door(app, routed) is routed


def test_a_served_emulator_answers_through_its_front_door(emulator):
    assert emulator.runner is not None and emulator.runner.server is not None
    handler = emulator.runner.server.request_handler
    assert handler.__qualname__ == front_door.__name__ + ".<locals>.dispatch"


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
