"""`--state FILE`: the store kept in a SQLite file, written at every flush, read at start.

`SqliteStore` is a `TrackingStore`: each `flush()` writes the records the verb touched
(`backend.tracking` says how each kind reaches the batch) in ONE transaction and commits it
before the verb answers. The file is in WAL mode with `synchronous=NORMAL`: a commit is then
a write of the changed pages to the log, with no fsync. What was committed is in the
operating system's cache, so a killed emulator (kill -9, a crash, an OOM kill) loses no
answered write; only the machine losing power, or the kernel crashing, before the system
wrote the log out can take the latest commits back (the file stays consistent). That is the
promise an emulator of a payment service for tests needs, and `FULL` (an fsync per commit)
would cost every sendInvoice a disk flush, milliseconds on a virtual machine's disk.

The log is copied into the file (a checkpoint: the log synced, its pages written into the
file, the file synced) by a thread with a connection of its own (`LogCopier`), never by the
commit of a verb: on the event loop, one checkpoint of 4,000 pages held every request behind
it for tens of milliseconds.

One emulator owns a file: `connect` takes an exclusive `flock` on it and keeps it until the
connection closes (a second emulator, or `export`, on a file in use stops with one line
naming it). SQLite's own locks are POSIX locks, which `flock` leaves alone.

What is stored how, one row per record unless said otherwise, each row's JSON the codec of
`backend.records`:

    invoices            reference, body; due_kind and due_at for the deadline it waits for
    payments            ersReference -> invoiceReference (payments and refunds)
    terminals           body (its password too: the file is the emulator's own memory)
    removed_terminals   ids that answer 29 for good
    periods             closed transaction periods, in the order they were marked
    open_transactions   the open period of each scope (shop '' or a terminal), oldest first
    period_marks        when each scope was last marked
    services            definitions by lower-case id
    sessions            customer sessions by token, with their number (their age)
    terminal_scenarios  the scenario chosen for a terminal, by value
    meta                the identifier position (its random stream as 2,500 bytes), the
                        number of sessions ever opened, the format

Start reads every table but one with one SELECT each. Invoices are counted, not read: each
is read (by its reference, through the index) and decoded when first asked for, by a poll,
a payment or a lookup, and all of them when they are first listed. So a start does the same
work for 100 invoices as for 100,000, and holds in memory only the invoices in use. Which
invoices are a terminal's (`Store.by_terminal`) is read at the first listing or reset of a
terminal, in one scan of the file: the terminal id is only inside each invoice's body. What is
derived is rebuilt: the payment index and the SEQR ids from their rows and the terminals,
the deadlines from `due_kind`/`due_at` through a partial index (`backend.restart`). A reset
empties the file in one transaction. Standard library only.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Set
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from emulator.backend import records
from emulator.backend.deadlines import Kind
from emulator.backend.restart import Due, pending
from emulator.backend.store import StateError, Store
from emulator.backend.tracking import Changes, Marked, Recorded, TrackingStore
from emulator.clock import IdFactory, IdPosition
from emulator.domain import reports
from emulator.domain import services as ext
from emulator.domain.model import Invoice, Terminal
from emulator.scenario.model import Scenario

log = logging.getLogger(__name__)

FORMAT = 1  # PRAGMA user_version of a state file
# A sendInvoice commits three or four pages (the invoice's, the reference index's, the
# identifier position's), and the one moment a commit waited for the disk is a checkpoint
# (the log is synced, copied into the file, the file synced). So: a checkpoint every 4,000
# pages (8 MiB of log) instead of SQLite's 1,000, and 2 KiB pages, which hold three
# 500-byte invoices where 1 KiB pages hold one. Measured on the loaded 2-core VM, 10,000
# commits of a 511-byte invoice with its index and position rows: 168 us each (wall) with
# SQLite's defaults, 79 us with these; 716 bytes of file per invoice (616 with 4 KiB pages,
# 1,063 with 1 KiB).
PAGE_SIZE = 2048
CHECKPOINT_PAGES = 4000  # for a connection that copies its own log (`export`, `import`)
# Commits between two wake-ups of a served file's `LogCopier`: about 1,000 pages of log. The
# copy runs beside the verbs, so its size is no longer what a request waits for. Worth (one
# connection, sendInvoice with --state, wrk's p99 of 2-second turns): paced at 1 ms,
# 3.7-5.0 ms with the checkpoint in the commit, 1.07-1.35 ms with the copier; saturating,
# 18.5-18.7 ms against 0.91-1.61 ms (the in-memory emulator: 0.7-1.2 ms). Measured once with
# bench/run.py's `run_load`, from a script not kept; the README's runs give the after.
COPY_EVERY = 250
_KIND = {k.value: k for k in Kind}
_dumps = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":")).encode

TABLES = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
    "CREATE TABLE invoices (reference TEXT NOT NULL UNIQUE, body TEXT NOT NULL, "
    "due_kind TEXT, due_at TEXT)",
    "CREATE INDEX invoices_due ON invoices (due_kind) WHERE due_kind IS NOT NULL",
    "CREATE TABLE payments (ers TEXT PRIMARY KEY, reference TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE terminals (id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)",
    "CREATE TABLE removed_terminals (id TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE TABLE periods (id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)",
    "CREATE TABLE open_transactions (shop TEXT NOT NULL, terminal TEXT NOT NULL, "
    "body TEXT NOT NULL)",
    "CREATE INDEX open_by_scope ON open_transactions (shop, terminal)",
    "CREATE TABLE period_marks (shop TEXT NOT NULL, terminal TEXT NOT NULL, at TEXT NOT NULL, "
    "PRIMARY KEY (shop, terminal)) WITHOUT ROWID",
    "CREATE TABLE services (key TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE sessions (token TEXT PRIMARY KEY, number INTEGER NOT NULL, "
    "body TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE terminal_scenarios (terminal_id TEXT PRIMARY KEY, body TEXT NOT NULL) "
    "WITHOUT ROWID",
)
_DATA = (
    "invoices",
    "payments",
    "terminals",
    "removed_terminals",
    "periods",
    "open_transactions",
    "period_marks",
    "services",
    "sessions",
    "terminal_scenarios",
)
UPSERT_INVOICE = (
    "INSERT INTO invoices (reference, body, due_kind, due_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (reference) DO UPDATE SET "
    "body = excluded.body, due_kind = excluded.due_kind, due_at = excluded.due_at"
)
UPSERT_TERMINAL = (
    "INSERT INTO terminals (id, body) VALUES (?, ?) "
    "ON CONFLICT (id) DO UPDATE SET body = excluded.body"
)
PUT_META = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"
SELECT_BODY = "SELECT body FROM invoices WHERE reference = ?"
SELECT_ALL = "SELECT reference, body FROM invoices ORDER BY rowid"
SELECT_TERMINALS = (
    "SELECT reference, json_extract(body, '$.terminal_id') FROM invoices ORDER BY rowid"
)


# --- the file ----------------------------------------------------------------------------------


class StateConnection(sqlite3.Connection):
    """A state file's connection: it holds the file's ownership lock (`connect`) and, when it
    serves, the thread that copies its log (`LogCopier`); closing it lets go of both."""

    owner = -1  # the descriptor holding the `flock`
    copier: LogCopier | None = None

    def close(self) -> None:
        copier, self.copier = self.copier, None
        if copier is not None:
            copier.stop()
        super().close()
        if self.owner >= 0:  # after SQLite's: closing any descriptor of a file drops the
            os.close(self.owner)  # process's POSIX locks on it, SQLite's among them
            self.owner = -1


class LogCopier:
    """Copies a served state file's log into the file, on a thread and a connection of its own.

    The serving connection commits with its automatic checkpoint off and calls `committed`;
    every COPY_EVERY commits the thread wakes and runs a PASSIVE checkpoint, which copies what
    was committed while the verbs go on committing (SQLite lets one checkpoint run beside a
    writer; the writer starts the log over once everything in it was copied). Its syncs and
    writes run with the GIL let go. A failed copy is logged; the commits go on, the log
    growing until a later copy succeeds.
    """

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA synchronous = NORMAL")  # the file synced after each copy
        self._due = threading.Event()
        self._done = threading.Condition()
        self._stopping = False
        self._commits = 0
        self._begun = 0  # copies begun, and those ended (`copy_and_wait`)
        self._ended = 0
        self._thread = threading.Thread(target=self._run, name="state-log-copier", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """One more commit on the serving connection (the event loop's thread)."""
        self._commits += 1
        if self._commits >= COPY_EVERY:
            self._commits = 0
            self._due.set()

    def copy_soon(self) -> None:
        self._due.set()

    def copy_and_wait(self, timeout: float) -> bool:
        """Whether a copy that began after this call ended within `timeout` seconds: one that
        holds every commit made before it (for tests). A copy under way may have begun before
        the last commits, so it is not the one waited for."""
        with self._done:
            wanted = self._begun + 1
        self._due.set()
        with self._done:
            return self._done.wait_for(lambda: self._ended >= wanted, timeout)

    def _run(self) -> None:
        while True:
            self._due.wait()
            self._due.clear()
            if self._stopping:
                return
            with self._done:
                self._begun += 1
                number = self._begun
            try:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:
                log.warning("copying the state file's log into it failed: %s", exc)
                continue
            with self._done:
                self._ended = number
                self._done.notify_all()

    def stop(self) -> None:
        self._stopping = True
        self._due.set()
        self._thread.join()
        self._db.close()


def connect(path: str | Path) -> StateConnection:
    """Open (or create) a state file, lock it for this process, and check its format."""
    where = str(path)
    in_use = f"{where} is in use by another emulator"
    try:
        owner = os.open(where, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StateError(f"{where}: cannot open: {exc.strerror}") from None
    try:
        fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(owner)
        raise StateError(in_use) from None
    try:
        db = sqlite3.connect(
            where,
            isolation_level=None,
            check_same_thread=False,
            timeout=0.2,
            factory=StateConnection,
        )
    except sqlite3.Error as exc:
        os.close(owner)
        raise StateError(f"{where}: cannot open: {exc}") from None
    db.owner = owner
    try:
        db.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # a new file only; before WAL
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StateError(f"{where}: SQLite cannot keep a write-ahead log here ({mode})")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}")
        db.execute("BEGIN IMMEDIATE")  # the format read and written in one transaction
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            if db.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]:
                raise StateError(f"{where}: a SQLite file, but not an emulator state file")
            for statement in TABLES:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {FORMAT}")
        elif version != FORMAT:
            raise StateError(f"{where}: state format {version}, this emulator reads {FORMAT}")
        db.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        db.close()
        if "locked" in str(exc):
            raise StateError(in_use) from None
        raise StateError(f"{where}: {exc}") from None
    except sqlite3.DatabaseError as exc:
        db.close()
        raise StateError(f"{where}: not an emulator state file ({exc})") from None
    except StateError:
        db.close()
        raise
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    db.execute("BEGIN")
    try:
        yield db
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def wipe(db: sqlite3.Connection) -> None:
    """Empty every table in one transaction: a reset is a reset."""
    with transaction(db):
        _delete_all(db)


