"""A closed control plane: the names the emulator answers to, the origin and content types a
request may come with, the control token, and the start that refuses an open control API.

Requests are made by hand (http.client), so each header is exactly what the test says; the
real SOAP clients (zeep, suds, PHP's SoapClient) are checked for what they send and that
they pass. A real browser's attack from another origin is in tests/test_browser_guard.py.
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web

from emulator import guard
from emulator.app import create_app
from emulator.server import EmulatorServer
from emulator.settings import Settings, SettingsError
from tests.shop import Control, make_invoice, own_zeep, service_at

TOKEN = "t0ken-for-the-tests-0123456789"
SEND = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    b'xmlns:ext="http://external.interfaces.ers.seamless.com/"><soapenv:Body><ext:sendInvoice>'
    b"<context><clientRequestTimeout>0</clientRequestTimeout><initiatorPrincipalId>"
    b"<id>gate-terminal</id><type>TERMINALID</type></initiatorPrincipalId>"
    b"<password>gate-secret</password></context><invoice><title>from a page</title>"
    b"<totalAmount><currency>SEK</currency><value>1.00</value></totalAmount></invoice>"
    b"</ext:sendInvoice></soapenv:Body></soapenv:Envelope>"
)
SOAP_PATH = "/extclientproxy/service/v2"


class Answer:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self.body = response.read()

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    server: EmulatorServer,
    method: str,
    path: str,
    body: bytes | None = None,
    **headers: str,
) -> Answer:
    """One request with exactly these headers (`X_Name` is `X-Name`; `Host` replaces the
    default one)."""
    named = {key.replace("_", "-"): value for key, value in headers.items()}
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host="Host" in named, skip_accept_encoding=True)
        for key, value in named.items():
            conn.putheader(key, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        return Answer(conn.getresponse())
    finally:
        conn.close()


def soap(server: EmulatorServer, body: bytes = SEND, **headers: str) -> Answer:
    headers.setdefault("Content_Type", "text/xml; charset=utf-8")
    return call(server, "POST", SOAP_PATH, body, **headers)


def invoice_count(server: EmulatorServer) -> int:
    return len(server.backend.list_invoices())


@pytest.fixture
def issued(emulator: EmulatorServer) -> str:
    answer = soap(emulator)
    assert answer.status == 200, answer.body
    return emulator.backend.list_invoices()[-1].reference


# --- the Host header ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:8090", "localhost:8090", "LOCALHOST", "[::1]:8090", "10.1.2.3:8090", None],
    ids=["ip", "localhost", "upper", "ipv6", "another-ip", "none-http10"],
)
def test_the_names_it_serves_are_served(emulator, host):
    headers = {} if host is None else {"Host": host}
    assert call(emulator, "GET", "/_emulator/health", **headers).status == 200
    assert soap(emulator, **headers).status == 200


@pytest.mark.parametrize("path", ["/_emulator/invoices", "/", SOAP_PATH + "?wsdl"])
def test_a_rebound_name_is_misdirected(emulator, path):
    answer = call(emulator, "GET", path, Host="attacker.example:8090")
    assert answer.status == 421
    assert b"--allowed-hosts attacker.example" in answer.body


def test_a_rebound_name_cannot_post_soap(emulator):
    before = invoice_count(emulator)
    assert soap(emulator, Host="attacker.example").status == 421
    assert invoice_count(emulator) == before


def test_allowed_hosts_and_the_bound_name_are_served(start_emulator):
    server = start_emulator(allowed_hosts="emulator, shop.test.")
    for host in ("emulator:8090", "SHOP.TEST", "shop.test.:80"):
        assert call(server, "GET", "/_emulator/health", Host=host).status == 200
    assert call(server, "GET", "/_emulator/health", Host="other.test").status == 421
    anything = start_emulator(allowed_hosts="*")
    assert call(anything, "GET", "/_emulator/health", Host="other.test").status == 200


def test_the_bound_host_name_is_served():
    gate = guard.Gate(Settings(host="emulator.internal", control_token=TOKEN))
    assert gate.serves("emulator.internal:8090") and not gate.serves("other.internal")


# --- the Origin header -------------------------------------------------------------------------


EVIL = "http://attacker.example"


def test_a_page_on_another_origin_cannot_drive_the_control_api(emulator, issued):
    pay = call(emulator, "POST", f"/_emulator/invoices/{issued}/pay", Origin=EVIL)
    assert pay.status == 403 and "another origin" in pay.json()["error"]
    for path, body in (("/reset", None), ("/clock/advance", b'{"seconds": 1e9}')):
        kind = {} if body is None else {"Content_Type": "application/json"}
        assert call(emulator, "POST", "/_emulator" + path, body, Origin=EVIL, **kind).status == 403
    assert call(emulator, "GET", "/_emulator/invoices", Origin=EVIL).status == 403
    assert call(emulator, "POST", "/_emulator/invoices/1/pay", Origin="null").status == 403
    assert Control(emulator.url).invoice(issued)["status"] == "ISSUED"


def test_a_page_on_another_origin_cannot_call_the_soap_endpoint(emulator):
    before = invoice_count(emulator)
    assert soap(emulator, Origin=EVIL).status == 403
    assert soap(emulator, Origin=f"http://127.0.0.1:{emulator.port + 1}").status == 403
    assert invoice_count(emulator) == before


def test_the_emulators_own_origin_is_served(emulator, issued):
    own = f"http://127.0.0.1:{emulator.port}"
    pay = call(emulator, "POST", f"/_emulator/invoices/{issued}/pay", Origin=own)
    assert pay.status == 200 and pay.json()["status"] == "PAID"
    assert soap(emulator, Origin=own).status == 200
    by_name = call(
        emulator, "GET", "/_emulator/health", Host="localhost:8090", Origin="http://localhost:8090"
    )
    assert by_name.status == 200


def test_origins_compare_scheme_host_and_port():
    same = guard.Gate.same_origin
    assert same("http://127.0.0.1:8090", "127.0.0.1:8090")
    assert same("HTTP://LOCALHOST", "localhost:80") and same("https://shop.test", "shop.test:443")
    assert not same("http://127.0.0.1:8091", "127.0.0.1:8090")
    assert not same("http://localhost:8090", "127.0.0.1:8090")
    assert not same("null", "127.0.0.1:8090") and not same("http://x", None)


# --- Content-Type ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_a_browser_form_is_no_soap_request(emulator, kind):
    before = invoice_count(emulator)
    answer = soap(emulator, Content_Type=kind)
    assert answer.status == 415 and b"text/xml" in answer.body
    assert invoice_count(emulator) == before


@pytest.mark.parametrize(
    "kind", ["text/xml", "text/xml; charset=utf-8", "application/soap+xml", "application/xml"]
)
def test_soap_clients_content_types_pass(emulator, kind):
    assert soap(emulator, Content_Type=kind).status in (200, 500)  # 500: SOAP 1.2's Fault


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("text/plain", b'{"reserve": false}'),
        ("multipart/form-data; boundary=x", b"--x--"),
        ("text/xml", b'{"reserve": false}'),
    ],
    ids=["text-plain", "multipart", "json-as-xml"],
)
def test_a_control_write_that_is_not_json_is_refused(emulator, issued, kind, body):
    answer = call(emulator, "POST", f"/_emulator/invoices/{issued}/pay", body, Content_Type=kind)
    assert answer.status == 415 and "application/json" in answer.json()["error"]
    assert Control(emulator.url).invoice(issued)["status"] == "ISSUED"


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("text/plain", b'{"reserve": false}'),
        ("application/x-www-form-urlencoded", b""),
        ("application/x-www-form-urlencoded", b'{"reserve": false}'),
        ("multipart/form-data; boundary=x", b"--x--"),
        (None, b'{"reserve": false}'),
        ("text/plain", None),
    ],
    ids=["text-plain", "empty-form", "form", "multipart", "json-without-type", "empty-text"],
)
def test_a_pages_control_write_that_is_not_json_is_refused(emulator, issued, kind, body):
    """A page on the emulator's own origin (the dashboard's) sends JSON, never a form."""
    own = {"Origin": f"http://127.0.0.1:{emulator.port}"}
    headers = own if kind is None else {**own, "Content_Type": kind}
    answer = call(emulator, "POST", f"/_emulator/invoices/{issued}/pay", body, **headers)
    assert answer.status == 415 and "application/json" in answer.json()["error"]
    assert Control(emulator.url).invoice(issued)["status"] == "ISSUED"


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        (None, None),
        ("application/json", b'{"reserve": false}'),
        ("text/xml", b""),
        (None, b'{"reserve": false}'),
        ("application/x-www-form-urlencoded", b'{"reserve": false}'),
        ("application/x-www-form-urlencoded", b""),
    ],
    ids=["curl-X-POST", "json", "empty-with-another-type", "no-type", "curl-d", "empty-form"],
)
def test_a_control_write_without_a_body_or_in_json_is_served(emulator, issued, kind, body):
    """No Origin, so no browser: a body with no type, or curl's `-d` default, is read as JSON."""
    headers = {} if kind is None else {"Content_Type": kind}
    answer = call(emulator, "POST", f"/_emulator/invoices/{issued}/pay", body, **headers)
    assert answer.status == 200 and answer.json()["status"] == "PAID"


