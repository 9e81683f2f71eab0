"""SOAP calls in process: request bytes into `SoapEndpoint.handle`, no server, no socket.

For tests that send many bodies (the hostile corpus, the bounds): each call costs what the
emulator's own work costs. `Till` is one terminal's calls; answers are read with `field`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from emulator.backend import SeqrBackend
from emulator.settings import Settings
from emulator.soap.transport import SoapEndpoint, SoapReply
from tests.wire import ENV, context_xml, envelope


def answer_field(reply: SoapReply, name: str) -> str | None:
    found = etree.fromstring(reply.body).find(f".//return/{name}")
    return None if found is None else (found.text or "")


def fault_of(reply: SoapReply) -> tuple[str, str] | None:
    """(faultcode, faultstring) of a Fault, None for an answer."""
    fault = etree.fromstring(reply.body).find(f".//{{{ENV}}}Fault")
    if fault is None:
        return None
    return fault.findtext("faultcode") or "", fault.findtext("faultstring") or ""


def result_code(reply: SoapReply) -> int | None:
    text = answer_field(reply, "resultCode")
    return None if text is None else int(text)


def invoice_xml(total: str = "10.00", extra: str = "", currency: str = "SEK") -> str:
    return (
        f"<invoice><title>Bounds</title><totalAmount><currency>{currency}</currency>"
        f"<value>{total}</value></totalAmount>{extra}</invoice>"
    )


@dataclass
class Till:
    endpoint: SoapEndpoint = field(
        default_factory=lambda: SoapEndpoint(SeqrBackend(Settings(ack_window=0)))
    )
    context: str = field(default_factory=context_xml)

    @property
    def backend(self) -> SeqrBackend:
        return self.endpoint.backend

    def call(self, operation: str, inner: str) -> SoapReply:
        body = envelope(f"<ext:{operation}>{self.context}{inner}</ext:{operation}>")
        return self.endpoint.handle(body)

    def send(self, total: str = "10.00", extra: str = "") -> SoapReply:
        return self.call("sendInvoice", invoice_xml(total, extra))

    def issued(self, total: str = "10.00", extra: str = "") -> str:
        reply = self.send(total, extra)
        assert result_code(reply) == 0, reply.body
        ref = answer_field(reply, "invoiceReference")
        assert ref
        return ref

    def paid(self, total: str = "10.00", extra: str = "") -> tuple[str, str]:
        """A paid invoice's reference and its payment's ersReference."""
        ref = self.issued(total, extra)
        invoice = self.backend.pay(ref)
        assert invoice.payment is not None
        return ref, invoice.payment.ers_reference

    def status(self, ref: str) -> SoapReply:
        return self.call(
            "getPaymentStatus",
            f"<invoiceReference>{ref}</invoiceReference><invoiceVersion>0</invoiceVersion>",
        )

    def update(self, ref: str, total: str = "10.00", extra: str = "") -> SoapReply:
        inner = f"<invoiceReference>{ref}</invoiceReference>{invoice_xml(total, extra)}"
        return self.call("updateInvoice", inner)

    def refund(self, ers: str, total: str = "1.00", extra: str = "") -> SoapReply:
        inner = f"<ersReference>{ers}</ersReference>{invoice_xml(total, extra)}"
        return self.call("refundPayment", inner)

    def commit(self, ref: str, amount: str | None = None) -> SoapReply:
        given = ""
        if amount is not None:
            given = f"<amount><currency>SEK</currency><value>{amount}</value></amount>"
        return self.call("commitReservation", f"{given}<invoiceReference>{ref}</invoiceReference>")

    def receipt(self, ers: str, data: str) -> SoapReply:
        document = (
            "<receiptDocument><mimeType>text/html</mimeType>"
            f"<receiptData>{data}</receiptData><receiptType>PAYMENT_RECEIPT</receiptType>"
            "</receiptDocument>"
        )
        return self.call("submitPaymentReceipt", f"<ersReference>{ers}</ersReference>{document}")
