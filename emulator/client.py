"""The control API from Python, for suites and scripts that do not use the pytest plugin.

`EmulatorClient(url)` speaks to a running emulator over HTTP with the standard library only
(urllib), so a unittest or behave suite, a script, or another process can drive it: the
customer's moves, scenarios, clocks, lists, resets and readiness. `terminal=` scopes it to
one terminal (its invoices, scenario, clock and reset), as a CI job on a shared emulator
wants; the pytest plugin's per-test handle is this class with a terminal of the test's own.
Every method has the name of its route's action; a refusal raises `ControlError` with the
emulator's status and message.

The journal's twins read what the integration did: `journal()` lists the SOAP calls and
notification attempts, `verify(steps)` asks `POST /_emulator/verify` whether they came in
order, and the `assert_*` helpers check one thing each, raising `AssertionError` with the
entries they saw (operation, invoice, resultCode or outcome, emulator time), so a failing
test says what the merchant did instead. Their words come from `emulator.verification`, the
same as the route's.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by the assertion helpers that use it: see `_verification`
    from emulator import verification
    from emulator.verification import Seen

SOAP_PATH = "/extclientproxy/service/v2"
JOURNAL_PAGE = 1000  # the most entries one `GET /_emulator/journal` answers
Json = dict[str, Any]
TOKEN_VARIABLES = ("SEQR_EMULATOR_CONTROL_TOKEN", "SEQR_EMULATOR_TOKEN")
"""Where a client finds the control token: first the variable `serve --control-token` reads,
so one variable in a pipeline (or a container's environment) serves both ends; then the
name the twins and the plugin read before there was one."""


def token_from_environment(environ: Mapping[str, str] = os.environ) -> str | None:
    """The control token a client should send, if the environment holds one."""
    for name in TOKEN_VARIABLES:
        if environ.get(name):
            return environ[name]
    return None


class ControlError(Exception):
    """The emulator refused a control call: `status` is its HTTP status, `message` its words."""

    def __init__(self, status: int, message: str, method: str, path: str) -> None:
        super().__init__(f"{method} {path}: {status} {message}")
        self.status = status
        self.message = message


class EmulatorClient:
    def __init__(
        self,
        url: str,
        *,
        terminal: str | None = None,
        token: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.terminal = terminal
        self.token = token
        self.timeout = timeout

    @property
    def soap_url(self) -> str:
        """Where an integration sends its SOAP calls (the webshop plugins' path)."""
        return self.url + SOAP_PATH

    @property
    def wsdl_url(self) -> str:
        return self.soap_url + "?wsdl"

    # --- HTTP ------------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Json | None = None, **query: Any) -> Any:
        """One control call: `path` under /_emulator, JSON in and out."""
        shown = {k: v for k, v in query.items() if v is not None}
        target = f"{self.url}/_emulator{path}"
        if shown:
            target += "?" + urllib.parse.urlencode(shown)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(target, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as refused:
            raw = refused.read()
            try:
                message = json.loads(raw).get("error", "")
            except ValueError:
                message = raw.decode(errors="replace")[:200]
            raise ControlError(refused.code, message, method, path) from None
        return json.loads(raw) if raw else None

    # --- readiness -------------------------------------------------------------------------

    def health(self) -> Json:
        result: Json = self.call("GET", "/health")
        return result

    def wait_ready(self, timeout: float = 30.0) -> Json:
        """Until `/_emulator/health` says ready (connection refused counts as not yet)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.health()
            except (OSError, ControlError) as exc:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.url} not ready after {timeout:g} s: {exc}") from None
            time.sleep(0.05)

    # --- the customer ----------------------------------------------------------------------

    def pay(self, reference: str, *, reserve: bool | None = None) -> Json:
        body = None if reserve is None else {"reserve": reserve}
        result: Json = self.call("POST", f"/invoices/{reference}/pay", body)
        return result

    def cancel(self, reference: str) -> Json:
        result: Json = self.call("POST", f"/invoices/{reference}/cancel")
        return result

    def fail(self, reference: str) -> Json:
        result: Json = self.call("POST", f"/invoices/{reference}/fail")
        return result

    def scan(self, reference: str, tokens: list[Json] | None = None) -> Json:
        body = None if tokens is None else {"tokens": tokens}
        result: Json = self.call("POST", f"/invoices/{reference}/scan", body)
        return result

    # --- what the emulator holds -----------------------------------------------------------

    def invoice(self, reference: str) -> Json:
        result: Json = self.call("GET", f"/invoices/{reference}")
        return result

    def invoices(self) -> list[Json]:
        """Oldest first; only this client's terminal's when it has one."""
        result: list[Json] = self.call("GET", "/invoices", terminal=self.terminal)["invoices"]
        return result

    def latest_invoice(self) -> Json:
        """The newest invoice (of the terminal): what a test usually pays next."""
        found = self.invoices()
        if not found:
            raise LookupError("no invoice yet" + (f" for {self.terminal}" if self.terminal else ""))
        return found[-1]

    def notifications(self, invoice: str | None = None) -> list[Json]:
        """Notification attempts, oldest first (of the invoice, else of the terminal)."""
        terminal = None if invoice else self.terminal
        found = self.call("GET", "/notifications", invoice=invoice, terminal=terminal)
        result: list[Json] = found["notifications"]
        return result

    # --- scenarios and clocks --------------------------------------------------------------

    def use_scenario(self, name: str | None = None, *, inline: Json | None = None) -> Json:
        """The scenario for the terminal's next invoices (or the default, without a terminal);
        neither name nor inline: none."""
        path = f"/terminals/{self.terminal}/scenario" if self.terminal else "/scenario"
        if name is None and inline is None:
            result: Json = self.call("DELETE", path)
            return result
        body = {"name": name} if inline is None else {"inline": inline}
        result = self.call("PUT", path, body)
        return result

    def advance_clock(self, seconds: float) -> Json:
        """The terminal's own clock, or the emulator's (every terminal's) without one."""
        path = f"/terminals/{self.terminal}/clock/advance" if self.terminal else "/clock/advance"
        result: Json = self.call("POST", path, {"seconds": seconds})
        return result

    def reset(self) -> Json:
        """The terminal's slate, or (without a terminal) the whole emulator's."""
        path = f"/terminals/{self.terminal}/reset" if self.terminal else "/reset"
        result: Json = self.call("POST", path)
        return result

    # --- the journal -----------------------------------------------------------------------

    def journal(
        self,
        *,
        operation: str | None = None,
        invoice: str | None = None,
        kind: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int | None = None,
        bodies: bool = True,
    ) -> list[Json]:
        """Journal entries (of the terminal), oldest first: all that match, or the newest
        `limit`. `operation` is a SOAP operation or `notification`; `kind` is `call` or
        `notification`; `since`/`until` are emulator time; `bodies=False` leaves the
        request and answer text out."""
        found: list[Json] = []
        before = None
        while limit is None or len(found) < limit:
            page = min(JOURNAL_PAGE, limit - len(found)) if limit is not None else JOURNAL_PAGE
            answer = self.call(
                "GET",
                "/journal",
                terminal=self.terminal,
                operation=operation,
                invoice=invoice,
                kind=kind,
                since=since.isoformat() if isinstance(since, datetime) else since,
                until=until.isoformat() if isinstance(until, datetime) else until,
                before=before,
                limit=page,
                bodies="true" if bodies else "false",
            )
            found += answer["entries"]
            before = answer["next"]
            if before is None or not answer["entries"]:
                break
        found.reverse()
        return found

    def _seen(self, **query: Any) -> list[Seen]:
        """The entries as `verification` reads them; with their bytes, so that a poll's line
        says what status it answered."""
        from_json = _verification().Seen.from_json
        return [from_json(e) for e in self.journal(**query)]

    def verify(
        self,
        steps: Sequence[str | Mapping[str, Any]],
        *,
        invoice: str | None = None,
        check: bool = True,
    ) -> Json:
        """`POST /_emulator/verify`: do the journal's entries (of the terminal) come as the
        steps say, in order? Each step is an operation's name (at least once) or an object:
        `{"operation": "refundPayment", "times": 1}`, with `atLeast`/`atMost`, `invoice`,
        `resultCode`, `outcome` (a notification's: delivered, failed, dropped) or `status`
        (what a poll answered). `invoice` is every step's that names none. Raises
        `AssertionError` with the emulator's words when they do not (unless `check=False`);
        returns the answer."""
        body: Json = {"steps": [s if isinstance(s, str) else dict(s) for s in steps]}
        if invoice is not None:
            body["invoice"] = invoice
        if self.terminal is not None:
            body["terminal"] = self.terminal
        answer: Json = self.call("POST", "/verify", body)
        if check and not answer["ok"]:
            raise AssertionError(answer["message"])
        return answer

    def assert_called(
        self,
        operation: str,
        times: int | None = None,
        *,
        invoice: str | None = None,
        result_code: int | None = None,
    ) -> None:
        """The operation was called `times` times (at least once when not told), for the
        invoice and with the resultCode when given; else `AssertionError` naming the nearest
        calls seen."""
        expect = _verification().expect
        step = expect(operation, times=times, invoice=invoice, result_code=result_code)
        self._check([step], self._seen())

    def assert_called_once(
        self, operation: str, *, invoice: str | None = None, result_code: int | None = None
    ) -> None:
        self.assert_called(operation, 1, invoice=invoice, result_code=result_code)

    def assert_not_called(self, operation: str, *, invoice: str | None = None) -> None:
        self.assert_called(operation, 0, invoice=invoice)

    def assert_notified(self, invoice: str, delivered: int = 1, *, timeout: float = 5.0) -> None:
        """Exactly `delivered` notifications of the invoice were delivered (answered 2xx).

        An attempt is journaled once the merchant's endpoint has answered, which can be a
        moment after the endpoint saw it: this waits up to `timeout` seconds for `delivered`
        attempts of the invoice to be journaled (delivered or not) before it judges."""
        seen = self._attempts(invoice, delivered, timeout)
        expect = _verification().expect
        step = expect("notification", times=delivered, invoice=invoice, notification="delivered")
        self._check([step], seen)

    def assert_polled_after_notification(
        self, invoice: str, within: float = 2.0, *, timeout: float = 5.0
    ) -> None:
        """Each delivered notification of the invoice was followed, within `within` seconds of
        emulator time (the terminal's clock, as the journal reads it), by a getPaymentStatus
        for the invoice, as SEQR asks of a merchant. Waits up to `timeout` seconds for the
        first attempt to be journaled (see `assert_notified`)."""
        seen = self._attempts(invoice, 1, timeout)
        problem = _verification().polled_after_notification(seen, invoice, within)
        if problem is not None:
            raise AssertionError(problem)

    def assert_no_call_after_final_status(self, invoice: str) -> None:
        """Once a getPaymentStatus answer said the invoice was PAID, CANCELED, FAILED or
        EXPIRED, no getPaymentStatus, updateInvoice or cancelInvoice about it followed."""
        seen = self._seen(invoice=invoice, kind="call")
        problem = _verification().calls_after_final_status(seen, invoice)
        if problem is not None:
            raise AssertionError(problem)

    def _attempts(self, invoice: str, count: int, timeout: float) -> list[Seen]:
        """The terminal's entries once `count` attempts of the invoice are journaled, or once
        `timeout` seconds have passed."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self._seen()
            attempts = [s for s in seen if s.invoice == invoice and s.kind == "notification"]
            if len(attempts) >= count or time.monotonic() > deadline:
                return seen
            time.sleep(0.02)

    def _check(self, steps: list[verification.Expect], seen: list[Seen]) -> None:
        verdict = _verification().verify(seen, steps, self.terminal)
        if not verdict.ok:
            raise AssertionError(verdict.message())


def _verification() -> ModuleType:
    """`emulator.verification`, imported by the first assertion helper that needs it: every
    `seqr-emulator` command loads this module (through `remote`), and `serve` has no use for
    verification's words before someone asks. Worth: 7.7M instructions of a served start to
    `listening`, 1,559M against 1,551M (callgrind)."""
    from emulator import verification

    return verification
