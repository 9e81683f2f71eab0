"""QR images of SEQR codes (the codes themselves are built in `domain.seqr_urls`).

Images follow SEQR's print guideline (protocol §6): error correction M, the upper-case URL
in alphanumeric mode, version 4 (33 by 33 modules) unless the text needs a larger one, and
a quiet zone of 2 modules. They are drawn only when asked for (the control API's qr.png and
qr.svg), never while a SOAP call is answered, and kept in a small LRU cache since an
invoice's code never changes.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Any

QR_VERSION = 4
QUIET_ZONE = 2
PNG_MODULE_PIXELS = 8
CACHE_SIZE = 256


def _matrix(text: str, box_size: int) -> Any:  # qrcode ships no type hints
    import qrcode
    from qrcode.util import QRData

    code = qrcode.QRCode(
        version=QR_VERSION,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=box_size,
        border=QUIET_ZONE,
    )
    code.add_data(QRData(text))  # one segment, in the tightest mode the text allows
    code.make(fit=True)
    return code


@lru_cache(maxsize=CACHE_SIZE)
def render_png(text: str) -> bytes:
    from qrcode.image.pil import PilImage

    out = io.BytesIO()
    _matrix(text, PNG_MODULE_PIXELS).make_image(image_factory=PilImage).save(out, format="PNG")
    return out.getvalue()


@lru_cache(maxsize=CACHE_SIZE)
def render_svg(text: str) -> bytes:
    """One path on a white ground, one unit per module, so it scales to any print size."""
    from qrcode.image.svg import SvgPathFillImage

    # qrcode draws SVG modules box_size/10 units wide
    image = _matrix(text, 10).make_image(image_factory=SvgPathFillImage)
    svg: bytes = image.to_string()
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + svg