def _delete_all(db: sqlite3.Connection) -> None:
    for table in (*_DATA, "meta"):
        db.execute(f"DELETE FROM {table}")  # the names of the list above


class StateFile:
    """The store factory of `--state FILE`: the first store it makes loads the file; every
    later one (a reset) empties the file first."""

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self._db: StateConnection | None = None

    def __call__(self) -> SqliteStore:
        if self._db is None:
            db = connect(self.path)
            try:
                made = SqliteStore(db, load=True, where=str(self.path))
                db.execute("PRAGMA wal_autocheckpoint = 0")  # the copier's, from here on
                db.copier = LogCopier(str(self.path))
            except BaseException:
                db.close()
                raise
            self._db = db
            return made
        wipe(self._db)
        if self._db.copier is not None:
            self._db.copier.copy_soon()  # the emptied tables' pages
        return SqliteStore(self._db)


# --- the store ---------------------------------------------------------------------------------


class SqliteStore(TrackingStore):
    def __init__(self, db: StateConnection, *, load: bool = False, where: str = "") -> None:
        super().__init__()
        self._db = db
        self._decoder = records.Decoder()
        self._lazy = False  # some invoices of the file are not decoded yet
        self._stored = 0  # invoices in the file at start
        self._added = 0  # invoices made since
        self._gone = 0  # invoices forgotten since, by terminal resets
        self._terminals_known = True  # `by_terminal` holds the file's invoices too
        self._dues: list[Due] = []
        self._position: IdPosition | None = None
        if load:
            try:
                self._load()
            except (records.BadRecord, sqlite3.Error, ValueError, KeyError, TypeError) as exc:
                raise StateError(f"{where}: cannot read the state: {exc}") from None

    # --- start -----------------------------------------------------------------------------

    def _load(self) -> None:
        db, decoder = self._db, self._decoder
        meta = dict(db.execute("SELECT key, value FROM meta"))
        self._position = _position(meta)
        self._stored = db.execute("SELECT count(*) FROM invoices").fetchone()[0]
        self._lazy = self._stored > 0
        self._terminals_known = not self._lazy
        self.payments = dict(db.execute("SELECT ers, reference FROM payments"))
        for (body,) in db.execute("SELECT body FROM terminals ORDER BY rowid"):
            terminal, unclaimed = records.decode_terminal(json.loads(body))
            self.terminals[terminal.id] = terminal
            if unclaimed:
                self.unclaimed.add(terminal.id)
            if terminal.seqr_id is not None:
                self.seqr_ids[terminal.seqr_id] = terminal.id
        self.removed_terminals = {tid for (tid,) in db.execute("SELECT id FROM removed_terminals")}
        open_periods: dict[reports.Scope, list[reports.Transaction]] = {}
        rows = db.execute("SELECT shop, terminal, body FROM open_transactions ORDER BY rowid")
        for shop, terminal, body in rows:
            made = records.decode_transaction(json.loads(body))
            open_periods.setdefault((shop, terminal or None), []).append(made)
        marks = {
            (shop, terminal or None): datetime.fromisoformat(at)
            for shop, terminal, at in db.execute("SELECT shop, terminal, at FROM period_marks")
        }
        closed = [
            records.decode_period(json.loads(body))
            for (body,) in db.execute("SELECT body FROM periods ORDER BY rowid")
        ]
        self.periods.restore(open_periods, marks, closed)
        definitions = [
            records.decode_definition(json.loads(body))
            for (body,) in db.execute("SELECT body FROM services")
        ]
        sessions = [
            records.decode_session(json.loads(body), decoder)
            for (body,) in db.execute("SELECT body FROM sessions ORDER BY number")
        ]
        count = int(meta.get("session_count") or 0)
        self.services.restore(definitions, sessions, count)
        self.terminal_scenarios = {
            tid: records.decode_scenario(json.loads(body))
            for tid, body in db.execute("SELECT terminal_id, body FROM terminal_scenarios")
        }
        self._dues = [
            Due(_KIND[kind], reference, datetime.fromisoformat(at), terminal)
            for reference, kind, at, terminal in db.execute(
                "SELECT reference, due_kind, due_at, json_extract(body, '$.terminal_id') "
                "FROM invoices WHERE due_kind IS NOT NULL"
            )
        ]
        self.loaded(sessions, count)

    def keep_ids(self, ids: IdFactory) -> None:
        """Continue the stored sequence; it counts as written."""
        super().keep_ids(ids)
        if self._position is not None:
            ids.restore(self._position)
            self._position = None
            self.loaded(self.services.sessions(), self.services.count, (ids.issued, ids.draws))

    def stored_position(self) -> IdPosition | None:
        """The identifier position read from the file, until `keep_ids` takes it over."""
        return self._position

    def pending_deadlines(self) -> list[Due]:
        return self._dues + super().pending_deadlines()

    # --- invoices, read and decoded when first asked for -----------------------------------

    def add_invoice(self, invoice: Invoice) -> None:
        super().add_invoice(invoice)
        self._added += 1

    def invoice(self, reference: str) -> Invoice | None:
        found = self.invoices.get(reference)
        if found is None and self._lazy:
            row = self._db.execute(SELECT_BODY, (reference,)).fetchone()
            if row is not None and reference not in self._changes.dropped:
                found = self.invoices[reference] = self._decoder.invoice(json.loads(row[0]))
        return found

    def invoice_of_payment(self, ers_reference: str) -> Invoice | None:
        return self.invoice(self.payments.get(ers_reference, ""))

    def all_invoices(self) -> list[Invoice]:
        if self._lazy:
            self._decode_all()
        return list(self.invoices.values())

    def invoice_count(self) -> int:
        return self._stored + self._added - self._gone if self._lazy else len(self.invoices)

    def invoices_of(self, terminal_id: str) -> list[Invoice]:
        self._know_terminals()
        if not self._lazy:
            return super().invoices_of(terminal_id)
        invoice = self.invoice
        mine = self.by_terminal.get(terminal_id, ())
        return [found for reference in mine if (found := invoice(reference)) is not None]

    def drop_invoices_of(self, terminal_id: str) -> list[str]:
        self._know_terminals()
        if self._lazy:
            for reference in self.by_terminal.get(terminal_id, ()):
                self.invoice(reference)  # decoded, so their payments are forgotten with them
        gone = super().drop_invoices_of(terminal_id)
        self._gone += len(gone)
        return gone

    def _know_terminals(self) -> None:
        """`by_terminal` made whole, once: from the file's rows while invoices are read
        lazily (one scan, which a start does not pay: 332 ms of the bench's 100,000-invoice file),
        from the invoices once all are decoded; either way in the order they were made."""
        if self._terminals_known:
            return
        rows: Iterable[tuple[str, str]]
        if self._lazy:
            rows = self._db.execute(SELECT_TERMINALS)
        else:
            rows = ((reference, i.terminal_id) for reference, i in self.invoices.items())
        known: dict[str, list[str]] = {}
        for reference, terminal_id in rows:
            mine = known.get(terminal_id)
            if mine is None:
                known[terminal_id] = [reference]
            else:
                mine.append(reference)
        if self._lazy:  # and those made in the verb now running, not in the file yet
            for terminal_id, made in self.by_terminal.items():
                mine = known.setdefault(terminal_id, [])
                listed = set(mine)
                mine.extend(reference for reference in made if reference not in listed)
        self.by_terminal, self._terminals_known = known, True

    def _decode_all(self) -> None:
        """Every invoice decoded, all in their order: the file's (the order they were made
        in), then any made in the verb now running and not written yet."""
        decoded, decode = self.invoices, self._decoder.invoice
        ordered: dict[str, Invoice] = {}
        dropped = self._changes.dropped  # forgotten in this verb, still in the file
        for reference, body in self._db.execute(SELECT_ALL):
            if reference in dropped:
                continue
            found = decoded.pop(reference, None)
            ordered[reference] = found if found is not None else decode(json.loads(body))
        ordered.update(decoded)
        self.invoices, self._lazy = ordered, False

    # --- the end of a verb ---------------------------------------------------------------------

    def write(self, changes: Changes) -> None:
        db = self._db
        db.execute("BEGIN")  # `transaction()` written out: this runs in every verb that wrote
        try:
            write(db, changes, self.unclaimed)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        copier = db.copier  # a served file's (`StateFile`)
        if copier is not None:
            copier.committed()

    def close(self) -> None:
        self._db.close()


