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
  reset after the test. Its journal helpers (`journal()`, `verify(steps)`, `assert_called`
  and the other `assert_*`) read that terminal's journal only, so a test asserts on what
  its own integration did.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.client import EmulatorClient

URL_VARIABLE = "SEQR_EMULATOR_URL"
_STARTED = pytest.StashKey["Any"]()  # the emulator this process started for xdist workers
_numbers = itertools.count(1)


class SeqrEmulator(EmulatorClient):
    """One test's terminal on the session's emulator, with the control API's twins.

    `context` is the SOAP `context` for this terminal (clientRequestTimeout 0, as SEQR's
    certification asks); `soap_url` and `wsdl_url` are where the code under test points.
    The journal's twins and assertion helpers come from `EmulatorClient`, scoped to the
    terminal.
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
    free loopback port and stopped when the session ends. `SEQR_EMULATOR_TOKEN` is sent
    with every control call when set. Override this fixture in a conftest to start it
    another way.
    """
    token = os.environ.get("SEQR_EMULATOR_TOKEN") or None
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

    What the code under test did is in this terminal's journal: `journal()` lists its SOAP
    calls and notification attempts, oldest first (`operation=`, `invoice=`, `kind=`,
    `since=`, `until=`, `limit=`, `bodies=False`). Each helper below raises
    `AssertionError` naming the entries it saw (operation, invoice, resultCode or outcome,
    emulator time):

    - `verify(["sendInvoice", {"operation": "getPaymentStatus", "atLeast": 1},
      {"operation": "refundPayment", "times": 1}], invoice=ref)`: these steps, in this
      order (`POST /_emulator/verify`; a step that is not met names the nearest calls and
      how each differs)
    - `assert_called("getPaymentStatus", times=None, invoice=ref, result_code=0)`: at least
      once, or exactly `times`; `assert_called_once(...)`, `assert_not_called(...)`
    - `assert_notified(ref, delivered=1)`: exactly one notification delivered
    - `assert_polled_after_notification(ref, within=2.0)`: a getPaymentStatus within 2
      seconds of emulator time after each delivered notification
    - `assert_no_call_after_final_status(ref)`: no poll, update or cancel once a poll's
      answer said PAID, CANCELED, FAILED or EXPIRED

    The notification helpers wait up to `timeout=5.0` seconds for the attempts to be
    journaled, since an attempt is written once the merchant's endpoint has answered.
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
