"""seqr-emulator: a local emulator of the SEQR merchant service (SOAP, customer, callbacks).

The names below are imported on first use, so that loading one small module of the package
(the pytest plugin every pytest run with the emulator installed loads, the client) does not
load the server's dependencies too.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from emulator.version import VERSION

if TYPE_CHECKING:
    from emulator.app import create_app
    from emulator.backend import SeqrBackend
    from emulator.server import EmulatorServer
    from emulator.settings import Settings

__version__ = VERSION
__all__ = ["EmulatorServer", "SeqrBackend", "Settings", "__version__", "create_app"]
_WHERE = {
    "create_app": "emulator.app",
    "SeqrBackend": "emulator.backend",
    "EmulatorServer": "emulator.server",
    "Settings": "emulator.settings",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'emulator' has no attribute {name!r}")
    return getattr(importlib.import_module(where), name)
