"""A password the merchant sends is found in no place the emulator shows: no log line, no
answer (a SOAP answer, an error, a refusal), no dashboard page or live event, no control API
answer, no journal entry.

One known password is a reseller's, a configured terminal's and a registered terminal's, and
travels in SOAP contexts, a registerTerminal body, a wrong-password call, XML that does not
close, an unknown operation, a body past `--max-body-bytes` (413), bodies the gate refuses
(415, 421) and requests the HTTP parser cannot read (400). Then every GET route of the
control API is read (the route table is walked, so a new route is read too), with the
dashboard's page, its event stream, the request journal with bodies and a verification's
answer (`POST /_emulator/verify`, which names the entries it saw). The one route that
hands passwords out when asked, `GET /_emulator/state?passwords=true`, is read last: it must
hold the password, which shows that the emulator did keep it and that the search would
have found it anywhere else.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.app import create_app
from emulator.settings import Settings, parse_resellers, parse_terminals
from tests.test_redaction import BOUND, CLIENTS, SOAP_PATH, exchange, malformed

SECRET = "kn0wn-Pa55word-7"
RESELLER = "nowhere-shop"
TERMINAL = "nowhere-terminal"
MAX_BODY = 4096
ACCOUNTS = {"resellers": f"{RESELLER}/9900:{SECRET}", "terminals": f"{TERMINAL}:{SECRET}"}
SETTINGS: dict[str, Any] = {
    "resellers": parse_resellers(ACCOUNTS["resellers"]),
    "terminals": parse_terminals(ACCOUNTS["terminals"]),
    "max_body_bytes": MAX_BODY,
    "ack_window": 0,
}
NOWHERE = "http://127.0.0.1:1/notify"  # refused at once: a failed attempt, journaled


def context(principal: str = TERMINAL, kind: str = "TERMINALID", password: str = SECRET) -> str:
    user = "<userId>9900</userId>" if kind == "RESELLERUSER" else ""
    return (
        f"<context><clientRequestTimeout>0</clientRequestTimeout><initiatorPrincipalId>"
        f"<id>{principal}</id><type>{kind}</type>{user}</initiatorPrincipalId>"
        f"<password>{password}</password></context>"
    )


def soap_envelope(inner: str) -> bytes:
    return (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:ext="http://external.interfaces.ers.seamless.com/"><soapenv:Body>'
        f"{inner}</soapenv:Body></soapenv:Envelope>"
    ).encode()


def send_invoice(principal: str = TERMINAL) -> bytes:
    return soap_envelope(
        f"<ext:sendInvoice>{context(principal)}<invoice><title>nowhere</title>"
        "<totalAmount><currency>SEK</currency><value>10.00</value></totalAmount>"
        f"<notificationUrl>{NOWHERE}</notificationUrl></invoice></ext:sendInvoice>"
    )


def status(ref: str, password: str = SECRET) -> bytes:
    return soap_envelope(
        f"<ext:getPaymentStatus>{context(password=password)}<invoiceReference>{ref}"
        "</invoiceReference><invoiceVersion>0</invoiceVersion></ext:getPaymentStatus>"
    )


def post(
    base: str, path: str, body: bytes | None, kind: str | None = "text/xml; charset=utf-8"
) -> tuple[int, bytes]:
    request = urllib.request.Request(base + path, data=body, method="POST")
    if kind is not None:
        request.add_header("Content-Type", kind)
    try:
        with urllib.request.urlopen(request, timeout=BOUND) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def get(base: str, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(base + path, timeout=BOUND) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def field(body: bytes, name: str) -> str:
    found = re.search(rf"<{name}>([^<]*)</{name}>".encode(), body)
    assert found, body[:400]
    return found.group(1).decode()


def traffic(base: str, port: int) -> tuple[list[bytes], dict[str, str]]:
    """Every request of the test that carries the password; every answer, and the names the
    control routes are then read with."""
    answers: list[bytes] = []

    def soap(body: bytes, expect: int | None = 200, **how: Any) -> bytes:
        code, answer = post(base, SOAP_PATH, body, **how)
        assert expect is None or code == expect, (code, answer[:400])
        answers.append(answer)
        return answer

    registered = soap(
        soap_envelope(
            f"<ext:registerTerminal>{context(RESELLER, 'RESELLERUSER')}"
            f"<externalTerminalId>till-1</externalTerminalId><password>{SECRET}</password>"
            "<name>Till 1</name></ext:registerTerminal>"
        )
    )
    assert field(registered, "resultCode") == "0", registered
    till = field(registered, "terminalId")
    ref = field(soap(send_invoice()), "invoiceReference")
    assert field(soap(send_invoice(till)), "resultCode") == "0"  # the registered till's
    soap(status(ref))
    refused = soap(status(ref, password=SECRET + "-wrong"))
    assert field(refused, "resultCode") == "20", refused  # a wrong password: 20, not echoed
    code, paid = post(base, f"/_emulator/invoices/{ref}/pay", None, kind=None)
    assert code == 200, paid
    answers.append(paid)
    soap(status(ref))
    broken = status(ref).replace(b"</password>", b"</passwor>")  # XML that does not close
    soap(broken, expect=None)
    soap(status(ref).replace(b"getPaymentStatus", b"noSuchOperation"), expect=None)
    soap(b"password=" + SECRET.encode(), expect=None)  # not XML at all
    soap(status(ref) + b" " * MAX_BODY, expect=413)  # past --max-body-bytes
    soap(status(ref), expect=415, kind="application/x-www-form-urlencoded")  # a form's
    answers.append(  # a name this emulator does not serve: 421
        exchange(
            port,
            b"POST " + SOAP_PATH.encode() + b" HTTP/1.1\r\nHost: rebound.example\r\n"
            b"Content-Type: text/xml\r\nContent-Length: "
            + str(len(status(ref))).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + status(ref),
        )
    )
    answers.extend(malformed(port))  # 400s: what the HTTP parser cannot read
    return answers, {"ref": ref, "id": TERMINAL, "format": "svg"}


def control_paths(names: dict[str, str]) -> list[str]:
    """Every GET route of the control API, its parameters filled in (a route table walked, so
    a route added later is read too), and the list routes with their widest queries."""
    app = create_app(Settings(port=0))
    paths = {"/", "/_emulator/journal?bodies=true&limit=1000", "/_emulator/state"}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        template = info.get("formatter") or info.get("path")
        if route.method != "GET" or not template or not template.startswith("/_emulator"):
            continue
        if "{tail" in template or template.endswith("/events"):  # the fallback; the stream
            continue
        paths.add(re.sub(r"\{(\w+)[^}]*\}", lambda m: names.get(m.group(1), "x"), template))
    paths.add(f"/_emulator/notifications?invoice={names['ref']}")
    paths.add(f"/_emulator/invoices?terminal={TERMINAL}")
    return sorted(paths)


def dashboard_events(port: int, base: str) -> bytes:
    """The dashboard's live events from a connection opened before an invoice is sent, read
    up to that invoice's event (a bound, not a measure: the read stops at that frame)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=BOUND)
    try:
        conn.request("GET", "/_emulator/events")
        stream = conn.getresponse()
        assert stream.status == 200
        seen = stream.readline() + stream.readline() + stream.readline()  # retry, hello
        post(base, SOAP_PATH, send_invoice())  # an invoice event: its summary
        while b"event: invoice" not in seen:
            seen += stream.readline()
        seen += stream.readline() + stream.readline()
        return seen
    finally:
        conn.close()


