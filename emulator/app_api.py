"""The phone's side of the External Service flow, and the service definitions, as JSON routes.

`POST /_emulator/app/scan` is what the SEQR app does with a URL it scanned or was sent to:
a service code opens a session and names the order page to open; an invoice or a till's
sticker opens that invoice (tied to the session when the request names its `token`); the
service page's `SEQR-ACTION://WIZARD/CANCEL` closes the session. `POST /_emulator/app/open`
is the app handed an invoice's link by a merchant's app or page: it opens the invoice, the
customer pays (or cancels), and the app returns to the page it names.
`/_emulator/services/{id}` defines the services. Handlers are thin: parse, call one backend
verb, answer with a view; errors become JSON in `control.json_errors`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from emulator.backend import SeqrBackend
from emulator.control import BadRequest, add_json_routes, read_json, tokens_from
from emulator.domain import seqr_urls
from emulator.domain import services as ext
from emulator.domain.model import Customer
from emulator.views import invoice_detail

Json = dict[str, Any]
PAGES = ext.PAGES


def service_view(definition: ext.ServiceDefinition) -> Json:
    view: Json = {"id": definition.id}
    view.update({name: getattr(definition, attr) for name, attr in PAGES.items()})
    view["qrCode"] = seqr_urls.service_qr(definition.id)
    return view


def session_view(session: ext.CustomerSession) -> Json:
    """`open` is the page the app shows now: the order page until there is an outcome."""
    upcoming = ext.next_url(session)
    return {
        "token": session.token,
        "serviceId": session.service.id,
        "state": session.state.value,
        "parameters": [{"key": k, "value": v} for k, v in session.parameters],
        "msisdn": session.customer.msisdn,
        "subscriberKey": session.customer.subscriber_key,
        "createdAt": session.created_at.isoformat(),
        "invoiceReference": session.invoice_reference,
        "open": ext.order_url(session) if upcoming is None else upcoming,
    }


def _text(body: Json, key: str) -> str | None:
    value = body.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise BadRequest(f"{key} must be a non-empty string")
    return value.strip() if value is not None else None


def _customer(backend: SeqrBackend, body: Json) -> Customer | None:
    """The body may name the simulated customer; by default it is the emulator's own."""
    msisdn, key = _text(body, "msisdn"), _text(body, "subscriberKey")
    if msisdn is None and key is None:
        return None
    made = backend.customer()
    return Customer(msisdn or made.msisdn, key or made.subscriber_key, made.payer_terminal_id)


async def scan(backend: SeqrBackend, request: web.Request) -> web.Response:
    body = await read_json(request)
    url, token = _text(body, "url"), _text(body, "token")
    if url is None:
        raise BadRequest("url is required: the SEQR URL the app scanned or was sent to")
    try:
        target = seqr_urls.parse(url)
    except seqr_urls.NotSeqrUrl as exc:
        raise BadRequest(str(exc)) from None
    if isinstance(target, seqr_urls.ServiceLink):
        session = backend.open_session(
            target.service_id, target.parameters, _customer(backend, body)
        )
        return _service_answer(session)
    if isinstance(target, seqr_urls.WizardCancel):
        if token is None:
            raise BadRequest("SEQR-ACTION://WIZARD/CANCEL needs the session's token")
        return _service_answer(backend.close_session(token))
    invoice = backend.scan_code(url, tokens_from(body), session_token=token)
    extra: Json = {"kind": "invoice"}
    if isinstance(target, seqr_urls.TerminalLink):
        extra = {"kind": "terminal", "seqrId": target.seqr_id, "terminalId": invoice.terminal_id}
    answer: Json = {**extra, "open": None, "reference": invoice.reference}
    if token is not None:
        answer["token"] = token
    answer["invoice"] = invoice_detail(backend.invoice(invoice.reference))
    return web.json_response(answer)


async def open_link(backend: SeqrBackend, request: web.Request) -> web.Response:
    """The app is handed an invoice's link (`seqr://SEQR.SE/R<ref>` from a merchant's app or
    page): it opens the invoice, inside the service session `token` names if any, the
    customer pays it (or cancels, `"outcome": "cancel"`), and the app returns: `open` is the
    page it opens then, the invoice's backURL or the session's success or cancel page."""
    body = await read_json(request)
    url, token = _text(body, "url"), _text(body, "token")
    outcome = _text(body, "outcome") or "pay"
    if url is None:
        raise BadRequest("url is required: the link the app was handed")
    if outcome not in ("pay", "cancel"):
        raise BadRequest("outcome must be pay or cancel")
    try:
        target = seqr_urls.parse(url)
    except seqr_urls.NotSeqrUrl as exc:
        raise BadRequest(str(exc)) from None
    if not isinstance(target, seqr_urls.InvoiceLink):
        raise BadRequest(f"{url!r} is not an invoice's link: /_emulator/app/scan reads codes")
    reference = backend.follow_link(url, session_token=token, pay=outcome == "pay").reference
    answer: Json = {"kind": "invoice", "opened": url, "reference": reference}
    if token is not None:
        answer["token"] = token
    answer["outcome"] = outcome
    answer["open"] = backend.next_page(reference)
    answer["invoice"] = invoice_detail(backend.invoice(reference))
    return web.json_response(answer)


def _service_answer(session: ext.CustomerSession) -> web.Response:
    return web.json_response({"kind": "service", **session_view(session)})


async def get_session(backend: SeqrBackend, request: web.Request) -> web.Response:
    return web.json_response(session_view(backend.session(request.match_info["token"])))


def _definition(service_id: str, body: Json) -> ext.ServiceDefinition:
    unknown = sorted(set(body) - set(PAGES) - {"id"})
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}; a service has {', '.join(PAGES)}")
    if body.get("id") not in (None, service_id):
        raise BadRequest(f"id {body['id']!r} in the body differs from {service_id!r} in the URL")
    missing = [name for name in PAGES if name not in body]
    if missing:
        raise BadRequest(f"{missing[0]} is required")
    try:
        return ext.define(service_id, *(body[name] for name in PAGES))
    except ext.InvalidService as exc:
        raise BadRequest(str(exc)) from None


async def put_service(backend: SeqrBackend, request: web.Request) -> web.Response:
    definition = _definition(request.match_info["id"], await read_json(request))
    created = backend.define_service(definition)
    return web.json_response(service_view(definition), status=201 if created else 200)


async def get_service(backend: SeqrBackend, request: web.Request) -> web.Response:
    return web.json_response(service_view(backend.service(request.match_info["id"])))


async def delete_service(backend: SeqrBackend, request: web.Request) -> web.Response:
    gone = backend.delete_service(request.match_info["id"])
    return web.json_response({"deleted": service_view(gone)})


async def list_services(backend: SeqrBackend, request: web.Request) -> web.Response:
    found = backend.list_services()
    return web.json_response({"services": [service_view(d) for d in found]})


def add_routes(app: web.Application, backend: SeqrBackend) -> None:
    add_json_routes(
        app,
        backend,
        [
            ("POST", "/app/scan", scan),
            ("POST", "/app/open", open_link),
            ("GET", "/app/sessions/{token}", get_session),
            ("GET", "/services", list_services),
            ("PUT", "/services/{id}", put_service),
            ("GET", "/services/{id}", get_service),
            ("DELETE", "/services/{id}", delete_service),
        ],
    )
