"""Hostile and malformed requests get a SOAP Fault (or 413), never a traceback; serving goes on."""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request

import pytest
from lxml import etree

from emulator.backend import SeqrBackend
from emulator.settings import Settings
from emulator.soap import transport
from emulator.soap.transport import SoapEndpoint
from tests.wire import ENV, SEQR, context_xml, envelope, post, send_invoice_xml

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<soapenv:Body><x>&lol3;</x></soapenv:Body></soapenv:Envelope>"
)
XXE = b'<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + envelope(
    send_invoice_xml().replace("<title>Wire</title>", "<title>&xxe;</title>")
)

HOSTILE = {
    "not xml": b"this is not xml at all",
    "truncated xml": envelope(send_invoice_xml())[:-40],
    "empty body": b"",
    "json": b'{"sendInvoice": {}}',
    "xml but not soap": b"<sendInvoice><invoice/></sendInvoice>",
    "soap 1.2": (
        b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>'
        b"</env:Body></env:Envelope>"
    ),
    "no body": f'<s:Envelope xmlns:s="{ENV}"><s:Header/></s:Envelope>'.encode(),
    "empty body element": envelope(""),
    "unknown operation": envelope(f"<ext:stealMoney>{context_xml()}</ext:stealMoney>"),
    "operation in another namespace": envelope(
        '<o:sendInvoice xmlns:o="urn:other"><invoice/></o:sendInvoice>'
    ),
    "wrong type int": envelope(
        f"<ext:getPaymentStatus>{context_xml()}<invoiceReference>1</invoiceReference>"
        "<invoiceVersion>three</invoiceVersion></ext:getPaymentStatus>"
    ),
    "wrong type decimal": envelope(send_invoice_xml(total="ten crowns")),
    "wrong type datetime": envelope(send_invoice_xml(extra="<issueDate>yesterday</issueDate>")),
    "billion laughs": BILLION_LAUGHS,
    "external entity": XXE,
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_body_gets_a_fault_and_the_server_keeps_serving(emulator, name):
    reply = post(emulator.soap_url, HOSTILE[name])
    assert reply.status == 500, reply.body
    assert reply.headers["content-type"].startswith("text/xml")
    code, message = reply.fault
    assert code in ("soap:Client", "soap:VersionMismatch")
    assert message and "Traceback" not in message and "/etc/passwd" not in reply.body.decode()
    assert b"root:" not in reply.body
    follow_up = post(emulator.soap_url, envelope(send_invoice_xml()))
    assert follow_up.status == 200 and follow_up.field("resultCode") == "0"


# Documents refused half-way through the parse, each with the words of its refusal: the
# parser they broke off must start clean for the next request, and say what was wrong.
BROKEN_OFF = {
    "an undefined entity": (b"&nobody;", "Entity 'nobody' not defined"),
    "a tag left open": (b"<open>", "Opening and ending tag mismatch"),
    "a stray end tag": (b"</context>", "Opening and ending tag mismatch"),
}


@pytest.mark.parametrize("name", list(BROKEN_OFF))
def test_a_document_refused_mid_parse_is_named_and_the_next_one_is_read(emulator, name):
    inserted, words = BROKEN_OFF[name]
    good = envelope(send_invoice_xml())
    broken = good.replace(b"<title>", b"<title>" + inserted, 1)
    refused = post(emulator.soap_url, broken)
    assert refused.status == 500 and refused.fault[0] == "soap:Client"
    assert words in refused.fault[1], refused.fault[1]
    assert post(emulator.soap_url, good).field("resultCode") == "0"


def _mutated(seed: int, count: int) -> list[bytes]:
    """Requests broken in small ways: markup, entities, declarations, stray bytes, cuts."""
    pieces = [b"<", b">", b"&", b"&amp;", b"&#0;", b"&#x41;", b"<!DOCTYPE x>", b"\x00", b"\xff"]
    pieces += [b"<?xml version='1.0'?>", b"\xef\xbb\xbf", b"<![CDATA[", b"]]>", b"<!--", b"q:"]
    seeds = [envelope(send_invoice_xml()), b'<?xml version="1.0" encoding="UTF-8"?>' + envelope("")]
    chance = random.Random(seed)
    out = []
    for _ in range(count):
        body = bytearray(chance.choice(seeds))
        at = chance.randrange(len(body) + 1)
        step = chance.random()
        if step < 0.4:
            body[at:at] = chance.choice(pieces)
        elif step < 0.7:
            del body[at : at + chance.randint(1, 5)]
        elif step < 0.8:
            del body[at:]
        else:
            body[at : at + 1] = bytes([chance.randrange(256)])
        out.append(bytes(body))
    return out


def test_the_fed_parse_accepts_and_builds_what_fromstring_does():
    """The endpoint feeds lxml's push parser (`SoapEndpoint._tree`); it must agree with a
    one-shot `fromstring` on every document: the same tree, or a refusal in both."""
    endpoint = SoapEndpoint(SeqrBackend(Settings()))
    one_shot = transport._parser()

    def outcome(parse, body):
        try:
            root = parse(body)
        except etree.XMLSyntaxError as exc:
            return "refused", exc.msg
        return etree.tostring(root), root.getroottree().docinfo.doctype

    for body in _mutated(seed=11, count=3000):
        fed = outcome(endpoint._tree, body)
        assert fed == outcome(lambda b: etree.fromstring(b, one_shot), body), body


def test_wrong_type_fault_names_the_element(emulator):
    reply = post(emulator.soap_url, HOSTILE["wrong type int"])
    assert "invoiceVersion" in reply.fault[1]


def test_unknown_operation_fault_names_it(emulator):
    reply = post(emulator.soap_url, HOSTILE["unknown operation"])
    assert f"{{{SEQR}}}stealMoney" in reply.fault[1]


def test_oversized_body_is_413_and_serving_goes_on(start_emulator):
    server = start_emulator(max_body_bytes=4096)
    padding = "<clientComment>" + "x" * 8000 + "</clientComment>"
    big = envelope(send_invoice_xml().replace("<context>", "<context>" + padding))
    reply = post(server.soap_url, big)
    assert reply.status == 413
    assert post(server.soap_url, envelope(send_invoice_xml())).field("resultCode") == "0"


def test_chunked_oversized_body_is_413(start_emulator):
    server = start_emulator(max_body_bytes=4096)
    chunks = [b"<a>" + b"x" * 1000 + b"</a>" for _ in range(10)]
    assert post(server.soap_url, chunks, chunked=True).status == 413
    assert post(server.soap_url, envelope(send_invoice_xml())).status == 200


def test_non_utf8_bytes_in_a_declared_utf8_body(emulator):
    body = envelope(send_invoice_xml()).replace(b"Wire", b"W\xff\xfeire")
    reply = post(emulator.soap_url, body)
    assert reply.status == 500 and reply.fault[0] == "soap:Client"


def test_latin1_declared_body_is_read(emulator):
    body = b'<?xml version="1.0" encoding="ISO-8859-1"?>' + envelope(send_invoice_xml()).replace(
        b"Wire", "Kaffe och bulle f\xf6r tv\xe5".encode("latin-1")
    )
    assert post(emulator.soap_url, body).field("resultCode") == "0"


def test_control_api_bad_json_is_400(emulator, control):
    status, body = control.request("POST", "/clock/advance", None)
    assert status == 400 and "seconds" in body["error"]
    ref = post(emulator.soap_url, envelope(send_invoice_xml())).field("invoiceReference")
    req = urllib.request.Request(
        f"{control.base}/invoices/{ref}/pay",
        data=b"{not json",
        method="POST",
        headers={"Content-Type": "application/json"},  # else urllib says it is a form: 415
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=5)
    with refused.value as answer:
        assert answer.code == 400
        assert "not JSON" in json.loads(answer.read())["error"]
    assert control.invoice(ref)["status"] == "ISSUED"  # nothing changed


def test_the_fault_names_the_path_of_the_element_it_could_not_read(emulator):
    reply = post(emulator.soap_url, HOSTILE["wrong type decimal"])
    code, message = reply.fault
    assert code == "soap:Client"
    assert message == (
        "Unmarshalling Error: sendInvoice/invoice/totalAmount/value: 'ten crowns' is not a decimal"
    )
    reply = post(emulator.soap_url, HOSTILE["wrong type int"])
    assert reply.fault[1].endswith("getPaymentStatus/invoiceVersion: 'three' is not an integer")
