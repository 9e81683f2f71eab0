"""Cash-register terminals as a till's zeep client sees them: register, sell, sticker, leave."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest

from emulator.domain import seqr_urls
from emulator.domain import terminals as tills
from emulator.domain.errors import ResultCode, SeqrError
from emulator.domain.model import Terminal
from emulator.settings import PUBLIC_TEST_RESELLER, ResellerAccount, Settings, parse_resellers
from tests.shop import Control, make_invoice, send, status

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def reseller_context(
    reseller: str = "public_test_shop", user: str | None = "9900", reseller_password: str = "1234"
) -> dict[str, Any]:
    principal = {"id": reseller, "type": "RESELLERUSER"}
    if user is not None:
        principal["userId"] = user
    return {
        "clientRequestTimeout": 0,
        "initiatorPrincipalId": principal,
        "password": reseller_password,
    }


def till_context(terminal_id: str, password: str) -> dict[str, Any]:
    principal = {"id": terminal_id, "type": "TERMINALID"}
    return {"clientRequestTimeout": 0, "initiatorPrincipalId": principal, "password": password}


def register(
    service: Any, name: str = "Till 1", password: str = "till-secret-1", **ctx: Any
) -> Any:
    return service.registerTerminal(
        context=reseller_context(**ctx),
        externalTerminalId=f"Store 111/{name}",
        password=password,
        name=name,
    )


def new_till(service: Any, name: str = "Till 1", password: str = "till-secret-1") -> dict:
    """Register a till and return the context it signs its own calls with."""
    answer = register(service, name, password)
    assert answer.resultCode == 0, answer
    return till_context(answer.terminalId, password)


# --- registerTerminal --------------------------------------------------------------------------


def test_register_returns_new_terminal_id_that_sells_with_the_tills_password(zeep_service):
    first = register(zeep_service, "Till 1", "till-secret-1")
    second = register(zeep_service, "Till 2", "till-secret-2")
    assert (first.resultCode, first.resultDescription) == (0, "SUCCESS")
    assert HEX32.match(first.terminalId) and HEX32.match(second.terminalId)
    assert first.terminalId != second.terminalId
    assert first.ersReference is None
    assert send(zeep_service, till_context(first.terminalId, "till-secret-1"))
    wrong = zeep_service.sendInvoice(
        context=till_context(first.terminalId, "till-secret-2"), invoice=make_invoice()
    )
    assert wrong.resultCode == 20


def test_reseller_id_with_user_suffix_stands_for_id_and_user(zeep_service):
    answer = register(zeep_service, reseller="public_test_shop/9900", user=None)
    assert answer.resultCode == 0 and HEX32.match(answer.terminalId)


@pytest.mark.parametrize(
    ("ctx", "code"),
    [
        ({"reseller": "no_such_shop"}, 37),
        ({"user": "9901"}, 37),
        ({"reseller_password": "wrong"}, 20),
    ],
)
def test_register_refuses_bad_reseller_credentials(zeep_service, ctx, code):
    answer = register(zeep_service, **ctx)
    assert answer.resultCode == code and answer.terminalId is None


def test_register_with_a_terminal_context_is_21(zeep_service, context):
    answer = zeep_service.registerTerminal(
        context=context, externalTerminalId="x", password="till-secret", name="x"
    )
    assert answer.resultCode == 21


def test_register_refuses_a_password_the_till_could_never_log_in_with(zeep_service):
    assert register(zeep_service, password="123").resultCode == 22


def test_resellers_come_from_configuration(start_emulator, zeep_for):
    server = start_emulator(resellers=(ResellerAccount("shop2", "9900", "pw-2"),))
    service = zeep_for(server)
    assert register(service, reseller="shop2").resultCode == 20  # the public shop's password
    ok = service.registerTerminal(
        context=reseller_context("shop2", "9900", "pw-2"), password="till-secret", name="T"
    )
    assert ok.resultCode == 0
    assert register(service).resultCode == 37  # the public test shop is not configured here


def test_reseller_accounts_parse_from_the_environment():
    settings = Settings.from_env({"SEQR_EMULATOR_RESELLERS": "shop2/9901:a:b, shop3:pw"})
    assert settings.resellers == (
        ResellerAccount("shop2", "9901", "a:b"),
        ResellerAccount("shop3", "9900", "pw"),
    )
    assert Settings.from_env({}).resellers == (PUBLIC_TEST_RESELLER,)
    with pytest.raises(ValueError):
        parse_resellers("no-password")


# --- one open invoice per cash register --------------------------------------------------------


def test_second_invoice_on_a_till_cancels_the_first(zeep_service):
    till = new_till(zeep_service)
    first = send(zeep_service, till, "10.00")
    second = send(zeep_service, till, "20.00")
    assert status(zeep_service, till, first).status == "CANCELED"
    assert status(zeep_service, till, second).status == "ISSUED"
    # a till may poll without a reference: it gets its open invoice
    assert status(zeep_service, till, None).status == "ISSUED"


def test_a_paid_invoice_stays_paid_when_the_till_moves_on(zeep_service, control):
    till = new_till(zeep_service)
    first = send(zeep_service, till)
    control.pay(first)
    second = send(zeep_service, till)
    assert status(zeep_service, till, first).status == "PAID"
    assert status(zeep_service, till, second).status == "ISSUED"


def test_webshop_terminals_keep_many_open_invoices(zeep_service, context):
    first = send(zeep_service, context)
    send(zeep_service, context)
    assert status(zeep_service, context, first).status == "ISSUED"


# --- unregisterTerminal ------------------------------------------------------------------------


def test_unregistered_terminal_is_refused_with_29_even_with_auto_registration(
    zeep_service, emulator
):
    assert emulator.backend.settings.strict_terminals is False
    till = new_till(zeep_service)
    open_ref = send(zeep_service, till)
    assert zeep_service.unregisterTerminal(context=till).resultCode == 0
    after = zeep_service.sendInvoice(context=till, invoice=make_invoice())
    assert after.resultCode == 29
    assert zeep_service.unregisterTerminal(context=till).resultCode == 29
    assert emulator.backend.invoice(open_ref).status.value == "CANCELED"


def test_unregister_with_a_reseller_context_is_21(zeep_service):
    new_till(zeep_service)
    assert zeep_service.unregisterTerminal(context=reseller_context()).resultCode == 21


# --- assignSeqrId and the static QR sticker ----------------------------------------------------


def test_assign_seqr_id_binds_one_sticker_to_one_till(zeep_service, control):
    one, two = new_till(zeep_service, "Till 1"), new_till(zeep_service, "Till 2")
    assert zeep_service.assignSeqrId(context=one, seqrId="shop1till1").resultCode == 0
    assert zeep_service.assignSeqrId(context=one, seqrId="shop1till1").resultCode == 0
    assert zeep_service.assignSeqrId(context=two, seqrId="shop1till1").resultCode == 53
    # a new id frees the old one for another till
    assert zeep_service.assignSeqrId(context=one, seqrId="shop1till9").resultCode == 0
    assert zeep_service.assignSeqrId(context=two, seqrId="shop1till1").resultCode == 0
    view = control.ok("GET", f"/terminals/{one['initiatorPrincipalId']['id']}")
    assert view["seqrId"] == "shop1till9"
    assert view["staticQRCode"] == "HTTP://SEQR.SE/Qshop1till9"
    assert view["cashRegister"] is True and "password" not in view


@pytest.mark.parametrize("seqr_id", ["shop-1", "shop 1", "", "kassa\u00e51", "a/b"])
def test_assign_seqr_id_that_is_not_alphanumeric_is_53(zeep_service, seqr_id):
    till = new_till(zeep_service)
    answer = zeep_service.assignSeqrId(context=till, seqrId=seqr_id)
    assert (answer.resultCode, answer.resultDescription) == (53, "INVALID_SEQR_ID")


def test_scanning_the_static_qr_pays_the_tills_open_invoice(zeep_service, control):
    till = new_till(zeep_service)
    assert zeep_service.assignSeqrId(context=till, seqrId="Kassa7").resultCode == 0
    assert control.request("POST", "/seqr-ids/Kassa7/scan")[0] == 409  # no amount yet
    send(zeep_service, till, "5.00")
    current = send(zeep_service, till, "42.00")
    paid = control.ok("POST", "/seqr-ids/Kassa7/scan", {"pay": True})
    assert (paid["reference"], paid["status"]) == (current, "PAID")
    answer = status(zeep_service, till, current)
    assert answer.status == "PAID" and answer.receipt.invoice.totalAmount.value == 42
    assert control.request("POST", "/seqr-ids/Kassa7/scan")[0] == 409  # paid: nothing open
    assert control.request("POST", "/seqr-ids/Unknown1/scan")[0] == 404


def test_scan_then_pay_like_the_app(zeep_service, control: Control):
    till = new_till(zeep_service)
    zeep_service.assignSeqrId(context=till, seqrId="Kassa8")
    ref = send(zeep_service, till)
    scanned = control.ok("POST", "/seqr-ids/Kassa8/scan")
    assert (scanned["reference"], scanned["status"], scanned["inProgress"]) == (ref, "ISSUED", True)
    assert control.pay(ref)["status"] == "PAID"


def test_unregistering_frees_the_sticker(zeep_service, control):
    till = new_till(zeep_service)
    zeep_service.assignSeqrId(context=till, seqrId="Kassa9")
    send(zeep_service, till)
    zeep_service.unregisterTerminal(context=till)
    assert control.request("POST", "/seqr-ids/Kassa9/scan")[0] == 404
    assert (
        zeep_service.assignSeqrId(context=new_till(zeep_service), seqrId="Kassa9").resultCode == 0
    )


def test_sticker_image_is_served_as_png(zeep_service, emulator):
    pytest.importorskip("PIL")
    import urllib.error
    import urllib.request

    till = new_till(zeep_service)
    terminal_id = till["initiatorPrincipalId"]["id"]
    url = f"{emulator.url}/_emulator/terminals/{terminal_id}/qr.png"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(url, timeout=10)
    assert missing.value.code == 404  # no SEQR id yet
    missing.value.close()
    zeep_service.assignSeqrId(context=till, seqrId="KASSA1")
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.headers["Content-Type"] == "image/png"
        assert resp.read().startswith(b"\x89PNG")


# --- the rules themselves ----------------------------------------------------------------------


def test_static_qr_is_what_the_sticker_encodes():
    assert seqr_urls.terminal_qr("abc1") == "HTTP://SEQR.SE/Qabc1"


def test_scanned_codes_lead_to_invoices_and_tills(zeep_service, control):
    till = new_till(zeep_service)
    zeep_service.assignSeqrId(context=till, seqrId="shop1till1")
    ref = zeep_service.sendInvoice(context=till, invoice=make_invoice()).invoiceReference
    for code in (
        "HTTP://SEQR.SE/Qshop1till1",
        "http://seqr.se/qshop1till1",
        f"seqr://SEQR.SE/R{ref}",
    ):
        assert control.ok("GET", f"/lookup?code={quote(code)}")["reference"] == ref
    for code in ("HTTP://EXAMPLE.COM/Q1", "HTTP://SEQR.SE/S123", "HTTP://SEQR.SE/Q", "nonsense"):
        assert control.request("GET", f"/lookup?code={quote(code)}")[0] == 404


def test_assign_and_release_keep_the_index_consistent():
    one, two = Terminal("t1", "pw12"), Terminal("t2", "pw12")
    owners: dict[str, str] = {}
    tills.assign_seqr_id(one, " A1 ", owners)
    assert (one.seqr_id, owners) == ("A1", {"A1": "t1"})
    with pytest.raises(SeqrError) as taken:
        tills.assign_seqr_id(two, "A1", owners)
    assert taken.value.code is ResultCode.INVALID_SEQR_ID and two.seqr_id is None
    tills.assign_seqr_id(one, "B2", owners)
    assert owners == {"B2": "t1"}
    tills.release_seqr_id(one, owners)
    assert (one.seqr_id, owners) == (None, {})


def test_registered_terminal_is_a_cash_register_of_its_shop():
    made = tills.register("f" * 32, "shop", "Store 1/Till 4", "secret", "Till 4")
    assert made.cash_register and made.reseller_id == "shop" and made.password == "secret"
    with pytest.raises(SeqrError) as short:
        tills.register("f" * 32, "shop", None, None, None)
    assert short.value.code is ResultCode.INVALID_NEW_PASSWORD


def test_a_password_under_four_characters_is_21_and_the_log_says_why(zeep_service, caplog):
    short = {
        "clientRequestTimeout": 0,
        "initiatorPrincipalId": {"id": "short-password-till", "type": "TERMINALID"},
        "password": "abc",
    }
    with caplog.at_level("WARNING", logger="emulator.backend.principals"):
        for _ in range(3):
            answer = zeep_service.getPaymentStatus(
                context=short, invoiceReference="1", invoiceVersion=0
            )
            assert answer.resultCode == 21
    why = [r.getMessage() for r in caplog.records if "short-password-till" in r.getMessage()]
    assert len(why) == 1, why  # once per terminal, not once per call
    assert "shorter than 4" in why[0] and "21 ACCESS_DENIED" in why[0] and "abc" not in why[0]
