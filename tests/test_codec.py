"""The lean codec: values read exactly as sent, even when recurring values are shared."""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal

import pytest
from lxml import etree

from emulator.backend import SeqrBackend
from emulator.settings import Settings
from emulator.soap import codec
from emulator.soap.transport import SoapEndpoint
from tests.wire import envelope, send_invoice_xml

SEND = codec.OPERATIONS["sendInvoice"].request
CODEC = codec.Codec()  # the tests' reads share values, as an endpoint's do


def _invoice(inner: str) -> dict:
    return CODEC.read(etree.fromstring(f"<op><invoice>{inner}</invoice></op>"), SEND)["invoice"]


def test_equal_decimals_keep_their_own_scale():
    first = _invoice("<totalAmount><value>10.0</value></totalAmount>")["totalAmount"]["value"]
    second = _invoice("<totalAmount><value>10.00</value></totalAmount>")["totalAmount"]["value"]
    assert (str(first), str(second)) == ("10.0", "10.00")


def test_equal_instants_keep_their_own_offset():
    a = _invoice("<issueDate>2016-01-01T10:00:00+01:00</issueDate>")["issueDate"]
    b = _invoice("<issueDate>2016-01-01T09:00:00Z</issueDate>")["issueDate"]
    assert codec.format_datetime(a) == "2016-01-01T10:00:00.000+01:00"
    assert codec.format_datetime(b) == "2016-01-01T09:00:00.000+00:00"


def test_recurring_strings_are_shared():
    a = _invoice("<title>Order</title>")["title"]
    b = _invoice("<title>Order</title>")["title"]
    assert a == b == "Order" and a is b


def test_only_the_strings_of_stored_requests_are_shared():
    """A poll's strings live for the call alone: keeping them in the table saves nothing."""
    kept = [name for name, op in codec.OPERATIONS.items() if op.keeps]
    assert sorted(kept) == ["sendInvoice", "updateInvoice"]
    poll = codec.OPERATIONS["getPaymentStatus"]
    reader = codec.Codec()
    doc = etree.fromstring("<op><invoiceReference>20260101000000001</invoiceReference></op>")
    assert reader.read(doc, poll.request, keep=poll.keeps) == {
        "invoiceReference": "20260101000000001"
    }
    assert reader._shared == {}
    reader.read(etree.fromstring("<op><invoice><title>Kept</title></invoice></op>"), SEND)
    assert "Kept" in reader._shared


def test_written_text_is_escaped_and_stripped_of_illegal_characters():
    assert codec.escape("a<b>&c\x01d") == "a&lt;b&gt;&amp;cd"
    assert codec.escape("tab\tnewline\n") == "tab\tnewline\n"


def test_decimal_is_written_without_exponent():
    assert codec._decimal_text(Decimal("1E+2")) == "100"


XSI_URI = "http://www.w3.org/2001/XMLSchema-instance"
XSI = f'xmlns:xsi="{XSI_URI}"'


def test_nil_elements_read_as_absent_values():
    invoice = CODEC.read(
        etree.fromstring(
            f'<op {XSI}><invoice><cashierId xsi:nil="true"/><footer xsi:nil="1">x</footer>'
            '<title xsi:nil="false">Order</title></invoice></op>'
        ),
        SEND,
    )["invoice"]
    assert invoice == {"cashierId": None, "footer": None, "title": "Order"}


def test_reading_without_the_nil_check_reads_the_same_values():
    doc = etree.fromstring(
        "<op><invoice><title>Order</title><ext:footer xmlns:ext='urn:x'>Thanks</ext:footer>"
        "<invoiceRows><invoiceRow><itemQuantity>2</itemQuantity></invoiceRow>"
        "<invoiceRow><itemSKU/></invoiceRow></invoiceRows>"
        "<totalAmount><value> 10.50 </value></totalAmount><!-- a comment --></invoice></op>"
    )
    expected = {
        "invoice": {
            "title": "Order",
            "footer": "Thanks",
            "invoiceRows": {"invoiceRow": [{"itemQuantity": Decimal("2")}, {"itemSKU": ""}]},
            "totalAmount": {"value": Decimal("10.50")},
        }
    }
    assert CODEC.read(doc, SEND, nil=False) == CODEC.read(doc, SEND) == expected


STATUS = codec.OPERATIONS["getPaymentStatus"]


