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

from aiohttp import web

from emulator.server import ThreadedApp

HOLD_LIMIT = 10.0  # a held request is answered after this many seconds at the latest


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    content_type: str


class Merchant(ThreadedApp):
    """Answers every request with `status`; with `hold`, only once `release()` is called."""

    thread_name = "merchant"

    def __init__(self, status: int = 200, *, hold: bool = False) -> None:
        super().__init__(self._make)
        self.status = status
        self.hold = hold
        self.received: list[Received] = []
        self.answered = 0
        self._changed = threading.Condition()
        self._release: asyncio.Event | None = None

    def _make(self) -> web.Application:
        self._release = asyncio.Event()  # made on the server's own loop
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    def url(self, path_and_query: str = "/seqr/notify") -> str:  # type: ignore[override]
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

    def start(self, timeout: float = 10.0) -> Merchant:  # type: ignore[override]
        super().start(timeout)
        return self

    def release(self) -> None:
        """Let held requests answer now."""
        release = self._release
        if release is not None:
            self.call_soon(release.set)

    def stop(self) -> None:
        self.release()
        super().stop()

    def wait_for(self, predicate: Callable[[Merchant], bool], timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)


def closed_port_url(path: str = "/seqr/notify") -> str:
    """A loopback URL where nothing listens: the merchant's server is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
