"""A restart on a state file: the same state, the deadlines rebuilt, the sequences carried on.

In process (a backend over `StateFile`, closed and opened again) where that suffices, and
with the real command where the clock's flags or the start's errors are the point: the
reversal of a payment still waits for its window after a restart on a frozen clock, one
file serves one emulator, and a file that is not a state file stops the start.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from emulator.backend import SeqrBackend, dump
from emulator.backend.lasting import read_state
from emulator.cli import main
from emulator.clock import Clock
from emulator.domain.errors import IllegalMove
from emulator.domain.model import Credentials
from emulator.scenario.loader import from_mapping
from emulator.server import EmulatorServer
from emulator.settings import Settings, load_config
from tests.test_state import lasting, refund_xml, send_xml, serving
from tests.tour import INLINE, RESELLER, SHOP, order, tour
from tests.wire import post


def test_a_restart_holds_the_same_state_and_rebuilds_the_deadlines(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = lasting(path)
    for _ in tour(first):
        pass
    before = dump.dumps(dump.document(first.store, first.ids.position(), passwords=True))
    paid, reserved = (i.reference for i in first.list_invoices()[-2:])
    first.store.close()

    # The clock is not kept: this one starts where the first stopped (the tour moved it a day)
    again = lasting(path, clock=Clock(first.clock.now(), frozen=True))
    after = dump.dumps(dump.document(again.store, again.ids.position(), passwords=True))
    assert after == before
    assert sorted(kind.value for _, _, kind, _, _ in again.deadlines.heap) == ["ack", "reservation"]
    assert again.invoice(paid).status.value == "PAID"
    again.advance_clock(5)  # the window after the payment, on the restarted clock
    assert again.invoice(paid).status.value == "CANCELED"
    assert again.invoice(reserved).status.value == "RESERVED"
    again.advance_clock(35)
    assert again.invoice(reserved).status.value == "CANCELED"
    assert "reservation expired" in again.invoice(reserved).history[-1].event
    again.store.close()


def test_a_deadline_that_passed_while_stopped_is_due_at_once(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = lasting(path, clock=Clock())
    ref = first.send_invoice(SHOP, order()).reference
    first.pay(ref)
    first.store.close()
    start = first.clock.now().replace(microsecond=0)
    later = Clock(start.replace(year=start.year + 1), frozen=True)  # a year later
    again = lasting(path, clock=later)
    assert again.invoice(ref).status.value == "CANCELED"  # the first verb applies it
    again.store.close()


@pytest.mark.parametrize("seed", [7, None], ids=["seeded", "unseeded"])
def test_references_continue_across_restarts(tmp_path: Path, seed: int | None) -> None:
    settings = Settings(ack_window=0, seed=seed)
    made: list[str] = []
    for run in range(3):
        backend = lasting(tmp_path / "state.db", settings, Clock())
        for _ in range(4):
            invoice = backend.send_invoice(SHOP, order())
            backend.pay(invoice.reference)
            made += [invoice.reference, invoice.payment.ers_reference]  # type: ignore[union-attr]
        if run == 1:
            backend.register_terminal(RESELLER, "x", "till-pass", "Till")  # the stream moves
        backend.store.close()
    assert len(set(made)) == len(made), "a restart handed out a reference again"
    if seed is not None:  # the sequence continues exactly where it stopped
        straight = SeqrBackend(settings, Clock())
        expected = []
        for run in range(3):
            for _ in range(4):
                invoice = straight.send_invoice(SHOP, order())
                straight.pay(invoice.reference)
                expected += [invoice.reference, invoice.payment.ers_reference]  # type: ignore[union-attr]
            if run == 1:
                straight.register_terminal(RESELLER, "x", "till-pass", "Till")
        assert made == expected


def test_one_state_file_serves_one_emulator(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with serving(state):
        second = subprocess.run(
            [sys.executable, "-m", "emulator", "serve", "--state", str(state), "--port", "0"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1
        assert second.stderr.strip().splitlines() == [
            f"seqr-emulator: cannot use the state file: {state} is in use by another emulator"
        ]


def test_a_file_that_is_not_a_state_file_stops_the_start(tmp_path: Path) -> None:
    state = tmp_path / "notes.txt"
    state.write_text("not a database, just notes\n" * 100)
    out = subprocess.run(
        [sys.executable, "-m", "emulator", "serve", "--state", str(state), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 1
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("seqr-emulator: cannot use the state file: ") and "not" in line
    assert state.read_text().startswith("not a database")  # left as it was


def test_restart_keeps_the_deadline_on_a_frozen_clock(tmp_path: Path) -> None:
    """The payment's reversal waits for the window on the clock after a restart."""
    state = tmp_path / "state.db"
    flags = ["--freeze-clock", "--clock-start", "2026-03-01T12:00:00+00:00"]
    with serving(state, *flags) as served:
        ref = post(served.soap, send_xml("frozen-till")).field("invoiceReference")
        served.post(f"/_emulator/invoices/{ref}/pay")
        served.proc.send_signal(signal.SIGKILL)
    with serving(state, *flags) as again:
        assert again.get(f"/_emulator/invoices/{ref}")["status"] == "PAID"
        again.post("/_emulator/clock/advance", {"seconds": 19})
        assert again.get(f"/_emulator/invoices/{ref}")["status"] == "PAID"
        again.post("/_emulator/clock/advance", {"seconds": 2})
        invoice = again.get(f"/_emulator/invoices/{ref}")
        assert invoice["status"] == "CANCELED"
        assert invoice["history"][-1]["event"] == "reversed: payment not acknowledged in time"