def _answer(result: dict) -> str:
    text = CODEC.envelope(STATUS, result).decode()
    return text[text.index("<return>") : text.index("</return>") + len("</return>")]


def test_answers_are_written_in_schema_order_without_nulls():
    written = _answer(
        {
            "version": 2,
            "status": "PAID",
            "resultDescription": "SUCCESS",
            "resultCode": 0,
            "ersReference": None,
        }
    )
    assert written == (
        "<return><resultCode>0</resultCode><resultDescription>SUCCESS</resultDescription>"
        "<status>PAID</status><version>2</version></return>"
    )


def test_empty_and_repeated_complex_values():
    tokens = [{"id": "a", "status": 0}, {"value": "x<y", "status": 1}]
    written = _answer({"resultCode": 0, "customerTokens": {"token": tokens}, "version": 0})
    assert "<customerTokens><token><id>a</id><status>0</status></token>" in written
    assert "<token><status>1</status><value>x&lt;y</value></token></customerTokens>" in written
    assert "<customerTokens/>" in _answer({"resultCode": 0, "customerTokens": {}, "version": 0})


def test_a_missing_required_primitive_is_an_error_not_a_silent_answer():
    with pytest.raises(ValueError, match="required <resultCode> missing"):
        CODEC.envelope(STATUS, {"version": 0})


@pytest.mark.parametrize("prefix", ["xsi", "i"])  # `i:` is .NET's (WCF's) prefix
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_nil_is_seen_whatever_the_request_encoding(encoding, prefix):
    nil = f'<cashierId xmlns:{prefix}="{XSI_URI}" {prefix}:nil="true"/>'
    text = envelope(send_invoice_xml(extra=nil)).decode()
    body = f'<?xml version="1.0" encoding="{encoding}"?>{text}'.encode(encoding)
    _, _, request = SoapEndpoint(SeqrBackend(Settings()))._parse(body)
    assert request["invoice"]["cashierId"] is None


def test_nil_is_seen_when_its_namespace_is_spelled_by_character_references():
    """The endpoint looks for xsi:nil only in documents that may hold one; a namespace
    name written with `&#...;` does not show the name's bytes, and still counts."""
    spelled = XSI_URI.replace("Schema-instance", "Schema-&#105;nstance")
    nil = f'<cashierId xmlns:x="{spelled}" x:nil="true"/>'
    body = envelope(send_invoice_xml(extra=nil))
    assert b"XMLSchema-instance" not in body
    _, _, request = SoapEndpoint(SeqrBackend(Settings()))._parse(body)
    assert request["invoice"]["cashierId"] is None


def _shapes(shape: codec.Shape) -> list[codec.Shape]:
    """`shape` and every shape inside it, each once."""
    found = {id(shape): shape}
    for f in shape.fields:
        if f.shape is not None:
            for inner in _shapes(f.shape):
                found.setdefault(id(inner), inner)
    return list(found.values())


def test_two_codecs_share_no_values_and_no_writers():
    first, second = codec.Codec(), codec.Codec()
    doc = etree.fromstring(
        "<op><invoice><title>Shared?</title><issueDate>2016-01-01T10:00:00Z</issueDate>"
        "<totalAmount><value>12.50</value></totalAmount></invoice></op>"
    )
    a, again, b = (c.read(doc, SEND)["invoice"] for c in (first, first, second))
    assert a == again == b
    for name in ("title", "issueDate"):
        assert a[name] is again[name] and a[name] is not b[name]
    assert a["totalAmount"]["value"] is again["totalAmount"]["value"]
    assert a["totalAmount"]["value"] is not b["totalAmount"]["value"]

    receipt = {"resultCode": 0, "version": 1, "receipt": {"invoice": {"title": "x"}}}
    assert first.envelope(STATUS, receipt) == second.envelope(STATUS, receipt)
    for shape in _shapes(STATUS.result):
        mine, theirs = first.writer_for(shape), second.writer_for(shape)
        assert mine is not theirs and mine.__globals__ is not theirs.__globals__
    assert first.writer_for(STATUS.result) is first.writer_for(STATUS.result)


def test_each_endpoint_has_a_codec_of_its_own():
    one, other = (SoapEndpoint(SeqrBackend(Settings())) for _ in range(2))
    assert one.codec is not other.codec


