"""Calls the merchant back: the POST to an invoice's notificationUrl (protocol §7.1).

The notifier listens to the backend. When an invoice becomes PAID (or RESERVED, unless
`Settings.notify_on_reserved` is off) it captures what to send at that instant, asks its
`planner` for a `NotificationPlan` and starts a task; the SOAP or control call that caused
the change has already got its answer by the time anything is sent. To the merchant a
notification is fire-and-forget: one attempt, no retry, a timeout. Inside the emulator no
task goes untracked: each is held in a set and cancelled and awaited at shutdown, and every
attempt, failed or not, lands in the backend's `NotificationJournal`.

No receiver can hold up another's notifications. Attempts go through lanes (`Lanes`): at
most `Settings.notification_per_receiver` in flight to one receiver (its scheme, host and
port) and `Settings.notification_connections` in all, so descriptors are bounded; an answered
connection is kept for the receiver's next attempt only `KEEP_ALIVE` seconds. A plain-http
receiver is posted to by `http_poster` (one write of a request made for the purpose), any
other (https, a user in the URL) by aiohttp's client. An attempt that
finds its receiver's lane full waits its turn, first come first served, and that wait counts
against its `notification_timeout`, which holds from the moment the attempt is due to the last
byte of the answer (of which at most `MAX_ANSWER_BYTES` are read): every attempt is settled
within the timeout of being due, whatever its receiver does, and one that timed out waiting
is journaled as such. At most `BACKLOG` deliveries are under way at once (waiting, delayed by
a scenario, or in flight); one more fails at once, journaled, and is not sent.

The `planner` decides each delivery: by default it takes the plan a scenario step armed for
the invoice (deliver, drop, delay, duplicate, late) and delivers when there is none; tests may
replace it. Delays are emulator seconds: the clock's scale and `advance` move them as they
move the acknowledgment window, and a late notification goes out only after the reversal it
waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import aiohttp
from aiohttp import web
from yarl import URL

from emulator import http_poster
from emulator.backend import Event, SeqrBackend
from emulator.domain.model import Customer, Invoice
from emulator.journal import Attempt, Outcome
from emulator.scenario.model import DELIVER, Delivery, NotificationPlan
from emulator.settings import Settings

log = logging.getLogger(__name__)

USER_AGENT = "seqr-emulator"
CLOCK_POLL = 0.05  # real seconds between looks at the emulator clock while a delivery waits
LATE_WITHOUT_WINDOW = 20.0  # a late notification's wait when the acknowledgment window is off
MAX_ANSWER_BYTES = 64 * 1024  # of a receiver's answer, read; a longer one is cut off
# Seconds an answered connection waits for the receiver's next notification: less than the
# idle timeout of common servers (Apache's is 5 s), so the emulator drops it before the
# receiver does, and never writes a notification to a connection as it closes (a lost
# notification: there is no second attempt). Idle connections are then at most
# `notification_per_receiver` for each receiver answered in the last KEEP_ALIVE seconds.
KEEP_ALIVE = 2.0
ROUTES = 1024  # notificationUrls whose route is kept (`Notifier.route`)
BACKLOG = 10_000  # deliveries under way at once; one more fails at once (bounds the memory)


@dataclass(frozen=True, slots=True)
class Notification:
    """What is sent, fixed when the invoice changed: later changes do not alter it."""

    invoice_reference: str
    event: str
    url: str
    form: tuple[tuple[str, str], ...]
    terminal_id: str = ""  # whose clock its delays follow

    @classmethod
    def of(cls, invoice: Invoice, event: str) -> Notification | None:
        """The four form fields of §7.1, or None when the invoice has no notificationUrl."""
        url = (invoice.data.notification_url or "").strip()
        if not url:
            return None
        payer = invoice.payment.customer if invoice.payment else invoice.customer
        payer = payer or Customer()
        form = (
            ("invoiceReference", invoice.reference),
            ("clientInvoiceId", invoice.data.client_invoice_id or ""),
            ("msisdn", payer.msisdn),
            ("subscriberKey", payer.subscriber_key),
        )
        return cls(invoice.reference, event, url, form, invoice.terminal_id)


Planner = Callable[[Notification], NotificationPlan]
AttemptListener = Callable[[Attempt], None]


def target(url: str) -> URL:
    """The URL as the merchant wrote it: an ASCII URL keeps its query string byte for byte."""
    if url.isascii() and not any(c.isspace() for c in url):
        return URL(url, encoded=True)
    return URL(url)


Receiver = tuple[str, str, int | None]
"""Where attempts queue: a notificationUrl's scheme, host and port."""