def test_a_form_body_that_is_not_json_is_400_and_changes_nothing(emulator, issued):
    kind = "application/x-www-form-urlencoded"
    answer = call(
        emulator, "POST", f"/_emulator/invoices/{issued}/pay", b"reserve=false", Content_Type=kind
    )
    assert answer.status == 400 and "not JSON" in answer.json()["error"]
    assert Control(emulator.url).invoice(issued)["status"] == "ISSUED"


def test_curl_data_reaches_the_control_api(emulator, issued):
    """The README's own words: `curl -X POST .../pay`, and `-d` with curl's default type."""
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("no curl on this machine")
    base = f"{emulator.url}/_emulator"
    moved = subprocess.run(
        [curl, "-s", "-d", '{"seconds": 60}', f"{base}/clock/advance"],
        capture_output=True,
        check=True,
        timeout=30,
    )
    assert "now" in json.loads(moved.stdout)
    paid = subprocess.run(
        [curl, "-s", "-X", "POST", f"{base}/invoices/{issued}/pay"],
        capture_output=True,
        check=True,
        timeout=30,
    )
    assert json.loads(paid.stdout)["status"] == "PAID"


# --- what real SOAP clients send ---------------------------------------------------------------


@pytest.fixture
def recording() -> Iterator[tuple[EmulatorServer, list[str]]]:
    """An emulator that notes the Content-Type of every SOAP POST it serves (in a middleware,
    which the emulator itself never has)."""
    seen: list[str] = []

    @web.middleware
    async def note(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "POST" and not request.path.startswith("/_emulator"):
            seen.append(request.headers.get("Content-Type", ""))
        return await handler(request)

    def factory(settings: Settings) -> web.Application:
        app = create_app(settings)
        app.middlewares.append(note)
        return app

    with EmulatorServer(Settings(port=0, ack_window=0), app_factory=factory) as server:
        yield server, seen


CONTEXT = {
    "clientRequestTimeout": 0,
    "initiatorPrincipalId": {"id": "gate-terminal", "type": "TERMINALID"},
    "password": "gate-secret",
}


def test_zeep_sends_text_xml_and_is_served(recording):
    server, seen = recording
    with own_zeep(server.soap_url) as client:
        sent = service_at(client, server.soap_url).sendInvoice(
            context=CONTEXT, invoice=make_invoice()
        )
    assert sent.resultCode == 0
    assert {guard.media_type(kind) for kind in seen} == {"text/xml"}


def test_suds_sends_text_xml_and_is_served(recording):
    from suds.client import Client

    server, seen = recording
    client = Client(server.soap_url + "?wsdl", cache=None, timeout=10)
    principal = client.factory.create("ns0:principalId")
    principal.id, principal.type = "gate-terminal", "TERMINALID"
    context = client.factory.create("ns0:clientContext")
    context.clientRequestTimeout, context.initiatorPrincipalId = 0, principal
    context.password = "gate-secret"
    amount = client.factory.create("ns0:amount")
    amount.currency, amount.value = "SEK", "1.00"
    invoice = client.factory.create("ns0:invoice")
    invoice.title, invoice.totalAmount = "suds", amount
    assert client.service.sendInvoice(context, invoice).resultCode == 0
    assert {guard.media_type(kind) for kind in seen} == {"text/xml"}


def test_php_soapclient_sends_text_xml_and_is_served(recording):
    from tests.test_php_client import PHP_DIR, PHP_TIMEOUT, _php_with_soap

    binary = _php_with_soap() if shutil.which("php") else None
    if binary is None:
        pytest.skip("needs the php CLI with its soap extension (php-cli php-soap)")
    server, seen = recording
    done = subprocess.run(
        [binary, str(PHP_DIR / "woocommerce.php"), server.soap_url, server.url],
        capture_output=True,
        text=True,
        timeout=PHP_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["paid"]["status"] == "PAID"
    assert seen and {guard.media_type(kind) for kind in seen} == {"text/xml"}


# --- the control token -------------------------------------------------------------------------


@pytest.fixture
def closed(start_emulator: Callable[..., EmulatorServer]) -> EmulatorServer:
    return start_emulator(control_token=TOKEN, ack_window=0)


def test_without_its_token_the_control_api_answers_401(closed):
    for given in (
        {},
        {"Authorization": "Bearer wrong-token-0000000000"},
        {"X_Seqr_Emulator_Token": "x"},
    ):
        answer = call(closed, "GET", "/_emulator/invoices", **given)
        assert answer.status == 401 and "token" in answer.json()["error"]
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert call(closed, "POST", "/_emulator/reset").status == 401
    assert call(closed, "GET", "/_emulator/events").status == 401


def test_with_its_token_the_control_api_answers(closed):
    assert call(closed, "GET", "/_emulator/invoices", Authorization=f"Bearer {TOKEN}").status == 200
    assert call(closed, "POST", "/_emulator/reset", X_Seqr_Emulator_Token=TOKEN).status == 200
    assert call(closed, "GET", "/_emulator/health").status == 200  # readiness needs none


def test_the_soap_endpoint_needs_no_control_token(closed):
    assert soap(closed).status == 200


def test_the_dashboard_takes_its_token_once_and_keeps_it_in_a_cookie(closed):
    assert call(closed, "GET", "/").status == 401
    assert call(closed, "GET", "/?token=not-the-token").status == 401
    opened = call(closed, "GET", f"/?token={TOKEN}")
    assert opened.status == 303 and opened.headers["Location"] == "/"
    cookie = opened.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    name, _, rest = cookie.partition("=")
    assert name == f"seqr-emulator-token-{closed.port}"
    value = rest.split(";")[0]
    page = call(closed, "GET", "/", Cookie=f"{name}={value}")
    assert page.status == 200 and b"<html" in page.body.lower()
    listed = call(closed, "GET", "/_emulator/invoices", Cookie=f"{name}={value}")
    assert listed.status == 200


# --- the start ---------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_a_loopback_host_needs_no_token(host):
    assert guard.exposure(Settings(host=host)) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.10", "emulator.internal"])
def test_any_other_host_needs_a_token_or_the_open_control_switch(host):
    with pytest.raises(SettingsError, match="--control-token"):
        guard.exposure(Settings(host=host))
    assert guard.exposure(Settings(host=host, control_token=TOKEN)) is None
    warning = guard.exposure(Settings(host=host, open_control=True))
    assert warning is not None and "--open-control" in warning and "anyone" in warning


def test_an_emulator_on_an_open_host_without_a_token_is_not_made():
    with pytest.raises(SettingsError):
        create_app(Settings(host="0.0.0.0"))


def test_serve_refuses_an_open_control_api_with_one_line_before_it_binds():
    done = subprocess.run(
        [sys.executable, "-m", "emulator", "serve", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stdout == ""  # never said it was listening
    [line] = done.stderr.splitlines()
    assert line.startswith("seqr-emulator: --host 0.0.0.0 is not a loopback address")


def test_a_token_too_short_is_refused_without_showing_it():
    done = subprocess.run(
        [sys.executable, "-m", "emulator", "serve", "--control-token", "s3cr3t"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "--control-token" in done.stderr
    assert "s3cr3t" not in done.stderr
    assert "s3cr3t" not in repr(Settings(control_token="s3cr3t-but-long-enough"))
