"""The notifier's lean HTTP/1.1 POST: the request it writes, the answers it reads to their
end, and when a connection is kept for the receiver's next notification.

Each receiver here is a scripted asyncio server on a loopback port: it reads one request at
a time and writes the bytes the test gives for it, so every shape of answer (a length,
chunks, an interim 100, a body that runs to the close, too long a body, no HTTP at all) is
exactly what the test says.
"""

from __future__ import annotations

import asyncio
import socketserver
import threading
import time
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlencode

import pytest

from emulator import http_poster
from emulator import notifier as notifier_module
from emulator.app import NOTIFIER
from emulator.http_poster import AnswerError, Pool
from emulator.journal import Attempt
from emulator.notifier import Notification, route_of, target
from emulator.server import EmulatorServer
from tests.merchant import Merchant

FORM = (("invoiceReference", "R1"), ("clientInvoiceId", "a b&c"), ("msisdn", ""), ("k", "v"))
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def lean_request(url, form):  # type: ignore[no-untyped-def]
    """The bytes `http_poster` writes for `form` to `url`, or None when it does not post there."""
    route = route_of(url)
    return None if route.key is None else http_poster.request(route.head, form)


class Scripted:
    """Answers the n-th request (over all connections) with `answers[n]`, then closes with
    `close_after`, else holds the connection until the client closes it."""

    def __init__(self, answers: list[bytes], close_after: bool = False) -> None:
        self.answers = answers
        self.close_after = close_after
        self.requests: list[bytes] = []
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                self.requests.append(head + await reader.readexactly(length))
                writer.write(self.answers.pop(0))
                await writer.drain()
                if self.close_after:
                    return
            await reader.read()  # nothing more to say: held until the client closes
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.sockets[0].getsockname()[1]
        return port


@pytest.fixture
async def scripted() -> AsyncIterator[list[Scripted]]:
    made: list[Scripted] = []
    yield made
    for one in made:
        if one.server is not None:
            one.server.close()
            await one.server.wait_closed()


async def listen(made: list[Scripted], *answers: bytes, close_after: bool = False) -> Scripted:
    one = Scripted(list(answers), close_after)
    one.server = await asyncio.start_server(one._serve, "127.0.0.1", 0)
    made.append(one)
    return one


def request_for(port: int, path: str = "/seqr/notify?order=1%202&x") -> bytes:
    made = lean_request(target(f"http://127.0.0.1:{port}{path}"), FORM)
    assert made is not None
    return made


async def post(
    receiver: Scripted, connection: http_poster.Connection | None = None
) -> tuple[int, http_poster.Connection]:
    connection = connection or await http_poster.connect("127.0.0.1", receiver.port)
    status = await asyncio.wait_for(connection.exchange(request_for(receiver.port), 1024), 5)
    return status, connection


async def test_the_request_is_the_form_in_one_piece_with_the_merchants_query(scripted):
    receiver = await listen(scripted, OK)
    status, connection = await post(receiver)
    connection.close()
    assert status == 200
    [got] = receiver.requests
    head, body = got.split(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /seqr/notify?order=1%202&x HTTP/1.1"
    assert f"Host: 127.0.0.1:{receiver.port}".encode() in lines
    assert b"Content-Type: application/x-www-form-urlencoded" in lines
    assert body == b"invoiceReference=R1&clientInvoiceId=a+b%26c&msisdn=&k=v"
    assert f"Content-Length: {len(body)}".encode() in lines


def test_only_plain_http_without_credentials_takes_the_lean_path():
    assert lean_request(target("https://shop.example/n"), FORM) is None
    assert lean_request(target("http://user:pw@shop.example/n"), FORM) is None
    made = lean_request(target("http://shop.example"), FORM)
    assert made is not None and made.startswith(b"POST / HTTP/1.1\r\nHost: shop.example\r\n")
    six = lean_request(target("http://[::1]:8080/n"), FORM)
    assert six is not None and b"\r\nHost: [::1]:8080\r\n" in six


@pytest.mark.parametrize(
    "form",
    [
        FORM,
        (("invoiceReference", "20261202523423582"), ("msisdn", "46700000001")),
        (("a b", "é ü/?&=+%"), ("", ""), ("x", "~-._*"), ("ÅÄÖ", "line\r\nbreak")),
    ],
)
def test_the_form_is_encoded_as_urlencode_encodes_it(form):
    assert http_poster.encode(form) == urlencode(form)


def test_routes_are_kept_per_url_and_bounded(start_emulator, monkeypatch):
    monkeypatch.setattr(notifier_module, "ROUTES", 3)
    notifier = start_emulator().app[NOTIFIER]
    first = notifier.route("http://127.0.0.1:1/n?order=1")
    assert notifier.route("http://127.0.0.1:1/n?order=1") is first
    assert first.key == ("127.0.0.1", 1) and first.receiver == ("http", "127.0.0.1", 1)
    for i in range(2, 9):
        notifier.route(f"http://127.0.0.1:1/n?order={i}")
    assert len(notifier._routes) <= 3
    assert notifier.route("https://shop.example/n").key is None


@pytest.mark.parametrize(
    "answer",
    [
        OK,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nok\r\n0\r\nA: b\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
    ],
    ids=["length", "chunked", "chunk-extension-trailer", "interim-100", "no-content", "1.0-kept"],
)
async def test_an_answer_read_to_its_end_leaves_the_connection_for_the_next(scripted, answer):
    receiver = await listen(scripted, answer, OK)
    status, connection = await post(receiver)
    assert 200 <= status < 300 and connection.reusable and connection.open
    again, same = await post(receiver, connection)
    connection.close()
    assert again == 200 and same is connection and receiver.connections == 1
    assert len(receiver.requests) == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 500 Oops\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000,  # past the limit
        OK + b"HTTP/1.1 200 OK\r\n",  # more than it was asked for
    ],
    ids=["connection-close", "1.0", "cut-off", "bytes-past-the-answer"],
)
async def test_an_answer_that_ends_its_connection_is_not_kept(scripted, answer):
    receiver = await listen(scripted, answer)
    status, connection = await post(receiver)
    assert status in (200, 500) and not connection.reusable
    await asyncio.sleep(0)  # the abort's close runs on the loop's next turn
    assert not connection.open


