"""Protocol §7.3, the External Service flow, end to end with a merchant's service of its own.

The coffee shop below is what a merchant builds from the guide: four pages (order, success,
failure, cancel) and a backend that trades the app's token for the customer
(getClientSessionInfo), issues an invoice with a notificationUrl, and asks for the status
when notified. It is a real aiohttp server; its SOAP clients are zeep loading the emulator's
own `?wsdl`, which has getClientSessionInfo (the 2013 WSDL lacks it; PHP's SoapClient needs
the served one too): one for the payment operations, one for the session. The test plays the
phone: it scans, opens pages the way the app's web view would, and pays through the control
API.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aiohttp import web

from emulator.server import EmulatorServer, ThreadedApp
from tests.shop import Control, make_invoice, own_zeep
from tests.test_php_client import PHP_DIR, PHP_TIMEOUT, _php_with_soap

TOKEN = re.compile(r"^\d{10}-\d{8}$")
SERVICE_QR = "HTTP://SEQR.SE/000/COFFEE?table=12&size=L&table=13"
PAGES = ("order", "success", "failure", "cancel")
PAGE_KEYS = tuple(f"{page}Url" for page in PAGES)


class CoffeeShop(ThreadedApp):
    """The merchant's service: pages for the app's web view, and a backend that speaks SOAP."""

    thread_name = "coffee-shop"

    def __init__(self, payments: Any, sessions: Any, context: dict[str, Any]) -> None:
        super().__init__(self._make)
        self.payments, self.sessions, self.context = payments, sessions, context
        self.pages: list[str] = []
        self.notified: list[dict[str, Any]] = []
        self._orders = itertools.count(1001)
        self._changed = threading.Condition()

    @property
    def base(self) -> str:
        return self.url

    def urls(self) -> dict[str, str]:
        """The service definition's four pages."""
        return {f"{page}Url": f"{self.base}/{page}" for page in PAGES}

    # --- pages the app opens ---------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        # The token is in the #fragment, which never reaches a server: the page's script reads
        # it and calls the shop's backend (the test does that part).
        self.pages.append(request.path)
        return web.Response(text=f"<h1>{request.path[1:]}</h1>", content_type="text/html")

    # --- the shop's backend ----------------------------------------------------------------------

    async def customer(self, token: str) -> list[tuple[str, str]] | None:
        answer = await asyncio.to_thread(
            self.sessions.getClientSessionInfo, context=self.context, key=token
        )
        if answer.resultCode != 0:
            return None
        return [(entry.key, entry.value) for entry in answer.parameters.entry]

    async def checkout(self, request: web.Request) -> web.Response:
        """The order page's script posts the token; the shop issues the invoice for it."""
        body = await request.json()
        entries = await self.customer(body["token"])
        if entries is None:
            return web.json_response({"error": "unknown customer"}, status=403)
        order = str(next(self._orders))
        invoice = {
            "acknowledgmentMode": "NO_ACKNOWLEDGMENT",
            "title": f"Coffee, table {dict(entries).get('table')}",
            "clientInvoiceId": order,
            "totalAmount": {"currency": "SEK", "value": "35.00"},
            "notificationUrl": f"{self.base}/notify?order={order}",
        }
        sent = await asyncio.to_thread(
            self.payments.sendInvoice, context=self.context, invoice=invoice
        )
        assert sent.resultCode == 0, sent
        ref = sent.invoiceReference
        # The guide's link from a service page, or the in-app guide's deep link.
        link = (
            f"SEQR://SEQR.SE/000{ref}" if body.get("style") == "seed" else f"seqr://SEQR.SE/R{ref}"
        )
        return web.json_response({"order": order, "ref": ref, "link": link, "entries": entries})

    async def status(self, ref: str) -> str:
        answer = await asyncio.to_thread(
            self.payments.getPaymentStatus,
            context=self.context,
            invoiceReference=ref,
            invoiceVersion=0,
        )
        assert answer.resultCode == 0, answer
        return answer.status

    async def notify(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        seen = {"order": request.query.get("order"), **form}
        seen["status"] = await self.status(str(form["invoiceReference"]))
        with self._changed:
            self.notified.append(seen)
            self._changed.notify_all()
        return web.Response(text="")

    async def result(self, request: web.Request) -> web.Response:
        """What the success page's script asks: `TOKEN_<ref>` from its fragment."""
        token, _, ref = request.query["key"].partition("_")
        info = await self.customer(token)
        customer = None if info is None else dict(info)
        return web.json_response({"status": await self.status(ref), "customer": customer})

    # --- running ---------------------------------------------------------------------------------

    def wait_notified(self, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.notified) >= count, timeout)
            return list(self.notified)

    def _make(self) -> web.Application:
        app = web.Application()
        for page in PAGES:
            app.router.add_get(f"/{page}", self.page)
        app.router.add_post("/api/checkout", self.checkout)
        app.router.add_get("/api/result", self.result)
        app.router.add_post("/notify", self.notify)
        return app


