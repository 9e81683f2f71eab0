"""Run an emulator on a real port: in this thread (`serve`) or in a background thread.

`EmulatorServer` is what tests and scripts use: given no settings it binds a free port (0),
`start()` returns once the socket listens, and `stop()` shuts it down cleanly. Only `serve`,
whose process hosts one emulator, keeps the stored state out of the garbage collector's
walks (`create_app(freeze_heap=True)`): that reaches every object of the process.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from aiohttp import web

from emulator import guard
from emulator.app import BACKEND, SETTINGS, create_app, front_door
from emulator.backend import SeqrBackend
from emulator.settings import Settings, SettingsError

SHUTDOWN_TIMEOUT = 0.5
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Site:
    runner: web.AppRunner
    port: int  # the bound one
    connections: guard.Connections  # the site's open connections


async def start_site(app: web.Application, host: str, port: int) -> Site:
    """Serve `app` on host:port through the guard (`emulator/guard.py`): request deadlines, a
    connection limit within the descriptor budget, one line for a descriptor shortage."""
    settings = app.get(SETTINGS) or Settings()
    room = guard.budget(settings)
    if (note := room.note(settings)) is not None:
        log.warning("%s", note)
    connections = guard.Connections(settings, room.connections)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    manager = runner.server
    assert manager is not None, "a runner set up has its server"
    manager.request_handler = front_door(app, manager.request_handler)  # before any connection
    site = guard.GuardedSite(runner, host, port, connections)
    await site.start()
    guard.LoopGuard(connections).install(asyncio.get_running_loop())
    return Site(runner, site.port, connections)


def url_for(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


async def serve_forever(settings: Settings, announce: Callable[[str], None] = print) -> None:
    """Serve until SIGINT or SIGTERM, announcing `listening on http://HOST:PORT` once ready.

    Like the heap freeze, raising the descriptor limit to the hard one is a process-wide act,
    so only `serve` does it: a server of many connections needs more than the usual 1,024."""
    try:
        warning = guard.exposure(settings)
    except SettingsError as exc:  # before any bind: one line and status 2, as for a setting
        print(f"seqr-emulator: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    if warning is not None:
        print(f"seqr-emulator: {warning}", file=sys.stderr, flush=True)
    guard.raise_descriptor_limit()
    app = create_app(settings, freeze_heap=True)
    site = await start_site(app, settings.host, settings.port)
    runner, port = site.runner, site.port
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    announce(f"listening on {url_for(settings.host, port)}")
    if not gc.isenabled():  # off while the process started (`emulator/__main__.py`): what the
        # start made lives as long as the process, so it is frozen out of the collector's
        # walks, as the store is (`heap`), garbage of the start too, before the collector is on
        gc.freeze()
        gc.enable()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


class ThreadedApp:
    """Any aiohttp application on a loopback port, served from a background thread.

    `start()` returns once the socket listens (port 0 picks a free one); `call()` runs a
    function on the app's own loop; `stop()` shuts it down cleanly.
    """

    thread_name = "aiohttp-app"

    def __init__(
        self, app_factory: Callable[[], web.Application], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._make_app = app_factory
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.app: web.Application | None = None
        self.connections: guard.Connections | None = None  # once started
        self.runner: web.AppRunner | None = None  # once started

    @property
    def url(self) -> str:
        return url_for(self.host, self.port)

    def start(self, timeout: float = 10.0) -> str:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"{self.thread_name} did not start in time")
        if self._error is not None:
            raise RuntimeError(f"{self.thread_name} failed to start") from self._error
        return self.url

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self.app = self._make_app()
            site = loop.run_until_complete(start_site(self.app, self.host, self.port))
            runner, self.port, self.connections = site.runner, site.port, site.connections
            self.runner = runner
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.run_until_complete(asyncio.sleep(0))  # sockets closed last close on this turn
            loop.close()

    def call(self, fn: Callable[[], object]) -> object:
        """Run `fn` on the server's loop thread and return its result."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(_call(fn), self._loop)
        return future.result(10)

    def call_soon(self, fn: Callable[[], object]) -> None:
        """Schedule `fn` on the server's loop thread without waiting for it."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn)

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class EmulatorServer(ThreadedApp):
    """An emulator in a background thread, for tests and for scripts that drive it."""

    thread_name = "seqr-emulator"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        app_factory: Callable[[Settings], web.Application] = create_app,
    ) -> None:
        self.settings = settings if settings is not None else Settings(port=0)
        super().__init__(lambda: app_factory(self.settings), self.settings.host, self.settings.port)

    @property
    def soap_url(self) -> str:
        return self.url + self.settings.soap_paths[0]

    @property
    def backend(self) -> SeqrBackend:
        assert self.app is not None, "server not started"
        return self.app[BACKEND]


async def _call(fn: Callable[[], object]) -> object:
    return fn()
