"""QR images of SEQR codes (the codes themselves are built in `domain.seqr_urls`).

Images follow SEQR's print guideline (protocol §6): error correction M, the upper-case URL
in alphanumeric mode, version 4 (33 by 33 modules) unless the text needs a larger one, and
a quiet zone of 2 modules. They are drawn only when asked for (the control API's qr.png and
qr.svg), never while a SOAP call is answered, and each emulator keeps the latest it drew in
an `Images` cache of its own, since an invoice's code never changes.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable
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


def render_png(text: str) -> bytes:
    from qrcode.image.pil import PilImage

    out = io.BytesIO()
    _matrix(text, PNG_MODULE_PIXELS).make_image(image_factory=PilImage).save(out, format="PNG")
    return out.getvalue()


def render_svg(text: str) -> bytes:
    """One path on a white ground, one unit per module, so it scales to any print size."""
    from qrcode.image.svg import SvgPathFillImage

    # qrcode draws SVG modules box_size/10 units wide
    image = _matrix(text, 10).make_image(image_factory=SvgPathFillImage)
    svg: bytes = image.to_string()
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + svg


class Images:
    """One emulator's drawn images, the most recently asked for first kept (LRU).

    Drawn in worker threads (`asyncio.to_thread`), so the table has a lock; two requests for
    the same new image may both draw it, which is harmless and rarer than a lock per draw.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._kept: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every image and the counts (the emulator was reset)."""
        with self._lock:
            self._kept.clear()
            self.hits = self.misses = 0

    def png(self, text: str) -> bytes:
        return self._get("png", text, render_png)

    def svg(self, text: str) -> bytes:
        return self._get("svg", text, render_svg)

    def _get(self, kind: str, text: str, render: Callable[[str], bytes]) -> bytes:
        key = (kind, text)
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self.hits += 1
                self._kept.move_to_end(key)
                return found
            self.misses += 1
        made = render(text)
        with self._lock:
            self._kept[key] = made
            if len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return made
