"""Notification receivers that misbehave, for tests: they accept and never answer, or answer
and then send their body slowly or without end. Each listens on one or more loopback ports
from a thread of its own and counts the connections it holds (now, and the most at once).
Every connection is known from the moment it is made, so that stopping closes them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType
from typing import Self

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"


class BadReceiver:
    """`mode`: "hang" (read the request, answer nothing), "drip" (answer 200, then a body of
    one byte every `pause` seconds without end), "flood" (answer 200, then a body without end,
    as fast as the emulator reads it)."""

    def __init__(self, mode: str = "hang", ports: int = 1, pause: float = 0.05) -> None:
        assert mode in ("hang", "drip", "flood")
        self.mode = mode
        self.pause = pause
        self.count = ports
        self.ports: list[int] = []
        self.open = 0
        self.most = 0
        self.accepted = 0
        self._lock = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.Server] = []
        self._connections: set[_Connection] = set()

    def url(self, index: int = 0, path: str = "/seqr/notify") -> str:
        return f"http://127.0.0.1:{self.ports[index % len(self.ports)]}{path}"

    async def _listen(self) -> None:
        for _ in range(self.count):
            server = await self._loop.create_server(
                lambda: _Connection(self), "127.0.0.1", 0, backlog=4096
            )
            self._servers.append(server)
            self.ports.append(server.sockets[0].getsockname()[1])

    def _opened(self, connection: _Connection) -> None:
        self._connections.add(connection)
        with self._lock:
            self.open += 1
            self.accepted += 1
            self.most = max(self.most, self.open)
            self._lock.notify_all()

    def _closed(self, connection: _Connection) -> None:
        self._connections.discard(connection)
        with self._lock:
            self.open -= 1
            self._lock.notify_all()

    def wait_for_open(self, count: int, timeout: float = 10.0) -> bool:
        """Until `count` connections are held at once (bounded)."""
        with self._lock:
            return self._lock.wait_for(lambda: self.open >= count, timeout)

    def start(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            for server in self._servers:
                server.close()
            # Connections accepted just before the close are made a moment later: abort
            # until none is left and none has come for a while (bounded: 2 s).
            quiet = 0
            for _ in range(200):
                if self._connections:
                    quiet = 0
                    for connection in list(self._connections):
                        connection.abort()
                elif (quiet := quiet + 1) >= 5:
                    break
                await asyncio.sleep(0.01)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _Connection(asyncio.Protocol):
    """One connection to a `BadReceiver`: known to it from the moment it is made."""

    def __init__(self, receiver: BadReceiver) -> None:
        self.receiver = receiver
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.paused = False
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.receiver._opened(self)

    def data_received(self, data: bytes) -> None:
        if b"\r\n\r\n" in self.head:
            return  # the body, or the next request: all the same to it
        self.head += data
        if b"\r\n\r\n" not in self.head or self.receiver.mode == "hang":
            return
        assert self.transport is not None
        self.transport.write(HEAD)
        self._more()

    def _more(self) -> None:
        self.timer = None
        transport = self.transport
        if transport is None or transport.is_closing() or self.paused:
            return
        loop = asyncio.get_running_loop()
        if self.receiver.mode == "drip":
            transport.write(b"1\r\nx\r\n")
            self.timer = loop.call_later(self.receiver.pause, self._more)
        else:
            transport.write(b"4000\r\n" + b"x" * 0x4000 + b"\r\n")
            self.timer = loop.call_later(0, self._more)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.timer is None:
            self._more()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.transport = None
        self.receiver._closed(self)
