"""SeqrBackend: the one holder of an emulator's state, and its verbs.

One method per SOAP operation and per action of the emulated customer. Methods are
synchronous, do no I/O and hold `self.lock` while they read and change state, so two
concurrent payments or refunds are serialised and the rules in `domain.invoice` hold.

Timed rules (the acknowledgment window, reservation timeouts) are deadlines on a heap: due
ones are applied before every verb and by the app's sweeper, so the outcome depends on the
emulator clock, never on when a background task happened to run.

Listeners (`subscribe`) hear about every change after it is made; the notifier and the
dashboard are listeners. They must not block: the SOAP answer never waits for them.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from emulator.clock import Clock, IdFactory
from emulator.domain import invoice as rules
from emulator.domain import reports
from emulator.domain import services as ext
from emulator.domain import terminals as tills
from emulator.domain.errors import IllegalMove, NotFound, ResultCode, SeqrError
from emulator.domain.model import (
    AcknowledgmentMode,
    Amount,
    Credentials,
    Customer,
    CustomerToken,
    Invoice,
    InvoiceData,
    InvoiceStatus,
    Receipt,
    Refund,
    Reseller,
    Terminal,
)
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


class SeqrBackend:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self.ids = IdFactory(self.clock, settings.seed)
        self.lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._reset_hooks: list[Callable[[], None]] = []
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

    # --- the merchant's payment operations -------------------------------------------------

    def send_invoice(
        self,
        creds: Credentials | None,
        data: InvoiceData,
        tokens: list[CustomerToken],
        *,
        default_ack: AcknowledgmentMode | None = None,
    ) -> Invoice:
        with self.lock:
            self.run_due()
            terminal = self.terminal(creds)
            if data.ack_mode is None and default_ack is not None:
                data.ack_mode = default_ack
            now = self.clock.now()
            made = rules.issue(self.ids.invoice_reference(), terminal.id, data, tokens, now)
            if terminal.cash_register:
                self._cancel_open_invoice(terminal, now)
                terminal.open_invoice = made.reference
            self.invoices[made.reference] = made
        self._emit("issued", made)
        return made

    def _cancel_open_invoice(self, terminal: Terminal, now: datetime) -> None:
        previous = self.invoices.get(terminal.open_invoice or "")
        if previous is None or previous.status not in (
            InvoiceStatus.ISSUED,
            InvoiceStatus.PENDING_ISSUER_ACKNOWLEDGE,
        ):
            return
        previous.in_progress = False
        rules.merchant_cancel(previous, now, "canceled by a newer invoice on the cash register")
        self._emit("canceled", previous)

    def update_invoice(
        self,
        creds: Credentials | None,
        reference: str | None,
        data: InvoiceData,
        tokens: list[CustomerToken],
    ) -> Invoice:
        with self.lock:
            self.run_due()
            found = self._own_invoice(self.terminal(creds), reference)
            rules.update(found, data, tokens, self.clock.now())
        self._emit("updated", found)
        return found

    def get_payment_status(self, creds: Credentials | None, reference: str | None) -> Invoice:
        """The merchant polls; polling a PAID invoice acknowledges the payment."""
        with self.lock:
            self.run_due()
            terminal = self.terminal(creds)
            if not reference and terminal.cash_register and terminal.open_invoice:
                reference = terminal.open_invoice
            found = self._own_invoice(terminal, reference)
            rules.acknowledge(found)
            return found

    def cancel_invoice(self, creds: Credentials | None, reference: str | None) -> Invoice:
        with self.lock:
            self.run_due()
            found = self._own_invoice(self.terminal(creds), reference)
            before = found.status
            rules.merchant_cancel(found, self.clock.now())
        if found.status is not before:
            self._emit("canceled", found)
        return found

    def commit_reservation(
        self, creds: Credentials | None, reference: str | None, amount: Amount | None
    ) -> Invoice:
        with self.lock:
            self.run_due()
            found = self._own_invoice(self.terminal(creds), reference)
            rules.commit(found, amount, self.clock.now(), self.ids.ers_reference())
            self._paid(found)
        self._emit("paid", found)
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
        with self.lock:
            self.run_due()
            terminal = self.terminal(creds)
            found = self._invoice_by_ers(terminal, ers_reference)
            if found.status is not InvoiceStatus.PAID:
                raise SeqrError(ResultCode.INVALID_ERS_REFERENCE, f"invoice is {found.status.value}")
            rules.acknowledge(found)
            receipt = Receipt(
                self.ids.ers_reference(),
                ers_reference or "",
                mime_type,
                receipt_type,
                len(data or b""),
                self.clock.now(),
            )
            found.receipts.append(receipt)
            del found.receipts[:-16]
            return receipt

    def refund_payment(
        self,
        creds: Credentials | None,
        ers_reference: str | None,
        amount: Amount | None,
        cashier: str | None = None,
    ) -> Refund:
        with self.lock:
            self.run_due()
            terminal = self.terminal(creds)
            found = self._invoice_by_ers(terminal, ers_reference)
            if found.payment is None or found.payment.ers_reference != ers_reference:
                raise SeqrError(ResultCode.INVALID_ERS_REFERENCE, "not a payment reference")
            made = rules.refund(found, amount, self.clock.now(), self.ids.ers_reference(), cashier)
            self.payments[made.ers_reference] = found.reference
            self._record_transaction(found, made.ers_reference, -made.amount.value, cashier)
        self._emit("refunded", found)
        return made

    # --- the emulated customer (control API, dashboard, scenarios) -----------------------------

    def customer(self) -> Customer:
        return Customer(payer_terminal_id=self.ids.hex_id(25))

    def invoice(self, reference: str) -> Invoice:
        with self.lock:
            self.run_due()
            found = self.invoices.get(reference)
            if found is None:
                raise NotFound(f"no invoice {reference}")
            return found

    def list_invoices(self) -> list[Invoice]:
        with self.lock:
            self.run_due()
            return list(self.invoices.values())

    def scan(
        self,
        reference: str,
        tokens: Iterable[CustomerToken] = (),
        *,
        session_token: str | None = None,
    ) -> Invoice:
        """The customer opens the invoice; inside a service session it is tied to the session
        and paid as the session's customer (the one getClientSessionInfo named)."""
        with self.lock:
            found = self.invoice(reference)
            before = found.version
            session = None if session_token is None else self.session(session_token)
            if session is not None:
                self.services.check_tie(session, reference, self.clock.now(), self._lifetime)
            customer = session.customer if session else found.customer or self.customer()
            rules.scan(found, customer, list(tokens), self.clock.now())
            if session is not None:
                self.services.tie(session, reference)
        self._emit("scanned" if found.version == before else "pending", found)
        return found

    def pay(self, reference: str, *, reserve: bool | None = None) -> Invoice:
        with self.lock:
            found = self.invoice(reference)
            customer = found.customer or self.customer()
            rules.pay(found, customer, self.clock.now(), self.ids.ers_reference(), reserve=reserve)
            if found.status is InvoiceStatus.RESERVED:
                self._reserved(found)
            else:
                self._paid(found)
            self._conclude_session(found)
        self._emit(found.status.value.lower(), found)
        return found

    def customer_cancel(self, reference: str) -> Invoice:
        with self.lock:
            found = self.invoice(reference)
            rules.customer_cancel(found, self.clock.now())
            self._conclude_session(found)
        self._emit("canceled", found)
        return found

    def fail(self, reference: str) -> Invoice:
        with self.lock:
            found = self.invoice(reference)
            rules.fail(found, self.clock.now())
            self._conclude_session(found)
        self._emit("failed", found)
        return found

    # --- external services (protocol §7.3) -----------------------------------------------------

    @property
    def _lifetime(self) -> float:
        return self.settings.session_lifetime

    def define_service(self, definition: ext.ServiceDefinition) -> bool:
        """Add or replace a service; True when it is new."""
        with self.lock:
            return self.services.define(definition)

    def delete_service(self, service_id: str) -> ext.ServiceDefinition:
        with self.lock:
            return self.services.delete(service_id)

    def service(self, service_id: str) -> ext.ServiceDefinition:
        with self.lock:
            return self.services.get(service_id)

    def list_services(self) -> list[ext.ServiceDefinition]:
        with self.lock:
            return self.services.definitions()

    def open_session(
        self,
        service_id: str,
        parameters: tuple[tuple[str, str], ...],
        customer: Customer | None = None,
    ) -> ext.CustomerSession:
        """The app scanned `HTTP://SEQR.SE/000/<id>?...`: a new token for a simulated customer."""
        with self.lock:
            definition = self.services.get(service_id)
            now = self.clock.now()
            self.services.forget_expired(now, self._lifetime)
            return self.services.open(
                definition, parameters, customer or self.customer(), now, self.ids.digits(8)
            )

    def session(self, token: str) -> ext.CustomerSession:
        with self.lock:
            found = self.services.session(token)
            if found is None:
                raise NotFound(f"no session {token!r}")
            return found

    def close_session(self, token: str) -> ext.CustomerSession:
        """SEQR-ACTION://WIZARD/CANCEL: the service page gives up; the app shows the cancel page."""
        with self.lock:
            found = self.session(token)
            ext.close(found)
            return found

    def client_session_info(
        self, creds: Credentials | None, key: str | None
    ) -> list[tuple[str, str]]:
        """getClientSessionInfo: 63 for an unknown token, 60 once past `session_lifetime`."""
        with self.lock:
            self.run_due()
            self.terminal(creds)
            found = self.services.session(key)
            return ext.client_info(found, self.clock.now(), self._lifetime)

    def next_page(self, reference: str) -> str | None:
        """The URL the app opens after the customer acted on the invoice: the service session's
        success/failure/cancel page when the invoice is tied to one, else its backURL; None
        while the invoice still waits for the customer."""
        with self.lock:
            found = self.invoice(reference)
            if found.status in (InvoiceStatus.ISSUED, InvoiceStatus.PENDING_ISSUER_ACKNOWLEDGE):
                return None
            session = self.services.for_invoice(found.reference)
            return found.data.back_url if session is None else ext.next_url(session)

    def _conclude_session(self, found: Invoice) -> None:
        session = self.services.for_invoice(found.reference)
        if session is not None:
            ext.conclude(session, found.status)

    # --- cash-register terminals, static QR codes and reconciliation ---------------------------

    def register_terminal(
        self,
        creds: Credentials | None,
        external_id: str | None,
        password: str | None,
        name: str | None,
    ) -> Terminal:
        """registerTerminal: a new cash register in the authenticated reseller's shop."""
        with self.lock:
            self.run_due()
            reseller = self.reseller(creds)
            terminal_id = self.ids.hex_id(32)
            while terminal_id in self.terminals or terminal_id in self.removed_terminals:
                terminal_id = self.ids.hex_id(32)
            made = tills.register(terminal_id, reseller.id, external_id, password, name)
            self.terminals[terminal_id] = made
            return made

    def unregister_terminal(self, creds: Credentials | None) -> Terminal:
        """The terminal in the context is gone for good: 29 from now on, even unstrict.

        Its unpaid open invoice is canceled (nobody is left to poll it) and its sticker freed.
        """
        with self.lock:
            self.run_due()
            terminal = self.terminal(creds)
            self._cancel_open_invoice(terminal, self.clock.now())
            tills.release_seqr_id(terminal, self.seqr_ids)
            terminal.active = False
            del self.terminals[terminal.id]
            self.removed_terminals.add(terminal.id)
            shop = self._shop_of(terminal)
            if shop is not None:
                self.ledger.forget_terminal(shop, terminal.id)
            return terminal

    def assign_seqr_id(self, creds: Credentials | None, seqr_id: str | None) -> Terminal:
        with self.lock:
            self.run_due()
            terminal = self.terminal(creds)
            tills.assign_seqr_id(terminal, seqr_id, self.seqr_ids)
            return terminal

    def mark_transaction_period(
        self, creds: Credentials | None, terminal_id: str | None = None
    ) -> reports.Period:
        """Close the shop's period, or one terminal's (10 for a terminal not in this shop)."""
        with self.lock:
            self.run_due()
            shop = self.reseller(creds).id
            if terminal_id:
                found = self.terminals.get(terminal_id)
                if found is None or self._shop_of(found) != shop:
                    raise SeqrError(ResultCode.REJECTED_BUSINESS_LOGIC, "no such terminal here")
            period_id = self.ids.ers_reference()
            return self.ledger.mark(shop, terminal_id or None, period_id, self.clock.now())

    def execute_report(
        self,
        creds: Credentials | None,
        report_id: str | None,
        period_id: str | None,
        terminal_id: str | None = None,
    ) -> reports.Report:
        with self.lock:
            self.run_due()
            shop = self.reseller(creds).id
            kind = reports.report_kind(report_id)
            if not period_id:
                raise SeqrError(ResultCode.REJECTED_BUSINESS_LOGIC, "transactionPeriodId missing")
            now = self.clock.now()
            period = reports.ready_period(
                kind,
                self.ledger.period(period_id.strip()),
                shop,
                terminal_id,
                now,
                self.settings.report_delay,
            )
            return reports.build(kind, period, now)

    def list_terminals(self) -> list[Terminal]:
        with self.lock:
            return list(self.terminals.values())

    def terminal_info(self, terminal_id: str) -> Terminal:
        with self.lock:
            found = self.terminals.get(terminal_id)
            if found is None:
                raise NotFound(f"no terminal {terminal_id}")
            return found

    def open_invoice_at(self, seqr_id: str) -> Invoice:
        """The invoice a customer reaches by scanning a till's sticker `HTTP://SEQR.SE/Q<id>`."""
        with self.lock:
            self.run_due()
            found = self.terminals.get(self.seqr_ids.get(seqr_id.strip(), ""))
            if found is None:
                raise NotFound(f"no terminal has the SEQR id {seqr_id}")
            invoice = self.invoices.get(found.open_invoice or "")
            if invoice is None or invoice.status not in (
                InvoiceStatus.ISSUED,
                InvoiceStatus.PENDING_ISSUER_ACKNOWLEDGE,
            ):
                raise IllegalMove("the till has no open invoice: the app waits for an amount")
            return invoice

    def invoice_for_qr(self, code: str) -> Invoice:
        """What a scanned SEQR code leads to: `R<invoiceReference>` or a till's `Q<seqrId>`."""
        parsed = tills.parse_qr(code)
        if parsed is None:
            raise NotFound(f"{code!r} is not a SEQR invoice or terminal QR code")
        kind, value = parsed
        return self.invoice(value) if kind == "R" else self.open_invoice_at(value)

    def _shop_of(self, terminal: Terminal | None) -> str | None:
        """A registered till's reseller; configured and auto-registered terminals belong to
        the first configured reseller (the public test shop by default)."""
        if terminal is not None and terminal.reseller_id:
            return terminal.reseller_id
        resellers = self.settings.resellers
        return resellers[0].id if resellers else None

    def _record_transaction(
        self, invoice: Invoice, ers_reference: str, amount: Decimal, cashier: str | None
    ) -> None:
        shop = self._shop_of(self.terminals.get(invoice.terminal_id))
        if shop is None:
            return
        made = reports.Transaction(
            ers_reference, invoice.terminal_id, cashier, amount, self.clock.now()
        )
        self.ledger.record(shop, made)

    def _record_reversal(self, invoice: Invoice) -> None:
        """A reversed payment gives back what was not refunded yet, in the current period."""
        payment = invoice.payment
        if payment is None:
            return
        left = payment.amount.value - invoice.refunded_total
        if left > 0:
            self._record_transaction(invoice, payment.ers_reference, -left, invoice.data.cashier_id)

    # --- time --------------------------------------------------------------------------------

    def advance_clock(self, seconds: float) -> datetime:
        with self.lock:
            now = self.clock.advance(seconds)
            self.run_due()
            return now

    def next_deadline(self) -> float | None:
        """Emulator-clock mark (seconds since start) of the earliest pending deadline."""
        with self.lock:
            return self._deadlines[0][0] if self._deadlines else None

    def run_due(self) -> int:
        """Apply every deadline that has passed on the emulator clock; O(log n) each."""
        with self.lock:
            heap = self._deadlines
            if not heap:
                return 0
            mark = self.clock.elapsed()
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
            return applied

    def _schedule(self, delay: float, kind: str, reference: str) -> None:
        self._deadline_seq += 1
        mark = self.clock.elapsed() + delay
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
