"""PHP's SoapClient, the SOAP stack of the PrestaShop, WooCommerce and Magento SEQR plugins.

Each test runs one script from `tests/php/` against a live emulator. The script talks SOAP
the way a plugin does, plays the customer through the control API where the flow needs a
payment, and prints one JSON document of what it sent and read; the assertions live here.
PHP's JSON keeps its types, so an `int` here was a PHP int there (`resultCode === 0` holds)
and `{}` was an empty object (what PHP makes of `<customerTokens/>`).

Needs the `php` CLI with the soap extension (Debian: `php-cli php-soap`); skips without.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from emulator.server import EmulatorServer
from emulator.settings import SOAP_PATHS
from tests.conftest import SOAP_ENV
from tests.reference import reference_path
from tests.shop import Control

PHP_DIR = Path(__file__).parent / "php"
PHP_TIMEOUT = 30.0
SEQR_NS = "http://external.interfaces.ers.seamless.com/"

RunPhp = Callable[..., dict[str, Any]]


@functools.cache
def _php_with_soap() -> str | None:
    """The php binary when it can load the soap extension, else None (checked once)."""
    binary = shutil.which("php")
    if binary is None:
        return None
    modules = subprocess.run(
        [binary, "-m"], capture_output=True, text=True, timeout=PHP_TIMEOUT, check=False
    )
    return binary if "soap" in modules.stdout.lower().split() else None


@pytest.fixture(scope="module")
def php() -> RunPhp:
    """Run `tests/php/<script>` with arguments; its exit status must be 0, its stdout JSON."""
    if shutil.which("php") is None:
        pytest.skip("php CLI not installed (Debian packages: php-cli php-soap)")
    binary = _php_with_soap()
    if binary is None:
        pytest.skip("`php -m` does not list soap (Debian package: php-soap)")

    def run(script: str, *args: str) -> dict[str, Any]:
        done = subprocess.run(
            [binary, str(PHP_DIR / script), *args],
            capture_output=True,
            text=True,
            timeout=PHP_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, f"php {script} exited {done.returncode}:\n{done.stderr}"
        assert not done.stderr, f"php {script} complained:\n{done.stderr}"
        return json.loads(done.stdout)

    return run


def operation_payload(request: str) -> etree._Element:
    """The operation element (first Body child) of a request PHP logged."""
    envelope = etree.fromstring(request.encode())
    body = envelope.find(f"{{{SOAP_ENV}}}Body")
    assert body is not None, request
    return body[0]


def children(element: etree._Element) -> list[str]:
    return [etree.QName(child).localname for child in element]


def stored_payment_reference(control: Control, ref: str) -> str:
    payment = control.invoice(ref)["payment"]
    assert payment is not None, f"invoice {ref} has no payment"
    return payment["ersReference"]


# --- WooCommerce ----------------------------------------------------------------------------


def test_woocommerce_gateway_sends_polls_refunds_and_cancels(
    php: RunPhp, emulator: EmulatorServer, control: Control
) -> None:
    out = php("woocommerce.php", emulator.soap_url, emulator.url)
    ref = out["reference"]

    sent = operation_payload(out["log"][0]["request"])
    assert sent.tag == f"{{{SEQR_NS}}}sendInvoice"
    context, invoice = sent.find("context"), sent.find("invoice")
    assert children(context) == ["clientRequestTimeout", "initiatorPrincipalId", "password"]
    assert "paymentMode" not in children(invoice)
    assert invoice.findtext("totalAmount/value") == "149.99"
    row_values = [v.text for v in invoice.iterfind("invoiceRows/invoiceRow/itemTotalAmount/value")]
    assert row_values == ["159.99", "-10"]

    assert out["sent"] == {
        "resultCode": 0,
        "resultDescription": "SUCCESS",
        "invoiceQRCode": "HTTP://SEQR.SE/R" + ref,
        "invoiceReference": ref,
    }
    stored = control.invoice(ref)
    assert stored["paymentMode"] == "IMMEDIATE_DEBIT"
    assert stored["totalAmount"] == {"value": "149.99", "currency": "SEK"}
    assert [r["totalAmount"]["value"] for r in stored["rows"]] == ["159.99", "-10"]
    assert stored["backURL"] == invoice.findtext("backURL")
    assert stored["notificationUrl"] == invoice.findtext("notificationUrl")
    assert stored["notificationUrl"].endswith("&order=1001&notification=true")

    assert out["issued"] == {
        "resultCode": 0,
        "resultDescription": "SUCCESS",
        "status": "ISSUED",
        "customerTokens": {},
        "version": 0,
    }
    assert out["issued_result_is_int_zero"] is True

    paid = out["paid"]
    assert (paid["resultCode"], paid["status"]) == (0, "PAID")
    assert paid["receipt"]["paymentReference"] == paid["ersReference"]
    assert out["payment_reference"] == stored_payment_reference(control, ref)
    assert paid["receipt"]["invoiceReference"] == ref
    assert paid["receipt"]["clientInvoiceId"] == "1001"
    assert Decimal(paid["receipt"]["invoice"]["totalAmount"]["value"]) == Decimal("149.99")
    assert paid["customerTokens"] == {}

    refund = out["refund"]
    assert refund["resultCode"] == 0
    assert refund["ersReference"] not in (None, paid["ersReference"])
    assert Decimal(control.invoice(ref)["refundedTotal"]) == Decimal("20")

    codes = [c["answer"]["resultCode"] for c in out["cancels"]]
    assert codes == [0, 95]
    assert [c["done"] for c in out["cancels"]] == [True, True]
    assert control.invoice(out["cancelled_reference"])["status"] == "CANCELED"


# --- PrestaShop and Magento -----------------------------------------------------------------


def test_prestashop_and_magento_shapes_pay_refund_and_cancel(
    php: RunPhp, emulator: EmulatorServer, control: Control
) -> None:
    out = php("prestashop.php", emulator.soap_url, emulator.url)
    ref = out["reference"]

    assert "getClientSessionInfo" in out["operations"]
    request_type = "struct getClientSessionInfo {\n clientContext context;\n string key;\n}"
    assert request_type in out["session_info_types"]

    sent = operation_payload(out["send_request"])
    principal = sent.find("context/initiatorPrincipalId")
    assert children(principal) == ["id", "type", "userId"]
    assert sent.findtext("invoice/issueDate") == "2016-03-01T03:04:05"
    assert out["sent"]["resultCode"] == 0
    stored = control.invoice(ref)
    assert stored["terminalId"] == principal.findtext("id")
    assert [(r["quantity"], r["unit"], r["taxRate"]) for r in stored["rows"]] == [
        ("1.0000", "EA", "25.0000"),
        ("1.0000", "EA", "-4.5"),
    ]
    assert stored["rows"][0]["sku"] == ""

    issued, paid = out["issued"], out["paid"]
    assert (issued["status"], issued["version"]) == ("ISSUED", 0)
    assert out["paid_is_paid"] is True
    assert paid["version"] > issued["version"]
    assert paid["ersReference"] == paid["receipt"]["paymentReference"]
    assert paid["receipt"]["invoice"]["issueDate"].startswith("2016-03-01T03:04:05")
    rows = paid["receipt"]["invoice"]["invoiceRows"]["invoiceRow"]
    assert [row["itemTaxRate"] for row in rows] == ["25.0000", "-4.5"]

    assert out["refund"]["resultCode"] == 0
    refunds = control.invoice(ref)["refunds"]
    assert [(r["amount"]["value"], r["cashierId"]) for r in refunds] == [("49.00", "WEB")]
    assert refunds[0]["ersReference"] == out["refund"]["ersReference"]

    assert out["magento_sent"]["resultCode"] == 0
    assert out["cancel_ok"] is True
    assert out["after_cancel_is_canceled"] is True
    assert out["after_cancel"]["customerTokens"] == {}
    assert control.invoice(out["magento_reference"])["status"] == "CANCELED"


# --- the reference WSDL ---------------------------------------------------------------------


@pytest.fixture
def reference_wsdl() -> Path:
    return reference_path()


@pytest.mark.parametrize("path", SOAP_PATHS)
def test_client_built_from_the_reference_wsdl_pays_through_location(
    php: RunPhp, emulator: EmulatorServer, control: Control, reference_wsdl: Path, path: str
) -> None:
    out = php("reference_wsdl.php", str(reference_wsdl), emulator.url + path, emulator.url)

    missing = set(out["reference_types"]) - set(out["served_types"])
    assert not missing, f"types PHP reads from the reference WSDL but not the served one: {missing}"
    extra = set(out["served_operations"]) - set(out["reference_operations"])
    assert extra == {"getClientSessionInfo"}
    assert set(out["reference_operations"]) <= set(out["served_operations"])

    ref = out["reference"]
    assert out["sent"]["invoiceQRCode"] == "HTTP://SEQR.SE/R" + ref
    assert (out["issued"]["status"], out["issued"]["customerTokens"]) == ("ISSUED", {})
    paid = out["paid"]
    assert paid["status"] == "PAID"
    assert paid["ersReference"] == paid["receipt"]["paymentReference"]
    assert paid["ersReference"] == stored_payment_reference(control, ref)
    assert paid["receipt"]["invoice"]["totalAmount"] == {"currency": "SEK", "value": "60.00"}
    assert [r["resultCode"] for r in out["refunds"]] == [0, 98]
    assert out["refunds"][1]["resultDescription"] == (
        "Sum of refunds can not be more than original transaction"
    )


# --- faults and result codes ----------------------------------------------------------------


def test_malformed_requests_are_soap_faults_and_business_errors_are_result_codes(
    php: RunPhp, emulator: EmulatorServer
) -> None:
    out = php("faults.php", emulator.soap_url)
    assert out["known"]["resultCode"] == 0

    faults = out["faults"]
    assert set(faults) == {"truncated", "unknown_operation", "not_an_int"}
    for name, seen in faults.items():
        assert seen["fault"] is not None, f"{name}: PHP got an answer, not a SoapFault: {seen}"
        assert seen["fault"]["faultcode"] == "soap:Client", name
        assert seen["fault"]["faultstring"], name
        assert " 500 " in seen["status_line"], name
        fault = etree.fromstring(seen["response"].encode()).find(
            f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault"
        )
        assert fault is not None, seen["response"]
        assert fault.findtext("faultstring") == seen["fault"]["faultstring"]
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(faults["truncated"]["sent"].encode())
    assert "getPaymentStatusX" in faults["unknown_operation"]["fault"]["faultstring"]
    assert "invoiceVersion" in faults["not_an_int"]["fault"]["faultstring"]

    assert out["wrong_password_send"] == {
        "resultCode": 20,
        "resultDescription": "AUTHENTICATION_FAILED",
    }
    assert out["wrong_password_status"] == {
        "resultCode": 20,
        "resultDescription": "AUTHENTICATION_FAILED",
        "version": 0,
    }
    assert (out["unknown_reference"]["resultCode"], out["unknown_reference"]["version"]) == (54, 0)
