"""The backend's state and the machinery every verb shares.

Principals are authenticated here; timed rules (the acknowledgment window, reservation
timeouts) are deadlines on a heap applied before every verb and by the app's sweeper, so the
outcome depends on the emulator clock, never on when a background task happened to run.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from emulator.clock import Clock, IdFactory
from emulator.domain import invoice as rules
from emulator.domain import reports
from emulator.domain import services as ext
from emulator.domain.errors import ResultCode, SeqrError
from emulator.domain.model import (
    Credentials,
    Invoice,
    Reseller,
    Terminal,
)
from emulator.scenario.engine import Engine
from emulator.settings import Settings

TERMINALID = "TERMINALID"
RESELLERUSER = "RESELLERUSER"


@dataclass(frozen=True, slots=True)
class Event:
    """A change listeners hear about: `kind` is e.g. "issued", "paid", "reserved", "canceled"."""

    kind: str
    invoice: Invoice
    at: datetime


Listener = Callable[[Event], None]


class Core:
    """State, principals, deadlines and lookups; the verb mixins build on it."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self.ids = IdFactory(self.clock, settings.seed)
        self.lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._reset_hooks: list[Callable[[], None]] = []
        self.scenarios = Engine(seed=settings.seed)  # keeps its catalogue across resets
        self._due_running = False
        self._init_state()

    def _init_state(self) -> None:
        self.invoices: dict[str, Invoice] = {}
        self.payments: dict[str, str] = {}  # payment or refund ersReference -> invoiceReference
        self.terminals: dict[str, Terminal] = {}
        self.removed_terminals: set[str] = set()
        self.resellers: dict[tuple[str, str], Reseller] = {}
        self._deadlines: list[tuple[float, int, str, str]] = []
        self._deadline_seq = 0
        self.seqr_ids: dict[str, str] = {}  # seqrId -> terminalId (the static QR stickers)
        self.ledger = reports.Ledger()  # transaction periods per shop and per terminal
        for t in self.settings.terminals:
            self.terminals[t.id] = Terminal(t.id, t.password, t.name)
        for r in self.settings.resellers:
            self.resellers[(r.id, r.user_id)] = Reseller(r.id, r.user_id, r.password)
        self.scenarios.reset()  # runs and control-API selections; the start default returns
        self.services = ext.Registry()  # external services and their customer sessions
        for s in self.settings.services:
            self.services.define(
                ext.define(s.id, s.order_url, s.success_url, s.failure_url, s.cancel_url)
            )

    def reset(self) -> None:
        """Forget every invoice and terminal; keep the clock, the seed and the listeners."""
        with self.lock:
            self._init_state()
            self.ids.reset()
        for hook in self._reset_hooks:
            hook()

    def on_reset(self, hook: Callable[[], None]) -> None:
        """Call `hook` after every reset, so records kept beside the backend are forgotten too."""
        self._reset_hooks.append(hook)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, kind: str, invoice: Invoice) -> None:
        event = Event(kind, invoice, self.clock.now())
        for listener in self._listeners:
            listener(event)

    # --- principals ----------------------------------------------------------------------

    def terminal(self, creds: Credentials | None) -> Terminal:
        """Authenticate a TERMINALID principal: 29 unknown, 20 bad password, 21 short one."""
        if creds is None or not creds.id:
            raise SeqrError(ResultCode.INVALID_INITIATOR_PRINCIPAL_ID, "no initiatorPrincipalId")
        kind = (creds.type or TERMINALID).strip().upper()
        if kind != TERMINALID:
            raise SeqrError(ResultCode.ACCESS_DENIED, f"operation needs a {TERMINALID} principal")
        found = self.terminals.get(creds.id)
        if found is None:
            if self.settings.strict_terminals or creds.id in self.removed_terminals:
                raise SeqrError(ResultCode.INVALID_INITIATOR_PRINCIPAL_ID)
            found = Terminal(creds.id, creds.password or "", name=creds.id)
            self.terminals[creds.id] = found
        if not found.active:
            raise SeqrError(ResultCode.INVALID_INITIATOR_PRINCIPAL_ID)
        if (creds.password or "") != found.password:
            raise SeqrError(ResultCode.AUTHENTICATION_FAILED)
        if len(found.password) < 4:
            raise SeqrError(ResultCode.ACCESS_DENIED, "terminal password shorter than 4")
        return found

    def reseller(self, creds: Credentials | None) -> Reseller:
        """Authenticate a RESELLERUSER principal; `shop/9900` stands for id and userId."""
        if creds is None or not creds.id:
            raise SeqrError(ResultCode.INITIATOR_PRINCIPAL_NOT_FOUND, "no initiatorPrincipalId")
        if (creds.type or "").strip().upper() != RESELLERUSER:
            raise SeqrError(ResultCode.ACCESS_DENIED, f"operation needs a {RESELLERUSER} principal")
        rid, user = creds.id, creds.user_id
        if not user and "/" in rid:
            rid, user = rid.split("/", 1)
        found = self.resellers.get((rid, user or ""))
        if found is None:
            raise SeqrError(ResultCode.INITIATOR_PRINCIPAL_NOT_FOUND)
        if (creds.password or "") != found.password:
            raise SeqrError(ResultCode.AUTHENTICATION_FAILED)
        return found

    # --- time --------------------------------------------------------------------------------

    def advance_clock(self, seconds: float) -> datetime:
        with self.lock:
            now = self.clock.advance(seconds)
            self.run_due()
            return now

    def run_due(self) -> int:
        """Apply every deadline that has passed on the emulator clock; O(log n) each."""
        with self.lock:
            heap = self._deadlines
            if not heap or self._due_running:  # a verb a deadline applies calls in again
                return 0
            self._due_running = True
            try:
                return self._apply_due(heap, self.clock.elapsed())
            finally:
                self._due_running = False

    def _apply_due(self, heap: list[tuple[float, int, str, str]], mark: float) -> int:
        applied = 0
        while heap and heap[0][0] <= mark:
            _, _, kind, reference = heapq.heappop(heap)
            found = self.invoices.get(reference)
            if found is None:
                continue
            now = self.clock.now()
            if kind == "ack" and rules.reverse_unacknowledged(found, now):
                self._record_reversal(found)
                self._emit("reversed", found)
                applied += 1
            elif kind == "reservation" and rules.expire_reservation(found, now):
                self._emit("expired", found)
                applied += 1
            elif kind == "scenario":
                self._scenario_tick(found)  # a timed step; it may schedule the next one
                applied += 1
        return applied

    def _schedule(self, delay: float, kind: str, reference: str) -> None:
        self._schedule_at(self.clock.elapsed() + delay, kind, reference)

    def _schedule_at(self, mark: float, kind: str, reference: str) -> None:
        """A deadline at an emulator-clock mark (seconds since start); past marks are due."""
        self._deadline_seq += 1
        heapq.heappush(self._deadlines, (mark, self._deadline_seq, kind, reference))

    def _paid(self, found: Invoice) -> None:
        assert found.payment is not None
        self.payments[found.payment.ers_reference] = found.reference
        payment = found.payment
        self._record_transaction(
            found, payment.ers_reference, payment.amount.value, found.data.cashier_id
        )
        if self.settings.ack_window > 0:
            self._schedule(self.settings.ack_window, "ack", found.reference)

    def _reserved(self, found: Invoice) -> None:
        timeout = found.data.commit_reservation_timeout
        if timeout is not None and timeout > 0:
            self._schedule(float(timeout), "reservation", found.reference)

    # --- lookups -----------------------------------------------------------------------------

    def _own_invoice(self, terminal: Terminal, reference: str | None) -> Invoice:
        found = self.invoices.get((reference or "").strip())
        if found is None or found.terminal_id != terminal.id:
            raise SeqrError(ResultCode.INVALID_INVOICE_REFERENCE)
        return found

    def _invoice_by_ers(self, terminal: Terminal, ers_reference: str | None) -> Invoice:
        found = self.invoices.get(self.payments.get((ers_reference or "").strip(), ""))
        if found is None or found.terminal_id != terminal.id:
            raise SeqrError(ResultCode.INVALID_ERS_REFERENCE)
        return found