def http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as answer:
        raw = answer.read()
        kind = answer.headers.get_content_type()
        return answer.status, json.loads(raw) if kind == "application/json" else raw.decode()


def open_page(url: str) -> str:
    """What the app's web view does with a URL: GET it; the fragment stays on the phone."""
    address, _, fragment = url.partition("#")
    status, _ = http("GET", address)
    assert status == 200
    return fragment


@contextmanager
def served_client(soap_url: str) -> Iterator[Any]:
    """zeep loading the emulator's own `?wsdl`, the way PHP's SoapClient would."""
    with own_zeep(soap_url) as client:
        yield client.service


@pytest.fixture(scope="module")
def served_zeep(_session_server: EmulatorServer) -> Iterator[Any]:
    with served_client(_session_server.soap_url) as service:
        yield service


@pytest.fixture
def shop(
    zeep_service: Any, served_zeep: Any, context: dict, control: Control
) -> Iterator[CoffeeShop]:
    with CoffeeShop(zeep_service, served_zeep, context) as running:
        assert control.request("PUT", "/services/COFFEE", running.urls())[0] == 201
        yield running


def start(shop: CoffeeShop, control: Control, style: str = "R") -> tuple[str, dict[str, Any]]:
    """Scan the table's code, open the order page, let its script check out; then the app
    follows the page's link to the invoice inside the session. Returns (token, checkout)."""
    scanned = control.ok("POST", "/app/scan", {"url": SERVICE_QR})
    assert scanned["kind"] == "service"
    token = scanned["token"]
    assert TOKEN.match(token), token
    assert scanned["open"] == f"{shop.base}/order#{token}"
    assert open_page(scanned["open"]) == token

    _, checkout = http("POST", f"{shop.base}/api/checkout", {"token": token, "style": style})
    followed = control.ok("POST", "/app/scan", {"url": checkout["link"], "token": token})
    assert (followed["kind"], followed["reference"], followed["open"]) == (
        "invoice",
        checkout["ref"],
        None,
    )
    assert followed["invoice"]["inProgress"] is True
    return token, checkout


def test_paid_order_goes_to_the_success_page_with_token_and_reference(
    shop: CoffeeShop, control: Control
) -> None:
    token, checkout = start(shop, control, style="seed")
    ref = checkout["ref"]
    entries = [tuple(pair) for pair in checkout["entries"]]
    assert entries[:3] == [("msisdn", "46700000001"), ("subscriberKey", "4711"), ("authKey", token)]
    assert entries[3:] == [("table", "12"), ("size", "L"), ("table", "13")]  # the QR's, as is

    paid = control.pay(ref)
    assert paid["status"] == "PAID"
    assert paid["open"] == f"{shop.base}/success#{token}_{ref}"

    [notified] = shop.wait_notified()
    assert notified == {
        "order": checkout["order"],
        "invoiceReference": ref,
        "clientInvoiceId": checkout["order"],
        "msisdn": "46700000001",
        "subscriberKey": "4711",
        "status": "PAID",
    }
    fragment = open_page(paid["open"])
    _, result = http("GET", f"{shop.base}/api/result?key={fragment}")
    assert result["status"] == "PAID"
    assert result["customer"]["authKey"] == token
    assert shop.pages == ["/order", "/success"]


@pytest.mark.parametrize(
    ("action", "page", "status"), [("cancel", "cancel", "CANCELED"), ("fail", "failure", "FAILED")]
)
def test_canceled_or_failed_order_goes_to_its_page_with_the_token(
    shop: CoffeeShop, control: Control, action: str, page: str, status: str
) -> None:
    token, checkout = start(shop, control)
    ref = checkout["ref"]
    answer = control.ok("POST", f"/invoices/{ref}/{action}")
    assert answer["open"] == f"{shop.base}/{page}#{token}"
    assert answer["backURL"] is None  # the service's invoice has none; `open` is what counts

    assert open_page(answer["open"]) == token
    _, result = http("GET", f"{shop.base}/api/result?key={token}_{ref}")
    assert result["status"] == status
    assert result["customer"]["msisdn"] == "46700000001"  # the pages still know the customer
    assert shop.pages == ["/order", f"/{page}"]
    assert control.ok("GET", f"/notifications?invoice={ref}")["notifications"] == []


def test_the_session_customer_is_the_one_who_pays(shop: CoffeeShop, control: Control) -> None:
    body = {"url": SERVICE_QR, "msisdn": "46700643933", "subscriberKey": "132"}
    token = control.ok("POST", "/app/scan", body)["token"]
    _, checkout = http("POST", f"{shop.base}/api/checkout", {"token": token})
    assert dict(checkout["entries"])["msisdn"] == "46700643933"
    control.ok("POST", "/app/scan", {"url": checkout["link"], "token": token})
    control.pay(checkout["ref"])
    [notified] = shop.wait_notified()
    assert (notified["msisdn"], notified["subscriberKey"]) == ("46700643933", "132")


