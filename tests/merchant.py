"""A merchant's notification endpoint for tests: a real aiohttp server on a loopback port.

It runs in a thread of its own, records every request it gets, and can hold its answers
until the test releases them (`hold=True`), the way a slow shop would.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from aiohttp import web

HOLD_LIMIT = 10.0  # a held request is answered after this many seconds at the latest


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    content_type: str


class Merchant:
    """Answers every request with `status`; with `hold`, only once `release()` is called."""

    def __init__(self, status: int = 200, *, hold: bool = False) -> None:
        self.status = status
        self.hold = hold
        self.received: list[Received] = []
        self.answered = 0
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._release: asyncio.Event | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def url(self, path_and_query: str = "/seqr/notify") -> str:
        return f"http://127.0.0.1:{self.port}{path_and_query}"

    async def _handle(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        seen = Received(
            request.method, request.path, dict(request.query), form, request.content_type
        )
        with self._changed:
            self.received.append(seen)
            self._changed.notify_all()
        if self.hold and self._release is not None:
            with contextlib.suppress(TimeoutError):  # a slow shop answers in the end
                await asyncio.wait_for(self._release.wait(), HOLD_LIMIT)
        with self._changed:
            self.answered += 1
            self._changed.notify_all()
        return web.Response(status=self.status, text="")

    def _run(self) -> None:
        async def main() -> None:
            self._release = asyncio.Event()
            self._stop = asyncio.Event()
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._ready.set()
            await self._stop.wait()
            await runner.cleanup()

        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(main())
        finally:
            self._loop.close()

    def start(self) -> Merchant:
        self._thread = threading.Thread(target=self._run, name="merchant", daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "merchant endpoint did not start"
        return self

    def release(self) -> None:
        """Let held requests answer now."""
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)

    def stop(self) -> None:
        self.release()
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def wait_for(self, predicate: Callable[[Merchant], bool], timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)

    def __enter__(self) -> Merchant:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def closed_port_url(path: str = "/seqr/notify") -> str:
    """A loopback URL where nothing listens: the merchant's server is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
