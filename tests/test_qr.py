"""An invoice's QR code (protocol §6): the image decodes back to `invoiceQRCode`, drawn to
SEQR's print guideline, and a scanned code leads the app to its invoice."""

from __future__ import annotations

import io
import re
import urllib.request
from xml.etree import ElementTree

import pytest
import zxingcpp
from PIL import Image, ImageDraw
from qrcode.util import MODE_ALPHA_NUM, QRData

from emulator import qr
from emulator.app import IMAGES
from emulator.domain import seqr_urls
from tests.shop import accepted_invoice

SIDE = 33 + 2 * 2  # QR version 4 is 33 modules wide; a quiet zone of 2 on each side


def fetch(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers["Content-Type"], response.read()


def decode(image: Image.Image) -> zxingcpp.Barcode:
    [found] = zxingcpp.read_barcodes(image)
    assert found.format == zxingcpp.BarcodeFormat.QRCode
    return found


def test_png_decodes_to_the_invoice_qr_url(emulator, zeep_service, context):
    answer = accepted_invoice(zeep_service, context)
    kind, body = fetch(f"{emulator.url}/_emulator/invoices/{answer.invoiceReference}/qr.png")
    assert kind == "image/png"
    image = Image.open(io.BytesIO(body))
    found = decode(image)
    assert found.text == answer.invoiceQRCode == f"HTTP://SEQR.SE/R{answer.invoiceReference}"
    assert found.ec_level == "M"
    assert image.size == (SIDE * qr.PNG_MODULE_PIXELS,) * 2


def _rasterise(svg: bytes, scale: int = 8) -> tuple[Image.Image, str]:
    """Draw the SVG's module squares (`M x,y H x2 V y2 H x z`) to a bitmap."""
    root = ElementTree.fromstring(svg)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    path = root.find("svg:path", ns)
    assert path is not None
    view_box = root.get("viewBox", "")
    width = float(view_box.split()[2])
    image = Image.new("L", (int(width * scale),) * 2, 255)
    draw = ImageDraw.Draw(image)
    squares = re.findall(r"M([\d.]+),([\d.]+)H([\d.]+)V([\d.]+)H[\d.]+z", path.get("d", ""))
    assert squares
    for x, y, x2, y2 in squares:
        box = [float(x) * scale, float(y) * scale, float(x2) * scale - 1, float(y2) * scale - 1]
        draw.rectangle(box, fill=0)
    return image, view_box


def test_svg_decodes_to_the_same_url_one_unit_per_module(emulator, zeep_service, context):
    answer = accepted_invoice(zeep_service, context)
    kind, body = fetch(f"{emulator.url}/_emulator/invoices/{answer.invoiceReference}/qr.svg")
    assert kind == "image/svg+xml"
    image, view_box = _rasterise(body)
    assert view_box == f"0 0 {SIDE} {SIDE}"
    found = decode(image)
    assert found.text == answer.invoiceQRCode and found.ec_level == "M"


def test_payload_is_upper_case_and_fits_alphanumeric_mode():
    text = seqr_urls.invoice_qr("20260101123456789")
    assert text == "HTTP://SEQR.SE/R20260101123456789" and len(text) <= 50
    assert QRData(text).mode == MODE_ALPHA_NUM
    assert seqr_urls.deep_link("20260101123456789") == "seqr://SEQR.SE/R20260101123456789"


def test_control_view_shows_code_and_deep_link(zeep_service, context, control):
    answer = accepted_invoice(zeep_service, context)
    view = control.invoice(answer.invoiceReference)
    assert view["invoiceQRCode"] == answer.invoiceQRCode
    assert view["deepLink"] == f"seqr://SEQR.SE/R{answer.invoiceReference}"


def test_images_are_drawn_only_when_asked_for_and_then_cached(emulator, zeep_service, context):
    images = emulator.app[IMAGES]
    answer = accepted_invoice(zeep_service, context)
    zeep_service.getPaymentStatus(
        context=context, invoiceReference=answer.invoiceReference, invoiceVersion=0
    )
    assert images.misses == 0, "a SOAP call drew a QR image"
    url = f"{emulator.url}/_emulator/invoices/{answer.invoiceReference}/qr.png"
    assert fetch(url)[1] == fetch(url)[1]
    assert (images.misses, images.hits) == (1, 1)


def test_unknown_invoice_has_no_image(control):
    for fmt in ("png", "svg"):
        status, body = control.request("GET", f"/invoices/404404/qr.{fmt}")
        assert status == 404 and "404404" in body["error"]


@pytest.mark.parametrize(
    "template", ["HTTP://SEQR.SE/R{ref}", "seqr://SEQR.SE/R{ref}", "  http://seqr.se/R{ref}  "]
)
def test_a_scanned_code_opens_its_invoice(zeep_service, context, control, template):
    ref = accepted_invoice(zeep_service, context).invoiceReference
    code = urllib.request.quote(template.format(ref=ref))
    assert control.ok("GET", f"/lookup?code={code}")["reference"] == ref


def test_a_code_that_is_not_seqr_is_refused(control):
    assert control.request("GET", "/lookup?code=https%3A%2F%2Fexample.com%2FR1")[0] == 404
    assert control.request("GET", "/lookup?code=")[0] == 400
