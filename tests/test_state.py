"""`serve --state FILE`: what was answered survives a kill -9, and a restart carries on.

The crash test starts the real command, writes from several client threads at once (raw
sendInvoice envelopes, control-API payments, refundPayment), notes every answer that came
back, kills the process with SIGKILL at a seeded random moment, restarts it on the same file
and finds every answered invoice, payment and refund there, in its state; the references a
restarted emulator hands out are new ones, with `--seed` too. The other tests hold the file
to the live state after every step of a tour of every kind of write, and check that a reset
empties it. What a restart rebuilds is tested in test_state_restart.py.
"""

from __future__ import annotations

import json
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from emulator.backend import SeqrBackend, StateFile, dump
from emulator.backend import lasting as state_file
from emulator.backend.lasting import SqliteStore, read_state
from emulator.backend.store import StateError
from emulator.clock import Clock
from emulator.server import EmulatorServer
from emulator.settings import Settings
from tests.tour import tour
from tests.wire import context_xml, envelope, post

READY = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
SOAP = "/extclientproxy/service/v2"


# --- a real emulator process -------------------------------------------------------------------


@dataclass
class Served:
    proc: subprocess.Popen[str]
    url: str

    @property
    def soap(self) -> str:
        return self.url + SOAP

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:
            return json.loads(resp.read())

    def post(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())


@contextmanager
def serving(state: Path, *args: str) -> Iterator[Served]:
    """`python -m emulator serve --state FILE --port 0 ARGS`, killed (if alive) at exit."""
    log = state.with_name(state.name + ".log").open("a")
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--state", str(state), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = READY.search(line)
        assert match, f"no ready line: {line!r} ({state.name}.log has the rest)"
        yield Served(proc, match.group(1))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
        log.close()


def send_xml(terminal: str, total: str = "10.00") -> bytes:
    return envelope(
        f"<ext:sendInvoice>{context_xml(terminal, 'crash-secret')}<invoice><title>Crash</title>"
        f"<totalAmount><currency>SEK</currency><value>{total}</value></totalAmount>"
        "</invoice></ext:sendInvoice>"
    )


def refund_xml(terminal: str, ers: str, value: str = "1.00") -> bytes:
    return envelope(
        f"<ext:refundPayment>{context_xml(terminal, 'crash-secret')}"
        f"<ersReference>{ers}</ersReference><invoice><totalAmount><currency>SEK</currency>"
        f"<value>{value}</value></totalAmount></invoice></ext:refundPayment>"
    )


# --- the crash test ---------------------------------------------------------------------------


@dataclass
class Answers:
    """What came back to the clients before the kill, noted only once an answer arrived."""

    invoices: set[str] = field(default_factory=set)
    paid: dict[str, str] = field(default_factory=dict)  # invoice -> payment ersReference
    refunds: dict[str, set[str]] = field(default_factory=dict)  # invoice -> refund ersReferences
    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    enough: threading.Event = field(default_factory=threading.Event)

    def note(self, kind: str, ref: str, ers: str = "") -> None:
        with self.lock:
            if kind == "invoice":
                self.invoices.add(ref)
            elif kind == "paid":
                self.paid[ref] = ers
            else:
                self.refunds.setdefault(ref, set()).add(ers)
            self.count += 1
            if self.count >= 30:
                self.enough.set()


def merchant(served: Served, terminal: str, answers: Answers) -> None:
    """send, pay, refund, over and over, until the emulator is gone."""
    try:
        while True:
            reply = post(served.soap, send_xml(terminal))
            ref = reply.field("invoiceReference")
            assert reply.field("resultCode") == "0" and ref, reply.body
            answers.note("invoice", ref)
            paid = served.post(f"/_emulator/invoices/{ref}/pay")
            ers = paid["payment"]["ersReference"]
            answers.note("paid", ref, ers)
            reply = post(served.soap, refund_xml(terminal, ers))
            assert reply.field("resultCode") == "0", reply.body
            answers.note("refund", ref, reply.field("ersReference") or "")
    except (OSError, urllib.error.URLError, ConnectionError):
        return  # killed: the answer in flight never came, so nothing is noted for it