def test_the_state_file_is_a_setting_like_the_others(tmp_path: Path) -> None:
    config = tmp_path / "emulator.toml"
    config.write_text(f'state = "{tmp_path / "from-config.db"}"\n')
    assert load_config(config).state == str(tmp_path / "from-config.db")
    assert Settings.from_env({"SEQR_EMULATOR_STATE": "kept.db"}).state == "kept.db"
    assert Settings().state is None  # memory only


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "--state must name a file (got '')"),
        (".", "--state must name a file, not a folder: '.'"),
        ("no/such/folder/s.db", "--state names a file in a folder that does not exist"),
    ],
)
def test_a_state_path_the_emulator_cannot_use_stops_the_start(
    value: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--port", "0", "--state", value]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"seqr-emulator: {says}")


# --- one terminal's invoices: listed, reset, and still so after a restart ----------------------


def _call(server: EmulatorServer, method: str, path: str) -> Any:
    req = urllib.request.Request(server.url + "/_emulator" + path, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def _listed(server: EmulatorServer, terminal: str | None = None) -> list[str]:
    query = "" if terminal is None else f"?terminal={terminal}"
    return [i["reference"] for i in _call(server, "GET", f"/invoices{query}")["invoices"]]


def _send(server: EmulatorServer, terminal: str) -> str:
    return post(server.soap_url, send_xml(terminal)).field("invoiceReference") or ""


def _refund_code(server: EmulatorServer, terminal: str, ers: str) -> str | None:
    return post(server.soap_url, refund_xml(terminal, ers)).field("resultCode")


@pytest.mark.parametrize("restart_first", [False, True], ids=["reset-live", "reset-after-restart"])
def test_a_terminal_reset_is_listed_right_and_lasts_across_a_restart(
    tmp_path: Path, restart_first: bool
) -> None:
    """Each terminal's listing is its own invoices on a state file, before and after a
    restart; a terminal's reset forgets its invoices and payments in the file too, and a
    restarted emulator neither lists them nor finds them by their payment."""
    settings = Settings(port=0, state=str(tmp_path / "state.db"), ack_window=0)
    with EmulatorServer(settings) as server:
        mine = [_send(server, "till-a"), _send(server, "till-a")]
        theirs = [_send(server, "till-b")]
        paid = {
            ref: _call(server, "POST", f"/invoices/{ref}/pay")["payment"]["ersReference"]
            for ref in (mine[1], theirs[0])
        }
        assert _listed(server, "till-a") == mine
        assert _listed(server, "till-b") == theirs
        if not restart_first:
            assert _call(server, "POST", "/terminals/till-a/reset")["forgotten"] == 2
            assert _listed(server, "till-a") == []
            assert _listed(server, "till-b") == theirs
    if restart_first:
        with EmulatorServer(settings) as again:
            assert _listed(again, "till-a") == mine  # the file's invoices, by terminal
            assert _listed(again, "till-b") == theirs
            mine.append(_send(again, "till-a"))  # one made since the restart, listed after
            assert _listed(again, "till-a") == mine
            assert _call(again, "GET", "/health")["invoices"] == 4
            assert _call(again, "POST", "/terminals/till-a/reset")["forgotten"] == 3
            assert _listed(again, "till-a") == []
            assert _call(again, "GET", "/health")["invoices"] == 1
    with EmulatorServer(settings) as after:
        assert _listed(after, "till-a") == []
        assert _listed(after, "till-b") == theirs
        assert _listed(after) == theirs
        assert _call(after, "GET", "/health")["invoices"] == 1
        with pytest.raises(urllib.error.HTTPError) as gone:
            _call(after, "GET", f"/invoices/{mine[1]}")
        gone.value.close()
        assert gone.value.code == 404
        assert _refund_code(after, "till-a", paid[mine[1]]) != "0"  # its payment is forgotten
        assert _refund_code(after, "till-b", paid[theirs[0]]) == "0"
        document = _call(after, "GET", "/state")
        assert [i["reference"] for i in document["invoices"]] == theirs
    store, _ = read_state(tmp_path / "state.db")
    try:
        assert paid[theirs[0]] in store.payments  # with the refund just made
        assert set(store.payments.values()) == set(theirs), "the forgotten payment's row is gone"
    finally:
        store.close()


def test_a_terminal_reset_forgets_its_open_invoice_and_scenario_for_good(tmp_path: Path) -> None:
    """A cash register's open invoice and a terminal's chosen scenario are gone after its
    reset, and a restart does not bring them back; another till keeps its own."""
    path = tmp_path / "state.db"
    first = lasting(path)
    tills = [first.register_terminal(RESELLER, f"till-{n}", "till-pass", "Till") for n in (1, 2)]
    creds = [Credentials(t.id, "TERMINALID", None, "till-pass") for t in tills]
    first.assign_seqr_id(creds[0], "STICKER1")
    first.assign_seqr_id(creds[1], "STICKER2")
    kept = first.send_invoice(creds[1], order()).reference
    first.send_invoice(creds[0], order())
    for till in tills:
        first.set_terminal_scenario(till.id, from_mapping(INLINE, "inline", "inline"))
    first.store.close()

    again = lasting(path)
    assert len(again.reset_terminal(tills[0].id)) == 1
    with pytest.raises(IllegalMove):
        again.open_invoice_at("STICKER1")
    assert again.terminal_scenario(tills[0].id) is None
    again.store.close()

    after = lasting(path)
    with pytest.raises(IllegalMove):
        after.open_invoice_at("STICKER1")
    assert after.store.terminals[tills[0].id].open_invoice is None
    assert after.terminal_scenario(tills[0].id) is None
    assert after.open_invoice_at("STICKER2").reference == kept
    assert after.terminal_scenario(tills[1].id) is not None
    document = dump.document(after.store, after.ids.position())
    assert list(document["terminal_scenarios"]) == [tills[1].id]
    assert [i["reference"] for i in document["invoices"]] == [kept]
    after.store.close()
