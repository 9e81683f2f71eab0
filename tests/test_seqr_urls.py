"""Every SEQR URL the customer's app follows, as printed codes and deep links write them."""

from __future__ import annotations

import pytest

from emulator.domain.seqr_urls import (
    InvoiceLink,
    NotSeqrUrl,
    ServiceLink,
    TerminalLink,
    WizardCancel,
    parse,
    query_pairs,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://SEQR.SE/R20260101123456789", InvoiceLink("20260101123456789", "http")),
        ("http://seqr.se/r1328543027208", InvoiceLink("1328543027208", "http")),
        ("seqr://SEQR.SE/R20260101123456789", InvoiceLink("20260101123456789", "seqr")),
        ("SEQR://SEQR.SE/R20260101123456789", InvoiceLink("20260101123456789", "seqr")),
        ("seqr-demo://SEQR.SE/R42", InvoiceLink("42", "seqr-demo")),
        ("SEQR-DEMO://SEQR.SE/R42", InvoiceLink("42", "seqr-demo")),
        ("SEQR-DEBUG://SEQR.SE/R42", InvoiceLink("42", "seqr-debug")),
        ("SEQR-DEBUG:HTTP://SEQR.SE/R42", InvoiceLink("42", "seqr-debug")),
        # the External Service guide's link from a service page to the invoice it issued
        ("SEQR://SEQR.SE/00020260101123456789", InvoiceLink("20260101123456789", "seqr")),
        ("HTTP://SEQR.SE/QMYSHOP31231231", TerminalLink("MYSHOP31231231", "http")),
        ("seqr://seqr.se/qmymerchantname31", TerminalLink("mymerchantname31", "seqr")),
        ("  HTTP://SEQR.SE/R42\n", InvoiceLink("42", "http")),
        ("https://seqr.se:443/R42", InvoiceLink("42", "https")),
    ],
)
def test_invoice_and_terminal_codes(url: str, expected: object) -> None:
    assert parse(url) == expected


def test_service_code_keeps_its_parameters_unchanged_and_in_order() -> None:
    found = parse("HTTP://SEQR.SE/000/PARKING_7?zone=7&f=6&e=5&zone=8")
    assert found == ServiceLink(
        "PARKING_7", (("zone", "7"), ("f", "6"), ("e", "5"), ("zone", "8")), "http"
    )


@pytest.mark.parametrize(
    "url",
    [
        "seqr-demo://SEQR.SE/000/coffee?size=L",
        "SEQR://seqr.se/000/coffee?size=L",
        "http://SEQR.SE/000/coffee/?size=L",
        "HTTP://SEQR.SE/000/coffee?size=L#ignored",
    ],
)
def test_service_code_in_every_scheme(url: str) -> None:
    found = parse(url)
    assert isinstance(found, ServiceLink)
    assert (found.service_id, found.parameters) == ("coffee", (("size", "L"),))


def test_service_code_without_parameters_or_slash() -> None:
    assert parse("HTTP://SEQR.SE/000/SHOP") == ServiceLink("SHOP", (), "http")
    # the guide's `000<service ID>`: not digits, so not an invoice reference
    assert parse("SEQR://SEQR.SE/000SHOP") == ServiceLink("SHOP", (), "seqr")


def test_query_values_are_decoded_but_plus_is_literal() -> None:
    assert query_pairs("a=1%2B2&b=x+y&flag&c=&d=%C3%A5") == (
        ("a", "1+2"),
        ("b", "x+y"),
        ("flag", ""),
        ("c", ""),
        ("d", "å"),
    )


@pytest.mark.parametrize(
    "url",
    ["SEQR-ACTION://WIZARD/CANCEL", "seqr-action://wizard/cancel", "SEQR-ACTION://WIZARD/CANCEL/"],
)
def test_wizard_cancel(url: str) -> None:
    assert parse(url) == WizardCancel()


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("", "not a URL"),
        ("SEQR.SE/R42", "not a URL"),
        ("ftp://SEQR.SE/R42", "scheme"),
        ("HTTP://example.com/R42", "not on SEQR.SE"),
        ("HTTP:SEQR.SE/R42", "no host"),
        ("HTTP://SEQR.SE/S123?adfsd,2300", "knows"),
        ("HTTP://SEQR.SE/R", "knows"),
        ("HTTP://SEQR.SE/R12-34", "knows"),
        ("HTTP://SEQR.SE/000/", "names no service"),
        ("HTTP://SEQR.SE/000/a/b", "names no service"),
        ("HTTP://SEQR.SE/000", "names no service or invoice"),
        ("SEQR-ACTION://WIZARD/FINISH", "unknown SEQR action"),
        ("SEQR-DEBUG:SEQR-ACTION://WIZARD/CANCEL", "not a SEQR URL"),
    ],
)
def test_what_the_app_does_not_follow(url: str, why: str) -> None:
    with pytest.raises(NotSeqrUrl, match=why):
        parse(url)
