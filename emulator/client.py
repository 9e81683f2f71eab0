"""The control API from Python, for suites and scripts that do not use the pytest plugin.

`EmulatorClient(url)` speaks to a running emulator over HTTP with the standard library only
(urllib), so a unittest or behave suite, a script, or another process can drive it: the
customer's moves, scenarios, clocks, lists, resets and readiness. `terminal=` scopes it to
one terminal (its invoices, scenario, clock and reset), as a CI job on a shared emulator
wants; the pytest plugin's per-test handle is this class with a terminal of the test's own.
Every method has the name of its route's action; a refusal raises `ControlError` with the
emulator's status and message.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

SOAP_PATH = "/extclientproxy/service/v2"
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