def test_a_value_of_the_wrong_type_names_its_element_path():
    request = etree.fromstring(
        "<sendInvoice><invoice><totalAmount><currency>SEK</currency><value>twenty</value>"
        "</totalAmount></invoice></sendInvoice>"
    )
    with pytest.raises(codec.CodecError) as refused:
        CODEC.read(request, SEND)
    assert refused.value.path == ["value", "totalAmount", "invoice"]
    assert str(refused.value) == "invoice/totalAmount/value: 'twenty' is not a decimal"


# A sendInvoice's payload in schema order, as generated clients write it
IN_ORDER = (
    "<op><context><channel>WS</channel><clientId>shop</clientId>"
    "<initiatorPrincipalId><id>till-1</id><type>TERMINALID</type></initiatorPrincipalId>"
    "<password>secret</password></context><invoice><paymentMode>IMMEDIATE_DEBIT</paymentMode>"
    "<issueDate>2026-03-01T14:05:00</issueDate><title>Order 7</title><invoiceRows>"
    "<invoiceRow><itemDescription>Tee</itemDescription><itemQuantity>2</itemQuantity>"
    "<itemTotalAmount><currency>SEK</currency><value>20.00</value></itemTotalAmount>"
    "</invoiceRow><invoiceRow><itemDescription>Cap</itemDescription></invoiceRow>"
    "</invoiceRows><totalAmount><currency>SEK</currency><value>20.00</value></totalAmount>"
    "<backURL>https://shop.example/done</backURL></invoice></op>"
)


def _mutations(doc: etree._Element, rng: random.Random) -> etree._Element:
    """A copy of `doc` with one element's children shuffled, one repeated, dropped, given a
    comment, or renamed qualified: what the schema-order reader must hand to `loose`."""
    copy = etree.fromstring(etree.tostring(doc))
    parents = [e for e in copy.iter() if len(e)]
    parent = rng.choice(parents)
    kids = list(parent)
    move = rng.randrange(5)
    if move == 0:
        rng.shuffle(kids)
        for kid in kids:
            parent.append(kid)
    elif move == 1:
        parent.append(etree.fromstring(etree.tostring(rng.choice(kids))))
    elif move == 2:
        parent.remove(rng.choice(kids))
    elif move == 3:
        parent.insert(rng.randrange(len(kids) + 1), etree.Comment("note"))
    else:
        kid = rng.choice(kids)
        kid.tag = "{urn:other}" + kid.tag
    return copy


def _outcome(read: Callable[[], dict]) -> object:
    try:
        return read()
    except codec.CodecError as exc:
        return ("error", str(exc))


@pytest.mark.parametrize("keep", [True, False])
def test_the_schema_order_reader_reads_what_the_loose_one_does(keep):
    """Every generated client sends children in schema order, which `Codec.reader_for` reads
    in a straight line; anything else must come out exactly as `Codec.loose` reads it."""
    rng = random.Random(16)
    base = etree.fromstring(IN_ORDER)
    payload = base
    fast, slow = codec.Codec(), codec.Codec()
    seen_fallback = seen_fast = 0
    for i in range(400):
        doc = payload if i == 0 else _mutations(payload, rng)
        if i % 7 == 3:  # a value that cannot be read: the same error, by the same path
            value = doc.find(".//totalAmount/value")
            if value is not None:
                value.text = "twenty"
        got = _outcome(lambda d=doc: fast.read(d, SEND, nil=False, keep=keep))
        want = _outcome(lambda d=doc: slow.loose(d, SEND, nil=False, keep=keep))
        assert got == want, etree.tostring(doc)
        if isinstance(got, dict):
            assert list(got) == list(want)  # in the document's order, too
        in_order = etree.tostring(doc) == etree.tostring(payload)
        seen_fast += in_order
        seen_fallback += not in_order
    assert seen_fast and seen_fallback > 300


def test_the_schema_order_reader_is_taken_for_a_document_in_order(monkeypatch):
    """The straight-line reader does the work for an in-order request: `loose` is not called."""
    payload = etree.fromstring(IN_ORDER)
    reader = codec.Codec()
    expected = reader.loose(payload, SEND, nil=False)

    def refused(*args: object, **kwargs: object) -> dict:
        raise AssertionError("read loosely")

    reader._readers.clear()
    monkeypatch.setattr(reader.__class__, "loose", refused)
    assert reader.read(payload, SEND, nil=False) == expected
