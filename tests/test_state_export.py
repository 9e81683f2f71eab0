"""`export`, `import` and `GET /_emulator/state`: a whole state as JSON, and back.

Export then import gives the same state, byte for byte in the document; the document is
versioned and deterministic; terminal passwords are left out unless asked for, and a terminal
imported without one takes the password of its first call; what cannot be read stops the
import with one line. Every scenario of the catalogue survives being stored by value.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from emulator.backend import SeqrBackend, StateFile, dump, records
from emulator.cli import main
from emulator.clock import Clock
from emulator.scenario import loader
from emulator.server import EmulatorServer
from emulator.settings import Settings
from tests.test_state import TOUR
from tests.tour import tour
from tests.wire import context_xml, envelope, post


def toured(path: Path) -> None:
    """A state file holding the tour's state."""
    backend = SeqrBackend(TOUR, Clock(frozen=True), store=StateFile(path))
    for _ in tour(backend):
        pass
    backend.store.close()


def export(state: Path, out: Path, *more: str) -> str:
    assert main(["export", "--state", str(state), "--out", str(out), *more]) == 0
    return out.read_text(encoding="utf-8")


def test_export_then_import_gives_the_same_state(tmp_path: Path, capsys: Any) -> None:
    toured(tmp_path / "one.db")
    text = export(tmp_path / "one.db", tmp_path / "one.json", "--with-passwords")
    assert main(["import", str(tmp_path / "one.json"), "--state", str(tmp_path / "two.db")]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{tmp_path / 'two.db'}: 14 invoices, ")
    again = export(tmp_path / "two.db", tmp_path / "two.json", "--with-passwords")
    assert again == text
    assert export(tmp_path / "one.db", tmp_path / "three.json", "--with-passwords") == text

    document = json.loads(text)
    assert document["format"] == 1
    assert list(document) == sorted(document)  # keys sorted, at every level
    assert [i["status"] for i in document["invoices"]].count("RESERVED") == 1
    assert document["terminal_scenarios"]["tour-terminal"]["scenario"]["seed"] == 3
    assert len(document["periods"]["closed"]) == 2 and document["sessions"]


def test_an_import_replaces_what_the_file_held(tmp_path: Path) -> None:
    toured(tmp_path / "full.db")
    empty = SeqrBackend(Settings(), Clock(), store=StateFile(tmp_path / "empty.db"))
    empty.store.close()
    export(tmp_path / "empty.db", tmp_path / "empty.json")
    assert main(["import", str(tmp_path / "empty.json"), "--state", str(tmp_path / "full.db")]) == 0
    document = json.loads(export(tmp_path / "full.db", tmp_path / "after.json"))
    assert document["invoices"] == [] and document["removed_terminals"] == []


def test_exports_leave_passwords_out_unless_asked(tmp_path: Path) -> None:
    toured(tmp_path / "s.db")
    plain = json.loads(export(tmp_path / "s.db", tmp_path / "plain.json"))
    assert {t["password"] for t in plain["terminals"]} == {None}
    assert "tour-secret" not in (tmp_path / "plain.json").read_text()
    kept = json.loads(export(tmp_path / "s.db", tmp_path / "kept.json", "--with-passwords"))
    assert {t["id"]: t["password"] for t in kept["terminals"]}["tour-terminal"] == "tour-secret"


def status(url: str, terminal: str, password: str) -> str | None:
    body = envelope(
        f"<ext:sendInvoice>{context_xml(terminal, password)}<invoice><title>x</title>"
        "<totalAmount><currency>SEK</currency><value>1.00</value></totalAmount>"
        "</invoice></ext:sendInvoice>"
    )
    return post(url, body).field("resultCode")


def test_a_terminal_imported_without_its_password_takes_its_first_one(tmp_path: Path) -> None:
    toured(tmp_path / "s.db")
    export(tmp_path / "s.db", tmp_path / "plain.json")
    assert main(["import", str(tmp_path / "plain.json"), "--state", str(tmp_path / "i.db")]) == 0
    with EmulatorServer(Settings(port=0, state=str(tmp_path / "i.db"))) as server:
        assert status(server.soap_url, "tour-terminal", "chosen-now") == "0"
        assert status(server.soap_url, "tour-terminal", "tour-secret") == "20"
        assert status(server.soap_url, "tour-terminal", "chosen-now") == "0"
        # a configured terminal takes its configured password
        assert status(server.soap_url, "public_test_shop_terminal", "12345678") == "0"
    with EmulatorServer(Settings(port=0, state=str(tmp_path / "i.db"))) as server:
        assert status(server.soap_url, "tour-terminal", "chosen-now") == "0"  # it lasts


def get_state(url: str, query: str = "") -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url + "/_emulator/state" + query, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_running_emulator_exports_what_its_file_holds(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with EmulatorServer(Settings(port=0, state=str(path), ack_window=5)) as server:
        for _ in zip(range(20), tour(server.backend), strict=False):
            pass
        code, served = get_state(server.url)
        assert code == 200
        code, with_passwords = get_state(server.url, "?passwords=true")
        assert code == 200 and "tour-secret" in with_passwords and "tour-secret" not in served
        assert get_state(server.url, "?passwords=maybe")[0] == 400
    assert export(path, tmp_path / "file.json") == served


def test_a_memory_emulator_exports_too(emulator: EmulatorServer) -> None:
    post(emulator.soap_url, envelope(context_free_send()))
    code, text = get_state(emulator.url)
    document = json.loads(text)
    assert code == 200 and len(document["invoices"]) == 1 and document["ids"]["invoice_seq"] == 1
    store, position = dump.from_document(document)
    assert dump.document(store, position) == document


def context_free_send() -> str:
    return (
        f"<ext:sendInvoice>{context_xml()}<invoice><title>x</title>"
        "<totalAmount><currency>SEK</currency><value>1.00</value></totalAmount>"
        "</invoice></ext:sendInvoice>"
    )


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("not json", "not JSON"),
        ('{"format": 2}', "state format 2, this emulator reads 1"),
        ("[]", "an emulator state is a JSON object"),
        ('{"format": 1, "invoices": [{"reference": "1"}]}', "invoice 1:"),
        ('{"format": 1, "ids": {"invoice_base": 1}}', "identifier position"),
        (
            '{"format": 1, "ids": null, "invoices": [{"reference": "1", "terminal_id": "t", '
            '"data": {}, "created_at": "2026-01-01T00:00:00+00:00", "status": "ISSUED", '
            '"history": []}]}',
            "ids is missing",
        ),
    ],
)
def test_an_unreadable_dump_stops_the_import_with_one_line(
    tmp_path: Path, capsys: Any, content: str, says: str
) -> None:
    dumped = tmp_path / "bad.json"
    dumped.write_text(content)
    assert main(["import", str(dumped), "--state", str(tmp_path / "s.db")]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"seqr-emulator: {dumped}: ") and says in line
    assert not (tmp_path / "s.db").exists()


def test_export_of_a_missing_file_says_so(tmp_path: Path, capsys: Any) -> None:
    assert main(["export", "--state", str(tmp_path / "none.db")]) == 1
    assert "no such state file" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(loader.load_catalogue()))
def test_every_catalogue_scenario_is_kept_by_value(name: str) -> None:
    scenario = loader.load_catalogue()[name]
    again = records.decode_scenario(json.loads(json.dumps(records.encode_scenario(scenario))))
    assert (again.name, again.description, again.seed, again.source) == (
        scenario.name,
        scenario.description,
        scenario.seed,
        scenario.source,
    )
    assert again.steps == scenario.steps
