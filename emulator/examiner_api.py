"""`/_emulator/conformance`, `/_emulator/coverage` and the examiner's page: the examiner
over the live journal, in every mode the emulator runs in.

`LiveExaminer` feeds the grading modules of `emulator.examiner` from the journal when they
are read, before a terminal's reset forgets its entries, and, during a certification
rehearsal, every half second. Not in the background otherwise: reading an entry (its bytes
parsed again, its rules applied) costs about 90 us, as much as serving a poll four times
over, and an emulator under load that nobody asks would pay it on every call. What a busy
emulator's bounded journal dropped before it was read is counted (`unread`) and said.

It also hears the backend's invoice events (states reached, scenarios used) for the
coverage, which keeps its counts after a terminal's reset, so a test session's summary
still knows what its finished tests did. A global reset starts it afresh, as it does the
journal.

Routes (JSON, thin):

- `GET /_emulator/conformance` (`?terminal=ID`; `?settled=true` once the merchant is done,
  so a notification nobody polled counts at once; `?closing=true` when the shop closes,
  which also judges markTransactionPeriod): the rules, then the violations, each with its
  rule, severity, source, message and the journal entries it rests on; `conformant` is
  false when one of them is an error or a warning.
- `GET /_emulator/coverage` (`?terminal=ID`, repeated, or `?prefix=P`): the behaviours
  exercised and the ones never seen, the result codes by operation, the scenarios used.
- `GET /_emulator/certification`: a certification rehearsal's tests as graded so far and
  the step the integrator is at (`profile` null outside `seqr-emulator certify`).
- `GET /_emulator/examiner`: the page showing all three, linked from the dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from emulator.backend import Event, SeqrBackend
from emulator.control import BadRequest, add_json_routes
from emulator.domain import seqr_urls
from emulator.domain.model import CustomerToken, Invoice, InvoiceStatus
from emulator.examiner.coverage import Coverage, Report

if TYPE_CHECKING:  # the graders are imported by the first rehearsal (see `Rehearsal`), the
    # monitor and its rules by the first reading of the journal (see `LiveExaminer.monitor`)
    from emulator.examiner import rules
    from emulator.examiner.certify import Profile, Result
    from emulator.examiner.facts import Act, Fact
    from emulator.examiner.monitor import Monitor, Violation

log = logging.getLogger(__name__)

CATCH_UP_SECONDS = 0.5
PAGE = Path(__file__).parent / "static" / "examiner.html"
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class SeqrCustomer:
    """SEQR's customer in the meeting, acting out the paying scenario's moves through the
    app's own code path: it reaches an invoice the way the procedure says (a till's open
    invoice by scanning the till's sticker, any other by the invoice's own QR code), then
    pays it."""

    def __init__(self, backend: SeqrBackend) -> None:
        self.backend = backend

    def code(self, reference: str) -> str:
        """What the customer scans to reach the invoice."""
        found = self.backend.invoice(reference)
        till = self.backend.terminal_info(found.terminal_id)
        if till.cash_register and till.seqr_id and till.open_invoice == reference:
            return seqr_urls.terminal_qr(till.seqr_id)
        return seqr_urls.invoice_qr(reference)

    def scan(self, reference: str, tokens: Iterable[CustomerToken] = ()) -> Invoice:
        return self.backend.scan_code(self.code(reference), tokens)

    def pay(self, reference: str, *, reserve: bool | None = None) -> Invoice:
        found = self.backend.invoice(reference)
        if found.status is InvoiceStatus.ISSUED and not found.in_progress:
            self.scan(reference)  # not yet opened in the app: the customer scans first
        return self.backend.pay(reference, reserve=reserve)

    def customer_cancel(self, reference: str) -> Invoice:
        return self.backend.customer_cancel(reference)

    def fail(self, reference: str) -> Invoice:
        return self.backend.fail(reference)


class Rehearsal:
    """A certification run on this emulator: every fact of the run kept for the graders, and
    SEQR's side played as the `Conductor` says (the paying customer is the catalogue's
    `pay-after-polls` scenario, switched on and off for the invoices issued next and acted
    out by a `SeqrCustomer`; the 30-second wait is a jump of the clock). In the app and
    service profiles no scenario pays: the customer pays when the merchant's app or page
    opens the invoice's link (`POST /_emulator/app/open`).

    What the customer did in the app (the codes read, the payments made, by whom and in
    which session) is kept beside the journal's facts as `Act`s, each after the journal's
    latest entry at the time."""

    PAYING = {"steps": "pay-after-polls", "link": None}

    def __init__(self, backend: SeqrBackend, profile: Profile) -> None:
        # here, not at the top: a served emulator needs the graders only for a rehearsal,
        # and importing them was 63M instructions of the 2,362M of `import emulator.server`
        # (callgrind), 2.7% of the imports
        from emulator.examiner.certify import Conductor

        self.backend = backend
        self.profile = profile
        self.conductor = Conductor(profile)
        self.facts: list[Fact] = []
        self.acts: list[Act] = []
        name = self.PAYING[profile.pays]
        self._paying = None if name is None else backend.scenario_named(name)
        backend.set_scenario(self._paying)
        backend.play_customer(SeqrCustomer(backend))
        backend.subscribe(self.on_event)

    def on_event(self, event: Event) -> None:
        found = event.invoice
        history = found.history[-1].event if found.history else None
        self._note(event)
        for action, value in self.conductor.on_event(event.kind, history):
            if action == "pay":
                self.backend.engine.use(self._paying if value else None)
            elif action == "advance":
                self.backend.clock.advance(value)

    def _note(self, event: Event) -> None:
        """An act of the customer's, as the event tells it (under the backend's lock)."""
        found = event.invoice
        if event.kind not in ("scanned", "pending", "paid"):
            return
        from emulator.examiner.facts import Act

        who = found.customer
        session = self.backend.session_of(found.reference) if event.kind == "paid" else None
        self.acts.append(
            Act(
                seq=self.backend.journal_seq(),
                at=event.at,
                kind="paid" if event.kind == "paid" else "scanned",
                invoice=found.reference,
                terminal=found.terminal_id,
                code=event.code,
                msisdn=None if who is None else who.msisdn,
                subscriber_key=None if who is None else who.subscriber_key,
                session=None if session is None else session.token,
            )
        )

    def results(self) -> tuple[list[Result], list[Result]]:
        from emulator.examiner.certify import grade

        return grade(self.profile, [*self.facts, *self.acts])

    def step(self) -> str:
        return self.conductor.next_step(self.results()[0])


class LiveExaminer:
    """The monitor and the coverage of one backend, kept up with its journal."""

    def __init__(self, backend: SeqrBackend) -> None:
        self.backend = backend
        self._lock = threading.Lock()
        self._generation = 0
        self._monitor: Monitor | None = None  # made by the first reading of the journal
        self.coverage = Coverage()
        self.rehearsal: Rehearsal | None = None
        self.unread = 0  # journal entries dropped before the examiner read them
        backend.subscribe(self.on_event)
        backend.on_reset(self.reset)
        backend.before_terminal_reset(lambda terminal: self.catch_up())

    def reset(self) -> None:
        with self._lock:
            self._generation += 1
            self._monitor = None
            self.coverage = Coverage()
            self.unread = 0

    @property
    def monitor(self) -> Monitor:
        """The conformance monitor, made when first read: it learns only from the journal
        (`catch_up`), which it reads from its start, so it need not exist before. Its module
        and the rules are imported then, not by a start: 6.2M instructions of a start to
        `listening`, 1,557M against 1,551M (callgrind)."""
        found = self._monitor
        if found is None:
            from emulator.examiner.monitor import Monitor

            found = self._monitor = Monitor()
        return found

    def catch_up(self) -> None:
        """Read the journal's new entries. They are fetched outside this object's lock: the
        journal takes the backend's lock, which `on_event` already holds when it takes ours."""
        with self._lock:
            generation, after = self._generation, self.monitor.last_seq
        records = self.backend.journal_records(after)
        if not records:
            return
        from emulator.examiner.facts import read_all  # with the monitor: see `monitor`

        facts = read_all(records)
        with self._lock:
            if generation != self._generation:  # a reset came between: those were the old
                return
            self.unread += max(0, records[0].seq - after - 1)  # dropped between two reads
            fresh = [f for f in facts if f.seq > self.monitor.last_seq]
            self.monitor.feed(fresh)
            self.coverage.feed(fresh)
            if self.rehearsal is not None:
                self.rehearsal.facts.extend(fresh)

    def rehearse(self, profile: Profile) -> Rehearsal:
        """Start a certification run of `profile`: from now on SEQR's side is played."""
        self.rehearsal = Rehearsal(self.backend, profile)
        return self.rehearsal

    def on_event(self, event: Event) -> None:
        """An invoice changed (under the backend's lock): what state it reached, and under
        which scenario."""
        found = event.invoice
        history = found.history[-1].event if found.history else None
        # its scenario's name, not its whole progress, and no `Counter.update`: 3.4k instructions of
        # a refund, 4.5k of a sendInvoice (320.3k against 323.7k, 446.2k against 450.7k)
        scenario = self.backend.engine.scenario_of(found.reference)
        with self._lock:
            self.coverage.event(found.terminal_id, event.kind, history, scenario)

    def violations(
        self, terminal: str | None, *, settled: bool = False, closing: bool = False
    ) -> list[Violation]:
        self.catch_up()
        if terminal is None:
            now = self.backend.clock.now()
        else:
            now = self.backend.terminal_clock(terminal).now()
        with self._lock:
            return self.monitor.violations(terminal, now=now, settled=settled, closing=closing)

    def coverage_report(self, chosen: Callable[[str], bool] | None) -> Report:
        self.catch_up()
        with self._lock:
            return self.coverage.report(chosen)

    def lifespan(self) -> Callable[[web.Application], AsyncIterator[None]]:
        async def keep_up() -> None:
            while True:
                await asyncio.sleep(CATCH_UP_SECONDS)
                if self.rehearsal is None:
                    continue
                try:
                    self.catch_up()
                except Exception:  # keep reading; a grading bug must not stop the emulator
                    log.exception("the examiner could not read the journal")

        async def lifespan(app: web.Application) -> AsyncIterator[None]:
            task = asyncio.create_task(keep_up())
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        return lifespan


