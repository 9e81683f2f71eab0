"""`/_emulator/journal`: the request journal, read through the control API.

`GET /_emulator/journal` lists entries newest first, filtered by terminal, operation (a SOAP
operation, or `notification`), invoice, kind and emulator time (`since`, `until`, ISO 8601),
a page at a time: `limit` (100 unless told, at most 1000) and the cursor `before=<seq>`,
which the answer's `next` gives for the page after. The answer counts what matched (`matched`),
what was recorded since the start or the last reset (`total`), what is held and what was
dropped to keep the journal at its bound. Thin, as every control route: the backend selects,
`views.journal_entry` shows.
"""

from __future__ import annotations

from aiohttp import web

from emulator.backend import SeqrBackend
from emulator.control import BadRequest, add_json_routes
from emulator.journal import KINDS, Query, parse_instant
from emulator.views import journal_entry

DEFAULT_PAGE = 100
LONGEST_PAGE = 1000
_PARAMETERS = frozenset(
    ("terminal", "operation", "invoice", "kind", "since", "until", "before", "limit", "bodies")
)


def _number(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise BadRequest(f"{name} must be a non-negative integer")
    return int(raw)


def _query(request: web.Request) -> Query:
    """The filters and the page a `GET /_emulator/journal` asks for; 400 for a bad one."""
    given = request.query
    unknown = set(given) - _PARAMETERS
    if unknown:
        raise BadRequest(f"unknown parameter {sorted(unknown)[0]!r}")
    kind = given.get("kind") or None
    if kind is not None and kind not in KINDS:
        raise BadRequest(f"kind must be one of {', '.join(KINDS)}")
    limit = _number(request, "limit")
    if limit is not None and limit > LONGEST_PAGE:
        raise BadRequest(f"limit must be at most {LONGEST_PAGE}")
    try:
        since = parse_instant(given.get("since") or None, "since")
        until = parse_instant(given.get("until") or None, "until")
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return Query(
        terminal=given.get("terminal") or None,
        operation=given.get("operation") or None,
        invoice=given.get("invoice") or None,
        kind=kind,
        since=since,
        until=until,
        before=_number(request, "before"),
        limit=DEFAULT_PAGE if limit is None else limit,
    )


def _bodies(request: web.Request) -> bool:
    raw = request.query.get("bodies", "true").lower()
    if raw not in ("true", "false", "1", "0"):
        raise BadRequest("bodies must be true or false")
    return raw in ("true", "1")


async def list_journal(backend: SeqrBackend, request: web.Request) -> web.Response:
    """Newest first; `next` is the `before` of the following page (null on the last)."""
    query, bodies = _query(request), _bodies(request)
    page = backend.journal_page(query)
    return web.json_response(
        {
            "entries": [journal_entry(r, bodies) for r in page.records],
            "matched": page.matched,
            "total": page.total,
            "held": page.held,
            "dropped": page.dropped,
            "size": backend.requests.limit,
            "next": page.next_before,
        }
    )


def add_routes(app: web.Application, backend: SeqrBackend) -> None:
    add_json_routes(app, backend, [("GET", "/journal", list_journal)])
