"""Slow and idle clients: a request's head and body have deadlines, the connections a limit,
and a descriptor shortage one line of log.

Everything stays on loopback and every wait is bounded; what is asserted is that a
connection is closed within a generous bound of its deadline, or that a normal request is
served while the slow ones are open, never how fast.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web

from emulator import guard
from emulator.server import EmulatorServer
from tests.shop import Control

BOUND = 10.0  # seconds: any deadline here is well under a second, this is the test's patience
PARTIAL_HEAD = b"POST /extclientproxy/service/v2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le"


def connect(server: EmulatorServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=BOUND)
    sock.settimeout(BOUND)
    return sock


def until_closed(sock: socket.socket) -> bytes:
    """All the server sends until it closes the connection (bounded by the socket timeout)."""
    got = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            got += chunk
    return got


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    """What the server sends until `marker` has come (bounded by the socket timeout)."""
    got = b""
    while marker not in got:
        chunk = sock.recv(65536)
        assert chunk, f"closed before {marker!r}: {got!r}"
        got += chunk
    return got


def healthy(server: EmulatorServer) -> bool:
    with urllib.request.urlopen(server.url + "/_emulator/health", timeout=BOUND) as resp:
        return resp.status == 200 and json.loads(resp.read())["ready"] is True


def wait_for(predicate: Callable[[], bool], timeout: float = BOUND) -> bool:
    """Until `predicate` holds (an exception counts as not yet), bounded."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):
            if predicate():
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


