"""Scripted merchants for `seqr-emulator certify -- CMD`: each walks one profile's procedure
with zeep against the emulator in `SEQR_EMULATOR_SOAP_URL`, as a merchant's own test script
would, and `--variant` makes it break the procedure in one way.

    python -m tests.certify_merchants webshop [--variant skip-receipt]

Variants: skip-receipt (webshop test 3 skipped), timeout-30 (clientRequestTimeout 30),
never-ack (the refund test's payment is never polled), poll-after-paid (the first invoice
polled on after PAID), over-refund (a second full refund, answered 98); for a till,
no-sticker (no SEQR ID assigned, so the customer scans the invoice's own code) and
scan-invoice-qr (the phone scans the QR on the till's display, not the sticker); for an
app, http-link (it opens invoiceQRCode itself) and demo-link (`seqr-demo:`, the demo app's);
for a service, outside-session (the page opens the link without the session's token).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import urllib.request
from typing import Any

import zeep

from tests.merchant import Merchant

TERMINAL = {"id": "public_test_shop_terminal", "type": "TERMINALID"}
RESELLER = {"id": "public_test_shop", "type": "RESELLERUSER", "userId": "9900"}
NOTIFY_WAIT = 10.0  # seconds a merchant waits for its notification before giving up


class Shop:
    def __init__(
        self, soap_url: str, control: str, variant: str | None, receiver: Merchant | None
    ) -> None:
        self.control = control
        self.client = zeep.Client(soap_url + "?wsdl")
        [binding] = self.client.wsdl.bindings
        self.seqr = self.client.create_service(binding, soap_url)
        self.variant = variant
        self.receiver = receiver
        self.orders = 0
        self.codes: dict[str, str] = {}  # invoiceReference -> invoiceQRCode

    def context(self, principal: dict[str, str], password: str) -> dict[str, Any]:
        return {
            "clientId": "Example AB",
            "clientReference": "Example shop 1.0",
            "clientRequestTimeout": 30 if self.variant == "timeout-30" else 0,
            "initiatorPrincipalId": principal,
            "password": password,
        }

    def send(self, ctx: dict[str, Any], *, notify: bool = True, back: bool = True) -> str:
        self.orders += 1
        order = self.orders
        invoice: dict[str, Any] = {
            "paymentMode": "IMMEDIATE_DEBIT",
            "acknowledgmentMode": "NO_ACKNOWLEDGMENT",
            "title": f"Order {order}",
            "clientInvoiceId": str(order),
            "invoiceRows": {
                "invoiceRow": [
                    {
                        "itemDescription": "Coffee",
                        "itemQuantity": "1",
                        "itemTotalAmount": {"currency": "SEK", "value": "25.00"},
                    }
                ]
            },
            "totalAmount": {"currency": "SEK", "value": "25.00"},
        }
        if back:
            invoice["backURL"] = f"https://shop.example/done?order={order}"
        if notify and self.receiver is not None:
            invoice["notificationUrl"] = self.receiver.url(f"/seqr/notify?order={order}")
        answer = self.seqr.sendInvoice(context=ctx, invoice=invoice)
        assert answer.resultCode == 0, answer
        self.codes[str(answer.invoiceReference)] = str(answer.invoiceQRCode)
        return str(answer.invoiceReference)

    def link(self, ref: str) -> str:
        """What the merchant's app or page opens: invoiceQRCode with HTTP: made seqr:."""
        code = self.codes[ref]
        if self.variant == "http-link":
            return code
        scheme = "seqr-demo" if self.variant == "demo-link" else "seqr"
        return scheme + code[len("HTTP") :]

    def open(self, ref: str, token: str | None = None) -> Any:
        """Hand the link to the SEQR app: the customer pays, the app returns."""
        body = {"url": self.link(ref)}
        if token is not None and self.variant != "outside-session":
            body["token"] = token
        return _control(self.control, "POST", "/app/open", body)

    def poll(self, ctx: dict[str, Any], ref: str) -> Any:
        return self.seqr.getPaymentStatus(context=ctx, invoiceReference=ref, invoiceVersion=0)

    def notified(self, ref: str) -> bool:
        """Until the notification for `ref` came (the merchant's handler would poll then)."""
        receiver = self.receiver
        if receiver is None:
            return True

        def came(m: Merchant) -> bool:
            return any(r.form.get("invoiceReference") == ref for r in m.received)

        if not receiver.wait_for(came, NOTIFY_WAIT):
            return False
        return self._journaled(ref)

    def _journaled(self, ref: str) -> bool:
        """Until the emulator has journaled the attempt too, so that the journal's order (and
        with it every report of the run) is the same in every run."""
        deadline = time.monotonic() + NOTIFY_WAIT
        while time.monotonic() < deadline:
            found = _control(self.control, "GET", f"/notifications?invoice={ref}", None)
            if found["notifications"]:
                return True
            time.sleep(0.01)
        return False

    def until_paid(self, ctx: dict[str, Any], ref: str) -> str:
        """Poll while ISSUED (the customer pays after the second poll), then once notified;
        the payment's ersReference."""
        assert self.poll(ctx, ref).status == "ISSUED"
        if self.variant == "scan-invoice-qr":
            _control(self.control, "POST", "/app/scan", {"url": f"HTTP://SEQR.SE/R{ref}"})
        assert self.poll(ctx, ref).status == "ISSUED"
        assert self.notified(ref)
        paid = self.poll(ctx, ref)
        assert paid.status == "PAID", paid
        return str(paid.ersReference)

    def receipt(self, ctx: dict[str, Any], ers: str) -> None:
        document = {"mimeType": "Base64", "receiptData": b"", "receiptType": "PAYMENT_RECEIPT"}
        answer = self.seqr.submitPaymentReceipt(
            context=ctx, ersReference=ers, receiptDocument=document
        )
        assert answer.resultCode == 0, answer

    def refund(self, ctx: dict[str, Any], ers: str) -> int:
        invoice = {"title": "Refund", "totalAmount": {"currency": "SEK", "value": "25.00"}}
        return int(
            self.seqr.refundPayment(context=ctx, ersReference=ers, invoice=invoice).resultCode
        )

    def checklist(self, ctx: dict[str, Any], reseller: dict[str, Any]) -> None:
        """The tests common to both procedures, from sendInvoice to markTransactionPeriod."""
        first = self.send(ctx)
        ers = self.until_paid(ctx, first)
        if self.variant == "poll-after-paid":
            for _ in range(3):
                self.poll(ctx, first)
        if self.variant != "skip-receipt":
            self.receipt(ctx, ers)
        second = self.send(ctx)  # SEQR's side: the 30 seconds pass here
        assert self.poll(ctx, first).resultCode == 0
        assert self.poll(ctx, second).status == "ISSUED"
        assert self.seqr.cancelInvoice(context=ctx, invoiceReference=second).resultCode == 0
        third = self.send(ctx)
        if self.variant == "never-ack":
            assert self.poll(ctx, third).status == "ISSUED"
            assert self.poll(ctx, third).status == "ISSUED"
            assert self.notified(third)  # and never polls it again
        else:
            paid = self.until_paid(ctx, third)
            assert self.refund(ctx, paid) == 0
            if self.variant == "over-refund":
                assert self.refund(ctx, paid) == 98
        assert self.seqr.markTransactionPeriod(context=reseller).resultCode == 0


