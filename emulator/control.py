"""The control API under /_emulator/: the SEQR customer's app, and the emulator's own knobs.

Handlers are thin: read the JSON, call one backend verb, answer with a view. Each is handed
the backend when its route is added, so no handler reads state from the application. Errors
become JSON in one wrapper (`json_errors`), put around each handler when its route is added:
404 for an unknown reference, 409 for a move the rules forbid. A middleware would do the same
for every request the server takes, SOAP calls included, at about 7% of the HTTP stack's
cost. Any other path under the prefix answers JSON too (`add_fallback`).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from emulator import qr
from emulator.backend import SeqrBackend
from emulator.clock import ClockError
from emulator.domain import seqr_urls
from emulator.domain.errors import IllegalMove, NotFound
from emulator.domain.model import CustomerToken
from emulator.guard import GATE, Gate
from emulator.scenario.loader import from_mapping
from emulator.scenario.model import Scenario, ScenarioError, UnknownScenario
from emulator.version import VERSION
from emulator.views import attempt, invoice_detail, invoice_summary, scenario_view, terminal_view

PREFIX = "/_emulator"


class BadRequest(Exception):
    """The control request itself is malformed (HTTP 400)."""


class Forbidden(Exception):
    """The emulator's settings refuse this control call (HTTP 403)."""


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BackendHandler = Callable[[SeqrBackend, web.Request], Awaitable[web.StreamResponse]]


TOKEN_FREE = frozenset({"/health"})  # readiness: a probe may not carry the control token


def json_errors(
    backend: SeqrBackend, handler: BackendHandler, gate: Gate | None = None, *, token: bool = True
) -> Handler:
    """The handler bound to the backend, with the domain's refusals answered as JSON errors;
    with a `gate`, a request it refuses (`Gate.control`: Host, Origin, Content-Type, the
    token unless `token` is off) is answered before the handler runs."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        if gate is not None and (refused := gate.control(request, token=token)) is not None:
            return refused
        try:
            return await handler(backend, request)
        except NotFound as exc:
            return _error(404, str(exc))
        except IllegalMove as exc:
            return _error(409, str(exc))
        except BadRequest as exc:
            return _error(400, str(exc))
        except Forbidden as exc:
            return _error(403, str(exc))

    return guarded


def add_json_routes(
    app: web.Application, backend: SeqrBackend, routes: list[tuple[str, str, BackendHandler]]
) -> None:
    """(method, path under PREFIX, handler) rows, each bound to the backend in `json_errors`,
    behind the app's gate when it has one (`guard.GATE`, set before the routes are added)."""
    gate = app.get(GATE)
    for method, path, handler in routes:
        wrapped = json_errors(backend, handler, gate, token=path not in TOKEN_FREE)
        app.router.add_route(method, PREFIX + path, wrapped)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; an empty body is `{}`, anything else malformed is a 400."""
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


def _after_app_action(backend: SeqrBackend, reference: str) -> web.Response:
    invoice = backend.invoice(reference)
    view = invoice_detail(invoice)
    # `open`: the page the app goes to now (a service session's next page, else backURL).
    return web.json_response(
        {**view, "backURL": invoice.data.back_url, "open": backend.next_page(reference)}
    )


def _limit(request: web.Request) -> int | None:
    """`?limit=N`: ASCII digits (`isdigit` alone takes `²`, which `int` refuses); a limit
    longer than any list is the whole list, read without converting its digits."""
    raw = request.query.get("limit")
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()):
        raise BadRequest("limit must be a non-negative integer")
    digits = raw.lstrip("0")
    return int(digits or "0") if len(digits) <= 18 else 10**18


async def list_invoices(backend: SeqrBackend, request: web.Request) -> web.Response:
    """Oldest first; `?terminal=ID` only that terminal's, `?limit=N` keeps the N newest."""
    invoices = backend.list_invoices(request.query.get("terminal"))
    limit = _limit(request)
    if limit is not None:
        invoices = invoices[len(invoices) - limit :] if limit else []
    return web.json_response({"invoices": [invoice_summary(i) for i in invoices]})


async def get_invoice(backend: SeqrBackend, request: web.Request) -> web.Response:
    """The invoice with the notification attempts made for it."""
    ref = request.match_info["ref"]
    view = invoice_detail(backend.invoice(ref))
    attempts = backend.journal.for_invoice(ref)
    return web.json_response({**view, "notifications": [attempt(a) for a in attempts]})


