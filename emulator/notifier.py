"""Calls the merchant back: the POST to an invoice's notificationUrl (protocol §7.1).

The notifier listens to the backend. When an invoice becomes PAID (or RESERVED, unless
`Settings.notify_on_reserved` is off) it captures what to send at that instant, asks its
`planner` for a `NotificationPlan` and starts a task; the SOAP or control call that caused
the change has already got its answer by the time anything is sent. To the merchant a
notification is fire-and-forget: one attempt, no retry, a timeout. Inside the emulator no
task goes untracked: each is held in a set and cancelled and awaited at shutdown, and every
attempt, failed or not, lands in the backend's `NotificationJournal`.

The `planner` decides each delivery: by default it takes the plan a scenario step armed for
the invoice (deliver, drop, delay, duplicate, late) and delivers when there is none; tests may
replace it. Delays are emulator seconds: the clock's scale and `advance` move them as they
move the acknowledgment window, and a late notification goes out only after the reversal it
waited for.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

import aiohttp
from aiohttp import web
from yarl import URL

from emulator.backend import Event, SeqrBackend
from emulator.domain.model import Customer, Invoice
from emulator.journal import Attempt, Outcome
from emulator.scenario.model import DELIVER, Delivery, NotificationPlan
from emulator.settings import Settings

log = logging.getLogger(__name__)

USER_AGENT = "seqr-emulator"
CLOCK_POLL = 0.05  # real seconds between looks at the emulator clock while a delivery waits
LATE_WITHOUT_WINDOW = 20.0  # a late notification's wait when the acknowledgment window is off


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


class Notifier:
    def __init__(self, backend: SeqrBackend, settings: Settings) -> None:
        self.backend = backend
        self.settings = settings
        self.journal = backend.journal
        self.planner: Planner = self.scenario_plan
        self._kinds = {"paid", "reserved"} if settings.notify_on_reserved else {"paid"}
        self._tasks: set[asyncio.Task[list[Attempt]]] = set()
        self._listeners: list[AttemptListener] = []
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        backend.subscribe(self._on_event)

    def subscribe(self, listener: AttemptListener) -> None:
        """Hear of every recorded attempt, on the event loop's thread."""
        self._listeners.append(listener)

    @property
    def pending(self) -> int:
        """Deliveries started and not finished (including delayed ones)."""
        return len(self._tasks)

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
        session = self._session
        if session is None:
            return self._record(notification, plan, Outcome.FAILED, error="emulator is not serving")
        at = self.backend.terminal_clock(notification.terminal_id).now()
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            async with session.post(
                target(notification.url),
                data=list(notification.form),
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.settings.notification_timeout),
            ) as response:
                status = response.status
                await response.read()
        except TimeoutError:
            error = f"timed out after {self.settings.notification_timeout:g} s"
        except (aiohttp.ClientError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        latency = (time.perf_counter() - started) * 1000
        if status is not None and not 200 <= status < 300:
            error = f"HTTP {status}"
        outcome = Outcome.DELIVERED if error is None else Outcome.FAILED
        return self._record(
            notification, plan, outcome, status=status, error=error, latency=latency, at=at
        )

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
        self._session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
        try:
            yield
        finally:
            session, self._session = self._session, None
            await self.close_tasks()
            await session.close()

    async def close_tasks(self) -> None:
        """Cancel every delivery still under way and wait until each has ended."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