class _Lane:
    __slots__ = ("slots", "users")

    def __init__(self, width: int) -> None:
        self.slots = asyncio.Semaphore(width)
        self.users = 0  # attempts waiting in it or in flight through it


class Lanes:
    """At most `per_receiver` attempts in flight to one receiver, and `overall` in all.

    A receiver's lane exists while an attempt uses it, so a stream of receivers seen once
    leaves nothing behind. An attempt takes its lane's slot before one of the overall ones,
    so a receiver that hangs holds at most `per_receiver` of those: isolation holds for up
    to `overall // per_receiver` receivers hanging at once.
    """

    def __init__(self, per_receiver: int, overall: int) -> None:
        self.per_receiver = per_receiver
        self.overall = overall
        self._for_lane = f"its receiver's {per_receiver} connections"  # what a wait is for
        self._for_overall = f"one of the {overall} notification connections"
        self._overall = asyncio.Semaphore(overall)
        self._lanes: dict[Receiver, _Lane] = {}
        self.in_flight = 0
        self.most = 0  # the most attempts ever in flight at once

    @contextlib.asynccontextmanager
    async def slot(self, receiver: Receiver, waiting: list[str]) -> AsyncIterator[None]:
        """Hold a slot of the receiver's lane and one of the overall ones. While it waits,
        `waiting` names what for (the caller words its timeout with it)."""
        lane = self._lanes.get(receiver)
        if lane is None:
            lane = self._lanes[receiver] = _Lane(self.per_receiver)
        lane.users += 1
        try:
            waiting.append(self._for_lane)
            async with lane.slots:
                waiting[-1] = self._for_overall
                async with self._overall:
                    waiting.clear()
                    self.in_flight += 1
                    self.most = max(self.most, self.in_flight)
                    try:
                        yield
                    finally:
                        self.in_flight -= 1
        finally:
            lane.users -= 1
            if not lane.users:
                del self._lanes[receiver]

    @property
    def receivers(self) -> int:
        """Receivers with an attempt waiting or in flight."""
        return len(self._lanes)


def receiver_of(url: URL) -> Receiver:
    return (url.scheme, url.host or "", url.port)


class Route(NamedTuple):
    """How a notificationUrl is posted to, worked out once per URL (`Notifier.route`)."""

    url: URL
    receiver: Receiver
    key: http_poster.Key | None  # where `http_poster` connects; None: aiohttp's client posts
    head: str  # http_poster's request up to its Content-Length


def route_of(url: URL) -> Route:
    """`http_poster` posts to a plain-http URL without credentials; aiohttp's client to any
    other (TLS, a user in the URL, a URL it may refuse)."""
    receiver = receiver_of(url)
    host = url.raw_host
    if url.scheme != "http" or not host or url.raw_user is not None or url.port is None:
        return Route(url, receiver, None, "")
    key = (host, url.port)
    if ":" in host:
        host = f"[{host}]"
    if not url.is_default_port():
        host = f"{host}:{url.port}"
    return Route(url, receiver, key, http_poster.head(url.raw_path_qs or "/", host, USER_AGENT))


async def drain(response: aiohttp.ClientResponse, limit: int = MAX_ANSWER_BYTES) -> None:
    """Read the answer's body up to `limit` bytes; past that it is not read, and the
    connection (never reused) is closed."""
    left = limit
    while left > 0:
        chunk = await response.content.read(left)
        if not chunk:
            return
        left -= len(chunk)
    response.close()


