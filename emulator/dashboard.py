"""The browser dashboard at `/`: the invoices live, and the customer's phone as buttons.

The page (static files beside this module, no CDN) reads the control API and is kept live by
server-sent events from `/_emulator/events`, not by polling. Changes happen on the server —
a merchant's SOAP call, a delivered notification — so pushing them is both immediate (a test
can click the instant its sendInvoice returns) and cheap: the page never re-reads a list
that may hold 100k invoices, and nothing is serialised while no page is open. EventSource
reconnects by itself; after a reset, or when a page reads too slowly and its queue
overflows, it is told to read the list afresh.

Merchant strings reach the page only as JSON; the script builds the DOM with textContent,
and the page's Content-Security-Policy forbids inline script as a second line of defence.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from emulator.backend import Event, SeqrBackend
from emulator.control import PREFIX
from emulator.guard import GATE
from emulator.journal import Attempt
from emulator.views import attempt, invoice_summary

STATIC = Path(__file__).parent / "static"
QUEUE_LIMIT = 256  # events buffered per page before it is told to resync
HEARTBEAT_SECONDS = 15.0
_CLOSE = b""
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _frame(kind: str, data: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class EventHub:
    """Fans changes out to every open page; safe to publish from any thread."""

    def __init__(self, backend: SeqrBackend) -> None:
        self.backend = backend
        self._queues: set[asyncio.Queue[bytes]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def on_backend_event(self, event: Event) -> None:
        if not self._queues:
            return
        with self.backend.lock:
            summary = invoice_summary(event.invoice)
        self.publish("invoice", {"kind": event.kind, "invoice": summary})

    def on_attempt(self, made: Attempt) -> None:
        if self._queues:
            self.publish("notification", attempt(made))

    def on_reset(self) -> None:
        if self._queues:
            self.publish("reset", {})

    def publish(self, kind: str, data: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        frame = _frame(kind, data)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._fan_out(frame)
        else:
            # RuntimeError: the loop closed meanwhile, so nobody is listening any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._fan_out, frame)

    def _fan_out(self, frame: bytes) -> None:
        for queue in self._queues:
            if queue.full():  # a page that cannot keep up reads the list afresh instead
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(_frame("resync", {}))
            else:
                queue.put_nowait(frame)

    def join(self) -> asyncio.Queue[bytes]:
        self._loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_LIMIT)
        self._queues.add(queue)
        return queue

    def leave(self, queue: asyncio.Queue[bytes]) -> None:
        self._queues.discard(queue)

    async def close(self, app: web.Application) -> None:
        """On shutdown: end every stream so the server need not wait for them."""
        for queue in self._queues:
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(_CLOSE)


async def events(hub: EventHub, request: web.Request) -> web.StreamResponse:
    """`text/event-stream` of `invoice`, `notification`, `reset` and `resync` events."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    queue = hub.join()
    try:
        await response.write(b"retry: 1000\n" + _frame("hello", {}))
        while True:
            try:
                frame = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                frame = b": keep-alive\n\n"
            if frame == _CLOSE:
                break
            await response.write(frame)
    except ConnectionResetError:  # the page went away
        pass
    finally:
        hub.leave(queue)
    return response


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(
        STATIC / "index.html",
        headers={"Content-Security-Policy": _CSP, "Cache-Control": "no-cache"},
    )


def setup(
    app: web.Application,
    backend: SeqrBackend,
    attempts: Callable[[Callable[[Attempt], None]], None],
) -> None:
    """Serve the dashboard on `app` and connect it to the backend's news; `attempts`
    subscribes a listener to notification attempts (the notifier's `subscribe`)."""
    hub = EventHub(backend)
    backend.subscribe(hub.on_backend_event)
    backend.on_reset(hub.on_reset)
    attempts(hub.on_attempt)
    app.on_shutdown.append(hub.close)
    gate = app.get(GATE)  # the Host, the token (the cookie `/?token=` sets), the Origin

    async def page(request: web.Request) -> web.StreamResponse:
        refused = None if gate is None else gate.dashboard(request)
        return refused if refused is not None else await index(request)

    async def stream(request: web.Request) -> web.StreamResponse:
        refused = None if gate is None else gate.control(request)
        return refused if refused is not None else await events(hub, request)

    app.router.add_get("/", page)

    app.router.add_get(f"{PREFIX}/events", stream)
    app.router.add_static(f"{PREFIX}/static/", STATIC, append_version=False)
