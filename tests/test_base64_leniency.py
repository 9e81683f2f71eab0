"""base64Binary read as the real service's JAXB read it (DatatypeConverter), not as RFC 4648:
characters outside the alphabet are skipped, a last group short of four characters (missing
padding) adds nothing and is no Fault, and joined padded blocks are each decoded."""

from __future__ import annotations

import base64
import time

import pytest

from emulator.soap import codec
from tests.inproc import Till, fault_of, result_code


@pytest.mark.parametrize(
    "text, data",
    [
        ("PHA+VGhhbmtzPC9wPg==", b"<p>Thanks</p>"),  # padded: as RFC 4648
        ("PHA+VGhh\n bmtzPC9w\r\n\tPg==", b"<p>Thanks</p>"),  # folded lines
        ("PHA+VGhhbmtzPC9wPg", b"<p>Thanks</p"),  # unpadded: JAXB dropped the short group
        ("PHA+VGhhbmtzPC9wPj4", b"<p>Thanks</p"),  # 19 characters: the last 3 dropped
        ("QQ", b""),
        ("", b""),
        ("QUJD*!QUJD", b"ABCABC"),  # any other ASCII character is skipped
        ("QQ==QkI=", b"ABB"),  # blocks encoded one by one and joined
        ("QQ=A", b"A\xc0"),  # what JAXB's arithmetic made of a = followed by a character
        ("====", b"\xff"),
    ],
)
def test_base64_is_read_as_jaxb_read_it(text, data):
    assert codec._base64(text) == data


def test_a_character_outside_ascii_is_refused():
    with pytest.raises(ValueError):
        codec._base64("QUJD\u00e9")


@pytest.mark.parametrize("text", ["=" * 1_000_000, "QQ=A" * 250_000, "QUJD\n" * 200_000])
def test_a_megabyte_of_odd_base64_is_read_quickly(text):
    started = time.perf_counter()
    codec._base64(text)
    assert time.perf_counter() - started < 0.5


def test_a_receipt_without_padding_is_taken_not_faulted():
    till = Till()
    ref, ers = till.paid()
    unpadded = base64.b64encode(b"<p>Thanks!</p>").decode().rstrip("=")
    assert unpadded != base64.b64encode(b"<p>Thanks!</p>").decode()
    reply = till.receipt(ers, unpadded)
    assert fault_of(reply) is None and result_code(reply) == 0
    (receipt,) = till.backend.invoice(ref).receipts
    assert receipt.size == 12  # 19 characters: four whole groups, the last 3 dropped


def test_a_receipt_with_a_non_ascii_character_is_a_client_fault():
    till = Till()
    _, ers = till.paid()
    code, message = fault_of(till.receipt(ers, "QUJD\u00e9"))
    assert code == "soap:Client" and message.endswith(
        "submitPaymentReceipt/receiptDocument/receiptData: 'QUJD\u00e9' is not base64"
    )
