"""Numbers as their schema types hold them: what no xs:int, xs:long or BigDecimal can be is a
soap:Client Fault (CXF's "Unmarshalling Error"); a value of the type that SEQR refuses as
money is a result code (see test_money_bounds)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from emulator.backend import SeqrBackend
from emulator.settings import Settings
from emulator.soap import codec
from emulator.soap.transport import SoapEndpoint
from tests.wire import context_xml, envelope, send_invoice_xml


@pytest.fixture
def endpoint() -> SoapEndpoint:
    return SoapEndpoint(SeqrBackend(Settings(ack_window=0)))


def _fault(reply) -> str | None:
    """The faultcode and faultstring of a Fault reply, None for an answer."""
    root = etree.fromstring(reply.body)
    fault = root.find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    if fault is None:
        return None
    return f"{fault.findtext('faultcode')}: {fault.findtext('faultstring')}"


def _status(version: str, timeout: str = "0") -> bytes:
    context = context_xml().replace("<clientRequestTimeout>0<", f"<clientRequestTimeout>{timeout}<")
    return envelope(
        f"<ext:getPaymentStatus>{context}<invoiceReference>1</invoiceReference>"
        f"<invoiceVersion>{version}</invoiceVersion></ext:getPaymentStatus>"
    )


@pytest.mark.parametrize(
    "version", ["2147483647", "-2147483648", "+0", "007", "0" * 5000 + "1", " 12 "]
)
def test_an_xs_int_within_its_range_is_read(endpoint, version):
    reply = endpoint.handle(_status(version))
    assert reply.status == 200 and _fault(reply) is None


@pytest.mark.parametrize(
    "version", ["2147483648", "-2147483649", "9" * 400, "1_000", "١٢", "0x10", "1.0", "1e3"]
)
def test_an_xs_int_out_of_its_range_or_form_is_a_client_fault(endpoint, version):
    reply = endpoint.handle(_status(version))
    assert reply.status == 500
    assert _fault(reply).startswith("soap:Client: Unmarshalling Error:")
    assert "getPaymentStatus/invoiceVersion: " in _fault(reply)
    assert "is not an integer" in _fault(reply)


def test_an_xs_long_has_the_range_of_a_java_long(endpoint):
    assert _fault(endpoint.handle(_status("0", "9223372036854775807"))) is None
    assert _fault(endpoint.handle(_status("0", "-9223372036854775808"))) is None
    refused = _fault(endpoint.handle(_status("0", "9223372036854775808")))
    assert (
        "getPaymentStatus/context/clientRequestTimeout: '9223372036854775808' is not a long integer"
        in refused
    )


@pytest.mark.parametrize("timeout", ["9" * 400, "9223372036854775808", "-9223372036854775809"])
def test_a_commit_reservation_timeout_beyond_a_long_is_a_fault_and_nothing_is_issued(
    endpoint, timeout
):
    extra = f"<commitReservationTimeout>{timeout}</commitReservationTimeout>"
    reply = endpoint.handle(envelope(send_invoice_xml(extra=extra)))
    assert "sendInvoice/invoice/commitReservationTimeout: " in _fault(reply)
    assert "is not a long integer" in _fault(reply)
    assert endpoint.backend.invoice_count() == 0


@pytest.mark.parametrize(
    "text, value",
    [
        ("10.00", "10.00"),
        ("-.5", "-0.5"),
        ("5.", "5"),
        ("+1E+2", "1E+2"),
        ("1e-2", "0.01"),
        ("1E+999999999", "1E+999999999"),  # BigDecimal holds it; the rules refuse it (11)
    ],
)
def test_decimals_are_read_as_bigdecimal_reads_them(text, value):
    assert codec._decimal(text) == Decimal(value)


@pytest.mark.parametrize(
    "total",
    ["NaN", "Infinity", "-inf", "1_000", "1E+9999999999", "1E-2147483649", "0x10", ".", "1e"],
)
def test_a_decimal_bigdecimal_cannot_hold_is_a_client_fault(endpoint, total):
    reply = endpoint.handle(envelope(send_invoice_xml(total=total)))
    assert reply.status == 500
    assert "sendInvoice/invoice/totalAmount/value: " in _fault(reply)
    assert "is not a decimal" in _fault(reply)
    assert endpoint.backend.invoice_count() == 0


def test_a_long_decimal_text_is_not_kept_in_the_shared_table():
    reader = codec.Codec()
    long_text = "1." + "0" * 10_000
    doc = etree.fromstring(
        f"<op><invoice><totalAmount><value>{long_text}</value></totalAmount></invoice></op>"
    )
    read = reader.read(doc, codec.OPERATIONS["sendInvoice"].request)
    assert read["invoice"]["totalAmount"]["value"] == 1
    assert all(len(str(key)) < 1000 for key in reader._shared)
