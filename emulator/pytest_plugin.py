"""The pytest plugin: an emulator for the session, and a terminal of its own for every test.

Installed with the package and registered through the `pytest11` entry point, so a merchant's
suite only asks for the fixtures. `pytest --fixtures` shows each one's manual (its docstring).

- `seqr_emulator_server`: the session's emulator. The one at `SEQR_EMULATOR_URL` when a
  pipeline started it outside (a service container, an earlier step), else one started here
  on a free loopback port and stopped at the end. Under pytest-xdist the controller starts
  it once and every worker shares it.
- `seqr_emulator`: the test's handle, an `EmulatorClient` scoped to a terminal that no other
  test uses (id and password of its own), so the test sees only its own invoices,
  notifications, journal, scenario and clock, whatever else runs in parallel. Its slate is
  reset after the test.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.client import EmulatorClient, token_from_environment

URL_VARIABLE = "SEQR_EMULATOR_URL"
_STARTED = pytest.StashKey["Any"]()  # the emulator this process started for xdist workers
_numbers = itertools.count(1)


class SeqrEmulator(EmulatorClient):
    """One test's terminal on the session's emulator, with the control API's twins.

    `context` is the SOAP `context` for this terminal (clientRequestTimeout 0, as SEQR's
    certification asks); `soap_url` and `wsdl_url` are where the code under test points.
    """

    def __init__(self, url: str, terminal: str, password: str, token: str | None) -> None:
        super().__init__(url, terminal=terminal, token=token)
        self.terminal_id = terminal
        self.password = password

    @property
    def context(self) -> dict[str, Any]:
        return {
            "clientId": "seqr-emulator pytest plugin",
            "clientRequestTimeout": 0,
            "initiatorPrincipalId": {"id": self.terminal_id, "type": "TERMINALID"},
            "password": self.password,
        }

    async def apay(self, reference: str, *, reserve: bool | None = None) -> dict[str, Any]:
        """`pay` for asyncio tests: the HTTP call runs off the test's event loop."""
        import asyncio

        return await asyncio.to_thread(self.pay, reference, reserve=reserve)

    async def aadvance_clock(self, seconds: float) -> dict[str, Any]:
        import asyncio

        return await asyncio.to_thread(self.advance_clock, seconds)


def _start_here() -> Any:
    from emulator.server import EmulatorServer
    from emulator.settings import Settings

    server = EmulatorServer(Settings(port=0))
    server.start()
    return server


def _worker_id(config: pytest.Config) -> str:
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput else "main"


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, the controller starts the one emulator its workers share."""
    if getattr(config, "workerinput", None) is not None or os.environ.get(URL_VARIABLE):
        return
    if getattr(config.option, "numprocesses", None) or getattr(config.option, "dist", "no") != "no":
        server = _start_here()
        config.stash[_STARTED] = server
        os.environ[URL_VARIABLE] = server.url  # the workers inherit it


def pytest_unconfigure(config: pytest.Config) -> None:
    server = config.stash.get(_STARTED, None)
    if server is not None:
        os.environ.pop(URL_VARIABLE, None)
        server.stop()


@pytest.fixture(scope="session")
def seqr_emulator_server() -> Iterator[EmulatorClient]:
    """The session's SEQR emulator, as an `EmulatorClient` (no terminal: the whole of it).

    `SEQR_EMULATOR_URL` names one started outside the tests (then it is waited for, up to
    30 s, and never stopped or reset here); otherwise one is started in this process on a
    free loopback port and stopped when the session ends. The control token, when
    `SEQR_EMULATOR_CONTROL_TOKEN` (or `SEQR_EMULATOR_TOKEN`) holds one, is sent with every
    control call. Override this fixture in a conftest to start it
    another way.
    """
    token = token_from_environment()
    url = os.environ.get(URL_VARIABLE)
    if url:
        client = EmulatorClient(url, token=token)
        client.wait_ready()
        yield client
        return
    server = _start_here()
    try:
        yield EmulatorClient(server.url, token=token)
    finally:
        server.stop()


@pytest.fixture
def seqr_emulator(
    seqr_emulator_server: EmulatorClient, request: pytest.FixtureRequest
) -> Iterator[SeqrEmulator]:
    """This test's own terminal on the session's emulator (`SeqrEmulator`).

    Send invoices with `seqr_emulator.context` to `seqr_emulator.soap_url`; the customer's
    moves are `pay`, `cancel`, `fail`, `scan`; `use_scenario("pay-after-polls")` scripts this
    terminal only; `advance_clock(25)` moves this terminal's time only (its reversals,
    reservation timeouts, scenario timers and notification delays); `invoices()`,
    `notifications()` list only this terminal's. After the test its slate is reset; no other
    test's is touched. Async tests may use `apay` and `aadvance_clock`.
    """
    worker = _worker_id(request.config)
    terminal = f"pytest-{worker}-{next(_numbers)}-{secrets.token_hex(4)}"
    handle = SeqrEmulator(
        seqr_emulator_server.url, terminal, secrets.token_hex(8), seqr_emulator_server.token
    )
    try:
        yield handle
    finally:
        handle.reset()