def assert_nowhere(base: str, port: int) -> dict[str, str]:
    """Drive the emulator at `base` and read everything it shows; the names it was read by."""
    answers, names = traffic(base, port)
    for answer in answers:
        assert SECRET.encode() not in answer, answer[:600]
    shown = {path: get(base, path) for path in control_paths(names)}
    for path, (code, body) in shown.items():
        assert code in (200, 400, 404), (path, code, body[:300])
        assert SECRET.encode() not in body, (path, body[:600])
    assert shown["/"][0] == 200 and b"<html" in shown["/"][1].lower()
    journal = json.loads(shown["/_emulator/journal?bodies=true&limit=1000"][1])
    assert len(journal["entries"]) >= 10
    assert any("<password>***</password>" in json.dumps(e) for e in journal["entries"])
    assert SECRET.encode() not in dashboard_events(port, base)
    asked = {"terminal": TERMINAL, "steps": ["sendInvoice", "refundPayment"]}  # a miss, named
    code, verdict = post(base, "/_emulator/verify", json.dumps(asked).encode(), "application/json")
    assert code == 200 and b"refundPayment" in verdict and SECRET.encode() not in verdict
    # The canary: asked for them, the state hands the passwords out, so the emulator kept
    # this one and every search above would have found it.
    code, state = get(base, "/_emulator/state?passwords=true")
    assert code == 200 and SECRET.encode() in state
    return names