def identifiers(document: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Every invoiceReference and every ersReference (payments, refunds) of a state."""
    refs, ers = set(), set()
    for invoice in document["invoices"]:
        refs.add(invoice["reference"])
        if "payment" in invoice:
            ers.add(invoice["payment"][0])
        ers.update(r[0] for r in invoice.get("refunds", []))
    return refs, ers


@pytest.mark.timeout(60)
@pytest.mark.parametrize("round_", range(5), ids=lambda r: f"round{r}{'-seed' if r % 2 else ''}")
def test_a_killed_emulator_keeps_every_answered_write(tmp_path: Path, round_: int) -> None:
    state = tmp_path / "state.db"
    seed = ["--seed", "7"] if round_ % 2 else []
    flags = ["--ack-window", "0", *seed]
    answers = Answers()
    with serving(state, *flags) as served:
        clients = [
            threading.Thread(target=merchant, args=(served, f"till-{i}", answers), daemon=True)
            for i in range(4)
        ]
        for client in clients:
            client.start()
        assert answers.enough.wait(20), "the clients got no answers"
        time.sleep(random.Random(round_).uniform(0.0, 0.4))  # then kill at a random moment
        served.proc.send_signal(signal.SIGKILL)
        served.proc.wait(10)
        for client in clients:
            client.join(10)
    with answers.lock:
        invoices, paid, refunds = set(answers.invoices), dict(answers.paid), dict(answers.refunds)

    with serving(state, *flags) as again:
        document = again.get("/_emulator/state")
        kept = {i["reference"]: i for i in document["invoices"]}
        missing = invoices - kept.keys()
        assert not missing, f"answered invoices lost: {sorted(missing)}"
        for ref, ers in paid.items():
            assert kept[ref]["status"] == "PAID", kept[ref]
            assert kept[ref]["payment"][0] == ers
        for ref, made in refunds.items():
            assert made <= {r[0] for r in kept[ref].get("refunds", [])}, kept[ref]
        assert again.get("/_emulator/health")["invoices"] == len(kept)

        old_refs, old_ers = identifiers(document)
        new_refs, new_ers = set(), set()
        for _ in range(5):
            ref = post(again.soap, send_xml("till-after")).field("invoiceReference") or ""
            new_refs.add(ref)
            new_ers.add(again.post(f"/_emulator/invoices/{ref}/pay")["payment"]["ersReference"])
        assert len(new_refs) == 5 and not new_refs & old_refs, "a reference was handed out again"
        assert not new_ers & old_ers, "an ersReference was handed out again"


# --- the file holds the live state after every step ---------------------------------------------


TOUR = Settings(ack_window=5, session_lifetime=60)


def lasting(path: Path, settings: Settings = TOUR, clock: Clock | None = None) -> SeqrBackend:
    return SeqrBackend(settings, clock or Clock(frozen=True), store=StateFile(path))


def reloaded(backend: SeqrBackend) -> dict[str, Any]:
    """The state read back from the backend's file, through its own connection."""
    store = backend.store
    assert isinstance(store, SqliteStore)
    again = SqliteStore(store._db, load=True)
    position = again.stored_position()
    return dump.document(again, position, passwords=True)


def test_after_every_step_of_a_tour_the_file_holds_the_state(tmp_path: Path) -> None:
    backend = lasting(tmp_path / "state.db")
    for step in tour(backend):
        expected = dump.document(backend.store, backend.ids.position(), passwords=True)
        assert reloaded(backend) == expected, f"after {step!r}"
    backend.store.close()


# --- a reset is a reset ------------------------------------------------------------------------


def test_a_reset_empties_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with EmulatorServer(Settings(port=0, state=str(path))) as server:
        for _ in zip(range(12), tour(server.backend), strict=False):
            pass
        req = urllib.request.Request(server.url + "/_emulator/reset", method="POST")
        urllib.request.urlopen(req, timeout=10).close()
    store, position = read_state(path)
    try:
        assert store.invoice_count() == 0 and not store.payments
        assert list(store.terminals) == ["public_test_shop_terminal"]  # as a start makes it
        assert not store.periods.closed_periods() and not store.services.definitions()
        assert position is not None and position.invoice_seq == 0  # the sequence restarted
    finally:
        store.close()


# --- the log is copied into the file beside the verbs, never by them ---------------------------


def test_a_served_file_copies_its_log_into_itself_on_a_thread_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_file, "COPY_EVERY", 3)  # a copy every third commit
    path = tmp_path / "state.db"
    backend = lasting(path)
    store = backend.store
    assert isinstance(store, SqliteStore)
    db = store._db
    assert isinstance(db, state_file.StateConnection) and db.copier is not None
    # the serving connection never copies its log itself: that held its verbs' answers
    assert db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    for _ in tour(backend):
        pass
    copier = db.copier
    assert copier.copy_and_wait(timeout=30)  # what the tour committed after the last copy
    # `immutable` reads the file alone, not its log: what the copier copied is in it
    in_file = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        copied = in_file.execute("SELECT count(*) FROM invoices").fetchone()[0]
    finally:
        in_file.close()
    assert copied == store.invoice_count() > 0
    store.close()
    assert not copier._thread.is_alive(), "the copier's thread ends with the store"


def test_a_file_in_use_is_refused_until_its_emulator_closes_it(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    backend = lasting(path)
    with pytest.raises(StateError, match="in use by another emulator"):
        read_state(path)
    backend.store.close()
    store, _ = read_state(path)  # closed, it is free
    store.close()
