"""Raw SOAP over HTTP for tests that care about bytes: prefixes, headers, chunking, faults."""

from __future__ import annotations

import http.client
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import etree

SEQR = "http://external.interfaces.ers.seamless.com/"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def xml(self) -> etree._Element:
        return etree.fromstring(self.body)

    def field(self, name: str) -> str | None:
        found = self.xml.find(f".//return/{name}")
        return None if found is None else (found.text or "")

    @property
    def fault(self) -> tuple[str, str] | None:
        fault = self.xml.find(f".//{{{ENV}}}Fault")
        if fault is None:
            return None
        return fault.findtext("faultcode") or "", fault.findtext("faultstring") or ""


def post(
    url: str,
    body: bytes | Iterable[bytes],
    *,
    content_type: str | None = "text/xml; charset=utf-8",
    soap_action: str | None = '""',
    chunked: bool = False,
) -> Reply:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if soap_action is not None:
        headers["SOAPAction"] = soap_action
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
        conn.request(
            "POST",
            path,
            body=iter(body if not isinstance(body, bytes) else [body]),
            headers=headers,
            encode_chunked=True,
        )
    else:
        conn.request("POST", path, body=body, headers=headers)
    resp = conn.getresponse()
    reply = Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    conn.close()
    return reply


def context_xml(terminal: str = "wire-terminal", password: str = "wire-secret") -> str:
    return (
        "<context><clientRequestTimeout>0</clientRequestTimeout>"
        f"<initiatorPrincipalId><id>{terminal}</id><type>TERMINALID</type></initiatorPrincipalId>"
        f"<password>{password}</password></context>"
    )


def envelope(inner: str, env_prefix: str = "soapenv", seqr_prefix: str = "ext") -> bytes:
    return (
        f'<{env_prefix}:Envelope xmlns:{env_prefix}="{ENV}" xmlns:{seqr_prefix}="{SEQR}">'
        f"<{env_prefix}:Body>{inner}</{env_prefix}:Body></{env_prefix}:Envelope>"
    ).encode()


def send_invoice_xml(prefix: str = "ext", total: str = "10.00", extra: str = "") -> str:
    return (
        f"<{prefix}:sendInvoice>{context_xml()}<invoice><title>Wire</title>"
        f"<totalAmount><currency>SEK</currency><value>{total}</value></totalAmount>{extra}"
        f"</invoice></{prefix}:sendInvoice>"
    )


def status_xml(
    ref: str, prefix: str = "ext", version: str = "<invoiceVersion>0</invoiceVersion>"
) -> str:
    return (
        f"<{prefix}:getPaymentStatus>{context_xml()}<invoiceReference>{ref}</invoiceReference>"
        f"{version}</{prefix}:getPaymentStatus>"
    )