class Notifier:
    def __init__(
        self, backend: SeqrBackend, settings: Settings, connections: int | None = None
    ) -> None:
        """`connections`: attempts in flight at once, when fewer than the settings' fit."""
        self.backend = backend
        self.settings = settings
        self.connections = connections or settings.notification_connections
        self.journal = backend.journal
        self.planner: Planner = self.scenario_plan
        self._kinds = {"paid", "reserved"} if settings.notify_on_reserved else {"paid"}
        self._tasks: set[asyncio.Task[list[Attempt]]] = set()
        self._listeners: list[AttemptListener] = []
        self._session: aiohttp.ClientSession | None = None
        self._lanes: Lanes | None = None
        self._pool: http_poster.Pool | None = None
        self._routes: dict[str, Route] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        backend.subscribe(self._on_event)

    def subscribe(self, listener: AttemptListener) -> None:
        """Hear of every recorded attempt, on the event loop's thread."""
        self._listeners.append(listener)

    @property
    def pending(self) -> int:
        """Deliveries started and not finished (including delayed ones)."""
        return len(self._tasks)

    @property
    def in_flight(self) -> int:
        """Attempts holding a connection now (the others under way wait or are delayed)."""
        return 0 if self._lanes is None else self._lanes.in_flight

    @property
    def most_in_flight(self) -> int:
        """The most attempts that were ever in flight at once."""
        return 0 if self._lanes is None else self._lanes.most

    def scenario_plan(self, notification: Notification) -> NotificationPlan:
        """The plan a scenario step armed for this invoice's next notification, else deliver."""
        return self.backend.notification_plan(notification.invoice_reference) or DELIVER

    def late_wait(self) -> float:
        """A `late` notification waits out the acknowledgment window, so it arrives after the
        reversal it caused (20 s when the window is off)."""
        window = self.settings.ack_window
        return window if window > 0 else LATE_WITHOUT_WINDOW

    # --- from the backend: may run on any thread, must not block ----------------------------

    def _on_event(self, event: Event) -> None:
        if event.kind not in self._kinds:
            return
        with self.backend.lock:
            notification = Notification.of(event.invoice, event.kind)
        if notification is not None:
            self.submit(notification)

    def submit(self, notification: Notification, plan: NotificationPlan | None = None) -> None:
        """Start delivering in the background; `plan` defaults to what `planner` decides."""
        chosen = plan or self.planner(notification)
        loop = self._loop
        if loop is None or loop.is_closed():
            self._record(notification, chosen, Outcome.FAILED, error="emulator is not serving")
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._spawn(notification, chosen)
            return
        try:
            loop.call_soon_threadsafe(self._spawn, notification, chosen)
        except RuntimeError:  # the loop closed after the check above
            self._record(notification, chosen, Outcome.FAILED, error="emulator is not serving")

    def _spawn(self, notification: Notification, plan: NotificationPlan) -> None:
        if self._session is None or self._loop is None:  # shut down since submit()
            self._record(notification, plan, Outcome.FAILED, error="emulator is not serving")
            return
        if len(self._tasks) >= BACKLOG:
            error = f"not sent: {BACKLOG:,} notifications already under way"
            self._record(notification, plan, Outcome.FAILED, error=error)
            return
        task = self._loop.create_task(self.deliver(notification, plan))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- delivery ------------------------------------------------------------------------------

    async def deliver(
        self, notification: Notification, plan: NotificationPlan = DELIVER
    ) -> list[Attempt]:
        """Carry out one notification as `plan` says and return the attempts it recorded."""
        delivery = plan.delivery
        if delivery is Delivery.DROP:
            return [self._record(notification, plan, Outcome.DROPPED)]
        if delivery is Delivery.DELAY and plan.delay:
            await self._wait(plan.delay, notification.terminal_id)
        if delivery is Delivery.LATE:
            await self._wait(self.late_wait(), notification.terminal_id)
            self.backend.run_due()  # the reversal due by now happens before the POST
        copies = plan.copies if delivery is Delivery.DUPLICATE else 1
        return [await self._post(notification, plan) for _ in range(copies)]

    async def _wait(self, seconds: float, terminal_id: str) -> None:
        """Until `seconds` have passed on the terminal's clock (scaled, advanced or frozen);
        read afresh each time, since the terminal may get a clock of its own meanwhile."""
        mark = self.backend.terminal_clock(terminal_id).elapsed() + seconds
        while (left := self.backend.terminal_clock(terminal_id).seconds_until(mark)) > 0:
            await asyncio.sleep(min(left, CLOCK_POLL))

    async def _post(self, notification: Notification, plan: NotificationPlan) -> Attempt:
        session, lanes = self._session, self._lanes
        if session is None or lanes is None:
            return self._record(notification, plan, Outcome.FAILED, error="emulator is not serving")
        at = self.backend.terminal_clock(notification.terminal_id).now()
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        timeout = self.settings.notification_timeout
        waiting: list[str] = []
        used: list[http_poster.Connection] = []  # the lean path's connection, once it has one
        try:
            # One deadline from the moment the attempt is due: the wait for a free
            # connection, the connect, the request and the answer's last byte.
            async with asyncio.timeout(timeout):
                route = self.route(notification.url)
                async with lanes.slot(route.receiver, waiting):
                    # http_poster rather than aiohttp's client for plain http: a notification's
                    # latency after a payment (bench/run.py's way, in turns with main's code,
                    # 1,000 each) p50 0.89 -> 0.73 ms, p99 of the quiet rounds 1.35-1.45 -> 0.90
                    if route.key is not None:
                        request = http_poster.request(route.head, notification.form)
                        status = await self._lean_post(route.key, request, used)
                    else:
                        async with session.post(
                            route.url, data=list(notification.form), allow_redirects=False
                        ) as response:
                            status = response.status
                            await drain(response)
        except TimeoutError:
            if status is None and used:  # the answer's head came, its body did not
                status = used[0].status
            error = f"timed out after {timeout:g} s"
            if waiting:
                error += f" waiting for {waiting[0]} (all busy)"
        except (aiohttp.ClientError, ValueError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        latency = (time.perf_counter() - started) * 1000
        if status is not None and not 200 <= status < 300:
            error = f"HTTP {status}"
        outcome = Outcome.DELIVERED if error is None else Outcome.FAILED
        return self._record(
            notification, plan, outcome, status=status, error=error, latency=latency, at=at
        )

    def route(self, url: str) -> Route:
        """The route of a notificationUrl, kept for its next notification (a shop's URLs are
        few, or differ by an order's number: up to `ROUTES` are kept, then all forgotten)."""
        found = self._routes.get(url)
        if found is None:
            if len(self._routes) >= ROUTES:
                self._routes.clear()
            found = self._routes[url] = route_of(target(url))
        return found

    async def _lean_post(
        self, key: http_poster.Key, request: bytes, used: list[http_poster.Connection]
    ) -> int:
        """Post `request` on a kept connection to the receiver, or a new one; the answer's
        status. The connection goes back to the pool if the answer left it reusable."""
        assert self._pool is not None
        connection = self._pool.take(key) or await http_poster.connect(*key)
        used.append(connection)
        status = await connection.exchange(request, MAX_ANSWER_BYTES)
        self._pool.give_back(key, connection)
        return status

    def _record(
        self,
        notification: Notification,
        plan: NotificationPlan,
        outcome: Outcome,
        *,
        status: int | None = None,
        error: str | None = None,
        latency: float | None = None,
        at: datetime | None = None,
    ) -> Attempt:
        attempt = self.journal.record(
            notification.invoice_reference,
            notification.event,
            notification.url,
            at or self.backend.terminal_clock(notification.terminal_id).now(),
            plan.delivery.value,
            outcome,
            status=status,
            error=error,
            latency_ms=None if latency is None else round(latency, 1),
        )
        if outcome is not Outcome.DELIVERED:
            log.info("notification %s for %s: %s", outcome, notification.url, error or "")
        for listener in self._listeners:
            try:
                listener(attempt)
            except Exception:  # a broken listener must not lose the journal entry
                log.exception("notification listener failed")
        return attempt

    # --- lifetime --------------------------------------------------------------------------------

    async def lifespan(self, app: web.Application) -> AsyncIterator[None]:
        """For `app.cleanup_ctx`: one client session for the app's life, no task left behind."""
        self._loop = asyncio.get_running_loop()
        settings = self.settings
        self._lanes = Lanes(settings.notification_per_receiver, self.connections)
        self._pool = http_poster.Pool(KEEP_ALIVE)
        connector = aiohttp.TCPConnector(limit=self.connections, keepalive_timeout=KEEP_ALIVE)
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": USER_AGENT},
            timeout=aiohttp.ClientTimeout(total=settings.notification_timeout),
        )
        try:
            yield
        finally:
            session, self._session = self._session, None
            await self.close_tasks()
            self._pool.close()
            await session.close()
            await asyncio.sleep(0)  # the closed connections' sockets close on this turn

    async def close_tasks(self) -> None:
        """Cancel every delivery still under way and wait until each has ended."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