def write(db: sqlite3.Connection, changes: Changes, unclaimed: Set[str] = frozenset()) -> None:
    """The batch's rows, inside the caller's transaction."""
    for invoice in changes.invoices.values():
        _put_invoice(db, invoice)
    if changes.payments:
        db.executemany(PUT_PAYMENT, changes.payments)
    if changes.dropped:  # after the puts: a payment of this batch may be among them
        db.executemany("DELETE FROM invoices WHERE reference = ?", ((r,) for r in changes.dropped))
        db.executemany("DELETE FROM payments WHERE ers = ?", ((e,) for e in changes.unindexed))
    for terminal in changes.terminals.values():
        _put_terminal(db, terminal, terminal.id not in unclaimed)
    for terminal_id in changes.removed:
        db.execute("DELETE FROM terminals WHERE id = ?", (terminal_id,))
        db.execute("INSERT OR IGNORE INTO removed_terminals (id) VALUES (?)", (terminal_id,))
    for event in changes.periods:
        if isinstance(event, Recorded):
            body = _dumps(records.encode_transaction(event.transaction))
            till = event.transaction.terminal_id
            db.executemany(PUT_OPEN, ((event.shop, "", body), (event.shop, till, body)))
        elif isinstance(event, Marked):
            period = event.period
            scope = (period.reseller_id, period.terminal_id or "")
            _put_period(db, period)
            db.execute("DELETE FROM open_transactions WHERE shop = ? AND terminal = ?", scope)
            db.execute(PUT_MARK, (*scope, period.closed_at.isoformat()))
        else:
            scope = (event.shop, event.terminal_id)
            db.execute("DELETE FROM open_transactions WHERE shop = ? AND terminal = ?", scope)
            db.execute("DELETE FROM period_marks WHERE shop = ? AND terminal = ?", scope)
    for key, definition in changes.definitions.items():
        if definition is None:
            db.execute("DELETE FROM services WHERE key = ?", (key,))
        else:
            _put_definition(db, definition)
    for session in changes.sessions.values():
        _put_session(db, session)
    for token in changes.forgotten:
        db.execute("DELETE FROM sessions WHERE token = ?", (token,))
    if changes.session_count is not None:
        db.execute(PUT_META, ("session_count", changes.session_count))
    for terminal_id, scenario in changes.scenarios.items():
        if scenario is None:
            db.execute("DELETE FROM terminal_scenarios WHERE terminal_id = ?", (terminal_id,))
        else:
            _put_scenario(db, terminal_id, scenario)
    if changes.ids is not None:
        _put_position(db, changes.ids, changes.rng)