def webshop(shop: Shop) -> None:
    shop.checklist(shop.context(TERMINAL, "12345678"), shop.context(RESELLER, "1234"))


def pos(shop: Shop) -> None:
    reseller = shop.context(RESELLER, "1234")
    made = shop.seqr.registerTerminal(
        context=reseller,
        externalTerminalId="Store 1/Till 1",
        password="till-secret-1",
        name="Till 1",
    )
    assert made.resultCode == 0, made
    till = shop.context({"id": made.terminalId, "type": "TERMINALID"}, "till-secret-1")
    if shop.variant != "no-sticker":
        assert shop.seqr.assignSeqrId(context=till, seqrId="examplecafe0001").resultCode == 0
    shop.checklist(till, reseller)
    assert shop.seqr.unregisterTerminal(context=till).resultCode == 0


def app(shop: Shop) -> None:
    ctx = shop.context(TERMINAL, "12345678")
    ref = shop.send(ctx)
    back = shop.open(ref)  # the customer follows the seqr: link and pays at once
    assert back["open"] == f"https://shop.example/done?order={shop.orders}", back
    assert shop.notified(ref)  # the app returned (backURL); one poll reads the outcome
    assert shop.poll(ctx, ref).status == "PAID"


def service(shop: Shop, control: str) -> None:
    ctx = shop.context(TERMINAL, "12345678")
    pages = {k: f"https://service.example/{k[:-3]}" for k in
             ("orderUrl", "successUrl", "failureUrl", "cancelUrl")}  # fmt: skip
    _control(control, "PUT", "/services/CAFE", pages)
    scanned = {
        "url": "HTTP://SEQR.SE/000/CAFE?t=1",
        "msisdn": "46701234567",
        "subscriberKey": "132",
    }
    token = _control(control, "POST", "/app/scan", scanned)
    info = shop.seqr.getClientSessionInfo(context=ctx, key=token["token"])
    assert info.resultCode == 0, info
    ref = shop.send(ctx)
    shop.open(ref, token["token"])  # the order page sends the app to the invoice
    assert shop.notified(ref)
    assert shop.poll(ctx, ref).status == "PAID"


def _control(base: str, method: str, path: str, body: dict[str, Any] | None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + "/_emulator" + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", choices=["webshop", "pos", "app", "service"])
    parser.add_argument("--variant")
    args = parser.parse_args()
    soap_url = os.environ["SEQR_EMULATOR_SOAP_URL"]
    with Merchant() as receiver:
        control = os.environ["SEQR_EMULATOR_URL"]
        shop = Shop(soap_url, control, args.variant, None if args.profile == "pos" else receiver)
        try:
            if args.profile == "service":
                service(shop, os.environ["SEQR_EMULATOR_URL"])
            else:
                {"webshop": webshop, "pos": pos, "app": app}[args.profile](shop)
        finally:
            shop.client.transport.session.close()


if __name__ == "__main__":
    main()
