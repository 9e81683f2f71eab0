"""Hand-made journal entries, for testing the examiner's grading without a server.

`Traffic` writes the SOAP envelopes a merchant would send and the answers SEQR would give,
as `journal.Record`s in journal order on a clock of its own, so a grading test states the
traffic it judges in a few lines. The end-to-end tests make the same traffic with real
clients against a real emulator.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from emulator.journal import CALL, NOTIFICATION, Attempt, Outcome, Record

NS = "http://external.interfaces.ers.seamless.com/"


def envelope(operation: str, inner: str) -> bytes:
    return (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:ext="{NS}"><soapenv:Body><ext:{operation}>{inner}</ext:{operation}>'
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()


def answer(operation: str, inner: str) -> bytes:
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<ns2:{operation}Response xmlns:ns2="{NS}"><return>{inner}</return>'
        f"</ns2:{operation}Response></soap:Body></soap:Envelope>"
    ).encode()


def context(
    terminal: str,
    timeout: str | None = "0",
    client_id: str | None = "Example AB",
    client_reference: str | None = "Shop 1.0",
    kind: str = "TERMINALID",
) -> str:
    parts = []
    if client_id is not None:
        parts.append(f"<clientId>{client_id}</clientId>")
    if client_reference is not None:
        parts.append(f"<clientReference>{client_reference}</clientReference>")
    if timeout is not None:
        parts.append(f"<clientRequestTimeout>{timeout}</clientRequestTimeout>")
    parts.append(f"<initiatorPrincipalId><id>{terminal}</id><type>{kind}</type>")
    parts.append("</initiatorPrincipalId><password>***</password>")
    return "<context>" + "".join(parts) + "</context>"


class Traffic:
    """A merchant's journal, written by hand: each method appends one entry."""

    def __init__(self, terminal: str = "shop-1", **context_options: str | None) -> None:
        self.terminal = terminal
        self.records: list[Record] = []
        self.now = datetime(2026, 1, 1, 12, tzinfo=UTC)
        self.options = context_options

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def _add(self, **fields: object) -> Record:
        made = Record(seq=len(self.records) + 1, at=self.now, **fields)  # type: ignore[arg-type]
        self.records.append(made)
        return made

    def call(
        self,
        operation: str,
        inner: str,
        reply: str,
        result_code: int = 0,
        invoice: str | None = None,
        terminal: str | None = None,
        **context_options: str | None,
    ) -> Record:
        terminal = terminal or self.terminal
        options = {**self.options, **context_options}
        request = envelope(operation, context(terminal, **options) + inner)  # type: ignore[arg-type]
        body = answer(operation, f"<resultCode>{result_code}</resultCode>{reply}")
        return self._add(
            kind=CALL,
            operation=operation,
            terminal=terminal,
            invoice=invoice,
            result_code=result_code,
            status=200,
            request=request,
            request_size=len(request),
            answer=body,
            answer_size=len(body),
        )

    def send(
        self,
        ref: str,
        *,
        ack: str | None = "NO_ACKNOWLEDGMENT",
        url: str | None = "https://shop.example/notify?order={ref}",
        back: str | None = "https://shop.example/done?order={ref}",
        total: str = "100.00",
        rows: str = "<invoiceRow><itemQuantity>1</itemQuantity>"
        "<itemTotalAmount><currency>SEK</currency><value>{total}</value></itemTotalAmount>"
        "</invoiceRow>",
        result_code: int = 0,
        **context_options: str | None,
    ) -> Record:
        parts = []
        if ack:
            parts.append(f"<acknowledgmentMode>{ack}</acknowledgmentMode>")
        parts.append(f"<invoiceRows>{rows.format(total=total)}</invoiceRows>")
        parts.append(f"<totalAmount><currency>SEK</currency><value>{total}</value></totalAmount>")
        if back:
            parts.append(f"<backURL>{back.format(ref=ref)}</backURL>")
        if url:
            parts.append(f"<notificationUrl>{url.format(ref=ref)}</notificationUrl>")
        reply = (
            f"<invoiceQRCode>HTTP://SEQR.SE/R{ref}</invoiceQRCode>"
            f"<invoiceReference>{ref}</invoiceReference>"
            if result_code == 0
            else ""
        )
        return self.call(
            "sendInvoice",
            "<invoice>" + "".join(parts) + "</invoice>",
            reply,
            result_code,
            invoice=ref if result_code == 0 else None,
            **context_options,
        )

    def poll(
        self, ref: str, status: str = "ISSUED", ers: str | None = None, total: str = "100.00"
    ) -> Record:
        reply = f"<status>{status}</status>"
        if status == "PAID":
            ers = ers or f"E{ref}"
            reply = (
                f"<ersReference>{ers}</ersReference><resultCode>0</resultCode>"
                f"<status>PAID</status><receipt><invoiceReference>{ref}</invoiceReference>"
                f"<paymentReference>{ers}</paymentReference><invoice><totalAmount>"
                f"<currency>SEK</currency><value>{total}</value></totalAmount></invoice>"
                "</receipt>"
            )
            record = self.call(
                "getPaymentStatus",
                f"<invoiceReference>{ref}</invoiceReference><invoiceVersion>0</invoiceVersion>",
                "",
                invoice=ref,
            )
            body = answer("getPaymentStatus", reply + "<customerTokens/><version>1</version>")
            fixed = replace(record, answer=body, answer_size=len(body))
            self.records[-1] = fixed
            return fixed
        return self.call(
            "getPaymentStatus",
            f"<invoiceReference>{ref}</invoiceReference><invoiceVersion>0</invoiceVersion>",
            reply + "<customerTokens/><version>0</version>",
            invoice=ref,
        )

    def notify(
        self, ref: str, action: str = "deliver", outcome: Outcome = Outcome.DELIVERED
    ) -> Record:
        made = Attempt(
            len(self.records) + 1,
            ref,
            "paid",
            f"https://shop.example/notify?order={ref}",
            self.now,
            action,
            outcome,
            200 if outcome is Outcome.DELIVERED else None,
        )
        return self._add(
            kind=NOTIFICATION, terminal=self.terminal, invoice=ref, status=made.status, attempt=made
        )

    def refund(self, ers: str, value: str, result_code: int = 0, made: str = "R1") -> Record:
        inner = (
            f"<ersReference>{ers}</ersReference><invoice><totalAmount><currency>SEK</currency>"
            f"<value>{value}</value></totalAmount></invoice>"
        )
        reply = f"<ersReference>{made}</ersReference>" if result_code == 0 else ""
        record = self.call("refundPayment", inner, "", result_code)
        body = answer("refundPayment", reply + f"<resultCode>{result_code}</resultCode>")
        fixed = replace(record, answer=body, answer_size=len(body))
        self.records[-1] = fixed
        return fixed

    def receipt(self, ers: str, result_code: int = 0) -> Record:
        inner = (
            f"<ersReference>{ers}</ersReference><receiptDocument><mimeType>Base64</mimeType>"
            "<receiptData></receiptData></receiptDocument>"
        )
        return self.call("submitPaymentReceipt", inner, "", result_code)

    def cancel(self, ref: str, result_code: int = 0) -> Record:
        return self.call(
            "cancelInvoice", f"<invoiceReference>{ref}</invoiceReference>", "", result_code, ref
        )

    def commit(self, ref: str, result_code: int = 0) -> Record:
        return self.call(
            "commitReservation", f"<invoiceReference>{ref}</invoiceReference>", "", result_code, ref
        )

    def mark(self, reseller: str = "public_test_shop", till: str | None = None) -> Record:
        entry = (
            f"<parameters><parameter><entry><key>TERMINALID</key><value>{till}</value></entry>"
            "</parameter></parameters>"
            if till
            else ""
        )
        return self.call(
            "markTransactionPeriod",
            entry,
            "<transactionPeriodId>P1</transactionPeriodId>",
            terminal=reseller,
            kind="RESELLERUSER",
        )
