"""create_app(): the aiohttp application that wires the adapters to one backend.

The only module that knows every adapter, and the owner of every AppKey: adapters are
handed the backend (and what else they need) when their routes are added, so none of them
reads another's state from the application. SOAP is served inline on the event loop: a call
is a few hundred microseconds of CPU, well under what an executor hop would cost, and it
keeps every state change on one thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures.thread  # noqa: F401  (see `_trim`)
import contextlib
import logging
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from aiohttp import hdrs, web

from emulator import (
    app_api,
    control,
    dashboard,
    examiner_api,
    guard,
    journal_api,
    qr,
    state_api,
    verification_api,
)
from emulator.backend import SeqrBackend, Store
from emulator.clock import Clock
from emulator.domain.model import AcknowledgmentMode
from emulator.heap import OldObjects
from emulator.notifier import Notifier
from emulator.scenario import loader as scenarios
from emulator.settings import Settings
from emulator.soap.mapping import CallInfo
from emulator.soap.transport import CONTENT_TYPE, Disturbance, SoapEndpoint, SoapReply

log = logging.getLogger(__name__)

BACKEND = web.AppKey("backend", SeqrBackend)
SOAP = web.AppKey("soap", SoapEndpoint)
SETTINGS = web.AppKey("settings", Settings)
NOTIFIER = web.AppKey("notifier", Notifier)
IMAGES = web.AppKey("qr_images", qr.Images)
Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
SOAP_POSTS = web.AppKey("soap_posts", dict[str, Handler])  # path -> its SOAP POST handler
SWEEP_INTERVAL = 0.25  # real seconds between checks of the deadline heap
FREEZE_EVERY = 4  # sweeps between freezes of the stored state (`heap.OldObjects`)
_XML_HEADERS = {"Content-Type": CONTENT_TYPE}


def make_clock(settings: Settings) -> Clock:
    start = datetime.fromisoformat(settings.clock_start) if settings.clock_start else None
    return Clock(start, frozen=settings.freeze_clock, scale=settings.clock_scale)


def create_app(
    settings: Settings | None = None,
    backend: SeqrBackend | None = None,
    *,
    freeze_heap: bool = False,
    heap: OldObjects | None = None,
) -> web.Application:
    """A new emulator: its own backend unless one is given, so many can share a process.

    `freeze_heap` keeps the stored state out of the garbage collector's walks and gives
    memory back after a reset (`heap.OldObjects`); those are process-wide acts, so only a
    process that serves one emulator (`seqr-emulator serve`) asks for them. `heap` is that
    keeper given whole (a test's, whose acts are counted instead of done).
    """
    settings = settings or Settings()
    guard.exposure(settings)  # a SettingsError when the control API would be open unasked
    own_backend = backend is None
    backend = backend or SeqrBackend(settings, make_clock(settings), store=make_store(settings))
    load_scenarios(backend, settings)
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[BACKEND] = backend
    gate = app[guard.GATE] = guard.Gate(settings)  # before the routes that ask it
    endpoint = app[SOAP] = SoapEndpoint(backend)
    backend.on_reset(endpoint.forget)
    posts = app[SOAP_POSTS] = {}
    for path in settings.soap_paths:
        strict_till = settings.cashregister_requires_ack and path == settings.cashregister_path
        app.router.add_route("GET", path, wsdl_route(gate))
        posts[path] = soap_route(endpoint, settings, strict_till, gate, path)
        app.router.add_route("POST", path, posts[path])
    images = app[IMAGES] = qr.Images()
    backend.on_reset(images.clear)
    lifecycle = control.Lifecycle()
    app.on_startup.append(lifecycle.started)  # after cleanup_ctx: the notifier is up
    app.on_shutdown.append(lifecycle.stopped)
    control.add_routes(app, backend, images, lifecycle)
    app_api.add_routes(app, backend)
    journal_api.add_routes(app, backend)
    verification_api.add_routes(app, backend)
    state_api.add_routes(app, backend)
    room = guard.budget(settings)  # what the descriptor limit leaves; start_site logs a cut
    notifier = app[NOTIFIER] = Notifier(backend, settings, room.notifications)
    dashboard.setup(app, backend, notifier.subscribe)
    examiner_api.add_routes(app, backend)
    control.add_fallback(app)  # last: any other /_emulator/... path answers JSON
    if heap is None and freeze_heap:
        heap = OldObjects()
    app.cleanup_ctx.append(_deadline_sweeper(backend, heap))
    app.cleanup_ctx.append(notifier.lifespan)
    if own_backend:
        app.on_cleanup.append(_closer(backend))
    return app


def front_door(app: web.Application, routed: Handler) -> Handler:
    """The request handler of a served emulator: a SOAP POST goes straight to its path's
    handler, anything else to `routed` (the application's own handling: the router).

    The router answers the same (it routes those paths to the same handlers), so this only
    saves the application's work per request: resolving the route, its match info, the
    response's prepare signal. A path with a query or an escape, and a request that
    expects `100-continue`, take the router's way, which knows them; an application given
    middlewares or prepare signals (a test's, through `EmulatorServer`'s `app_factory`)
    keeps the router for everything. Worth (callgrind, instructions per served request,
    one run each way; with the body taken as it lies, `soap_route`): a sendInvoice 622.5k
    -> 612.0k (633.5k with neither), a refund 506.4k -> 498.9k, the raw aiohttp ceiling's
    own route costing 236.7k with it routed, 214.5k without.
    """
    posts = app.get(SOAP_POSTS)
    if not posts or app.middlewares or app.on_response_prepare:
        return routed  # not an emulator, or one whose every request some code must see
    expect = hdrs.EXPECT

    async def dispatch(request: web.BaseRequest) -> web.StreamResponse:
        if request.method == "POST":
            serve = posts.get(request.raw_path)
            if serve is not None and expect not in request.headers:
                return await serve(request)
        return await routed(request)

    return dispatch


def make_store(settings: Settings) -> Callable[[], Store]:
    """The store factory: memory only, or the SQLite file of `--state`."""
    if not settings.state:
        return Store
    from emulator.backend import StateFile  # imported for a state file only: see `backend`

    return StateFile(settings.state)


def _closer(backend: SeqrBackend) -> Callable[[web.Application], Awaitable[None]]:
    """Closes the backend's store (a state file) once the server has stopped."""

    async def close(app: web.Application) -> None:
        with backend.lock:
            backend.store.close()

    return close


def load_scenarios(backend: SeqrBackend, settings: Settings) -> None:
    """The catalogue and the `--scenario` default; a faulty file raises `ScenarioError`."""
    catalogue = scenarios.load_catalogue(settings.scenario_dir)
    default = scenarios.resolve(settings.scenario, catalogue) if settings.scenario else None
    backend.configure_scenarios(catalogue, default)


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}{request.path}"


def wsdl_route(gate: guard.Gate) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def wsdl_or_refusal(request: web.Request) -> web.Response:
        refused = gate.page(request)
        return refused if refused is not None else await serve_wsdl(request)

    return wsdl_or_refusal


async def serve_wsdl(request: web.Request) -> web.Response:
    """`<path>?wsdl` is the binding and service; `?wsdl=<types document>` the schema.

    The WSDL module is imported at the first request for it: its part of spyne (the
    interface and protocol packages) is not needed to serve. Worth: 41M instructions of the
    2,341M that `import emulator.server` made with it (callgrind), 1.8% of the imports."""
    from emulator.soap import wsdl

    query = {k.lower(): v for k, v in request.query.items()}
    if "wsdl" not in query:
        return web.Response(
            text=f"SEQR merchant service (emulated). WSDL: {_base_url(request)}?wsdl\n"
        )
    if query["wsdl"]:
        if query["wsdl"] != wsdl.TYPES_DOCUMENT:
            raise web.HTTPNotFound(text=f"no WSDL document {query['wsdl']!r}\n")
        return web.Response(body=wsdl.render_types(), headers=_XML_HEADERS)
    return web.Response(body=wsdl.render_service(_base_url(request)), headers=_XML_HEADERS)


def soap_route(
    endpoint: SoapEndpoint,
    settings: Settings,
    strict_till: bool,
    gate: guard.Gate,
    path: str = "",
) -> Callable[[web.BaseRequest], Awaitable[web.Response]]:
    """The POST handler of one SOAP path; what it knows of the path is settled here, once."""
    info = replace(_CASHREGISTER if strict_till else _WEBSHOP, path=path)
    too_large = f"request body larger than {settings.max_body_bytes} bytes"
    hosts, kinds = gate.good_hosts, gate.good_soap_types  # grown by `gate.soap`, never shrunk
    host, kind, origin = hdrs.HOST, hdrs.CONTENT_TYPE, hdrs.ORIGIN
    limit, coded = settings.max_body_bytes, hdrs.CONTENT_ENCODING

    async def serve_soap(request: web.BaseRequest) -> web.Response:
        # The gate (Host, Origin, a browser form's type), before the body is read; inline,
        # plain header lookups for a call whose headers passed before (see `guard.Gate`).
        headers = request.headers
        if headers.get(host) not in hosts or headers.get(kind) not in kinds or origin in headers:
            refused = gate.soap(request)
            if refused is not None:
                return refused
        content = request.content
        size = request.content_length
        try:
            if content.is_eof() and size is not None and size <= limit and coded not in headers:
                # the whole body is in: taken as it lies, where `read` awaits it chunk by
                # chunk into a bytearray and copies that (a coded body is `read`'s, which
                # bounds what it decodes to). Worth (callgrind, per served request, with
                # `front_door`): a sendInvoice 622.5k -> 612.0k, a refund 506.4k -> 498.9k
                body = content.read_nowait()
            else:
                body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            text = too_large + "\n"
            endpoint.refused(413, too_large, text.encode(), info, -1 if size is None else size)
            return web.Response(status=413, text=text)
        reply = endpoint.handle(body, info)
        if reply.disturbance is not None:
            return await _misbehave(request, reply, reply.disturbance, endpoint.backend.clock)
        return web.Response(status=reply.status, body=reply.body, headers=_XML_HEADERS)

    return serve_soap


FAULT_HEADER = "X-Seqr-Emulator-Fault"


async def _misbehave(
    request: web.BaseRequest, reply: SoapReply, disturbance: Disturbance, clock: Clock
) -> web.Response:
    """Act out a scenario's disturbance of this call's answer on its connection."""
    kind = disturbance.kind
    if kind == "slow":  # the answer, late by emulator seconds on the clock's scale
        await asyncio.sleep(disturbance.seconds / clock.scale)
        return web.Response(status=reply.status, body=reply.body, headers=_XML_HEADERS)
    if kind == "truncate":  # a complete HTTP message whose XML stops halfway
        cut = reply.body[: len(reply.body) // 2]
        headers = {**_XML_HEADERS, FAULT_HEADER: kind}
        return web.Response(status=reply.status, body=cut, headers=headers)
    transport = request.transport
    if transport is not None:
        if kind == "reset":  # linger 0: the kernel answers with RST, not FIN
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:  # "empty": closed before a byte of answer
            transport.close()
    return web.Response(status=204)  # written to a closed connection: nobody receives it


_WEBSHOP = CallInfo(default_ack=None)
_CASHREGISTER = CallInfo(default_ack=AcknowledgmentMode.REQUIRE_ACKNOWLEDGMENT)


def _deadline_sweeper(
    backend: SeqrBackend, old_objects: OldObjects | None
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Applies due deadlines even when nobody calls, so listeners hear of reversals; with
    `old_objects`, it also keeps the stored state out of the garbage collector's way, and
    gives memory back after a reset (`heap.OldObjects.release`), here rather than in the
    reset's request: its answer is not kept waiting, and a burst of resets releases once."""
    if old_objects is not None:
        backend.subscribe(old_objects.changed)
        backend.on_reset(old_objects.dropped)

    async def sweep() -> None:
        ticks = 0
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            try:
                backend.run_due()
            except Exception:  # keep sweeping; a bug here must not stop time
                log.exception("deadline sweep failed")
            ticks += 1
            if old_objects is None:
                continue
            # after a reset since the last turn; and on the first turn, so that the trim's
            # thread and the modules it imports are made early: made by a reset's release,
            # they were left among the store's freed memory and kept it from the system
            # (`heap`). The first turn, not the start (a thread and ctypes before `listening`):
            # with ctypes imported by the trim, 9.7M instructions, 1,517M against 1,507M.
            if old_objects.release() or ticks == 1:
                await _trim(old_objects)
            elif ticks % FREEZE_EVERY == 0:
                old_objects.settle()

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(sweep())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return lifespan


async def _trim(old_objects: OldObjects) -> None:
    """The allocator's free memory back to the system, in a thread. The thread pool's module
    is imported with this one: imported on the first trim, a quarter of a second after the
    start, it failed when the descriptors had run out by then (an import opens a file)."""
    try:
        await asyncio.to_thread(old_objects.trim)
    except OSError as exc:  # e.g. out of descriptors: one line, the server goes on
        log.warning("returning memory to the system failed: %s", exc)
    except Exception:  # memory not given back is no reason to stop time
        log.exception("returning memory to the system failed")
