"""The app's scan of every SEQR URL, and the service definitions a service code resolves to.

Definitions come from the control API (`/_emulator/services/{id}`) or the `--config` file;
`POST /_emulator/app/scan` answers what the app would open. The whole flow with a merchant's
service is in test_external_service.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator import cli
from emulator.settings import load_config
from tests.shop import Control, make_invoice
from tests.test_external_service import PAGE_KEYS, PAGES, define

# --- what the app does with what it scans -------------------------------------------------------


def test_a_scan_outside_a_session_opens_the_invoice(
    zeep_service: Any, context: dict, control: Control
) -> None:
    ref = zeep_service.sendInvoice(context=context, invoice=make_invoice()).invoiceReference
    scanned = control.ok("POST", "/app/scan", {"url": f"HTTP://SEQR.SE/R{ref}"})
    assert (scanned["kind"], scanned["open"], scanned["invoice"]["status"]) == (
        "invoice",
        None,
        "ISSUED",
    )
    assert "token" not in scanned
    paid = control.pay(ref)
    assert paid["open"] == paid["backURL"] == "https://shop.example/done?order=1001"


def test_a_tills_sticker_leads_to_its_open_invoice(zeep_service: Any, control: Control) -> None:
    reseller = {
        "clientRequestTimeout": 0,
        "initiatorPrincipalId": {
            "id": "public_test_shop",
            "type": "RESELLERUSER",
            "userId": "9900",
        },
        "password": "1234",
    }
    till = zeep_service.registerTerminal(
        context=reseller, externalTerminalId="Cafe/1", password="till-pw-1", name="Cafe"
    ).terminalId
    ctx = {
        "clientRequestTimeout": 0,
        "initiatorPrincipalId": {"id": till, "type": "TERMINALID"},
        "password": "till-pw-1",
    }
    assert zeep_service.assignSeqrId(context=ctx, seqrId="CAFE0001").resultCode == 0
    status, body = control.request("POST", "/app/scan", {"url": "HTTP://SEQR.SE/QCAFE0001"})
    assert status == 409, body  # nothing to pay yet: the app waits for an amount
    ref = zeep_service.sendInvoice(context=ctx, invoice=make_invoice()).invoiceReference
    scanned = control.ok("POST", "/app/scan", {"url": "seqr://SEQR.SE/QCAFE0001"})
    assert (scanned["kind"], scanned["reference"], scanned["terminalId"]) == ("terminal", ref, till)
    assert scanned["invoice"]["inProgress"] is True


def test_an_opened_link_is_paid_and_the_app_returns_to_backurl(
    zeep_service: Any, context: dict, control: Control
) -> None:
    """`POST /app/open`: the merchant's app hands the SEQR app the invoice's seqr: link; the
    customer pays at once and the app returns to the backURL."""
    sent = zeep_service.sendInvoice(context=context, invoice=make_invoice())
    link = "seqr:" + str(sent.invoiceQRCode)[len("HTTP:") :]
    opened = control.ok("POST", "/app/open", {"url": link})
    assert (opened["opened"], opened["reference"], opened["outcome"]) == (
        link,
        sent.invoiceReference,
        "pay",
    )
    assert opened["invoice"]["status"] == "PAID"
    assert opened["open"] == "https://shop.example/done?order=1001"
    again = zeep_service.sendInvoice(context=context, invoice=make_invoice())
    canceled = control.ok(
        "POST", "/app/open", {"url": str(again.invoiceQRCode), "outcome": "cancel"}
    )
    assert canceled["invoice"]["status"] == "CANCELED" and canceled["open"] == opened["open"]


def test_a_link_opened_in_a_session_is_paid_by_the_sessions_customer(
    zeep_service: Any, context: dict, control: Control
) -> None:
    define(control)
    scanned = {"url": "HTTP://SEQR.SE/000/P", "msisdn": "46701234567", "subscriberKey": "132"}
    token = control.ok("POST", "/app/scan", scanned)["token"]
    ref = zeep_service.sendInvoice(context=context, invoice=make_invoice()).invoiceReference
    opened = control.ok("POST", "/app/open", {"url": f"seqr://SEQR.SE/R{ref}", "token": token})
    assert opened["open"] == f"https://p.example/success#{token}_{ref}"
    assert opened["invoice"]["status"] == "PAID"
    session = control.ok("GET", f"/app/sessions/{token}")
    assert (session["invoiceReference"], session["state"]) == (ref, "SUCCEEDED")


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"url": "HTTP://SEQR.SE/QCAFE0001"}, 400, "not an invoice's link"),
        ({"url": "HTTP://SEQR.SE/R20260101999999999"}, 404, "no invoice"),
        ({"url": "seqr://SEQR.SE/R1", "outcome": "later"}, 400, "outcome must be"),
        ({}, 400, "url is required"),
    ],
)
def test_what_the_app_cannot_open(control: Control, body: dict, status: int, says: str) -> None:
    got, answer = control.request("POST", "/app/open", body)
    assert got == status and says in answer["error"], answer


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"url": "HTTP://SEQR.SE/000/NOPE?a=1"}, 404, "no service 'NOPE'"),
        ({"url": "HTTP://SEQR.SE/R20260101999999999"}, 404, "no invoice 20260101999999999"),
        ({"url": "HTTP://SEQR.SE/QNOSUCHTILL"}, 404, "NOSUCHTILL"),
        ({"url": "SEQR-ACTION://WIZARD/CANCEL", "token": "0000000009-12345678"}, 404, "no session"),
        ({"url": "SEQR-ACTION://WIZARD/CANCEL"}, 400, "token"),
        ({"url": "https://example.com/pay"}, 400, "not on SEQR.SE"),
        ({}, 400, "url is required"),
        ({"url": 42}, 400, "url must be"),
    ],
)
def test_what_the_app_cannot_follow(control: Control, body: dict, status: int, says: str) -> None:
    got, answer = control.request("POST", "/app/scan", body)
    assert got == status and says in answer["error"], answer


# --- service definitions --------------------------------------------------------------------------


def test_services_are_defined_read_replaced_listed_and_deleted(control: Control) -> None:
    pages = {f"{p}Url": f"https://a.example/{p}" for p in PAGES}
    assert control.request("PUT", "/services/COFFEE", pages) == (
        201,
        {"id": "COFFEE", **pages, "qrCode": "HTTP://SEQR.SE/000/COFFEE"},
    )
    moved = {**pages, "orderUrl": "https://b.example/order?x=1"}
    assert control.request("PUT", "/services/COFFEE", moved)[0] == 200
    assert control.ok("GET", "/services/coffee")["orderUrl"] == "https://b.example/order?x=1"
    define(control, "TEA")
    assert [s["id"] for s in control.ok("GET", "/services")["services"]] == ["COFFEE", "TEA"]
    assert control.ok("DELETE", "/services/COFFEE")["deleted"]["id"] == "COFFEE"
    assert control.request("GET", "/services/COFFEE")[0] == 404
    assert control.request("DELETE", "/services/COFFEE")[0] == 404


def test_an_open_session_keeps_the_pages_it_was_given(control: Control) -> None:
    define(control, "P", "https://old.example")
    token = control.ok("POST", "/app/scan", {"url": "HTTP://SEQR.SE/000/P"})["token"]
    define(control, "P", "https://new.example")
    assert (
        control.ok("GET", f"/app/sessions/{token}")["open"] == f"https://old.example/order#{token}"
    )


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"orderUrl": "ftp://a.example/order"}, "orderUrl must be an absolute http(s) URL"),
        ({"cancelUrl": "https://a.example/cancel#x"}, "fragment"),
        ({"successUrl": 7}, "successUrl must be an http(s) URL"),
        ({"colour": "red"}, "unknown field 'colour'"),
        ({"id": "OTHER"}, "differs"),
    ],
)
def test_service_definitions_are_checked(control: Control, change: dict, says: str) -> None:
    body = {f"{p}Url": f"https://a.example/{p}" for p in PAGES} | change
    status, answer = control.request("PUT", "/services/COFFEE", body)
    assert status == 400 and says in answer["error"], answer
    del body["failureUrl"]
    assert (
        control.request(
            "PUT", "/services/COFFEE", {k: v for k, v in body.items() if k in PAGE_KEYS}
        )[0]
        == 400
    )
    assert control.request("PUT", "/services/bad%20id", {})[0] == 400


# --- the configuration file ----------------------------------------------------------------------


def test_services_come_from_the_configuration_file(tmp_path: Path, start_emulator: Any) -> None:
    config = tmp_path / "seqr.toml"
    config.write_text(
        "session_lifetime = 90\n"
        "[[services]]\n"
        'id = "PARKING"\n'
        'orderUrl = "https://park.example/order"\n'
        'successUrl = "https://park.example/ok"\n'
        'failureUrl = "https://park.example/failed"\n'
        'cancelUrl = "https://park.example/cancel"\n'
    )
    settings = load_config(config)
    assert settings.session_lifetime == 90.0
    server = start_emulator(services=settings.services)
    control = Control(server.url)
    scanned = control.ok("POST", "/app/scan", {"url": "HTTP://SEQR.SE/000/PARKING?zone=7"})
    assert scanned["open"] == f"https://park.example/order#{scanned['token']}"
    control.ok("POST", "/reset")
    assert control.ok("GET", "/services/PARKING")["id"] == "PARKING"  # configured ones stay


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("sesion_lifetime = 5\n", "unknown key 'sesion_lifetime'"),
        ('[[services]]\nid = "A"\ncolor = "red"\n', "unknown key 'color' in services[0]"),
        ('[[services]]\nid = "A"\n', "services[0] needs orderUrl"),
        ('session_lifetime = "long"\n', "session_lifetime has the wrong type"),
        ("session_lifetime = \n", "not TOML"),
        (
            '[[services]]\nid = "A"\norderUrl = "x"\nsuccessUrl = "https://a/s"\n'
            'failureUrl = "https://a/f"\ncancelUrl = "https://a/c"\n',
            "services[0]: orderUrl must be an absolute http(s) URL",
        ),
    ],
)
def test_a_bad_configuration_file_is_named_with_its_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, says: str
) -> None:
    config = tmp_path / "seqr.toml"
    config.write_text(text)
    assert cli.main(["serve", "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert str(config) in error and says in error, error


def test_flags_beat_the_environment_which_beats_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "seqr.toml"
    config.write_text("session_lifetime = 90\nack_window = 5\n")
    args = ["serve", "--config", str(config)]
    monkeypatch.delenv("SEQR_EMULATOR_ACK_WINDOW", raising=False)
    monkeypatch.setenv("SEQR_EMULATOR_SESSION_LIFETIME", "45")
    settings = cli.settings_from(cli._parser().parse_args(args))
    assert (settings.session_lifetime, settings.ack_window) == (45.0, 5.0)
    flagged = cli.settings_from(cli._parser().parse_args([*args, "--session-lifetime", "7"]))
    assert flagged.session_lifetime == 7.0
