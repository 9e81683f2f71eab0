"""Notification receivers that misbehave, for tests: they accept and never answer, or answer
and then send their body slowly or without end. Each listens on one or more loopback ports
from a thread of its own and counts the connections it holds (now, and the most at once).
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
        self._writers: set[asyncio.StreamWriter] = set()

    def url(self, index: int = 0, path: str = "/seqr/notify") -> str:
        return f"http://127.0.0.1:{self.ports[index % len(self.ports)]}{path}"

    async def _listen(self) -> None:
        for _ in range(self.count):
            server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=4096)
            self._servers.append(server)
            self.ports.append(server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self.open += 1
            self.accepted += 1
            self.most = max(self.most, self.open)
            self._lock.notify_all()
        self._writers.add(writer)
        try:
            await reader.readuntil(b"\r\n\r\n")
            if self.mode == "hang":
                await reader.read()  # until the emulator gives up and closes
            elif self.mode == "drip":
                writer.write(HEAD)
                while True:
                    writer.write(b"1\r\nx\r\n")
                    await writer.drain()
                    await asyncio.sleep(self.pause)
            else:
                writer.write(HEAD)
                chunk = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
                while True:
                    writer.write(chunk)
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
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
            for writer in list(self._writers):
                writer.transport.abort()
            for _ in range(200):  # each connection's task sees its end (bounded: 2 s)
                if not self._writers:
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
