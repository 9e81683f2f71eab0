"""`seqr-emulator pay` and the other twins of the control API, against a running emulator."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from emulator.cli import main
from tests.shop import own_zeep, send, service_at

TILL = {
    "clientRequestTimeout": 0,
    "initiatorPrincipalId": {"id": "cli-till", "type": "TERMINALID"},
    "password": "cli-till-secret",
}


def twin(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, object, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


@pytest.fixture
def served(start_emulator):
    server = start_emulator(freeze_clock=True)
    with own_zeep(server.soap_url) as client:
        yield server, service_at(client, server.soap_url)


def test_pay_without_a_reference_pays_the_newest_invoice(served, capsys):
    server, service = served
    send(service, TILL)
    newest = send(service, TILL)
    code, paid, _ = twin(capsys, "pay", "--url", server.url)
    assert code == 0 and paid["reference"] == newest and paid["status"] == "PAID"


def test_the_customers_moves_and_lists_by_terminal(served, capsys):
    server, service = served
    ref = send(service, TILL)
    assert twin(capsys, "scan", ref, "--url", server.url)[1]["inProgress"] is True
    assert twin(capsys, "fail", ref, "--url", server.url)[1]["status"] == "FAILED"
    code, listed, _ = twin(capsys, "invoices", "--terminal", "cli-till", "--url", server.url)
    assert code == 0 and [i["reference"] for i in listed] == [ref]
    assert twin(capsys, "invoices", "--terminal", "nobody", "--url", server.url)[1] == []


def test_a_terminals_clock_scenario_and_reset(served, capsys):
    server, service = served
    url = ("--url", server.url)
    assert twin(capsys, "use-scenario", "pay", "--terminal", "cli-till", *url)[0] == 0
    ref = send(service, TILL)
    assert twin(capsys, "invoices", "--terminal", "cli-till", *url)[1][0]["status"] == "PAID"
    moved = twin(capsys, "advance", "30", "--terminal", "cli-till", *url)[1]
    assert moved["aheadBy"] == 30
    assert twin(capsys, "notifications", "--invoice", ref, *url)[0] == 0
    assert twin(capsys, "reset", "--terminal", "cli-till", *url)[1]["forgotten"] == 1


def test_a_refusal_is_one_line_and_status_1(served, capsys):
    server, _ = served
    code, out, err = twin(capsys, "pay", "404404", "--url", server.url)
    assert code == 1 and out is None
    assert err == "seqr-emulator: 404 no invoice 404404\n"
    code, _, err = twin(capsys, "cancel", "--url", server.url)
    assert code == 1 and err == "seqr-emulator: no invoice yet\n"


def test_wait_ready_returns_once_the_emulator_serves_and_gives_up_on_none(served, capsys):
    server, _ = served
    code, health, _ = twin(capsys, "wait-ready", "--url", server.url)
    assert code == 0 and health["ready"] is True
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    code, _, err = twin(
        capsys, "wait-ready", "--timeout", "0.3", "--url", f"http://127.0.0.1:{port}"
    )
    assert code == 3 and "not ready after 0.3 s" in err and len(err.splitlines()) == 1


def test_the_twins_read_the_url_from_the_environment(served):
    server, service = served
    ref = send(service, TILL)
    done = subprocess.run(
        [sys.executable, "-m", "emulator", "pay", ref],
        env={"SEQR_EMULATOR_URL": server.url, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "PAID"


TOKEN = "the-pipelines-token-0123456789"


def test_the_twins_send_the_token_serve_reads(start_emulator, capsys, monkeypatch):
    """One variable for both ends: `serve` reads SEQR_EMULATOR_CONTROL_TOKEN, the twins send it."""
    server = start_emulator(control_token=TOKEN)
    monkeypatch.delenv("SEQR_EMULATOR_CONTROL_TOKEN", raising=False)
    monkeypatch.delenv("SEQR_EMULATOR_TOKEN", raising=False)
    code, _, err = twin(capsys, "invoices", "--url", server.url)
    assert code == 1 and "401" in err
    monkeypatch.setenv("SEQR_EMULATOR_CONTROL_TOKEN", TOKEN)
    assert twin(capsys, "invoices", "--url", server.url)[:2] == (0, [])
    monkeypatch.delenv("SEQR_EMULATOR_CONTROL_TOKEN")
    monkeypatch.setenv("SEQR_EMULATOR_TOKEN", TOKEN)  # the plugin's older name
    assert twin(capsys, "invoices", "--url", server.url)[:2] == (0, [])
    monkeypatch.delenv("SEQR_EMULATOR_TOKEN")
    assert twin(capsys, "wait-ready", "--url", server.url)[0] == 0  # health needs no token
