"""`POST /_emulator/verify`: does the journal show the calls the merchant should have made?

The body is an expectation (`verification.steps_from_json`): `steps`, in order, and an
optional `invoice` that every step naming none is about; `terminal` (in the body, or
`?terminal=`) reads only that terminal's entries, as a CI job on a shared emulator wants.
The answer is 200 whether or not the journal matches (the question was well asked): `ok`,
`message` (the words a failing test shows) and each step with the seqs that counted for it
and, for a step not met, its nearest entries and how each differs. A malformed expectation
is a 400 naming the step. Thin, as every control route: `verification.verify` decides. It
reads and decides in a thread, not on the loop that serves SOAP: the journal's reads are
safe beside the calls it records, and a whole full journal takes a few hundred milliseconds.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from emulator.backend import SeqrBackend
from emulator.control import BadRequest, add_json_routes, read_json
from emulator.journal import Query, Record

if TYPE_CHECKING:  # imported by the first verification asked for (see `verify_journal`)
    from emulator.verification import Seen, StepResult

_FIELDS = frozenset(("steps", "invoice", "terminal"))


def _seen(seen: Seen) -> dict[str, Any]:
    return {
        "seq": seen.seq,
        "at": seen.at.isoformat(),
        "operation": seen.operation,
        "invoice": seen.invoice,
        "terminal": seen.terminal,
        "resultCode": seen.result_code,
        "outcome": seen.outcome,
        "described": seen.describe(),
    }


def _step(result: StepResult) -> dict[str, Any]:
    return {
        "step": result.number,
        "expected": result.expect.describe(),
        "ok": result.ok,
        "seqs": [m.seq for m in result.matched],
        "problem": result.problem(),
        "nearest": [{**_seen(n.seen), "differences": list(n.differences)} for n in result.nearest],
    }


def _entries(backend: SeqrBackend, terminal: str | None) -> list[Record]:
    """The journal oldest first; of the terminal only when one is named, selected before any
    entry is made into a `Record` (which hides passwords: the costly part of reading)."""
    if terminal is None:
        return backend.journal_records()
    page = backend.journal_page(Query(terminal=terminal, limit=max(len(backend.requests), 1)))
    return page.records[::-1]


async def verify_journal(backend: SeqrBackend, request: web.Request) -> web.Response:
    # here, not at the top: a served emulator needs it only when asked (`client._verification`)
    from emulator.verification import BadExpectation, steps_from_json, verify

    body = await read_json(request)
    unknown = set(body) - _FIELDS
    if unknown:
        raise BadRequest(f"unknown field {sorted(unknown)[0]!r} (steps, invoice, terminal)")
    given = request.query.get("terminal") or None
    terminal = body.get("terminal", given)
    invoice = body.get("invoice")
    for name, value in (("terminal", terminal), ("invoice", invoice)):
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"{name} must be a string")
    if given is not None and terminal != given:
        raise BadRequest("terminal is given twice, as two terminals")
    try:
        steps = steps_from_json(body.get("steps"), invoice)
    except BadExpectation as exc:
        raise BadRequest(str(exc)) from None
    verdict = await asyncio.to_thread(lambda: verify(_entries(backend, terminal), steps, terminal))
    return web.json_response(
        {
            "ok": verdict.ok,
            "message": verdict.message(),
            "read": verdict.read,
            "terminal": terminal,
            "steps": [_step(s) for s in verdict.steps],
        }
    )


def add_routes(app: web.Application, backend: SeqrBackend) -> None:
    add_json_routes(app, backend, [("POST", "/verify", verify_journal)])
