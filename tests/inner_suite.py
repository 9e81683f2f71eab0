"""What every pytester test of the plugin gives its inner suite: a merchant's test file's
`shop` fixture (zeep over the emulator's own WSDL) and an environment of its own.

Each inner suite runs in a process of its own, as a merchant's would: in this process, zeep
and requests (imported by this session already) would be imported twice over.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

QUIET = ("-p", "no:cacheprovider")
ROOT = Path(__file__).resolve().parent.parent

SHOP = """
import pytest, zeep

@pytest.fixture
def shop(seqr_emulator):
    client = zeep.Client(seqr_emulator.wsdl_url)
    service = client.create_service(next(iter(client.wsdl.bindings)), seqr_emulator.soap_url)
    yield service
    client.transport.session.close()
"""


def isolate(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ini: str) -> None:
    """The inner suite's ini, and an environment where it starts its own emulator and loads
    this checkout's plugin, whatever the environment installed or an outer run exported."""
    pytester.makeini(ini)
    monkeypatch.delenv("SEQR_EMULATOR_SESSION", raising=False)
    monkeypatch.delenv("SEQR_EMULATOR_URL", raising=False)
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), path])))
