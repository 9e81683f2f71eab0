"""Every SEQR URL the customer's app understands, read into a small typed value.

The app meets these as printed QR codes (`HTTP://SEQR.SE/...`, upper case so that they fit
the QR alphanumeric mode), as deep links a web page or a plugin hands it (`seqr://`,
`SEQR://`, the demo app's `seqr-demo://`, the test server's `SEQR-DEBUG:`), and as the one
action link a service page uses to leave the app's web view (`SEQR-ACTION://WIZARD/CANCEL`).
Scheme and host are read without regard to case; identifiers keep theirs. What a value
leads to (which invoice, which service) is the backend's business, not this module's.

The codes are also built here (`invoice_qr`, `terminal_qr`, `service_qr`, `deep_link`,
`app_link`), so the format SEQR printed and the format the app reads live side by side.
Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import unquote

HOST = "seqr.se"
SERVICE_ROUTE = "000"  # the "service routing key" of the External Service guide
_LINK_SCHEMES = frozenset({"http", "https", "seqr", "seqr-demo", "seqr-debug"})
_ACTION_SCHEME = "seqr-action"
PRINTED = "HTTP://SEQR.SE/"  # upper case: a printed code fits the QR alphanumeric mode
DEEP_LINK = "seqr://SEQR.SE/"


def invoice_qr(reference: str) -> str:
    """An invoice's `invoiceQRCode`, as sendInvoice answers it and the app scans it."""
    return f"{PRINTED}R{reference}"


def deep_link(reference: str) -> str:
    """What a page on the customer's phone links to, to open the invoice in the app."""
    return f"{DEEP_LINK}R{reference}"


def app_link(qr_code: str) -> str | None:
    """The link a merchant's app opens to pay an invoice: its invoiceQRCode with the leading
    `HTTP:` replaced by `seqr:` (the in-app guide); None for a code that has no `HTTP:`."""
    scheme, sep, rest = qr_code.strip().partition(":")
    return f"seqr:{rest}" if sep and scheme.lower() == "http" else None


def terminal_qr(seqr_id: str) -> str:
    """What a till's printed sticker encodes (assignSeqrId binds it to the till)."""
    return f"{PRINTED}Q{seqr_id}"


def service_qr(service_id: str) -> str:
    """The printed code of an external service, before the merchant adds parameters."""
    return f"{PRINTED}{SERVICE_ROUTE}/{service_id}"


class NotSeqrUrl(ValueError):
    """The text is not a SEQR URL the app knows how to follow."""


@dataclass(frozen=True, slots=True)
class ServiceLink:
    """`HTTP://SEQR.SE/000/<id>?p=v`: an external service, with the QR's own parameters."""

    service_id: str
    parameters: tuple[tuple[str, str], ...]
    scheme: str


@dataclass(frozen=True, slots=True)
class InvoiceLink:
    """`HTTP://SEQR.SE/R<ref>`, or a service page's `SEQR://SEQR.SE/000<ref>`."""

    reference: str
    scheme: str


@dataclass(frozen=True, slots=True)
class TerminalLink:
    """`HTTP://SEQR.SE/Q<seqrId>`: a till's printed sticker, which leads to its open invoice."""

    seqr_id: str
    scheme: str


@dataclass(frozen=True, slots=True)
class WizardCancel:
    """`SEQR-ACTION://WIZARD/CANCEL`: the service page gives up and hands back to the app."""


SeqrUrl = ServiceLink | InvoiceLink | TerminalLink | WizardCancel


def parse(text: str) -> SeqrUrl:
    """Read a scanned or linked SEQR URL; `NotSeqrUrl` says why when it is not one."""
    url = text.strip()
    scheme, sep, rest = url.partition(":")
    scheme = scheme.lower()
    if not sep or not scheme:
        raise NotSeqrUrl(f"{text!r} is not a URL")
    if scheme == _ACTION_SCHEME:
        if rest.upper().rstrip("/") == "//WIZARD/CANCEL":
            return WizardCancel()
        raise NotSeqrUrl(f"unknown SEQR action {text!r}")
    if scheme not in _LINK_SCHEMES:
        raise NotSeqrUrl(f"{text!r} is not a SEQR URL (scheme {scheme!r})")
    if scheme == "seqr-debug" and not rest.startswith("//"):
        inner = parse(rest)  # `SEQR-DEBUG:HTTP://SEQR.SE/...`: the test server's prefix
        if isinstance(inner, WizardCancel):
            raise NotSeqrUrl(f"{text!r} is not a SEQR URL")
        return replace(inner, scheme=scheme)
    if not rest.startswith("//"):
        raise NotSeqrUrl(f"{text!r} has no host")
    authority, slash, path_and_query = rest[2:].partition("/")
    if authority.partition(":")[0].lower() != HOST:
        raise NotSeqrUrl(f"{text!r} is not on {HOST.upper()}")
    path, _, query = (slash + path_and_query).partition("?")
    path = path.partition("#")[0]
    query = query.partition("#")[0]
    return _route(path.lstrip("/"), query, scheme, text)


def _route(path: str, query: str, scheme: str, text: str) -> SeqrUrl:
    if path.startswith(SERVICE_ROUTE):
        rest = path[len(SERVICE_ROUTE) :]
        if rest.startswith("/"):
            service_id = unquote(rest[1:].rstrip("/"))
            if not service_id or "/" in service_id:
                raise NotSeqrUrl(f"{text!r} names no service")
            return ServiceLink(service_id, query_pairs(query), scheme)
        if rest.isascii() and rest.isdigit():
            return InvoiceLink(rest, scheme)
        if rest:  # the guide's `000<service ID>`, written without the slash
            return ServiceLink(unquote(rest), query_pairs(query), scheme)
        raise NotSeqrUrl(f"{text!r} names no service or invoice")
    kind, value = path[:1].upper(), path[1:].rstrip("/")
    if kind in ("R", "Q") and value and value.isascii() and value.isalnum():
        return InvoiceLink(value, scheme) if kind == "R" else TerminalLink(value, scheme)
    raise NotSeqrUrl(f"{text!r} is not a SEQR code the app knows (/R, /Q or /000)")


def query_pairs(query: str) -> tuple[tuple[str, str], ...]:
    """The query's pairs in order, repeats kept, percent-escapes decoded, `+` left as it is.

    A printed code is read literally: in the QR alphanumeric alphabet `+` is a character, not
    an encoded space, so it reaches the merchant unchanged.
    """
    pairs = []
    for part in query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote(key), unquote(value)))
    return tuple(pairs)