PUT_PAYMENT = "INSERT OR REPLACE INTO payments (ers, reference) VALUES (?, ?)"
PUT_OPEN = "INSERT INTO open_transactions (shop, terminal, body) VALUES (?, ?, ?)"
PUT_MARK = "INSERT OR REPLACE INTO period_marks (shop, terminal, at) VALUES (?, ?, ?)"


def _put_invoice(db: sqlite3.Connection, invoice: Invoice) -> None:
    due = pending(invoice)
    db.execute(
        UPSERT_INVOICE,
        (
            invoice.reference,
            _dumps(records.encode_invoice(invoice)),
            None if due is None else due.kind.value,
            None if due is None else due.since.isoformat(),
        ),
    )


def _put_terminal(db: sqlite3.Connection, terminal: Terminal, password: bool) -> None:
    body = _dumps(records.encode_terminal(terminal, password=password))
    db.execute(UPSERT_TERMINAL, (terminal.id, body))


def _put_period(db: sqlite3.Connection, period: reports.Period) -> None:
    body = _dumps(records.encode_period(period))
    db.execute("INSERT INTO periods (id, body) VALUES (?, ?)", (period.id, body))


def _put_definition(db: sqlite3.Connection, definition: ext.ServiceDefinition) -> None:
    body = _dumps(records.encode_definition(definition))
    key = definition.id.casefold()
    db.execute("INSERT OR REPLACE INTO services (key, body) VALUES (?, ?)", (key, body))


