"""The emulated customer's control API: what the phone does, and the emulator's own knobs."""

from __future__ import annotations

from tests.shop import Control, send


def test_list_and_show_invoices(zeep_service, context, control: Control):
    first = send(zeep_service, context)
    second = send(zeep_service, context, title="Second")
    listed = control.ok("GET", "/invoices")["invoices"]
    assert [i["reference"] for i in listed] == [first, second]
    view = control.invoice(second)
    assert view["title"] == "Second" and view["status"] == "ISSUED" and view["version"] == 0
    assert view["invoiceQRCode"] == f"HTTP://SEQR.SE/R{second}"
    assert view["rows"][0]["description"] == "T-shirt"
    assert view["totalAmount"] == {"value": "100.00", "currency": "SEK"}
    assert view["history"][0]["event"] == "issued"


def test_pay_answers_with_state_and_back_url(zeep_service, context, control):
    ref = send(zeep_service, context)
    paid = control.pay(ref)
    assert paid["status"] == "PAID" and paid["version"] == 1
    assert paid["backURL"] == "https://shop.example/done?order=1001"
    assert paid["payment"]["ersReference"] and paid["payment"]["acknowledged"] is False


def test_reservation_mode_pay_reserves(zeep_service, context, control):
    ref = send(zeep_service, context, paymentMode="RESERVATION_REQUIRED")
    assert control.pay(ref)["status"] == "RESERVED"
    desired = send(zeep_service, context, paymentMode="RESERVATION_DESIRED")
    assert control.pay(desired, reserve=False)["status"] == "PAID"


def test_unknown_reference_is_404_with_a_message(control):
    for action in ("scan", "pay", "cancel", "fail"):
        status, body = control.request("POST", f"/invoices/12345/{action}")
        assert status == 404 and "12345" in body["error"]
    assert control.request("GET", "/invoices/12345")[0] == 404


def test_forbidden_moves_are_409(zeep_service, context, control):
    ref = send(zeep_service, context)
    control.pay(ref)
    for action in ("scan", "pay", "cancel", "fail"):
        status, body = control.request("POST", f"/invoices/{ref}/{action}")
        assert status == 409 and "PAID" in body["error"], action


def test_scan_marks_the_payment_in_progress(zeep_service, context, control):
    ref = send(zeep_service, context)
    scanned = control.scan(ref)
    assert scanned["status"] == "ISSUED" and scanned["inProgress"] is True
    assert scanned["version"] == 0


def test_reset_forgets_everything(zeep_service, context, control):
    ref = send(zeep_service, context)
    assert control.ok("POST", "/reset") == {"reset": True}
    assert control.ok("GET", "/invoices")["invoices"] == []
    assert control.request("GET", f"/invoices/{ref}")[0] == 404


def test_clock_advances_only_forward(control):
    before = control.ok("GET", "/clock")["now"]
    after = control.advance(3600)["now"]
    assert after > before
    status, body = control.request("POST", "/clock/advance", {"seconds": -1})
    assert status == 400 and "seconds" in body["error"]


def test_concurrent_payments_of_one_invoice_succeed_once(zeep_service, context, control):
    from concurrent.futures import ThreadPoolExecutor

    ref = send(zeep_service, context)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(lambda _: control.request("POST", f"/invoices/{ref}/pay")[0], range(8))
        )
    assert sorted(statuses) == [200] + [409] * 7


def test_concurrent_refunds_never_exceed_the_payment(zeep_service, context, control):
    from concurrent.futures import ThreadPoolExecutor

    ref = send(zeep_service, context, total="100.00")
    control.pay(ref)
    ers = control.invoice(ref)["payment"]["ersReference"]

    def refund(_: int) -> int:
        return zeep_service.refundPayment(
            context=context,
            ersReference=ers,
            invoice={"totalAmount": {"currency": "SEK", "value": "30.00"}},
        ).resultCode

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(refund, range(8)))
    assert sorted(codes) == [0, 0, 0] + [98] * 5
    assert control.invoice(ref)["refundedTotal"] == "90.00"


def test_an_unknown_control_route_answers_json(control):
    status, body = control.request("GET", "/no/such/thing")
    assert status == 404 and "GET /_emulator/no/such/thing" in body["error"]


def test_a_control_route_asked_with_the_wrong_method_names_the_right_ones(control):
    status, body = control.request("DELETE", "/invoices")
    assert status == 405 and "allowed: GET" in body["error"]


def test_health_says_ready_with_the_version_and_counts(emulator, zeep_service, context, control):
    from emulator import __version__

    send(zeep_service, context)
    health = control.ok("GET", "/health")
    assert health["status"] == "ok" and health["ready"] is True
    assert health["version"] == __version__ and health["invoices"] == 1
    assert health["terminals"] >= 1 and health["scenarios"] > 0


async def test_health_is_503_while_the_emulator_starts_or_stops():
    from aiohttp.test_utils import make_mocked_request

    from emulator.backend import SeqrBackend
    from emulator.control import Lifecycle, health_route
    from emulator.settings import Settings

    lifecycle = Lifecycle()
    [(_, _, health)] = health_route(lifecycle)
    backend = SeqrBackend(Settings())
    request = make_mocked_request("GET", "/_emulator/health")
    assert (await health(backend, request)).status == 503  # starting
    await lifecycle.started(None)  # type: ignore[arg-type]
    assert (await health(backend, request)).status == 200
    await lifecycle.stopped(None)  # type: ignore[arg-type]
    answer = await health(backend, request)
    assert answer.status == 503 and b'"stopping"' in answer.body
