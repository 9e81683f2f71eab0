"""Choosing a scenario, three ways and one catalogue: at start, per terminal, per invoice.

Parallel CI jobs that use different terminal ids never disturb each other; random faults
repeat exactly for a seed; with no scenario the customer does nothing until told, and the
SOAP path never consults the engine.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
import zeep.exceptions

from tests.merchant import Merchant
from tests.shop import Control, Shop
from tests.test_cli import serving
from tests.wire import context_xml, envelope, post, send_invoice_xml

CATALOGUE = Path(__file__).resolve().parents[1] / "scenarios"


@pytest.fixture
def receiver():
    with Merchant() as endpoint:
        yield endpoint


def shop_on(server, zeep_client, receiver, terminal: str) -> Shop:
    return Shop(server, zeep_client, receiver, terminal)


def test_the_catalogue_is_listed_with_descriptions(emulator):
    listed = Control(emulator.url).ok("GET", "/scenarios")
    names = [s["name"] for s in listed["scenarios"]]
    assert names == sorted(p.stem for p in CATALOGUE.glob("*.toml"))
    by_name = {s["name"]: s for s in listed["scenarios"]}
    assert by_name["pay-after-polls"]["steps"] == ["after 2 poll(s): pay"]
    assert by_name["pay"]["description"].startswith("The customer pays")
    assert (listed["default"], listed["terminals"]) == (None, {})


def test_seqr_emulator_scenarios_lists_names_and_descriptions():
    done = subprocess.run(
        [sys.executable, "-m", "emulator", "scenarios"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 and done.stderr == ""
    lines = {line.split()[0]: line for line in done.stdout.splitlines()}
    assert set(lines) == {p.stem for p in CATALOGUE.glob("*.toml")}
    assert "SERVICE_UNAVAILABLE" in lines["service-unavailable"]


def test_without_a_scenario_the_customer_waits_and_soap_never_asks_the_engine(
    emulator, zeep_client_shop
):
    shop = zeep_client_shop
    asked: list[Any] = []
    backend = emulator.backend
    backend.scenarios.serve = lambda *call: asked.append(call)  # type: ignore[method-assign]
    try:
        ref = shop.send()
        assert shop.statuses(ref, 3) == ["ISSUED"] * 3
        assert backend.engine.active is False and asked == []
    finally:
        del backend.scenarios.serve


@pytest.fixture
def zeep_client_shop(emulator, _zeep_client, receiver) -> Shop:
    return shop_on(emulator, _zeep_client, receiver, "ci-terminal-1")


def test_the_marker_in_the_title_scripts_one_invoice(zeep_client_shop):
    shop = zeep_client_shop
    ref = shop.send(title="Order 7 [scenario:pay-after-polls]")
    plain = shop.send()
    assert shop.control.ok("GET", f"/invoices/{ref}/scenario")["scenario"] == {
        "name": "pay-after-polls",
        "step": 1,
        "steps": 1,
        "waiting": "after 2 poll(s): pay",
    }
    assert shop.statuses(ref, 3) == ["ISSUED", "ISSUED", "PAID"]
    assert shop.control.ok("GET", f"/invoices/{ref}/scenario")["scenario"] is None
    assert shop.statuses(plain, 3) == ["ISSUED"] * 3


def test_the_marker_in_client_invoice_id_beats_the_terminal_scenario(zeep_client_shop):
    shop = zeep_client_shop
    shop.use("pay")
    ref = shop.send(clientInvoiceId="1001 [scenario:cancel]")
    assert shop.status(ref).status == "CANCELED"
    assert shop.status(shop.send()).status == "PAID"


def test_an_unknown_marker_is_a_client_fault_and_makes_no_invoice(zeep_client_shop):
    shop = zeep_client_shop
    with pytest.raises(zeep.exceptions.Fault) as fault:
        shop.send(title="Order [scenario:pya]")
    assert fault.value.code == "soap:Client"
    assert (
        "no scenario named 'pya'" in fault.value.message
        and "pay-after-polls" in fault.value.message
    )
    assert shop.control.ok("GET", "/invoices")["invoices"] == []


def test_a_terminal_scenario_applies_to_invoices_issued_after_it_until_deleted(zeep_client_shop):
    shop = zeep_client_shop
    before = shop.send()
    shop.use("pay")
    assert (
        shop.control.ok("GET", f"/terminals/{shop.terminal}/scenario")["scenario"]["name"] == "pay"
    )
    after = shop.send()
    assert (shop.status(before).status, shop.status(after).status) == ("ISSUED", "PAID")
    assert shop.control.ok("GET", "/scenarios")["terminals"] == {shop.terminal: "pay"}
    shop.control.ok("DELETE", f"/terminals/{shop.terminal}/scenario")
    assert shop.status(shop.send()).status == "ISSUED"


def test_an_inline_scenario_for_one_terminal(zeep_client_shop):
    shop = zeep_client_shop
    inline = {
        "description": "Pays after one poll; the notification is posted twice.",
        "steps": [
            {"when": "polls", "polls": 1, "do": "pay", "notification": "duplicate", "copies": 2}
        ],
    }
    chosen = shop.control.ok("PUT", f"/terminals/{shop.terminal}/scenario", {"inline": inline})
    assert chosen["scenario"]["steps"] == ["after 1 poll(s): pay, notification duplicate"]
    ref = shop.send()
    assert shop.statuses(ref, 2) == ["ISSUED", "PAID"]
    assert [a["action"] for a in shop.wait_attempts(ref, 2)] == ["duplicate", "duplicate"]


def test_the_start_default_applies_everywhere_survives_reset_and_can_be_changed(
    start_emulator, _zeep_client, receiver
):
    server = start_emulator(scenario="pay")
    shop = shop_on(server, _zeep_client, receiver, "any-terminal")
    manual = shop_on(server, _zeep_client, receiver, "opted-out")
    manual.use("manual")
    assert shop.status(shop.send()).status == "PAID"
    assert manual.status(manual.send()).status == "ISSUED"
    control = shop.control
    assert control.ok("PUT", "/scenario", {"name": "fail"})["scenario"]["name"] == "fail"
    assert shop.status(shop.send()).status == "FAILED"
    control.ok("POST", "/reset")
    assert control.ok("GET", "/scenario")["scenario"]["name"] == "pay"
    assert manual.status(manual.send()).status == "PAID"  # reset forgot the opt-out too
    control.ok("DELETE", "/scenario")
    assert shop.status(shop.send()).status == "ISSUED"


def test_serve_scenario_file_is_the_default(tmp_path: Path):
    path = tmp_path / "my-shop.toml"
    path.write_text('description = "Pays at once."\n[[steps]]\nwhen = "now"\ndo = "pay"\n')
    with serving("--scenario", str(path)) as (_, url):
        reply = post(url + "/extclientproxy/service/v2", envelope(send_invoice_xml()))
        ref = reply.field("invoiceReference")
        control = Control(url)
        assert control.invoice(ref)["status"] == "PAID"
        assert control.ok("GET", "/scenario")["scenario"]["name"] == "my-shop"


def test_two_terminals_with_different_scenarios_run_concurrently_apart(
    emulator, receiver, new_zeep_client
):
    control = Control(emulator.url)
    control.ok("PUT", "/terminals/ci-job-a/scenario", {"name": "pay-after-polls"})
    control.ok("PUT", "/terminals/ci-job-b/scenario", {"name": "fail"})
    start = threading.Barrier(2)
    seen: dict[str, list[tuple[str, list[str]]]] = {}
    errors: list[BaseException] = []
    # A client of its own per job, built here: whatever may skip the test must not run in a job.
    clients = {t: new_zeep_client(emulator) for t in ("ci-job-a", "ci-job-b")}
    shops = {t: Shop(emulator, client, receiver, t) for t, client in clients.items()}

    def job(terminal: str) -> None:
        try:
            shop = shops[terminal]
            start.wait(10)
            runs = []
            for _ in range(8):
                ref = shop.send()
                runs.append((ref, shop.statuses(ref, 3)))
            seen[terminal] = runs
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(t,)) for t in shops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert [s for _, s in seen["ci-job-a"]] == [["ISSUED", "ISSUED", "PAID"]] * 8
    assert [s for _, s in seen["ci-job-b"]] == [["FAILED"] * 3] * 8
    paid = {ref for ref, _ in seen["ci-job-a"]}
    assert receiver.wait_for(lambda m: len(m.received) == 8)
    assert {r.form["invoiceReference"] for r in receiver.received} == paid
    assert {r.query["terminal"] for r in receiver.received} == {"ci-job-a"}


def _flaky_pattern(server, zeep_client, receiver) -> list[str]:
    shop = shop_on(server, zeep_client, receiver, "ci-flaky")
    shop.use("flaky-network")
    ref = shop.send()
    outcomes = []
    for _ in range(10):
        try:
            outcomes.append(shop.status(ref).status)
        except requests.exceptions.ConnectionError:
            outcomes.append("reset")
    return outcomes


def test_random_faults_repeat_exactly_for_a_seed(start_emulator, _zeep_client, receiver):
    first = _flaky_pattern(start_emulator(seed=5), _zeep_client, receiver)
    assert first.count("reset") == 3
    assert _flaky_pattern(start_emulator(seed=5), _zeep_client, receiver) == first
    assert _flaky_pattern(start_emulator(seed=6), _zeep_client, receiver) != first


def test_the_raw_wire_sees_a_truncated_answer_as_broken_xml(start_emulator):
    server = start_emulator(scenario="truncated-response")
    control = Control(server.url)
    soap = server.soap_url
    ref = post(soap, envelope(send_invoice_xml())).field("invoiceReference")
    poll = envelope(
        f"<ext:getPaymentStatus>{context_xml()}<invoiceReference>{ref}</invoiceReference>"
        "<invoiceVersion>0</invoiceVersion></ext:getPaymentStatus>"
    )
    cut = post(soap, poll)
    assert cut.status == 200 and cut.headers["x-seqr-emulator-fault"] == "truncate"
    assert cut.body.startswith(b"<soap:Envelope") and not cut.body.endswith(b"</soap:Envelope>")
    whole = post(soap, poll)
    assert whole.field("status") == "PAID" and "x-seqr-emulator-fault" not in whole.headers
    assert control.invoice(ref)["payment"]["acknowledged"] is True


def test_a_move_the_invoice_forbids_is_skipped_and_noted(zeep_client_shop):
    shop = zeep_client_shop
    inline = {
        "description": "Cancels, then tries to pay.",
        "steps": [{"when": "now", "do": "cancel"}, {"when": "now", "do": "pay"}],
    }
    shop.control.ok("PUT", f"/terminals/{shop.terminal}/scenario", {"inline": inline})
    ref = shop.send()
    assert shop.status(ref).status == "CANCELED"
    assert shop.invoice(ref)["history"][-1]["event"] == (
        "scenario inline: step 2 (now: pay) skipped: cannot pay an invoice that is CANCELED"
    )
