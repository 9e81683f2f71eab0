"""seqr-emulator: a local emulator of the SEQR merchant service (SOAP, customer, callbacks)."""

from emulator.app import create_app
from emulator.backend import SeqrBackend
from emulator.server import EmulatorServer
from emulator.settings import Settings
from emulator.version import VERSION

__version__ = VERSION

__all__ = ["EmulatorServer", "SeqrBackend", "Settings", "__version__", "create_app"]