# --- getClientSessionInfo on its own -----------------------------------------------------------


def define(control: Control, service_id: str = "P", host: str = "https://p.example") -> None:
    pages = {f"{p}Url": f"{host}/{p}" for p in PAGES}
    status, answer = control.request("PUT", f"/services/{service_id}", pages)
    assert status in (200, 201), answer


def session_info(service: Any, context: dict, key: str | None) -> Any:
    return service.getClientSessionInfo(context=context, key=key)


def test_unknown_token_is_63(served_zeep: Any, context: dict, emulator: EmulatorServer) -> None:
    for key in ("0000000001-00000000", "", None):
        answer = session_info(served_zeep, context, key)
        assert (answer.resultCode, answer.resultDescription, answer.parameters) == (
            63,
            "INVALID_AUTHORIZATION_REFERENCE",
            None,
        )


def test_token_expires_after_the_session_lifetime(start_emulator: Any, context: dict) -> None:
    server = start_emulator(session_lifetime=30, freeze_clock=True)
    control = Control(server.url)
    with served_client(server.soap_url) as service:
        expires_in_30_seconds(control, service, context)


def expires_in_30_seconds(control: Control, service: Any, context: dict) -> None:
    define(control)
    token = control.ok("POST", "/app/scan", {"url": "HTTP://SEQR.SE/000/P"})["token"]
    ref = service.sendInvoice(context=context, invoice=make_invoice()).invoiceReference
    control.advance(30)
    assert session_info(service, context, token).resultCode == 0
    control.advance(1)
    answer = session_info(service, context, token)
    assert (answer.resultCode, answer.resultDescription) == (60, "AUTHORIZATION_EXPIRED")
    status, body = control.request(
        "POST", "/app/scan", {"url": f"seqr://SEQR.SE/R{ref}", "token": token}
    )
    assert (status, body) == (409, {"error": "the session has expired"})


def test_session_info_needs_a_terminal_login(served_zeep: Any, control: Control) -> None:
    define(control)
    token = control.ok("POST", "/app/scan", {"url": "HTTP://SEQR.SE/000/P"})["token"]
    wrong = {
        "clientRequestTimeout": 0,
        "initiatorPrincipalId": {"id": "public_test_shop_terminal", "type": "TERMINALID"},
        "password": "wrong",
    }
    assert session_info(served_zeep, wrong, token).resultCode == 20


def test_php_soapclient_from_the_served_wsdl_calls_it(
    emulator: EmulatorServer, control: Control
) -> None:
    binary = _php_with_soap()
    if binary is None:
        pytest.skip("php CLI with the soap extension not installed (php-cli php-soap)")
    define(control)
    token = control.ok("POST", "/app/scan", {"url": "HTTP://SEQR.SE/000/P?zone=7"})["token"]
    done = subprocess.run(
        [
            binary,
            str(PHP_DIR / "external_service.php"),
            emulator.soap_url,
            "php-shop",
            "php-pw-1",
            token,
        ],
        capture_output=True,
        text=True,
        timeout=PHP_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0 and not done.stderr, done.stderr
    out = json.loads(done.stdout)
    assert "getClientSessionInfo" in out["operations"]
    assert out["result_code_is_int_zero"] is True
    assert out["entries"] == [
        ["msisdn", "46700000001"],
        ["subscriberKey", "4711"],
        ["authKey", token],
        ["zone", "7"],
    ]
    assert out["unknown"] == {
        "resultCode": 63,
        "resultDescription": "INVALID_AUTHORIZATION_REFERENCE",
    }


# --- leaving the wizard --------------------------------------------------------------------------


def test_wizard_cancel_closes_the_session_on_the_cancel_page(
    served_zeep: Any, zeep_service: Any, context: dict, control: Control
) -> None:
    define(control)
    token = control.ok("POST", "/app/scan", {"url": "HTTP://SEQR.SE/000/P"})["token"]
    left = control.ok("POST", "/app/scan", {"url": "SEQR-ACTION://WIZARD/CANCEL", "token": token})
    assert (left["kind"], left["token"], left["state"]) == ("service", token, "CLOSED")
    assert left["open"] == f"https://p.example/cancel#{token}"
    assert control.ok("GET", f"/app/sessions/{token}")["open"] == left["open"]

    ref = zeep_service.sendInvoice(context=context, invoice=make_invoice()).invoiceReference
    status, body = control.request(
        "POST", "/app/scan", {"url": f"HTTP://SEQR.SE/R{ref}", "token": token}
    )
    assert status == 409 and "WIZARD/CANCEL" in body["error"]
    assert control.invoice(ref)["inProgress"] is False  # refused as a whole
    assert session_info(served_zeep, context, token).resultCode == 0  # the cancel page asks