def test_the_password_is_in_no_log_line_answer_page_or_control_route(start_emulator, caplog):
    caplog.set_level(logging.DEBUG)
    server = start_emulator(**SETTINGS)
    assert_nowhere(server.url, server.port)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    ours = [r for r in caplog.records if not r.name.startswith(CLIENTS)]
    lines = [formatter.format(record) for record in ours]
    assert lines, "the emulator logged nothing: the search would find nothing either"
    assert not [line for line in lines if SECRET in line]


def test_the_password_is_in_no_place_with_zeep(start_emulator, zeep_for, caplog):
    """The same password through a real client: its calls, and what the emulator then shows."""
    caplog.set_level(logging.DEBUG)
    server = start_emulator(**SETTINGS)
    service = zeep_for(server)
    ctx = {
        "clientRequestTimeout": 0,
        "initiatorPrincipalId": {"id": TERMINAL, "type": "TERMINALID"},
        "password": SECRET,
    }
    invoice = {"title": "zeep", "totalAmount": {"currency": "SEK", "value": "1.00"}}
    sent = service.sendInvoice(context=ctx, invoice=invoice)
    assert sent.resultCode == 0
    wrong = dict(ctx, password=SECRET + "-wrong")
    refused = service.getPaymentStatus(
        context=wrong, invoiceReference=sent.invoiceReference, invoiceVersion=0
    )
    assert refused.resultCode == 20 and SECRET not in (refused.resultDescription or "")
    assert_nowhere(server.url, server.port)
    ours = [r for r in caplog.records if not r.name.startswith(CLIENTS)]
    assert not [r for r in ours if SECRET in logging.Formatter().format(r)]


@pytest.fixture(params=["default", "debug"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[str], str, int]]:
    """`seqr-emulator serve` in a process of its own, its whole stderr kept (at the default
    level, and with every logger at DEBUG)."""
    code = "import sys; from emulator import cli; sys.exit(cli.main(sys.argv[1:]))"
    if request.param == "debug":
        code = "import logging; logging.basicConfig(level=logging.DEBUG); " + code
    flags = ["--port", "0", "--ack-window", "0", "--max-body-bytes", str(MAX_BODY)]
    flags += ["--resellers", ACCOUNTS["resellers"], "--terminals", ACCOUNTS["terminals"]]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("listening on http://127.0.0.1:"), line
    port = int(line.rsplit(":", 1)[1])
    yield proc, f"http://127.0.0.1:{port}", port
    if proc.poll() is None:
        proc.kill()
        proc.communicate(timeout=BOUND)


def test_a_served_emulators_stderr_holds_no_password(served):
    proc, base, port = served
    assert_nowhere(base, port)
    proc.terminate()
    _, err = proc.communicate(timeout=BOUND)
    assert "bad HTTP request from 127.0.0.1" in err  # the log was written, and read here
    assert SECRET not in err, err
    assert "Traceback" not in err, err


def test_settings_shown_whole_show_no_password():
    """A Settings object in a traceback or a debug line: its accounts without passwords."""
    shown = repr(Settings(**SETTINGS, control_token=SECRET + "-token"))
    assert RESELLER in shown and TERMINAL in shown and SECRET not in shown
