"""SeqrBackend: one emulator's state behind one lock, and one verb per thing that can happen.

There is a verb per SOAP operation and per move of the emulated customer or the control
API. Each holds the lock while it runs, applies the deadlines that came due first, and ends
with the store's `flush()`, so two concurrent payments or refunds are serialised and a write
that was answered is a write that was made. The work is done by named parts, each passed the
collaborators it needs and nothing else:

    principals  who may call (terminals, resellers, cash registers, stickers)
    ledger      invoices, payments, refunds and receipts, by the rules of `domain.invoice`
    periods     transaction periods and reports
    services    external services and customer sessions
    clocks      the emulator clock, and each terminal's own where a test moved it
    deadlines   timed rules on those clocks
    scenarios   the scenario driver: the one hook every SOAP call passes through
    outbox      change events for listeners, and the journal of calls and notifications
    store       every mutable record; the seam a lasting store plugs in behind
                (tracking.py notes a verb's writes, lasting.py keeps them in SQLite,
                restart.py rebuilds the deadlines a loaded store implies)

No I/O and no adapter import: SOAP, HTTP and the dashboard are thin layers on these verbs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import partial
from types import TracebackType
from typing import TypeVar

from emulator.backend import restart
from emulator.backend.clocks import Clocks
from emulator.backend.deadlines import Deadlines, Kind
from emulator.backend.ledger import Ledger
from emulator.backend.outbox import Listener, Outbox
from emulator.backend.periods import Periods
from emulator.backend.principals import Principals
from emulator.backend.scenarios import CustomerApp, ScenarioDriver
from emulator.backend.services import Services
from emulator.backend.store import Store
from emulator.clock import Clock, IdFactory
from emulator.domain import invoice as rules
from emulator.domain import reports, seqr_urls
from emulator.domain import services as ext
from emulator.domain.errors import NotFound
from emulator.domain.model import (
    AcknowledgmentMode,
    Amount,
    Credentials,
    Customer,
    CustomerToken,
    Invoice,
    InvoiceData,
    Receipt,
    Refund,
    Terminal,
)
from emulator.journal import Journal, NotificationJournal, Page, Query, Record
from emulator.scenario.engine import Call, Engine
from emulator.scenario.model import NotificationPlan, Scenario, Step
from emulator.settings import Settings

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")


class _Verb:
    """`with self._verb:` takes the lock, applies due deadlines, and flushes the store."""

    __slots__ = ("_backend",)

    def __init__(self, backend: SeqrBackend) -> None:
        self._backend = backend

    def __enter__(self) -> None:
        backend = self._backend
        backend.lock.acquire()
        if backend.deadlines.heap:  # the common case, nothing set at all, costs no call
            try:
                backend.run_due()
            except BaseException:
                backend.lock.release()
                raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        backend = self._backend
        try:
            backend.store.flush()
        finally:
            backend.lock.release()


class SeqrBackend:
    """One emulator's state and every verb on it."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock | None = None,
        store: Callable[[], Store] = Store,
    ) -> None:
        """`store` makes the store at start and at every reset (a lasting one is a subclass)."""
        self.settings = settings
        self.clock = clock or Clock()
        self.ids = IdFactory(self.clock, settings.seed)
        self.lock = threading.RLock()
        self._verb = _Verb(self)
        self._due_running = False
        self._make_store = store
        self._before_terminal_reset: list[Callable[[str], None]] = []
        self._played_by: CustomerApp | None = None  # who acts out the scenarios' customer
        self.clocks = Clocks(self.clock)
        self.outbox = Outbox(self.clocks, settings.notification_journal_size, settings.journal_size)
        self.engine = Engine(seed=settings.seed)  # keeps its catalogue across resets
        self._build(self._make_store())

    def _build(self, store: Store) -> None:
        """The parts over a store; a reset builds them afresh. A store that was loaded from
        a file brings its records; what they imply is rebuilt here (`_derive`)."""
        settings, clock, ids = self.settings, self.clock, self.ids
        store.keep_ids(ids)  # a loaded store continues its identifier sequence
        self.store = store
        self.deadlines = Deadlines(self.clocks)
        self.principals = Principals(store, settings, ids)
        self.periods = Periods(store, self.principals, ids, settings.report_delay)
        self.ledger = Ledger(
            store, self.clocks, ids, self.deadlines, self.periods, self.outbox, settings.ack_window
        )
        self.services = Services(store, clock, ids, settings)
        self.scenarios = ScenarioDriver(self.engine, store, self.deadlines, self.clocks)
        self.scenarios.customer = self._played_by or self
        self._derive(store)

    def _derive(self, store: Store) -> None:
        """What stored records imply but the store does not hold: each terminal's chosen
        scenario in the engine, and the deadlines the invoices still wait for."""
        for terminal_id, scenario in store.terminal_scenarios.items():
            self.engine.use(scenario, terminal_id)
        dues = store.pending_deadlines()
        restart.rearm(self.deadlines, self.clock, dues, self.settings.ack_window)

    def reset(self) -> None:
        """Forget every invoice and terminal; keep the clock, the seed, listeners, catalogue."""
        with self.lock:
            self._let_go()
            self.engine.reset()  # runs and control-API selections; the start default returns
            self.ids.reset()
            self.clocks.forget_all()
            self._build(self._make_store())  # a state file is emptied
            self.store.flush()  # and holds what a start puts there (configured terminals...)
        self.outbox.was_reset()

    def _let_go(self) -> None:
        """Drop the parts, their store and the journals before new ones are made. Made while
        the old still stood, the new parts took free places among the old store's objects,
        and a few objects alive in its memory kept the whole of it from the system once it was
        freed (`emulator/heap.py`)."""
        del self.scenarios, self.services, self.ledger, self.periods, self.principals
        del self.deadlines, self.store
        self.outbox.let_go()

    def reset_terminal(self, terminal_id: str) -> list[str]:
        """Forget one terminal's invoices, scenario, notification attempts and own clock, and
        nothing of anyone else's: a CI job's clean slate on an emulator shared by many. The
        terminal itself (its id, password, SEQR id) stays. Answers the references forgotten."""
        with self._verb:
            for hook in self._before_terminal_reset:
                hook(terminal_id)
            gone = self.store.drop_invoices_of(terminal_id)
            self.deadlines.drop(set(gone))
            self.engine.forget_terminal(terminal_id, gone)
            if terminal_id in self.store.terminal_scenarios:  # or a restart chose it again
                self.store.put_terminal_scenario(terminal_id, None)
            self.clocks.forget(terminal_id)
            self.journal.forget(gone)
            self.outbox.requests.forget(terminal_id, gone)
            return gone

    # --- listeners and the journal -------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self.outbox.subscribe(listener)

    def before_terminal_reset(self, hook: Callable[[str], None]) -> None:
        """Call `hook(terminal_id)` (under the lock) just before a terminal's slate is wiped,
        so a reader of the journal, the examiner, takes in the entries about to be forgotten."""
        self._before_terminal_reset.append(hook)

    def on_reset(self, hook: Callable[[], None]) -> None:
        """Call `hook` after every reset, so records kept beside the backend are forgotten too."""
        self.outbox.on_reset(hook)

    @property
    def journal(self) -> NotificationJournal:
        """The notification attempts, by invoice (`/_emulator/notifications`)."""
        return self.outbox.journal

    @property
    def requests(self) -> Journal:
        """The request journal: every SOAP call and notification attempt, in one order. The
        SOAP adapter records the calls into it (`Journal.call`), the notification journal the
        attempts."""
        return self.outbox.requests

    def journal_page(self, query: Query) -> Page:
        """The newest journal entries that match `query` (`GET /_emulator/journal`)."""
        return self.outbox.requests.select(query, self._terminal_of)

    def journal_records(self, after: int = 0) -> list[Record]:
        """Every journal entry held with a seq above `after`, oldest first, passwords hidden:
        what verification and the examiner read."""
        return self.outbox.requests.records(after, self._terminal_of)

    def journal_seq(self) -> int:
        """The seq of the journal's latest entry: what a record kept beside it comes after."""
        return self.outbox.requests.last_seq

    def _terminal_of(self, reference: str) -> str | None:
        """The terminal of an invoice, for a notification no journaled call names."""
        with self.lock:
            found = self.store.invoice(reference)
            return None if found is None else found.terminal_id

    def invoice_of_payment(self, ers_reference: str) -> str | None:
        """The invoice a payment's or refund's ersReference belongs to, if any: the journal
        names the invoice of a refundPayment or submitPaymentReceipt call by it."""
        with self.lock:
            found = self.store.invoice_of_payment(ers_reference.strip())
            return None if found is None else found.reference

    # --- time ----------------------------------------------------------------------------------

    def advance_clock(self, seconds: float) -> datetime:
        """Every clock moves: the emulator's, and with it each terminal's."""
        with self.lock:
            now = self.clock.advance(seconds)
            self.run_due()
            return now

    def terminal_clock(self, terminal_id: str) -> Clock:
        return self.clocks.of(terminal_id)

    def terminal_clock_lead(self, terminal_id: str) -> float:
        """Seconds the terminal's own clock is ahead of the emulator's (0 without one)."""
        return self.clocks.own(terminal_id)

    def advance_terminal_clock(self, terminal_id: str, seconds: float) -> datetime:
        """Only this terminal's time moves: its reversals, reservation timeouts, scenario
        timers and notification delays come due; no other terminal's do."""
        with self.lock:
            now = self.clocks.advance(terminal_id, seconds).now()
            self.deadlines.shift(terminal_id, seconds)
            self.run_due()
            return now

    def run_due(self) -> int:
        """Apply every deadline that has passed on the emulator clock; O(log n) each."""
        with self.lock:
            if not self.deadlines.heap or self._due_running:  # a verb a deadline applies calls in
                return 0
            self._due_running = True
            try:
                applied = 0
                for kind, reference in self.deadlines.due():
                    found = self.store.invoice(reference)
                    if found is None:
                        continue
                    if kind is Kind.ACKNOWLEDGMENT:
                        applied += self.ledger.reverse_if_unacknowledged(found)
                    elif kind is Kind.RESERVATION:
                        applied += self.ledger.expire_reservation(found)
                    else:
                        self.scenarios.tick(found)  # it may set the next deadline
                        applied += 1
                self.store.flush()
                return applied
            finally:
                self._due_running = False

    # --- the one scenario hook -----------------------------------------------------------------

    def serve_call(
        self, call: Call, carry_out: Callable[[A, B], tuple[int, T]], first: A, second: B
    ) -> tuple[T | None, Step | None]:
        """Every SOAP call: carried out, unless a scenario answers or disturbs it.

        `carry_out(first, second)` makes the answer and its resultCode; the result is that
        answer (None when a step answered instead) and the step whose action the transport
        acts out, if any.
        """
        if call.marker is None and not self.engine.active:
            return carry_out(first, second)[1], None
        with self._verb:
            return self.scenarios.serve(call, partial(carry_out, first, second))

    def notification_plan(self, reference: str) -> NotificationPlan | None:
        """The plan a scenario armed for the invoice's notification being sent now."""
        with self.lock:
            return self.scenarios.notification_plan(reference)

    # --- the merchant's payment operations -----------------------------------------------------

    def send_invoice(
        self,
        creds: Credentials | None,
        data: InvoiceData,
        *,
        default_ack: AcknowledgmentMode | None = None,
        marker: str | None = None,
    ) -> Invoice:
        """sendInvoice; `marker` is the `[scenario:NAME]` the call carried, if any."""
        with self._verb:
            terminal = self.principals.terminal(creds)
            scenario = self.scenarios.for_issue(terminal.id, marker)
            if data.ack_mode is None and default_ack is not None:
                data.ack_mode = default_ack
            made = self.ledger.issue(terminal, data)
            self.scenarios.begin(made, scenario)
            return made

    def update_invoice(
        self, creds: Credentials | None, reference: str | None, data: InvoiceData
    ) -> Invoice:
        with self._verb:
            found = self.ledger.own(self.principals.terminal(creds), reference)
            self.ledger.update(found, data)
            return found

    def get_payment_status(self, creds: Credentials | None, reference: str | None) -> Invoice:
        """The merchant polls; polling a PAID invoice acknowledges the payment. A cash
        register that names no invoice polls its open one."""
        # `_verb` written out for the most frequent call of all: the lock's own with-statement
        # is C code, `_verb`'s two Python-level methods are not.
        with self.lock:
            if self.deadlines.heap:
                self.run_due()
            try:
                terminal = self.principals.terminal(creds)
                if not reference and terminal.cash_register and terminal.open_invoice:
                    reference = terminal.open_invoice
                found = self.ledger.own(terminal, reference)
                self.ledger.poll(found)
                return found
            finally:
                self.store.flush()

    def receiver_name(self, invoice: Invoice) -> str | None:
        """The name a receipt gives the terminal that was paid."""
        return self.principals.name_of(invoice.terminal_id)

    def cancel_invoice(self, creds: Credentials | None, reference: str | None) -> Invoice:
        with self._verb:
            found = self.ledger.own(self.principals.terminal(creds), reference)
            self.ledger.cancel(found)
            return found

    def commit_reservation(
        self, creds: Credentials | None, reference: str | None, amount: Amount | None
    ) -> Invoice:
        with self._verb:
            found = self.ledger.own(self.principals.terminal(creds), reference)
            self.ledger.commit(found, amount)
            return found

    def submit_payment_receipt(
        self,
        creds: Credentials | None,
        ers_reference: str | None,
        mime_type: str | None,
        receipt_type: str | None,
        data: bytes | None,
    ) -> Receipt:
        """Attach a receipt to a payment or a refund; for a payment it is also the commit."""
        with self._verb:
            found = self.ledger.own_payment(self.principals.terminal(creds), ers_reference)
            return self.ledger.attach_receipt(found, ers_reference, mime_type, receipt_type, data)

    def refund_payment(
        self,
        creds: Credentials | None,
        ers_reference: str | None,
        amount: Amount | None,
        cashier: str | None = None,
    ) -> Refund:
        with self._verb:
            found = self.ledger.own_payment(self.principals.terminal(creds), ers_reference)
            return self.ledger.refund(found, ers_reference, amount, cashier)

    # --- cash registers, stickers and reconciliation -------------------------------------------

    def register_terminal(
        self,
        creds: Credentials | None,
        external_id: str | None,
        password: str | None,
        name: str | None,
    ) -> Terminal:
        """registerTerminal: a new cash register in the authenticated reseller's shop."""
        with self._verb:
            reseller = self.principals.reseller(creds)
            return self.principals.register(reseller, external_id, password, name)

    def unregister_terminal(self, creds: Credentials | None) -> Terminal:
        """The terminal in the context is gone for good: 29 from now on, even unstrict.

        Its unpaid open invoice is canceled (nobody is left to poll it) and its sticker freed.
        """
        with self._verb:
            terminal = self.principals.terminal(creds)
            self.ledger.supersede_open(terminal)
            self.principals.unregister(terminal)
            return terminal

    def assign_seqr_id(self, creds: Credentials | None, seqr_id: str | None) -> Terminal:
        with self._verb:
            terminal = self.principals.terminal(creds)
            self.principals.assign_seqr_id(terminal, seqr_id)
            return terminal

    def mark_transaction_period(
        self, creds: Credentials | None, terminal_id: str | None = None
    ) -> reports.Period:
        """Close the shop's period, or one terminal's (10 for a terminal not in this shop)."""
        with self._verb:
            shop = self.principals.reseller(creds).id
            return self.periods.mark(shop, terminal_id, self.clock.now())

    def execute_report(
        self,
        creds: Credentials | None,
        report_id: str | None,
        period_id: str | None,
        terminal_id: str | None = None,
    ) -> reports.Report:
        with self._verb:
            shop = self.principals.reseller(creds).id
            return self.periods.report(shop, report_id, period_id, terminal_id, self.clock.now())

    def client_session_info(
        self, creds: Credentials | None, key: str | None
    ) -> list[tuple[str, str]]:
        """getClientSessionInfo: 63 for an unknown token, 60 once past `session_lifetime`."""
        with self._verb:
            self.principals.terminal(creds)
            return self.services.client_info(key)

    # --- the emulated customer (control API, dashboard, scenarios) -----------------------------

    def customer(self) -> Customer:
        """A fresh simulated SEQR user, with a payer terminal id of its own."""
        return Customer(payer_terminal_id=self.ids.hex_id(25))

    def invoice(self, reference: str) -> Invoice:
        with self._verb:
            return self.ledger.invoice(reference)

    def list_invoices(self, terminal_id: str | None = None) -> list[Invoice]:
        """Oldest first; only the terminal's when one is named."""
        with self._verb:
            if terminal_id is None:
                return self.store.all_invoices()
            return self.store.invoices_of(terminal_id)

    def invoice_count(self) -> int:
        return self.store.invoice_count()

    def terminal_count(self) -> int:
        return len(self.store.terminals)

    def scenario_count(self) -> int:
        """The scenarios of the catalogue, compiled at start."""
        return len(self.engine.catalogue)

    def scan(
        self,
        reference: str,
        tokens: Iterable[CustomerToken] = (),
        *,
        session_token: str | None = None,
        code: str | None = None,
    ) -> Invoice:
        """The customer opens the invoice; inside a service session it is tied to the session
        and paid as the session's customer (the one getClientSessionInfo named). `code`, the
        SEQR code or link the app read to get there, goes with the "scanned" event."""
        with self._verb:
            found = self.ledger.invoice(reference)
            session = None
            if session_token is not None:
                session = self.services.enter(session_token, found)
            customer = session.customer if session else found.customer or self.customer()
            self.ledger.scan(found, customer, list(tokens), code)
            if session is not None:
                self.services.tie(session, found)
            return found

    def scan_code(
        self,
        code: str,
        tokens: Iterable[CustomerToken] = (),
        *,
        session_token: str | None = None,
    ) -> Invoice:
        """The app read a SEQR code (scanned it, or was handed it as a link): an invoice's
        `R<invoiceReference>` opens that invoice, a till's sticker `Q<seqrId>` the till's
        open invoice. NotFound for a code that leads to no invoice."""
        with self._verb:
            found = self.invoice_for_qr(code)
            return self.scan(found.reference, tokens, session_token=session_token, code=code)

    def follow_link(
        self, code: str, *, session_token: str | None = None, pay: bool = True
    ) -> Invoice:
        """The app is handed an invoice's link: it opens the invoice (inside the session, if
        a token is given) and the customer pays it at once, or cancels it; the app then
        opens `next_page`."""
        with self._verb:
            found = self.scan_code(code, session_token=session_token)
            if pay:
                return self.pay(found.reference)
            return self.customer_cancel(found.reference)

    def session_of(self, reference: str) -> ext.CustomerSession | None:
        """The service session the invoice was opened in, if any."""
        with self.lock:
            return self.services.registry.for_invoice(reference)

    def play_customer(self, app: CustomerApp | None) -> None:
        """Who acts out the customer's moves of a scenario step: the backend's own verbs
        (None), or another player of them (a certification rehearsal plays SEQR's customer,
        who reaches a till's invoice by scanning its sticker). Kept across resets."""
        with self.lock:
            self._played_by = app
            self.scenarios.customer = app or self

    def pay(self, reference: str, *, reserve: bool | None = None) -> Invoice:
        with self._verb:
            found = self.ledger.invoice(reference)
            self.ledger.pay(found, found.customer or self.customer(), reserve)
            self.services.conclude(found)
            return found

    def customer_cancel(self, reference: str) -> Invoice:
        return self._end_in_app(reference, rules.customer_cancel, "canceled")

    def fail(self, reference: str) -> Invoice:
        return self._end_in_app(reference, rules.fail, "failed")

    def _end_in_app(
        self, reference: str, rule: Callable[[Invoice, datetime], None], event: str
    ) -> Invoice:
        with self._verb:
            found = self.ledger.invoice(reference)
            self.ledger.end_in_app(found, rule, event)
            self.services.conclude(found)
            return found

    def next_page(self, reference: str) -> str | None:
        """The URL the app opens after the customer acted on the invoice: the service session's
        success/failure/cancel page when the invoice is tied to one, else its backURL; None
        while the invoice still waits for the customer."""
        with self._verb:
            found = self.ledger.invoice(reference)
            return None if rules.is_open(found) else self.services.next_page(found)

    def open_invoice_at(self, seqr_id: str) -> Invoice:
        """The invoice a customer reaches by scanning a till's sticker `HTTP://SEQR.SE/Q<id>`."""
        with self._verb:
            return self.ledger.open_at(self.principals.at_seqr_id(seqr_id))

    def invoice_for_qr(self, code: str) -> Invoice:
        """What a scanned SEQR code leads to: `R<invoiceReference>` or a till's `Q<seqrId>`."""
        try:
            link = seqr_urls.parse(code)
        except seqr_urls.NotSeqrUrl as exc:
            raise NotFound(str(exc)) from None
        if isinstance(link, seqr_urls.InvoiceLink):
            return self.invoice(link.reference)
        if isinstance(link, seqr_urls.TerminalLink):
            return self.open_invoice_at(link.seqr_id)
        raise NotFound(f"{code!r} is not a SEQR invoice or terminal QR code")

    def list_terminals(self) -> list[Terminal]:
        with self.lock:
            return list(self.store.terminals.values())

    def terminal_info(self, terminal_id: str) -> Terminal:
        with self.lock:
            return self.principals.info(terminal_id)

    # --- external services (protocol §7.3) -----------------------------------------------------

    def define_service(self, definition: ext.ServiceDefinition) -> bool:
        """Add or replace a service; True when it is new."""
        with self._verb:
            return self.services.define(definition)

    def delete_service(self, service_id: str) -> ext.ServiceDefinition:
        with self._verb:
            return self.services.registry.delete(service_id)

    def service(self, service_id: str) -> ext.ServiceDefinition:
        with self.lock:
            return self.services.registry.get(service_id)

    def list_services(self) -> list[ext.ServiceDefinition]:
        with self.lock:
            return self.services.registry.definitions()

    def open_session(
        self,
        service_id: str,
        parameters: tuple[tuple[str, str], ...],
        customer: Customer | None = None,
    ) -> ext.CustomerSession:
        """The app scanned `HTTP://SEQR.SE/000/<id>?...`: a new token for a simulated customer."""
        with self._verb:
            return self.services.open(service_id, parameters, customer or self.customer())

    def session(self, token: str) -> ext.CustomerSession:
        with self.lock:
            return self.services.session(token)

    def close_session(self, token: str) -> ext.CustomerSession:
        """SEQR-ACTION://WIZARD/CANCEL: the service page gives up; the app shows the cancel page."""
        with self._verb:
            found = self.services.session(token)
            ext.close(found)
            return found

    # --- scenario selection (the control API's twins) ------------------------------------------

    def configure_scenarios(
        self, catalogue: Mapping[str, Scenario], default: Scenario | None = None
    ) -> None:
        """At start: the catalogue, and the default every reset comes back to."""
        with self.lock:
            self.scenarios.configure(catalogue, default)

    def list_scenarios(self) -> list[Scenario]:
        with self.lock:
            return sorted(self.engine.catalogue.values(), key=lambda s: s.name)

    def scenario_named(self, name: str) -> Scenario:
        """A catalogue entry; `UnknownScenario` names the ones there are."""
        with self.lock:
            return self.engine.named(name)

    def set_scenario(self, scenario: Scenario | None) -> None:
        """The default for every terminal without one of its own; None: the customer waits."""
        with self.lock:
            self.engine.use(scenario)

    def default_scenario(self) -> Scenario | None:
        with self.lock:
            return self.engine.default

    def set_terminal_scenario(self, terminal_id: str, scenario: Scenario | None) -> None:
        """For invoices this terminal issues from now on; the terminal need not exist yet."""
        with self._verb:  # a choice that lasts: written through the store, then flushed
            self.engine.use(scenario, terminal_id)
            self.store.put_terminal_scenario(terminal_id, scenario)

    def terminal_scenario(self, terminal_id: str) -> Scenario | None:
        with self.lock:
            return self.engine.by_terminal.get(terminal_id)

    def terminal_scenarios(self) -> dict[str, Scenario]:
        with self.lock:
            return dict(self.engine.by_terminal)

    def scenario_progress(self, reference: str) -> dict[str, object] | None:
        """Where the invoice's scenario is; NotFound for an unknown invoice."""
        with self._verb:
            self.ledger.invoice(reference)
            return self.engine.progress(reference)
