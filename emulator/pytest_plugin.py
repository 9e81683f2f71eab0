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

The examiner watches every test's traffic (`emulator.examiner`): `seqr_emulator.
assert_conformant()` fails a test whose calls broke one of SEQR's documented rules, and
`--seqr-conformance` does that for every test that used the handle. At the end of the
session a summary says which SEQR behaviours the suite never made its code meet ("never
saw: a FAILED payment, a refund answered 98, ...").
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
SESSION_VARIABLE = "SEQR_EMULATOR_SESSION"  # names this session's terminals, workers too
FAILING = ("error", "warning")  # the severities a conformance check fails on
_STARTED = pytest.StashKey["Any"]()  # the emulator this process started for xdist workers
_COVERAGE = pytest.StashKey["dict[str, Any]"]()  # read before the session's emulator stops
_SESSION = pytest.StashKey[str]()
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

    def conformance(self, *, settled: bool = False, closing: bool = False) -> dict[str, Any]:
        """What the examiner found in this terminal's traffic (`GET /_emulator/conformance`):
        `violations`, each with its rule, severity, source and the requests it rests on."""
        found: dict[str, Any] = self.call(
            "GET",
            "/conformance",
            terminal=self.terminal,
            settled="true" if settled else None,
            closing="true" if closing else None,
        )
        return found

    def assert_conformant(self, *, closing: bool = False) -> None:
        """Fail unless this terminal's calls so far kept SEQR's rules (errors and warnings;
        information, such as a missing clientReference, never fails). Judged as of a merchant
        that is done: a delivered notification nobody polled counts; `closing` also asks for
        markTransactionPeriod after the last payment."""
        found = self.conformance(settled=True, closing=closing)
        failing = [v for v in found["violations"] if v["severity"] in FAILING]
        if failing:
            raise AssertionError(describe_violations(failing))

    async def apay(self, reference: str, *, reserve: bool | None = None) -> dict[str, Any]:
        """`pay` for asyncio tests: the HTTP call runs off the test's event loop."""
        import asyncio

        return await asyncio.to_thread(self.pay, reference, reserve=reserve)

    async def aadvance_clock(self, seconds: float) -> dict[str, Any]:
        import asyncio

        return await asyncio.to_thread(self.advance_clock, seconds)


def describe_violations(violations: list[dict[str, Any]]) -> str:
    lines = [f"{len(violations)} SEQR conformance violation(s):"]
    for v in violations:
        seqs = ", ".join(f"#{e['seq']} {e['operation']}" for e in v["evidence"])
        lines.append(f"  {v['rule']} ({v['severity']}): {v['message']} [{seqs}]")
        lines.append(f"    source: {v['source']}")
    return "\n".join(lines)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("seqr-emulator")
    group.addoption(
        "--seqr-conformance",
        action="store_true",
        default=False,
        help="fail every test whose SEQR calls (through the seqr_emulator handle's terminal) "
        "broke one of SEQR's documented rules",
    )
    group.addoption(
        "--no-seqr-coverage",
        action="store_true",
        default=False,
        help="leave out the summary of SEQR behaviours the suite never exercised",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """With --seqr-conformance, a test that passed fails if its traffic broke a rule."""
    result = yield
    handle = getattr(item, "funcargs", {}).get("seqr_emulator")
    if isinstance(handle, SeqrEmulator) and item.config.getoption("seqr_conformance"):
        handle.assert_conformant()
    return result


def _session(config: pytest.Config) -> str:
    found = config.stash.get(_SESSION, None)
    if found is None:
        found = os.environ.get(SESSION_VARIABLE) or secrets.token_hex(3)
        config.stash[_SESSION] = found
    return found


def _coverage(client: EmulatorClient, config: pytest.Config) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = client.call(
            "GET", "/coverage", prefix=f"pytest-{_session(config)}-"
        )
    except (OSError, ValueError):  # the summary is a courtesy: never fail the run for it
        return None
    return found


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """What the session's tests never exercised, once they have all run."""
    if config.getoption("no_seqr_coverage") or getattr(config, "workerinput", None):
        return
    found = config.stash.get(_COVERAGE, None)
    url = os.environ.get(URL_VARIABLE)
    if found is None and url:
        found = _coverage(EmulatorClient(url, token=os.environ.get("SEQR_EMULATOR_TOKEN")), config)
    if not found or not found.get("terminals"):
        return
    terminalreporter.section("SEQR behaviour coverage")
    seen = [b["label"] for b in found["behaviours"] if b["times"]]
    terminalreporter.write_line(f"exercised: {', '.join(seen) or 'nothing'}")
    scenarios = ", ".join(found["scenarios"]) or "none"
    terminalreporter.write_line(f"scenarios: {scenarios}")
    terminalreporter.write_line(found["summary"])


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
    """Under pytest-xdist, the controller starts the one emulator its workers share, and
    names the session its workers' terminals belong to."""
    if getattr(config, "workerinput", None) is None and not os.environ.get(SESSION_VARIABLE):
        os.environ[SESSION_VARIABLE] = _session(config)  # the workers inherit it
    if getattr(config, "workerinput", None) is not None or os.environ.get(URL_VARIABLE):
        return
    if getattr(config.option, "numprocesses", None) or getattr(config.option, "dist", "no") != "no":
        server = _start_here()
        config.stash[_STARTED] = server
        os.environ[URL_VARIABLE] = server.url  # the workers inherit it


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(_SESSION, None) == os.environ.get(SESSION_VARIABLE):
        os.environ.pop(SESSION_VARIABLE, None)
    server = config.stash.get(_STARTED, None)
    if server is not None:
        if _COVERAGE not in config.stash:
            found = _coverage(EmulatorClient(server.url), config)
            if found is not None:
                config.stash[_COVERAGE] = found
        os.environ.pop(URL_VARIABLE, None)
        server.stop()


@pytest.fixture(scope="session")
def seqr_emulator_server(pytestconfig: pytest.Config) -> Iterator[EmulatorClient]:
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
    client = EmulatorClient(server.url, token=token)
    try:
        yield client
    finally:
        found = _coverage(client, pytestconfig)  # read while it still runs
        if found is not None:
            pytestconfig.stash[_COVERAGE] = found
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
    session = _session(request.config)
    terminal = f"pytest-{session}-{worker}-{next(_numbers)}-{secrets.token_hex(4)}"
    handle = SeqrEmulator(
        seqr_emulator_server.url, terminal, secrets.token_hex(8), seqr_emulator_server.token
    )
    try:
        yield handle
    finally:
        handle.reset()