async def test_a_body_without_length_runs_to_the_close(scripted):
    receiver = await listen(scripted, b"HTTP/1.1 202 OK\r\n\r\nall of it", close_after=True)
    status, connection = await post(receiver)
    assert status == 202 and not connection.reusable


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", AnswerError),
        (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", AnswerError),
        (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", AnswerError),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nok", ConnectionResetError),
        (b"", ConnectionResetError),
    ],
    ids=["not-http", "bad-header", "bad-length", "closed-in-body", "closed-at-once"],
)
async def test_what_is_no_whole_answer_fails_the_exchange(scripted, answer, error):
    receiver = await listen(scripted, answer, close_after=True)
    with pytest.raises(error):
        await post(receiver)


async def test_the_status_is_known_from_the_head_before_the_body_has_come(scripted):
    receiver = await listen(scripted, b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nok")
    connection = await http_poster.connect("127.0.0.1", receiver.port)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(connection.exchange(request_for(receiver.port), 1024), 0.2)
    assert connection.status == 200 and not connection.reusable


async def test_the_pool_gives_a_kept_connection_once_and_closes_it_after_keep(scripted):
    receiver = await listen(scripted, OK, OK)
    key = ("127.0.0.1", receiver.port)
    pool = Pool(keep=0)
    _, connection = await post(receiver)
    pool.give_back(key, connection)
    assert len(pool) == 1 and pool.take(key) is connection and pool.take(key) is None
    pool.give_back(key, connection)
    await asyncio.sleep(0)  # `keep` is 0: the idle timer fires on the loop's next turn
    await asyncio.sleep(0)
    assert len(pool) == 0 and pool.take(key) is None and not connection.open
    pool.close()


# --- through the notifier: one connection for a receiver's notifications ------------------


class CountingReceiver(socketserver.ThreadingTCPServer):
    """A keep-alive HTTP/1.1 receiver in a thread, counting the connections it accepted."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Answering)
        self.accepted = 0
        self.requests = 0
        self.lock = threading.Lock()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/notify"


class _Answering(socketserver.StreamRequestHandler):
    server: CountingReceiver

    def handle(self) -> None:
        with self.server.lock:
            self.server.accepted += 1
        while head := self._head():
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            self.rfile.read(length)
            with self.server.lock:
                self.server.requests += 1
            self.wfile.write(OK)
            self.wfile.flush()

    def _head(self) -> bytes:
        lines = []
        while (line := self.rfile.readline()) not in (b"\r\n", b""):
            lines.append(line)
        return b"".join(lines)


def settled(server: EmulatorServer, refs: list[str], timeout: float = 15.0) -> list[Attempt]:
    """The attempts for `refs`, once there is one for each (polled, bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [a for a in server.backend.journal.recent() if a.invoice_reference in refs]
        if len(found) >= len(refs) or time.monotonic() > deadline:
            assert len(found) >= len(refs), f"{len(found)} of {len(refs)} attempts settled"
            return found
        time.sleep(0.005)


@pytest.fixture
def counting() -> Iterator[CountingReceiver]:
    receiver = CountingReceiver()
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.shutdown()
    receiver.server_close()
    thread.join(5)


def test_a_receivers_notifications_one_after_another_share_one_connection(start_emulator, counting):
    server = start_emulator(ack_window=0)
    notifier = server.app[NOTIFIER]
    refs = [f"K{i}" for i in range(5)]
    for ref in refs:  # one at a time: each waits for the one before to be answered
        notifier.submit(Notification(ref, "paid", counting.url(), FORM))
        settled(server, [ref])
    made = settled(server, refs)
    server.stop()
    assert [a.outcome for a in made] == ["delivered"] * len(refs)
    assert counting.requests == len(refs) and counting.accepted == 1


def test_a_url_with_a_user_is_still_posted_by_aiohttps_client(start_emulator):
    server = start_emulator(ack_window=0)
    with Merchant() as merchant:
        url = merchant.url("/n?order=9").replace("http://", "http://shop:secret@")
        assert server.app[NOTIFIER].route(url).key is None
        server.app[NOTIFIER].submit(Notification("U1", "paid", url, FORM))
        [made] = settled(server, ["U1"])
        server.stop()
    assert made.outcome == "delivered" and made.status == 200
    [got] = merchant.received
    assert got.query == {"order": "9"} and got.form == dict(FORM)
