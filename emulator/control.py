"""The control API under /_emulator/: the SEQR customer's app, and the emulator's own knobs.

Handlers are thin: read the JSON, call one backend verb, answer with a view. Errors become
JSON in one middleware: 404 for an unknown reference, 409 for a move the rules forbid.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from emulator.backend import SeqrBackend
from emulator.domain.errors import IllegalMove, NotFound
from emulator.domain.model import CustomerToken
from emulator.views import invoice_detail, invoice_summary

PREFIX = "/_emulator"
BACKEND = web.AppKey("backend", SeqrBackend)


class BadRequest(Exception):
    """The control request itself is malformed (HTTP 400)."""


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if not request.path.startswith(PREFIX):
        return await handler(request)
    try:
        return await handler(request)
    except NotFound as exc:
        return _error(404, str(exc))
    except IllegalMove as exc:
        return _error(409, str(exc))
    except BadRequest as exc:
        return _error(400, str(exc))


async def _json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise BadRequest(f"body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest("body must be a JSON object")
    return value


def _backend(request: web.Request) -> SeqrBackend:
    return request.app[BACKEND]


def _after_app_action(backend: SeqrBackend, reference: str) -> web.Response:
    invoice = backend.invoice(reference)
    return web.json_response({**invoice_detail(invoice), "backURL": invoice.data.back_url})


async def list_invoices(request: web.Request) -> web.Response:
    invoices = _backend(request).list_invoices()
    return web.json_response({"invoices": [invoice_summary(i) for i in invoices]})


async def get_invoice(request: web.Request) -> web.Response:
    return web.json_response(invoice_detail(_backend(request).invoice(request.match_info["ref"])))


def _tokens(body: dict[str, Any]) -> list[CustomerToken]:
    raw = body.get("tokens") or []
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise BadRequest("tokens must be a list of objects")
    return [
        CustomerToken(
            id=str(t["id"]) if t.get("id") is not None else None,
            value=str(t["value"]) if t.get("value") is not None else None,
            description=str(t["description"]) if t.get("description") is not None else None,
        )
        for t in raw
    ]


async def scan(request: web.Request) -> web.Response:
    backend, ref = _backend(request), request.match_info["ref"]
    backend.scan(ref, _tokens(await _json(request)))
    return _after_app_action(backend, ref)


async def pay(request: web.Request) -> web.Response:
    backend, ref = _backend(request), request.match_info["ref"]
    reserve = (await _json(request)).get("reserve")
    if reserve is not None and not isinstance(reserve, bool):
        raise BadRequest("reserve must be true or false")
    backend.pay(ref, reserve=reserve)
    return _after_app_action(backend, ref)


async def cancel(request: web.Request) -> web.Response:
    backend, ref = _backend(request), request.match_info["ref"]
    backend.customer_cancel(ref)
    return _after_app_action(backend, ref)


async def fail(request: web.Request) -> web.Response:
    backend, ref = _backend(request), request.match_info["ref"]
    backend.fail(ref)
    return _after_app_action(backend, ref)


async def reset(request: web.Request) -> web.Response:
    _backend(request).reset()
    return web.json_response({"reset": True})


async def get_clock(request: web.Request) -> web.Response:
    clock = _backend(request).clock
    return web.json_response({"now": clock.now().isoformat(), "scale": clock.scale})


async def advance_clock(request: web.Request) -> web.Response:
    body = await _json(request)
    seconds = body.get("seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        raise BadRequest("seconds must be a non-negative number")
    now = _backend(request).advance_clock(float(seconds))
    return web.json_response({"now": now.isoformat()})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def add_routes(app: web.Application) -> None:
    p = PREFIX
    app.router.add_get(f"{p}/health", health)
    app.router.add_get(f"{p}/invoices", list_invoices)
    app.router.add_get(f"{p}/invoices/{{ref}}", get_invoice)
    app.router.add_post(f"{p}/invoices/{{ref}}/scan", scan)
    app.router.add_post(f"{p}/invoices/{{ref}}/pay", pay)
    app.router.add_post(f"{p}/invoices/{{ref}}/cancel", cancel)
    app.router.add_post(f"{p}/invoices/{{ref}}/fail", fail)
    app.router.add_post(f"{p}/reset", reset)
    app.router.add_get(f"{p}/clock", get_clock)
    app.router.add_post(f"{p}/clock/advance", advance_clock)
