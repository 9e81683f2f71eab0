"""A store that notes every write of a verb, and hands them over in one batch at `flush()`.

`TrackingStore` is the base of a lasting store: each seam method of `Store` also notes the
record it was told about in a `Changes` batch; `flush()` passes the batch to `write()`, which
a subclass implements (one SQLite transaction, say), and starts a new one only once `write()`
returned, so a write that failed is tried again at the next flush. A verb that changed
nothing (a repeated poll) writes nothing.

How each kind of record reaches the batch, which is this module's decision:

- invoices, payments, terminals, removed terminals, terminal scenarios: the named methods of
  `Store` (`add_invoice`, `changed`, `index_payment`, `put_terminal`, `remove_terminal`,
  `put_terminal_scenario`, `claim_password`). Records are encoded at flush, not when named,
  so a rule that changes an invoice again after `changed()` in the same verb is written too.
  A terminal's reset (`drop_invoices_of`) hands over the references it forgot and the
  ersReferences of their payments and refunds, to be deleted; a store that reads invoices
  lazily decodes the terminal's first, so their payments are known.
- transaction periods: `periods` is a `reports.Ledger` whose `record`, `mark` and
  `forget_terminal` also note what they changed (a transaction joined two open periods, a
  period was closed, a terminal's open period was dropped); a closed period never changes.
- external services: `services` is a `services.Registry` whose `define`, `delete`, `open`,
  `tie` and `forget_expired` note what they changed. A session's state is also changed in
  place by rules outside the registry (`services.conclude`, `services.close`) on a session
  the registry handed out during the verb; so every session it hands out is noted, and at
  flush the ones whose state or invoice differ from what was last written are written.
- the identifier position: compared at flush with the one last written (`IdFactory.issued`
  and `draws`, two integers), and written when it moved.

SEQR ids are not written at all: they are an index of the terminals, rebuilt at load. The
payment index is handed over as pairs (`index_payment`), for a store that reads invoices only
when they are asked for and so cannot rebuild it from them. Standard library only; the
caller holds the lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from emulator.backend.store import Store
from emulator.clock import IdFactory, IdPosition
from emulator.domain import reports
from emulator.domain import services as ext
from emulator.domain.model import Customer, Invoice, Terminal
from emulator.scenario.model import Scenario

# --- what changed in the transaction periods ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recorded:
    """A transaction joined its shop's open period and its terminal's."""

    shop: str
    transaction: reports.Transaction


@dataclass(frozen=True, slots=True)
class Marked:
    """A scope's open period was closed as `period`; the next one starts empty at its end."""

    period: reports.Period


@dataclass(frozen=True, slots=True)
class Forgotten:
    """A removed terminal's open period and mark were dropped."""

    shop: str
    terminal_id: str


PeriodEvent = Recorded | Marked | Forgotten


class TrackedLedger(reports.Ledger):
    """The store's transaction periods: each change is also logged in the store's batch."""

    def __init__(self, store: TrackingStore) -> None:
        super().__init__()
        self._store = store

    def record(self, reseller_id: str, transaction: reports.Transaction) -> None:
        super().record(reseller_id, transaction)
        self._store.note_period(Recorded(reseller_id, transaction))

    def mark(
        self, reseller_id: str, terminal_id: str | None, period_id: str, now: datetime
    ) -> reports.Period:
        made = super().mark(reseller_id, terminal_id, period_id, now)
        self._store.note_period(Marked(made))
        return made

    def forget_terminal(self, reseller_id: str, terminal_id: str) -> None:
        super().forget_terminal(reseller_id, terminal_id)
        self._store.note_period(Forgotten(reseller_id, terminal_id))