async def list_notifications(backend: SeqrBackend, request: web.Request) -> web.Response:
    """Every recorded notification attempt, oldest first; `?invoice=REF`, `?terminal=ID` and
    `?limit=N` narrow it."""
    journal = backend.journal
    ref, terminal = request.query.get("invoice"), request.query.get("terminal")
    if ref:
        found = journal.for_invoice(ref)
    elif terminal:
        found = sorted(
            (a for i in backend.list_invoices(terminal) for a in journal.for_invoice(i.reference)),
            key=lambda a: a.seq,
        )
    else:
        found = journal.recent()
    limit = _limit(request)
    if limit is not None:
        found = found[len(found) - limit :] if limit else []
    return web.json_response({"notifications": [attempt(a) for a in found], "total": journal.total})


async def lookup_code(backend: SeqrBackend, request: web.Request) -> web.Response:
    """What the app opens for a scanned code (`?code=HTTP://SEQR.SE/R...` or `seqr://...`)."""
    code = request.query.get("code", "")
    if not code.strip():
        raise BadRequest("code is required")
    return web.json_response(invoice_detail(backend.invoice_for_qr(code)))


def tokens_from(body: dict[str, Any]) -> list[CustomerToken]:
    """The loyalty cards a customer presents in a scan body (`tokens`), as domain tokens."""
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


async def scan(backend: SeqrBackend, request: web.Request) -> web.Response:
    ref = request.match_info["ref"]
    backend.scan(ref, tokens_from(await read_json(request)))
    return _after_app_action(backend, ref)


async def pay(backend: SeqrBackend, request: web.Request) -> web.Response:
    ref = request.match_info["ref"]
    reserve = (await read_json(request)).get("reserve")
    if reserve is not None and not isinstance(reserve, bool):
        raise BadRequest("reserve must be true or false")
    backend.pay(ref, reserve=reserve)
    return _after_app_action(backend, ref)


async def cancel(backend: SeqrBackend, request: web.Request) -> web.Response:
    ref = request.match_info["ref"]
    backend.customer_cancel(ref)
    return _after_app_action(backend, ref)


async def fail(backend: SeqrBackend, request: web.Request) -> web.Response:
    ref = request.match_info["ref"]
    backend.fail(ref)
    return _after_app_action(backend, ref)


async def list_terminals(backend: SeqrBackend, request: web.Request) -> web.Response:
    terminals = backend.list_terminals()
    return web.json_response({"terminals": [terminal_view(t) for t in terminals]})


async def get_terminal(backend: SeqrBackend, request: web.Request) -> web.Response:
    found = backend.terminal_info(request.match_info["id"])
    return web.json_response(terminal_view(found))


async def scan_static_qr(backend: SeqrBackend, request: web.Request) -> web.Response:
    """The customer scans a till's sticker and reaches its open invoice; `pay` confirms too."""
    body = await read_json(request)
    pay_too = body.get("pay", False)
    if not isinstance(pay_too, bool):
        raise BadRequest("pay must be true or false")
    ref = backend.open_invoice_at(request.match_info["seqr_id"]).reference
    backend.scan(ref, tokens_from(body))
    if pay_too:
        backend.pay(ref)
    return _after_app_action(backend, ref)


async def reset(backend: SeqrBackend, request: web.Request) -> web.Response:
    """Forget everything, unless this emulator is shared (`--no-global-reset`): then 403, and
    each job resets its own terminal."""
    if not backend.settings.global_reset:
        raise Forbidden(
            "this emulator is shared: the global reset is off (--no-global-reset); "
            "reset your terminal with POST /_emulator/terminals/{id}/reset"
        )
    backend.reset()
    return web.json_response({"reset": True})


async def get_clock(backend: SeqrBackend, request: web.Request) -> web.Response:
    clock = backend.clock
    return web.json_response({"now": clock.now().isoformat(), "scale": clock.scale})