def _put_session(db: sqlite3.Connection, session: ext.CustomerSession) -> None:
    body = _dumps(records.encode_session(session))
    number = records.session_number(session.token)
    db.execute(
        "INSERT OR REPLACE INTO sessions (token, number, body) VALUES (?, ?, ?)",
        (session.token, number, body),
    )


def _put_scenario(db: sqlite3.Connection, terminal_id: str, scenario: Scenario) -> None:
    body = _dumps(records.encode_scenario(scenario))
    db.execute(
        "INSERT OR REPLACE INTO terminal_scenarios (terminal_id, body) VALUES (?, ?)",
        (terminal_id, body),
    )


def _put_position(db: sqlite3.Connection, position: IdPosition, rng: bool) -> None:
    counters = [position.invoice_base, position.invoice_seq, position.ers_seq, position.virtual_ms]
    db.execute(PUT_META, ("ids", _dumps(counters)))
    if rng:
        assert position.rng is not None, "the stream moved, so the position carries it"
        version, words, gauss = position.rng
        db.execute(PUT_META, ("rng", _dumps([version, gauss])))
        db.execute(PUT_META, ("rng_words", records.rng_bytes(words)))


def _position(meta: dict[str, Any]) -> IdPosition | None:
    counters, rng, words = meta.get("ids"), meta.get("rng"), meta.get("rng_words")
    if counters is None or rng is None or words is None:
        return None
    base, invoice_seq, ers_seq, virtual_ms = json.loads(counters)
    version, gauss = json.loads(rng)
    stream = (version, records.rng_words(words), gauss)
    return IdPosition(base, invoice_seq, ers_seq, virtual_ms, stream)