EXAMINER = web.AppKey("examiner", LiveExaminer)  # what `certify` reaches the examiner by


def rule_view(rule: rules.Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "severity": rule.severity.value,
        "title": rule.title,
        "source": str(rule.source),
        "atClose": rule.at_close,
    }


def conformance_view(violations: list[Violation], terminal: str | None) -> dict[str, Any]:
    from emulator.examiner import rules

    failing = [v for v in violations if v.rule.severity in rules.FAILING]
    per_terminal: dict[str, int] = {}
    for violation in violations:
        per_terminal[violation.terminal] = per_terminal.get(violation.terminal, 0) + 1
    return {
        "terminal": terminal,
        "conformant": not failing,
        "failing": len(failing),
        "terminals": per_terminal,
        "violations": [v.to_json() for v in violations],
        "rules": [rule_view(r) for r in rules.RULES],
    }


def _flag(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise BadRequest(f"{name} must be true or false")
    return raw in ("true", "1")


def add_routes(app: web.Application, backend: SeqrBackend) -> LiveExaminer:
    """The examiner's routes and its background reader, on `app`."""
    live = app[EXAMINER] = LiveExaminer(backend)
    app.cleanup_ctx.append(live.lifespan())

    async def conformance(backend: SeqrBackend, request: web.Request) -> web.Response:
        terminal = request.query.get("terminal") or None
        settled, closing = _flag(request, "settled"), _flag(request, "closing")
        # off the loop: reading what the journal gathered since the last look takes a while
        found = await asyncio.to_thread(live.violations, terminal, settled=settled, closing=closing)
        return web.json_response({**conformance_view(found, terminal), "unread": live.unread})

    async def coverage(backend: SeqrBackend, request: web.Request) -> web.Response:
        named = set(request.query.getall("terminal", []))
        prefix = request.query.get("prefix") or None
        chosen: Callable[[str], bool] | None = None
        if named or prefix:

            def chosen(terminal: str) -> bool:
                return terminal in named or (prefix is not None and terminal.startswith(prefix))

        report = await asyncio.to_thread(live.coverage_report, chosen)
        summary = report.summary()
        return web.json_response({**report.to_json(), "summary": summary, "unread": live.unread})

    async def certification(backend: SeqrBackend, request: web.Request) -> web.Response:
        rehearsal = live.rehearsal
        if rehearsal is None:
            return web.json_response({"profile": None, "tests": []})
        await asyncio.to_thread(live.catch_up)
        tests, prerequisites = rehearsal.results()
        return web.json_response(
            {
                "profile": rehearsal.profile.name,
                "step": rehearsal.conductor.next_step(tests),
                "tests": [{**r.to_json(), "graded": True} for r in tests + prerequisites],
            }
        )

    async def page(backend: SeqrBackend, request: web.Request) -> web.FileResponse:
        return web.FileResponse(
            PAGE, headers={"Content-Security-Policy": _CSP, "Cache-Control": "no-cache"}
        )

    add_json_routes(
        app,
        backend,
        [
            ("GET", "/conformance", conformance),
            ("GET", "/coverage", coverage),
            ("GET", "/certification", certification),
            ("GET", "/examiner", page),
        ],
    )
    return live