@pytest.fixture
def descriptors() -> Iterator[Callable[[int], None]]:
    """Raise this process's soft descriptor limit for the test (skip if the hard one is
    lower); put back after."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)

    def need(count: int) -> None:
        soft, hard = before
        if hard != resource.RLIM_INFINITY and hard < count:
            pytest.skip(f"needs {count} descriptors; the hard limit is {hard}")
        if soft != resource.RLIM_INFINITY and soft < count:
            resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))

    yield need
    resource.setrlimit(resource.RLIMIT_NOFILE, before)


def test_the_attributes_of_aiohttp_the_guard_reads_are_there():
    for name in ("_request_count", "_messages", "_request_in_progress", "_loop"):
        assert any(name in getattr(k, "__slots__", ()) for k in web.RequestHandler.__mro__), name


def test_a_head_sent_too_slowly_is_answered_408_and_closed(start_emulator):
    server = start_emulator(header_timeout=0.2)
    with connect(server) as sock:
        sock.sendall(PARTIAL_HEAD)
        answer = until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
    assert healthy(server)


def test_a_body_sent_too_slowly_is_closed(start_emulator):
    server = start_emulator(body_timeout=0.2)
    head = (
        b"POST /extclientproxy/service/v2 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: text/xml\r\nContent-Length: 1000\r\n\r\n<soapenv:Envelope"
    )
    with connect(server) as sock:
        sock.sendall(head)
        assert until_closed(sock) == b""  # nothing of an answer: the request never ended
    assert healthy(server)


def test_a_connection_that_sends_nothing_is_closed_after_the_idle_timeout(start_emulator):
    server = start_emulator(idle_timeout=0.2)
    with connect(server) as sock:
        assert until_closed(sock) == b""


def test_a_request_that_comes_in_time_is_answered_and_the_connection_kept(start_emulator):
    server = start_emulator(header_timeout=0.2, body_timeout=0.2)
    with connect(server) as sock:
        for _ in range(3):
            sock.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_head_and_body_sent_in_pieces_in_time_are_served(start_emulator):
    server = start_emulator(header_timeout=5, body_timeout=5)
    body = b'{"seconds": 1}'
    request = (
        b"POST /_emulator/clock/advance HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    with connect(server) as sock:
        for i in range(0, len(request), 7):
            sock.sendall(request[i : i + 7])
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_normal_request_is_served_while_1000_slow_connections_are_open(
    start_emulator, descriptors, zeep_for, context
):
    slow = 1000
    descriptors(2 * slow + 500)  # both ends of every connection live in this process
    server = start_emulator(header_timeout=60, ack_window=0)
    sockets: list[socket.socket] = []
    try:
        for _ in range(slow):
            sock = connect(server)
            sock.sendall(PARTIAL_HEAD)
            sockets.append(sock)
        assert wait_for(lambda: len(server.connections or ()) >= slow)
        assert healthy(server)
        sent = zeep_for(server).sendInvoice(
            context=context,
            invoice={"title": "amid the slow", "totalAmount": {"currency": "SEK", "value": "1"}},
        )
        assert sent.resultCode == 0
        assert len(server.connections or ()) >= slow, "the slow ones were still open"
    finally:
        for sock in sockets:
            sock.close()


def test_at_the_limit_a_new_connection_closes_the_longest_open_idle_one_said_once(
    start_emulator, caplog
):
    caplog.set_level(logging.DEBUG)
    server = start_emulator(max_connections=10)
    idle = [connect(server) for _ in range(30)]
    try:
        assert healthy(server)
        # The oldest were closed to make room, the newest are still open.
        assert until_closed(idle[0]) == b""
        idle[-1].sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert idle[-1].recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
    finally:
        for sock in idle:
            sock.close()
    reached = [r for r in caplog.records if "connection limit reached" in r.getMessage()]
    assert len(reached) == 1, [r.getMessage() for r in reached]
    assert "(10 open)" in reached[0].getMessage()


def test_a_connection_serving_a_request_is_never_closed_for_room(start_emulator):
    server = start_emulator(max_connections=2)
    with connect(server) as stream, connect(server) as idle:
        stream.sendall(b"GET /_emulator/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        read_until(stream, b"event: hello")
        assert healthy(server)  # a third connection: the idle one made room
        assert until_closed(idle) == b""
        Control(server.url).ok("POST", "/reset")  # the stream hears of it
        read_until(stream, b"event: reset")


def test_when_every_connection_is_busy_a_new_one_is_refused(start_emulator):
    server = start_emulator(max_connections=1)
    with connect(server) as stream:
        stream.sendall(b"GET /_emulator/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        read_until(stream, b"event: hello")
        with connect(server) as refused:
            refused.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert until_closed(refused) == b""
    assert wait_for(lambda: healthy(server))


class FakeLoop:
    def __init__(self) -> None:
        self.reported: list[dict[str, Any]] = []

    def get_exception_handler(self) -> Any:
        return None

    def set_exception_handler(self, handler: Any) -> None:
        self.handler = handler

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        self.reported.append(context)


def test_a_flood_of_descriptor_shortages_is_one_line_and_other_reports_go_on(caplog):
    caplog.set_level(logging.DEBUG)
    from emulator.settings import Settings

    loop = FakeLoop()
    guard.LoopGuard(guard.Connections(Settings(), 10)).install(loop)  # type: ignore[arg-type]
    shortage = {
        "message": "socket.accept() out of system resource",
        "exception": OSError(errno.EMFILE, "Too many open files"),
    }
    for _ in range(1000):
        loop.handler(loop, shortage)
    loop.handler(loop, {"message": "something else"})
    lines = [r for r in caplog.records if "cannot accept connections" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert "Too many open files" in lines[0].getMessage()
    assert loop.reported == [{"message": "something else"}]


def _serve(limit: int, *args: str) -> subprocess.Popen[str]:
    def low() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=low,
    )


def _flood(proc: subprocess.Popen[str], idle: int) -> tuple[bool, str]:
    """Hold `idle` idle connections to the server, then ask for its health; its stderr."""
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), line
        url = line.split()[-1]
        port = int(url.rsplit(":", 1)[1])
        sockets = []
        try:
            for _ in range(idle):
                with contextlib.suppress(OSError):  # refused or reset: the server's choice
                    sockets.append(socket.create_connection(("127.0.0.1", port), timeout=BOUND))
            with urllib.request.urlopen(url + "/_emulator/health", timeout=BOUND) as resp:
                served = resp.status == 200
        finally:
            for sock in sockets:
                sock.close()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=BOUND)
    return served, err


def test_under_a_1024_descriptor_limit_1100_idle_connections_leave_room_and_little_log(
    descriptors,
):
    descriptors(1100 + 200)
    proc = _serve(1024, "-m", "emulator", "serve", "--port", "0")
    served, err = _flood(proc, 1100)
    assert served
    assert "Traceback" not in err and len(err) < 2000, err
    assert err.count("connection limit reached") == 1, err
    assert "the descriptor limit is 1024 (ulimit -n): limited connections to 704" in err


LIMITLESS = """
import sys
from emulator import cli, guard
guard.budget = lambda settings: guard.Budget(100_000, 16, 256)  # as if the limit were unknown
sys.exit(cli.main(["serve", "--port", "0"]))
"""


def test_out_of_descriptors_on_accept_is_a_line_not_a_traceback_per_attempt(descriptors):
    descriptors(300 + 200)
    proc = _serve(256, "-c", LIMITLESS)
    served, err = _flood(proc, 300)
    assert served, "idle connections were closed to make room"
    assert "Traceback" not in err and len(err) < 2000, err
    assert 1 <= err.count("cannot accept connections: Too many open files") <= 3, err