def write_store(db: sqlite3.Connection, store: Store, position: IdPosition | None) -> None:
    """Replace the file's state with a whole store's (an import), in one transaction."""
    with transaction(db):
        _delete_all(db)
        for invoice in store.all_invoices():
            _put_invoice(db, invoice)
        db.executemany(PUT_PAYMENT, store.payments.items())
        for terminal in store.terminals.values():
            _put_terminal(db, terminal, terminal.id not in store.unclaimed)
        db.executemany(
            "INSERT INTO removed_terminals (id) VALUES (?)",
            ((tid,) for tid in sorted(store.removed_terminals)),
        )
        ledger = store.periods
        for period in ledger.closed_periods():
            _put_period(db, period)
        for (shop, till), transactions in ledger.open_periods().items():
            db.executemany(
                PUT_OPEN,
                ((shop, till or "", _dumps(records.encode_transaction(t))) for t in transactions),
            )
        for (shop, till), at in ledger.marks().items():
            db.execute(PUT_MARK, (shop, till or "", at.isoformat()))
        registry = store.services
        for definition in registry.definitions():
            _put_definition(db, definition)
        for session in registry.sessions():
            _put_session(db, session)
        db.execute(PUT_META, ("session_count", registry.count))
        for terminal_id, scenario in store.terminal_scenarios.items():
            _put_scenario(db, terminal_id, scenario)
        if position is not None:
            _put_position(db, position, True)


def read_state(path: str | Path) -> tuple[SqliteStore, IdPosition | None]:
    """A state file's whole state (for `export`); the caller closes the store."""
    store = SqliteStore(connect(path), load=True, where=str(path))
    return store, store.stored_position()


def replace_state(path: str | Path, store: Store, position: IdPosition | None) -> None:
    """Write a whole state into a state file, replacing what it held (for `import`)."""
    db = connect(path)
    try:
        write_store(db, store, position)
    finally:
        db.close()
