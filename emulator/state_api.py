"""`GET /_emulator/state`: the whole state of the running emulator, as `export` writes it.

The document of `backend.dump` (`"format": 1`, sorted keys), taken under the backend's lock.
Terminal passwords are left out unless the query says `?passwords=true`, for a fixture whose
terminals must log in with the same passwords again.
"""

from __future__ import annotations

from aiohttp import web

from emulator.backend import SeqrBackend
from emulator.control import BadRequest, add_json_routes

_YES, _NO = ("1", "true", "yes"), ("", "0", "false", "no")


async def get_state(backend: SeqrBackend, request: web.Request) -> web.Response:
    raw = request.query.get("passwords", "").strip().lower()
    if raw not in (*_YES, *_NO):
        raise BadRequest("passwords must be true or false")
    from emulator.backend import dump  # with the lasting state's records: see `backend`

    text = dump.dumps(dump.export(backend, passwords=raw in _YES))
    return web.Response(text=text, content_type="application/json")


def add_routes(app: web.Application, backend: SeqrBackend) -> None:
    add_json_routes(app, backend, [("GET", "/state", get_state)])