class TrackedRegistry(ext.Registry):
    """The store's services and sessions: changes, and sessions handed out, are noted."""

    def __init__(self, store: TrackingStore) -> None:
        super().__init__()
        self._store = store

    def define(self, definition: ext.ServiceDefinition) -> bool:
        created = super().define(definition)
        self._store.note_definition(definition.id.casefold(), definition)
        return created

    def delete(self, service_id: str) -> ext.ServiceDefinition:
        found = super().delete(service_id)
        self._store.note_definition(found.id.casefold(), None)
        return found

    def open(
        self,
        definition: ext.ServiceDefinition,
        parameters: tuple[tuple[str, str], ...],
        customer: Customer,
        now: datetime,
        secret: str,
    ) -> ext.CustomerSession:
        return self._store.note_session(super().open(definition, parameters, customer, now, secret))

    def session(self, token: str | None) -> ext.CustomerSession | None:
        found = super().session(token)
        return None if found is None else self._store.note_session(found)

    def for_invoice(self, reference: str) -> ext.CustomerSession | None:
        found = super().for_invoice(reference)
        return None if found is None else self._store.note_session(found)

    def tie(self, session: ext.CustomerSession, reference: str) -> None:
        super().tie(session, reference)
        self._store.note_session(session)

    def forget_expired(self, now: datetime, lifetime: float) -> list[str]:
        forgotten = super().forget_expired(now, lifetime)
        if forgotten:
            self._store.note_forgotten(forgotten)
        return forgotten


# --- the batch -------------------------------------------------------------------------------


class Changes:
    """What the verbs since the last flush wrote, each record once, in its latest form."""

    __slots__ = (
        "definitions",
        "dropped",
        "forgotten",
        "ids",
        "invoices",
        "payments",
        "periods",
        "removed",
        "rng",
        "scenarios",
        "session_count",
        "sessions",
        "terminals",
        "unindexed",
    )

    def __init__(self) -> None:
        self.invoices: dict[str, Invoice] = {}
        self.payments: list[tuple[str, str]] = []  # (ersReference, invoiceReference)
        # a terminal's reset: the invoices forgotten, and their payments' and refunds' ers
        self.dropped: set[str] = set()
        self.unindexed: list[str] = []
        self.terminals: dict[str, Terminal] = {}
        self.removed: list[str] = []
        self.periods: list[PeriodEvent] = []
        self.definitions: dict[str, ext.ServiceDefinition | None] = {}  # None: deleted
        self.sessions: dict[str, ext.CustomerSession] = {}
        self.forgotten: list[str] = []
        self.session_count: int | None = None
        self.scenarios: dict[str, Scenario | None] = {}  # None: removed
        self.ids: IdPosition | None = None
        self.rng = False  # the random stream moved since `ids` was last written


def session_mark(session: ext.CustomerSession) -> tuple[ext.SessionState, str | None]:
    """All of a session that changes after it is opened."""
    return session.state, session.invoice_reference


