"""The journal's twins: `EmulatorClient.journal()` and `seqr-emulator journal`, against a real
emulator that zeep calls as a merchant would."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from emulator import client as client_module
from emulator.cli import main
from emulator.client import EmulatorClient
from tests.shop import own_zeep, send, service_at, status

TILL = {
    "clientRequestTimeout": 0,
    "initiatorPrincipalId": {"id": "journal-till", "type": "TERMINALID"},
    "password": "journal-till-secret",
}
OTHER = {**TILL, "initiatorPrincipalId": {"id": "other-till", "type": "TERMINALID"}}


@pytest.fixture
def served(start_emulator):
    server = start_emulator(freeze_clock=True)
    with own_zeep(server.soap_url) as client:
        yield server, service_at(client, server.soap_url)


def test_the_client_lists_its_terminals_entries_oldest_first_across_pages(
    served, monkeypatch: pytest.MonkeyPatch
):
    server, service = served
    ref = send(service, TILL)
    send(service, OTHER)
    for _ in range(3):
        status(service, TILL, ref)
    till = EmulatorClient(server.url, terminal="journal-till")
    monkeypatch.setattr(client_module, "JOURNAL_PAGE", 2)  # three pages for four entries
    entries = till.journal()
    assert [e["operation"] for e in entries] == ["sendInvoice"] + ["getPaymentStatus"] * 3
    assert [e["seq"] for e in entries] == [1, 3, 4, 5]  # #2 is the other terminal's
    assert [e["seq"] for e in till.journal(limit=3)] == [3, 4, 5]  # the newest three
    assert [e["seq"] for e in till.journal(operation="sendInvoice")] == [1]
    assert "request" not in till.journal(bodies=False)[0]
    everyone = EmulatorClient(server.url).journal(kind="call")
    assert {e["terminal"] for e in everyone} == {"journal-till", "other-till"}
    at = datetime.fromisoformat(entries[0]["at"])  # a frozen clock: every entry at one instant
    assert len(till.journal(since=at, until=at)) == 4


def twin(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_prints_a_line_an_entry_and_json_on_request(served, capsys):
    server, service = served
    ref = send(service, TILL)
    status(service, TILL, ref)
    send(service, OTHER)
    url = ("--url", server.url, "--terminal", "journal-till")
    code, out, _ = twin(capsys, "journal", *url)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("#1 ") and "  journal-till  sendInvoice  " + ref in lines[0]
    assert "resultCode 0" in lines[0] and lines[0].endswith(" ms")
    assert "getPaymentStatus  " + ref in lines[1]
    code, out, _ = twin(capsys, "journal", *url, "--operation", "getPaymentStatus", "--json")
    assert code == 0 and [e["seq"] for e in json.loads(out)] == [2]
    code, out, _ = twin(capsys, "journal", *url, "--limit", "1", "--bodies")
    head, *rest = out.splitlines()
    assert head.startswith("#2 ") and all(line.startswith("    ") for line in rest)
    shown = "\n".join(rest)
    request, answer = shown.split("\n    answer:\n")
    assert request.startswith("    request:\n      <") and "<password>***</password>" in request
    assert "<status>ISSUED</status>" in answer and "\n#" not in shown
    code, out, _ = twin(capsys, "journal", "--url", server.url, "--terminal", "nobody")
    assert code == 0 and out == "(no entries)\n"


def test_the_cli_refuses_a_limit_that_is_not_a_count(served, capsys):
    server, _ = served
    with pytest.raises(SystemExit) as stopped:
        main(["journal", "--url", server.url, "--limit", "-1"])
    assert stopped.value.code == 2
    assert "must be a non-negative integer (got '-1')" in capsys.readouterr().err
