"""A merchant's integration as its CI drives it, for the scenario tests.

One terminal of its own (so tests never see each other's invoices), a zeep client built from
the reference WSDL, the control API over HTTP, and a real aiohttp endpoint for notifications.
"""

from __future__ import annotations

import time
from typing import Any

from emulator.server import EmulatorServer
from tests.conftest import REFERENCE_BINDING, Control, make_invoice
from tests.merchant import Merchant

PASSWORD = "terminal-secret"


class Shop:
    def __init__(self, server: EmulatorServer, zeep_client: Any, receiver: Merchant, terminal: str):
        self.server = server
        self.service = zeep_client.create_service(REFERENCE_BINDING, server.soap_url)
        self.control = Control(server.url)
        self.receiver = receiver
        self.terminal = terminal
        self.context = {
            "clientRequestTimeout": 0,
            "initiatorPrincipalId": {"id": terminal, "type": "TERMINALID"},
            "password": PASSWORD,
        }

    def use(self, name: str) -> None:
        """Select a catalogue scenario for this shop's terminal, as a parallel CI job would."""
        chosen = self.control.ok("PUT", f"/terminals/{self.terminal}/scenario", {"name": name})
        assert chosen["scenario"]["name"] == name

    def invoice_data(self, total: str = "100.00", notify: str | None = None, **extra: Any) -> dict:
        """An invoice that asks to be notified at this shop's endpoint."""
        url = notify or self.receiver.url(f"/seqr/notify?terminal={self.terminal}")
        return make_invoice(total, notificationUrl=url, **extra)

    def try_send(self, notify: str | None = None, **extra: Any) -> Any:
        invoice = self.invoice_data(notify=notify, **extra)
        return self.service.sendInvoice(context=self.context, invoice=invoice)

    def send(self, notify: str | None = None, **extra: Any) -> str:
        answer = self.try_send(notify, **extra)
        assert answer.resultCode == 0, answer
        return answer.invoiceReference

    def status(self, ref: str, version: int = 0) -> Any:
        return self.service.getPaymentStatus(
            context=self.context, invoiceReference=ref, invoiceVersion=version
        )

    def statuses(self, ref: str, count: int) -> list[str]:
        return [self.status(ref).status for _ in range(count)]

    def invoice(self, ref: str) -> dict[str, Any]:
        return self.control.invoice(ref)

    def advance(self, seconds: float) -> None:
        self.control.advance(seconds)

    def attempts(self, ref: str) -> list[dict[str, Any]]:
        """The emulator's journal of notification attempts for the invoice."""
        return self.control.ok("GET", f"/notifications?invoice={ref}")["notifications"]

    def wait_attempts(self, ref: str, count: int = 1, timeout: float = 10.0) -> list[dict]:
        """The invoice's attempts once there are `count` of them (polled, bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.attempts(ref)
            if len(found) >= count or time.monotonic() > deadline:
                assert len(found) >= count, f"expected {count} attempts for {ref}, got {found}"
                return found
            time.sleep(0.01)

    def posts(self, ref: str) -> list[dict[str, str]]:
        """The forms the merchant's endpoint received for the invoice."""
        return [r.form for r in self.receiver.received if r.form.get("invoiceReference") == ref]
