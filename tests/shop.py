"""The merchant's side of the tests, in one place: its invoice, its SOAP calls, the customer.

`make_invoice` is the invoice a shop sends; `own_zeep` loads the emulator's own WSDL, and
`send_invoice`, `accepted_invoice`, `send`, `status` and `refund` make the SOAP calls through
any zeep service; `Control` is the emulated
customer's buttons over the control API, and `attempts`/`wait_attempts` read its journal of
notifications. `Shop` binds all of it to one terminal of its own (so tests never see each
other's invoices) with a real aiohttp endpoint for notifications, as a merchant's CI drives it.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from emulator.server import EmulatorServer
from tests.merchant import Merchant

TERMINAL = {"id": "ci-terminal-1", "type": "TERMINALID"}
PASSWORD = "terminal-secret"


def make_invoice(total: str = "100.00", **extra: Any) -> dict[str, Any]:
    invoice: dict[str, Any] = {
        "paymentMode": "IMMEDIATE_DEBIT",
        "acknowledgmentMode": "NO_ACKNOWLEDGMENT",
        "title": "Order 1001",
        "clientInvoiceId": "1001",
        "invoiceRows": {
            "invoiceRow": [
                {
                    "itemDescription": "T-shirt",
                    "itemQuantity": "2",
                    "itemTotalAmount": {"currency": "SEK", "value": total},
                }
            ]
        },
        "totalAmount": {"currency": "SEK", "value": total},
        "backURL": "https://shop.example/done?order=1001",
    }
    invoice.update(extra)
    return invoice


def own_wsdl(soap_url: str) -> str:
    """Where the emulator serves its own WSDL: the service document, importing the types."""
    return soap_url + "?wsdl"


@contextmanager
def own_zeep(soap_url: str, **options: Any) -> Iterator[Any]:
    """A zeep client of its own loading the emulator's `?wsdl`; its sockets closed after."""
    import zeep

    client = zeep.Client(own_wsdl(soap_url), **options)
    try:
        yield client
    finally:
        client.transport.session.close()  # before the GC warns about them


def service_at(client: Any, soap_url: str) -> Any:
    """The zeep client's one binding, its address changed to `soap_url` and nothing else."""
    [binding] = client.wsdl.bindings
    return client.create_service(binding, soap_url)


# --- the SOAP calls -------------------------------------------------------------------------


def send_invoice(service: Any, context: dict, total: str = "100.00", **invoice: Any) -> Any:
    """sendInvoice with `make_invoice(total, **invoice)`: the answer, whatever it says."""
    return service.sendInvoice(context=context, invoice=make_invoice(total, **invoice))


def accepted_invoice(service: Any, context: dict, total: str = "100.00", **invoice: Any) -> Any:
    """sendInvoice that must succeed: the whole answer."""
    answer = send_invoice(service, context, total, **invoice)
    assert answer.resultCode == 0, answer
    return answer


def send(service: Any, context: dict, total: str = "100.00", **invoice: Any) -> str:
    """sendInvoice that must succeed: the new invoice's reference."""
    return accepted_invoice(service, context, total, **invoice).invoiceReference


def status(service: Any, context: dict, ref: str | None, version: int = 0) -> Any:
    return service.getPaymentStatus(context=context, invoiceReference=ref, invoiceVersion=version)


def refund(service: Any, context: dict, ers: str, value: str) -> Any:
    return service.refundPayment(
        context=context,
        ersReference=ers,
        invoice={"title": "refund", "totalAmount": {"currency": "SEK", "value": value}},
    )


# --- the control API ------------------------------------------------------------------------


class Control:
    """The emulated customer's buttons, over real HTTP."""

    def __init__(self, base: str) -> None:
        self.base = base + "/_emulator"

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, payload = self.request(method, path, body)
        assert status == 200, (status, payload)
        return payload

    def pay(self, ref: str, **body: Any) -> Any:
        return self.ok("POST", f"/invoices/{ref}/pay", body or None)

    def scan(self, ref: str, **body: Any) -> Any:
        return self.ok("POST", f"/invoices/{ref}/scan", body or None)

    def cancel(self, ref: str) -> Any:
        return self.ok("POST", f"/invoices/{ref}/cancel")

    def fail(self, ref: str) -> Any:
        return self.ok("POST", f"/invoices/{ref}/fail")

    def invoice(self, ref: str) -> Any:
        return self.ok("GET", f"/invoices/{ref}")

    def advance(self, seconds: float) -> Any:
        return self.ok("POST", "/clock/advance", {"seconds": seconds})


def paid(service: Any, context: dict, control: Control, **invoice: Any) -> str:
    """An invoice sent and paid by the customer: its reference."""
    ref = send(service, context, **invoice)
    control.pay(ref)
    return ref


def attempts(control: Control, ref: str) -> list[dict[str, Any]]:
    """The emulator's journal of notification attempts for the invoice."""
    return control.ok("GET", f"/notifications?invoice={ref}")["notifications"]


def wait_attempts(control: Control, ref: str, count: int = 1, timeout: float = 10.0) -> list[dict]:
    """The invoice's attempts once there are `count` of them (polled, bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        found = attempts(control, ref)
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) >= count, f"expected {count} attempts for {ref}, got {found}"
            return found
        time.sleep(0.01)


# --- a shop of its own ----------------------------------------------------------------------


class Shop:
    def __init__(self, server: EmulatorServer, zeep_client: Any, receiver: Merchant, terminal: str):
        self.server = server
        self.service = service_at(zeep_client, server.soap_url)
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
        return make_invoice(total, notificationUrl=self._notify_url(notify), **extra)

    def _notify_url(self, notify: str | None) -> str:
        return notify or self.receiver.url(f"/seqr/notify?terminal={self.terminal}")

    def try_send(self, notify: str | None = None, **extra: Any) -> Any:
        return send_invoice(
            self.service, self.context, notificationUrl=self._notify_url(notify), **extra
        )

    def send(self, notify: str | None = None, **extra: Any) -> str:
        answer = self.try_send(notify, **extra)
        assert answer.resultCode == 0, answer
        return answer.invoiceReference

    def status(self, ref: str, version: int = 0) -> Any:
        return status(self.service, self.context, ref, version)

    def statuses(self, ref: str, count: int) -> list[str]:
        return [self.status(ref).status for _ in range(count)]

    def invoice(self, ref: str) -> dict[str, Any]:
        return self.control.invoice(ref)

    def advance(self, seconds: float) -> None:
        self.control.advance(seconds)

    def attempts(self, ref: str) -> list[dict[str, Any]]:
        """The emulator's journal of notification attempts for the invoice."""
        return attempts(self.control, ref)

    def wait_attempts(self, ref: str, count: int = 1, timeout: float = 10.0) -> list[dict]:
        """The invoice's attempts once there are `count` of them (polled, bounded)."""
        return wait_attempts(self.control, ref, count, timeout)

    def posts(self, ref: str) -> list[dict[str, str]]:
        """The forms the merchant's endpoint received for the invoice."""
        return [r.form for r in self.receiver.received if r.form.get("invoiceReference") == ref]
