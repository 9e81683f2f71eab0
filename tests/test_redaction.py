"""No byte of a request reaches a log line or an error answer: a password sent in a SOAP
envelope, a malformed HTTP request or a broken header is found in neither.

The traffic mixes what real clients send (zeep with the password in its context) with what
broken ones send: a Content-Length shorter than the body (the rest is read as the next
request, which aiohttp's parser rejected quoting it, into its log and its 400 answer), a
header line too long, a header name with a control character, a chunked body that breaks,
XML that does not close. Every log record of the process is read at DEBUG, and for a
`serve` run the whole of its stderr, at the default level and at DEBUG.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from emulator.server import EmulatorServer

SECRET = "s3cr3t-Pa55"
SOAP_PATH = "/extclientproxy/service/v2"
BOUND = 10.0
CLIENTS = ("zeep", "urllib3")  # the loggers of the test's own SOAP client


def envelope(operation: str = "getPaymentStatus", close: str = "password") -> bytes:
    return (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:ext="http://external.interfaces.ers.seamless.com/"><soapenv:Body>'
        f"<ext:{operation}><context><clientRequestTimeout>0</clientRequestTimeout>"
        "<initiatorPrincipalId><id>redaction-terminal</id><type>TERMINALID</type>"
        f"</initiatorPrincipalId><password>{SECRET}</{close}></context>"
        f"<invoiceReference>1</invoiceReference></ext:{operation}>"
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()


def head(length: int, *extra: bytes) -> bytes:
    lines = [
        f"POST {SOAP_PATH} HTTP/1.1".encode(),
        b"Host: 127.0.0.1",
        b"Content-Type: text/xml; charset=utf-8",
        f"Content-Length: {length}".encode(),
        *extra,
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def exchange(port: int, *parts: bytes) -> bytes:
    """Send `parts` one after the other (a pause between), and read until the server closes
    or falls silent; everything it answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as sock:
        for part in parts:
            sock.sendall(part)
            time.sleep(0.05)  # each part its own read on the server: not a timing assertion
        sock.shutdown(socket.SHUT_WR)
        got = b""
        sock.settimeout(2.0)
        try:
            while chunk := sock.recv(65536):
                got += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return got


def malformed(port: int) -> list[bytes]:
    """Every broken request of the test, against the server at `port`; the answers (the
    broken chunk gets none: its request waits for a body until the body deadline)."""
    body = envelope()
    short = head(10)  # the body's first ten bytes are the request, the rest a "next request"
    answers = [
        exchange(port, short + body[:10], body[10:]),
        exchange(port, short + body),  # all in one read
        exchange(port, head(len(body), b"X-Note: " + b"A" * 9000 + SECRET.encode()) + body),
        exchange(port, head(len(body), b"X-" + SECRET.encode() + b"\x01: v") + body),
        exchange(
            port,
            head(0).replace(b"Content-Length: 0", b"Transfer-Encoding: chunked"),
            b"zz" + SECRET.encode() + b"\r\n" + body + b"\r\n0\r\n\r\n",
        ),
        exchange(port, SECRET.encode() + b" / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        exchange(port, head(len(envelope(close="passwor"))) + envelope(close="passwor")),
        exchange(port, head(len(envelope("noSuchOperation"))) + envelope("noSuchOperation")),
    ]
    return answers


def good_traffic(server: EmulatorServer, zeep_for) -> None:
    service = zeep_for(server)
    context = {
        "clientRequestTimeout": 0,
        "initiatorPrincipalId": {"id": "redaction-terminal", "type": "TERMINALID"},
        "password": SECRET,
    }
    invoice = {"title": "redaction", "totalAmount": {"currency": "SEK", "value": "1.00"}}
    sent = service.sendInvoice(context=context, invoice=invoice)
    assert sent.resultCode == 0
    status = service.getPaymentStatus(
        context=context, invoiceReference=sent.invoiceReference, invoiceVersion=0
    )
    assert status.resultCode == 0
    wrong = dict(context, password=SECRET + "-wrong")
    refused = service.getPaymentStatus(
        context=wrong, invoiceReference=sent.invoiceReference, invoiceVersion=0
    )
    assert refused.resultCode != 0


def test_no_log_record_and_no_answer_holds_a_byte_of_the_request(start_emulator, zeep_for, caplog):
    caplog.set_level(logging.DEBUG)
    server = start_emulator(ack_window=0)
    good_traffic(server, zeep_for)
    answers = malformed(server.port)
    for answer in answers:
        assert SECRET.encode() not in answer, answer
    bad = [a for a in answers if b" 400 Bad Request\r\n" in a]
    assert len(bad) >= 5, answers
    for answer in bad:  # the status and its reason, not a word of what could not be read
        assert answer.endswith(b"\r\n\r\n400 Bad Request\n"), answer
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    # The clients' own debug lines (zeep prints the envelopes it posts) are not the emulator's.
    ours = [r for r in caplog.records if not r.name.startswith(CLIENTS)]
    lines = [formatter.format(record) for record in ours]
    assert not [line for line in lines if SECRET in line]
    redacted = [line for line in lines if "bad HTTP request from 127.0.0.1" in line]
    assert redacted, "the bad requests were logged, one redacted line at a time"
    assert all("\n" not in line for line in redacted)


@pytest.fixture(params=["default", "debug"])
def serve(request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[str]]:
    code = "import sys; from emulator import cli; sys.exit(cli.main(sys.argv[1:]))"
    if request.param == "debug":
        code = "import logging; logging.basicConfig(level=logging.DEBUG); " + code
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", "0", "--ack-window", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.communicate(timeout=BOUND)


def test_a_served_emulator_writes_no_byte_of_a_request_to_its_stderr(serve):
    assert serve.stdout is not None
    line = serve.stdout.readline()
    assert line.startswith("listening on http://127.0.0.1:"), line
    answers = malformed(int(line.rsplit(":", 1)[1]))
    serve.terminate()
    _, err = serve.communicate(timeout=BOUND)
    assert all(SECRET.encode() not in answer for answer in answers)
    assert SECRET not in err, err
    assert "Traceback" not in err, err
    assert "bad HTTP request from 127.0.0.1" in err
