"""A lean HTTP/1.1 POST to plain-http notification receivers, over kept-alive connections.

The notifier's attempts to an `http://` receiver go through here rather than through
aiohttp's client: what a notification needs (one small form, a status, a bounded read of
the answer, a connection kept for the receiver's next one) is a request written in one piece
and an answer parsed as it arrives, and aiohttp's client spends most of an attempt's time
before the first byte is written building a general request (its headers, cookies, timers,
payload objects). The notifier keeps the limits: its lanes bound the attempts in flight, its
timeout bounds each attempt, and a connection is reused only while `Pool.keep` says so.
Standard library only.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote_plus

Key = tuple[str, int]
"""A receiver's host (as written in the URL, IDNA-encoded) and port."""

MAX_HEAD_BYTES = 64 * 1024  # an answer's status line and headers; past that it is no answer
HEAD, TRAILERS = -1, -2  # what `Connection` reads next, when not body bytes


class AnswerError(ValueError):
    """The receiver's bytes are not an HTTP/1.x answer (or not one that ends)."""


class Connection(asyncio.Protocol):
    """One connection to a receiver: one exchange at a time, then idle in its pool or closed.

    The answer is parsed as it arrives: `status` is known from its head, before the body has
    come (an attempt that times out in the body still reports it); the exchange ends with the
    answer's last byte, or once `limit` bytes of its body are read (the connection is then
    closed, never reused).
    """

    __slots__ = (
        "_buffer",
        "_chunked",
        "_done",
        "_left",
        "_limit",
        "_lost",
        "_read",
        "_until_close",
        "idle_timer",
        "reusable",
        "status",
        "transport",
    )

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.status: int | None = None
        self.reusable = False
        self.idle_timer: asyncio.TimerHandle | None = None
        self._done: asyncio.Future[None] | None = None
        self._buffer = b""
        self._limit = 0
        self._left = HEAD  # body bytes still to come in this answer or chunk, or HEAD, TRAILERS
        self._chunked = False
        self._until_close = False
        self._read = 0  # body bytes read of this answer
        self._lost = False

    # --- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._done is None or self._done.done():
            self.close()  # bytes nobody asked for: the connection is not in a known state
            return
        try:
            self._buffer += data
            self._parse()
        except AnswerError as exc:
            self._finish(exc)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self.reusable = False
        if self._done is not None and not self._done.done():
            if self._until_close and self.status is not None:
                self._done.set_result(None)  # a body that runs to the close has ended
            else:
                self._done.set_exception(
                    ConnectionResetError("the receiver closed the connection before its answer")
                )

    # --- the exchange --------------------------------------------------------------------------

    @property
    def open(self) -> bool:
        return not self._lost and self.transport is not None and not self.transport.is_closing()

    async def exchange(self, request: bytes, limit: int) -> int:
        """Write `request` and wait for the answer (its body read up to `limit` bytes); its
        status. A cancelled exchange (the attempt's timeout) closes the connection."""
        assert self.transport is not None
        self.status, self.reusable, self._read = None, False, 0
        self._buffer, self._left, self._chunked, self._until_close = b"", HEAD, False, False
        self._limit = limit
        done = self._done = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        try:
            await done
        except BaseException:
            self.close()
            raise
        assert self.status is not None
        return self.status

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.abort()

    def _finish(self, error: Exception | None = None) -> None:
        done = self._done
        if done is None or done.done():
            return
        if error is not None:
            self.reusable = False
            done.set_exception(error)
        else:
            if self._buffer:  # bytes past the answer: what the receiver meant is unknown
                self.reusable = False
            done.set_result(None)
        if not self.reusable:
            self.close()

    def _parse(self) -> None:
        while self._done is not None and not self._done.done():
            if self._left == HEAD:
                if not self._head():
                    return
            elif self._left == TRAILERS:
                if not self._trailers():
                    return
            elif self._chunked and self._left == 0:
                if not self._chunk_size():
                    return
            elif not self._body():
                return

    def _head(self) -> bool:
        """The status line and headers, once all of them have come."""
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD_BYTES:
                raise AnswerError(f"an answer's head longer than {MAX_HEAD_BYTES} bytes")
            return False
        head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
        lines = head.split(b"\r\n")
        parts = lines[0].split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise AnswerError(f"not an HTTP/1.x answer: {lines[0][:80]!r}")
        status = int(parts[1])
        if 100 <= status < 200:  # an interim answer (100 Continue, 103): the real one follows
            return True
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon:
                raise AnswerError(f"a header line without a colon: {line[:80]!r}")
            headers[name.strip().lower()] = value.strip()
        self.status = status
        connection = headers.get(b"connection", b"").lower()
        if parts[0] == b"HTTP/1.0":
            self.reusable = b"keep-alive" in connection
        else:
            self.reusable = b"close" not in connection
        if status in (204, 304):
            self._finish()
        elif b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            self._chunked, self._left = True, 0
        elif (length := headers.get(b"content-length")) is not None:
            if not length.isdigit():
                raise AnswerError(f"a Content-Length that is no number: {length[:40]!r}")
            self._left = int(length)
            if not self._left:
                self._finish()
        else:  # the body runs until the receiver closes
            self._until_close, self.reusable, self._left = True, False, 1 << 62
        return True

    def _chunk_size(self) -> bool:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > 1024:
                raise AnswerError("a chunk size line longer than 1024 bytes")
            return False
        line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
        size = line.split(b";", 1)[0].strip()
        try:
            self._left = int(size, 16) + 2  # the chunk and its CRLF
        except ValueError:
            raise AnswerError(f"a chunk size that is no number: {size[:40]!r}") from None
        if self._left == 2:  # the last chunk: its trailers (usually none) end the answer
            self._left = TRAILERS
        return True

    def _trailers(self) -> bool:
        if self._buffer.startswith(b"\r\n"):
            end = 0
        elif (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            end += 2
        elif len(self._buffer) > MAX_HEAD_BYTES:
            raise AnswerError(f"trailers longer than {MAX_HEAD_BYTES} bytes")
        else:
            return False
        self._buffer = self._buffer[end + 2 :]
        self._finish()
        return True

    def _body(self) -> bool:
        if not self._buffer:
            return False
        taken = min(len(self._buffer), self._left)
        self._buffer = self._buffer[taken:]
        self._left -= taken
        self._read += taken
        if self._read >= self._limit:  # read as far as it is read: the rest is not waited for
            self.reusable = False
            self._finish()
        elif self._left == 0 and not self._chunked:
            self._finish()
        return True


class Pool:
    """Idle connections by receiver, each closed after `keep` seconds unused."""

    def __init__(self, keep: float) -> None:
        self.keep = keep
        self._idle: dict[Key, list[Connection]] = {}

    def take(self, key: Key) -> Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if not idle:
                del self._idle[key]
            if connection.idle_timer is not None:
                connection.idle_timer.cancel()
                connection.idle_timer = None
            if connection.open:
                return connection
            idle = self._idle.get(key)
        return None

    def give_back(self, key: Key, connection: Connection) -> None:
        if not (connection.reusable and connection.open):
            connection.close()
            return
        self._idle.setdefault(key, []).append(connection)
        loop = asyncio.get_running_loop()
        connection.idle_timer = loop.call_later(self.keep, self._expire, key, connection)

    def _expire(self, key: Key, connection: Connection) -> None:
        idle = self._idle.get(key)
        if idle is not None and connection in idle:
            idle.remove(connection)
            if not idle:
                del self._idle[key]
        connection.idle_timer = None
        connection.close()

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                if connection.idle_timer is not None:
                    connection.idle_timer.cancel()
                connection.close()
        self._idle.clear()

    def __len__(self) -> int:
        return sum(map(len, self._idle.values()))


async def connect(host: str, port: int) -> Connection:
    """A new connection (asyncio sets TCP_NODELAY on it: the request is one write)."""
    loop = asyncio.get_running_loop()
    _, connection = await loop.create_connection(Connection, host, port)
    return connection


def head(path_qs: str, host: str, agent: str) -> str:
    """A POST's request line and headers up to its Content-Length's value: the same for every
    notification to one URL. `host` is the Host header's value, `path_qs` the target as sent
    (ASCII, percent-encoded)."""
    return (
        f"POST {path_qs} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\nAccept: */*\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: "
    )


def request(head: str, form: tuple[tuple[str, str], ...]) -> bytes:
    """The POST of `form` (urlencoded, as a browser's form is) in one piece, after `head`."""
    body = encode(form)
    return f"{head}{len(body)}\r\n\r\n{body}".encode()


def encode(form: tuple[tuple[str, str], ...]) -> str:
    """`urllib.parse.urlencode`'s answer for a form of strings; a value of ASCII letters and
    digits (a reference, a phone number) is taken as it is: 0.9 us against urlencode's 7.3
    for a notification's four fields."""
    return "&".join([f"{_quoted(name)}={_quoted(value)}" for name, value in form])


def _quoted(text: str) -> str:
    return text if text.isalnum() and text.isascii() else quote_plus(text)