class TrackingStore(Store):
    """A `Store` whose writes since the last flush are handed to `write()` in one batch."""

    def __init__(self) -> None:
        super().__init__()
        self.periods = TrackedLedger(self)
        self.services = TrackedRegistry(self)
        self._changes = Changes()
        self._dirty = False
        self._ids: IdFactory | None = None
        self._ids_written = (-1, -1)  # (issued, draws) of the position last written
        self._sessions_written: dict[str, tuple[ext.SessionState, str | None]] = {}
        self._session_count = 0

    # --- the batch, for subclasses ---------------------------------------------------------

    def write(self, changes: Changes) -> None:
        """Make the batch's writes lasting; raise to keep them for the next flush."""
        raise NotImplementedError

    def flush(self) -> None:
        ids = self._ids
        moved = ids is not None and (ids.issued, ids.draws) != self._ids_written
        if not (self._dirty or moved):
            return
        changes = self._changes
        written = self._ids_written
        if moved:
            assert ids is not None
            written = (ids.issued, ids.draws)
            changes.rng = written[1] != self._ids_written[1]
            changes.ids = ids.position(stream=changes.rng)
        sessions = self._sessions_written
        for token, session in list(changes.sessions.items()):
            if sessions.get(token) == session_mark(session):
                del changes.sessions[token]
        count = self.services.count
        if count != self._session_count:
            changes.session_count = count
        if not (moved or self._anything(changes)):
            self._changes, self._dirty = Changes(), False
            return
        self.write(changes)
        # written: the next batch starts empty
        self._ids_written = written
        for token, session in changes.sessions.items():
            sessions[token] = session_mark(session)
        for token in changes.forgotten:
            sessions.pop(token, None)
        self._session_count = count
        self._changes, self._dirty = Changes(), False

    @staticmethod
    def _anything(changes: Changes) -> bool:
        return bool(
            changes.invoices
            or changes.payments
            or changes.dropped
            or changes.terminals
            or changes.removed
            or changes.periods
            or changes.definitions
            or changes.sessions
            or changes.forgotten
            or changes.session_count is not None
            or changes.scenarios
        )

    def loaded(
        self,
        sessions: Iterable[ext.CustomerSession],
        session_count: int,
        ids_written: tuple[int, int] | None = None,
    ) -> None:
        """After a subclass loaded its records: they count as written."""
        self._sessions_written = {s.token: session_mark(s) for s in sessions}
        self._session_count = session_count
        if ids_written is not None:
            self._ids_written = ids_written

    # --- the seam ---------------------------------------------------------------------------

    def keep_ids(self, ids: IdFactory) -> None:
        self._ids = ids

    def add_invoice(self, invoice: Invoice) -> None:
        super().add_invoice(invoice)  # its terminal's list too: listings and resets use it
        self._changes.invoices[invoice.reference] = invoice
        self._dirty = True

    def unindex_payment(self, ers_reference: str) -> None:
        super().unindex_payment(ers_reference)
        self._changes.unindexed.append(ers_reference)
        self._dirty = True

    def drop_invoices_of(self, terminal_id: str) -> list[str]:
        gone = super().drop_invoices_of(terminal_id)  # their payments through `unindex_payment`
        changes = self._changes
        for reference in gone:
            changes.invoices.pop(reference, None)
        changes.dropped.update(gone)
        self._dirty = True
        return gone

    def changed(self, invoice: Invoice) -> None:
        invoice.changes += 1  # as `Store.changed`: views made of it before are stale
        self._changes.invoices[invoice.reference] = invoice
        self._dirty = True

    def index_payment(self, ers_reference: str, invoice: Invoice) -> None:
        self.payments[ers_reference] = invoice.reference
        self._changes.payments.append((ers_reference, invoice.reference))
        self._dirty = True

    def put_terminal(self, terminal: Terminal) -> None:
        self.terminals[terminal.id] = terminal
        self._changes.terminals[terminal.id] = terminal
        self._dirty = True

    def remove_terminal(self, terminal: Terminal) -> None:
        super().remove_terminal(terminal)
        self._changes.terminals.pop(terminal.id, None)
        self._changes.removed.append(terminal.id)
        self._dirty = True

    def put_terminal_scenario(self, terminal_id: str, scenario: Scenario | None) -> None:
        super().put_terminal_scenario(terminal_id, scenario)
        self._changes.scenarios[terminal_id] = scenario
        self._dirty = True

    # --- told by the tracked ledger and registry ---------------------------------------------

    def note_period(self, event: PeriodEvent) -> None:
        self._changes.periods.append(event)
        self._dirty = True

    def note_definition(self, key: str, definition: ext.ServiceDefinition | None) -> None:
        self._changes.definitions[key] = definition
        self._dirty = True

    def note_session(self, session: ext.CustomerSession) -> ext.CustomerSession:
        self._changes.sessions[session.token] = session
        self._dirty = True
        return session

    def note_forgotten(self, tokens: list[str]) -> None:
        for token in tokens:
            self._changes.sessions.pop(token, None)
        self._changes.forgotten.extend(tokens)
        self._dirty = True