async def _advance_seconds(request: web.Request) -> float:
    """`{"seconds": N}` of a clock move: 400 for anything but a finite, non-negative number
    (JSON's NaN, Infinity and 1e400 included)."""
    body = await read_json(request)
    seconds = body.get("seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        raise BadRequest("seconds must be a non-negative number")
    try:
        return float(seconds)
    except OverflowError:  # an integer beyond any float: 10**400
        raise BadRequest("seconds must be a finite number") from None


async def advance_clock(backend: SeqrBackend, request: web.Request) -> web.Response:
    """Every clock moves: the emulator's and each terminal's. A move that would leave the
    clock's range is refused (400) and none is made."""
    try:
        now = backend.advance_clock(await _advance_seconds(request))
    except ClockError as exc:
        raise BadRequest(str(exc)) from None
    return web.json_response({"now": now.isoformat()})


# --- one terminal's slate: a CI job on a shared emulator ---------------------------------------


def _terminal_clock_view(backend: SeqrBackend, terminal_id: str) -> dict[str, Any]:
    clock = backend.terminal_clock(terminal_id)
    return {
        "terminalId": terminal_id,
        "now": clock.now().isoformat(),
        "aheadBy": backend.terminal_clock_lead(terminal_id),
        "scale": clock.scale,
    }


async def get_terminal_clock(backend: SeqrBackend, request: web.Request) -> web.Response:
    return web.json_response(_terminal_clock_view(backend, request.match_info["id"]))


async def advance_terminal_clock(backend: SeqrBackend, request: web.Request) -> web.Response:
    """Only this terminal's timed rules feel it; the terminal need not exist yet."""
    tid = request.match_info["id"]
    try:
        backend.advance_terminal_clock(tid, await _advance_seconds(request))
    except ClockError as exc:
        raise BadRequest(str(exc)) from None
    return web.json_response(_terminal_clock_view(backend, tid))


async def reset_terminal(backend: SeqrBackend, request: web.Request) -> web.Response:
    """Forget this terminal's invoices, scenario, notification attempts and own clock."""
    tid = request.match_info["id"]
    gone = backend.reset_terminal(tid)
    return web.json_response({"terminalId": tid, "forgotten": len(gone)})


# --- scenarios ---------------------------------------------------------------------------------


async def list_scenarios(backend: SeqrBackend, request: web.Request) -> web.Response:
    """The catalogue, the default in force and every terminal's own scenario."""
    default = backend.default_scenario()
    terminals = backend.terminal_scenarios()
    return web.json_response(
        {
            "scenarios": [scenario_view(s) for s in backend.list_scenarios()],
            "default": None if default is None else default.name,
            "terminals": {tid: s.name for tid, s in sorted(terminals.items())},
        }
    )


async def _chosen(backend: SeqrBackend, request: web.Request) -> Scenario:
    """`{"name": NAME}` from the catalogue (404 if absent), or `{"inline": {...}}` (400 if bad)."""
    body = await read_json(request)
    name, inline = body.get("name"), body.get("inline")
    if (name is None) == (inline is None) or not isinstance(name, str | None):
        raise BadRequest('give "name" (a catalogue scenario) or "inline" (a scenario object)')
    try:
        if name is not None:
            return backend.scenario_named(name)
        return from_mapping(inline, "inline", "inline")
    except UnknownScenario as exc:
        raise NotFound(str(exc)) from None
    except ScenarioError as exc:
        raise BadRequest(str(exc)) from None


async def get_default_scenario(backend: SeqrBackend, request: web.Request) -> web.Response:
    return web.json_response({"scenario": scenario_view(backend.default_scenario())})


async def put_default_scenario(backend: SeqrBackend, request: web.Request) -> web.Response:
    """The scenario for every terminal without its own, until the next reset."""
    chosen = await _chosen(backend, request)
    backend.set_scenario(chosen)
    return web.json_response({"scenario": scenario_view(chosen)})


async def delete_default_scenario(backend: SeqrBackend, request: web.Request) -> web.Response:
    backend.set_scenario(None)
    return web.json_response({"scenario": None})


async def get_terminal_scenario(backend: SeqrBackend, request: web.Request) -> web.Response:
    tid = request.match_info["id"]
    chosen = backend.terminal_scenario(tid)
    return web.json_response({"terminalId": tid, "scenario": scenario_view(chosen)})


async def put_terminal_scenario(backend: SeqrBackend, request: web.Request) -> web.Response:
    """For the invoices this terminal issues from now on; the terminal need not exist yet."""
    tid, chosen = request.match_info["id"], await _chosen(backend, request)
    backend.set_terminal_scenario(tid, chosen)
    return web.json_response({"terminalId": tid, "scenario": scenario_view(chosen)})


async def delete_terminal_scenario(backend: SeqrBackend, request: web.Request) -> web.Response:
    tid = request.match_info["id"]
    backend.set_terminal_scenario(tid, None)
    return web.json_response({"terminalId": tid, "scenario": None})


async def invoice_scenario(backend: SeqrBackend, request: web.Request) -> web.Response:
    """Where the invoice's scenario is: the next step and what it waits for (null: none left)."""
    ref = request.match_info["ref"]
    backend.invoice(ref)  # 404 for an unknown invoice
    return web.json_response({"invoiceReference": ref, "scenario": backend.scenario_progress(ref)})


class Lifecycle:
    """Whether the emulator serves: `ready` once its state is loaded, its scenarios compiled
    and its notifier started; not any more once it has begun to stop."""

    def __init__(self) -> None:
        self.ready = False
        self.stopping = False

    async def started(self, app: web.Application) -> None:
        self.ready = True

    async def stopped(self, app: web.Application) -> None:
        self.ready, self.stopping = False, True


def health_route(lifecycle: Lifecycle) -> list[tuple[str, str, BackendHandler]]:
    async def health(backend: SeqrBackend, request: web.Request) -> web.Response:
        """Readiness: 200 only while the emulator serves, with what a script waits on (O(1)
        counts); 503 while it starts or stops, so a load balancer or CI step waits."""
        status = "ok" if lifecycle.ready else "stopping" if lifecycle.stopping else "starting"
        body = {
            "status": status,
            "ready": lifecycle.ready,
            "version": VERSION,
            "invoices": backend.invoice_count(),
            "terminals": backend.terminal_count(),
            "scenarios": backend.scenario_count(),
        }
        return web.json_response(body, status=200 if lifecycle.ready else 503)

    return [("GET", "/health", health)]


async def no_such_route(request: web.Request) -> web.Response:
    """A path under the prefix that no route serves: 405 naming the methods a path does
    take, else 404, both as JSON like every other answer of the control API."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource.canonical.startswith(PREFIX + "/{tail"):
            continue
        match, methods = await resource.resolve(request)
        if match is None:
            allowed |= methods
    where = f"{request.method} {request.path}"
    if allowed:
        listed = ", ".join(sorted(allowed))
        return web.json_response(
            {"error": f"{where}: method not allowed (allowed: {listed})"},
            status=405,
            headers={"Allow": listed},
        )
    return _error(404, f"{where}: no such control route (see the README's control API)")


def add_fallback(app: web.Application) -> None:
    """After every other route: the rest of the prefix answers JSON, not aiohttp's text."""
    app.router.add_route("*", PREFIX + "/{tail:.*}", no_such_route)


def qr_routes(images: qr.Images) -> list[tuple[str, str, BackendHandler]]:
    """The QR images, drawn on first request off the loop and kept in this emulator's cache."""

    async def invoice_qr(backend: SeqrBackend, request: web.Request) -> web.Response:
        """The invoice's `invoiceQRCode` as an image."""
        found = backend.invoice(request.match_info["ref"])
        text = seqr_urls.invoice_qr(found.reference)
        if request.match_info["format"] == "svg":
            body, kind = await asyncio.to_thread(images.svg, text), "image/svg+xml"
        else:
            body, kind = await asyncio.to_thread(images.png, text), "image/png"
        headers = {"Cache-Control": "max-age=3600"}  # an invoice's code never changes
        return web.Response(body=body, content_type=kind, headers=headers)

    async def terminal_qr_png(backend: SeqrBackend, request: web.Request) -> web.Response:
        """The till's printed sticker: `HTTP://SEQR.SE/Q<seqrId>` as a QR image."""
        found = backend.terminal_info(request.match_info["id"])
        if found.seqr_id is None:
            raise NotFound(f"terminal {found.id} has no SEQR id (assignSeqrId)")
        body = await asyncio.to_thread(images.png, seqr_urls.terminal_qr(found.seqr_id))
        return web.Response(body=body, content_type="image/png")  # ids can be reassigned

    return [
        ("GET", "/invoices/{ref}/qr.{format:png|svg}", invoice_qr),
        ("GET", "/terminals/{id}/qr.png", terminal_qr_png),
    ]


def add_routes(
    app: web.Application, backend: SeqrBackend, images: qr.Images, lifecycle: Lifecycle
) -> None:
    add_json_routes(app, backend, health_route(lifecycle))
    add_json_routes(app, backend, qr_routes(images))
    add_json_routes(
        app,
        backend,
        [
            ("GET", "/invoices", list_invoices),
            ("GET", "/invoices/{ref}", get_invoice),
            ("POST", "/invoices/{ref}/scan", scan),
            ("POST", "/invoices/{ref}/pay", pay),
            ("POST", "/invoices/{ref}/cancel", cancel),
            ("POST", "/invoices/{ref}/fail", fail),
            ("GET", "/notifications", list_notifications),
            ("GET", "/lookup", lookup_code),
            ("GET", "/terminals", list_terminals),
            ("GET", "/terminals/{id}", get_terminal),
            ("POST", "/seqr-ids/{seqr_id}/scan", scan_static_qr),
            ("POST", "/reset", reset),
            ("GET", "/clock", get_clock),
            ("POST", "/clock/advance", advance_clock),
            ("POST", "/terminals/{id}/reset", reset_terminal),
            ("GET", "/terminals/{id}/clock", get_terminal_clock),
            ("POST", "/terminals/{id}/clock/advance", advance_terminal_clock),
            ("GET", "/scenarios", list_scenarios),
            ("GET", "/scenario", get_default_scenario),
            ("PUT", "/scenario", put_default_scenario),
            ("DELETE", "/scenario", delete_default_scenario),
            ("GET", "/terminals/{id}/scenario", get_terminal_scenario),
            ("PUT", "/terminals/{id}/scenario", put_terminal_scenario),
            ("DELETE", "/terminals/{id}/scenario", delete_terminal_scenario),
            ("GET", "/invoices/{ref}/scenario", invoice_scenario),
        ],
    )
