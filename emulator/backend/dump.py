"""A whole state as one JSON document: what `export`, `import` and `GET /_emulator/state` move.

The document is versioned (`"format": 1`) and deterministic: the same state gives the same
bytes (keys sorted, records in the store's order). Its records are those of a state file
(`backend.records`), grouped by kind; the indexes (payments, SEQR ids) are left out and
rebuilt from the invoices and the terminals, and so are the deadlines.

Terminal passwords are left out unless asked for (`passwords=True`): an export is made to be
attached to a bug report or committed as a fixture, and the emulator's views, logs and
journal never show a password either. A terminal imported without its password takes the
password of its first call, as a terminal the emulator has never seen registers with it; a
configured terminal takes the configured one. A fixture that must keep its passwords (a
strict run whose tills log in with fixed ones) is exported with them.

Standard library only.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from emulator.backend import records
from emulator.backend.records import BadRecord, Json
from emulator.backend.store import Store
from emulator.clock import IdPosition
from emulator.domain import reports

if TYPE_CHECKING:
    from emulator.backend.facade import SeqrBackend

FORMAT = 1


def export(backend: SeqrBackend, *, passwords: bool = False) -> Json:
    """A running emulator's state, taken under its lock."""
    with backend.lock:
        return document(backend.store, backend.ids.position(), passwords=passwords)


def document(store: Store, position: IdPosition | None, *, passwords: bool = False) -> Json:
    ledger, registry = store.periods, store.services
    return {
        "format": FORMAT,
        "ids": None if position is None else records.encode_ids(position),
        "invoices": [records.encode_invoice(i) for i in store.all_invoices()],
        "terminals": [
            records.encode_terminal(t, password=passwords and t.id not in store.unclaimed)
            for t in store.terminals.values()
        ],
        "removed_terminals": sorted(store.removed_terminals),
        "periods": {
            "closed": [records.encode_period(p) for p in ledger.closed_periods()],
            "open": [
                {
                    "reseller_id": shop,
                    "terminal_id": till,
                    "transactions": [records.encode_transaction(t) for t in found],
                }
                for (shop, till), found in ledger.open_periods().items()
            ],
            "marks": [
                {"reseller_id": shop, "terminal_id": till, "at": at.isoformat()}
                for (shop, till), at in ledger.marks().items()
            ],
        },
        "services": [records.encode_definition(d) for d in registry.definitions()],
        "sessions": [records.encode_session(s) for s in registry.sessions()],
        "session_count": registry.count,
        "terminal_scenarios": {
            tid: records.encode_scenario(s) for tid, s in store.terminal_scenarios.items()
        },
    }


def dumps(document: Json) -> str:
    """The document's text: sorted keys, one level of indent per nesting, UTF-8."""
    return json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def from_document(data: Any) -> tuple[Store, IdPosition | None]:
    """A store holding the document's state, and the identifier position to continue from.

    Raises `BadRecord` naming what it could not read."""
    if not isinstance(data, dict):
        raise BadRecord("an emulator state is a JSON object")
    if data.get("format") != FORMAT:
        raise BadRecord(f"state format {data.get('format')!r}, this emulator reads {FORMAT}")
    try:
        store, position = _store(data), _position(data.get("ids"))
    except BadRecord:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadRecord(f"not an emulator state: {exc!r}") from None
    if position is None and store.invoices:
        # without it the sequence starts again, and a new invoice could take a stored one's
        # reference
        raise BadRecord("ids is missing: invoices need the identifier position beside them")
    return store, position


def _position(raw: Any) -> IdPosition | None:
    return None if raw is None else records.decode_ids(raw)


def _store(data: Json) -> Store:
    store = Store()
    decoder = records.Decoder()
    for raw in data.get("invoices", []):
        invoice = decoder.invoice(raw)
        if invoice.reference in store.invoices:
            raise BadRecord(f"invoice {invoice.reference} appears twice")
        store.invoices[invoice.reference] = invoice
        if invoice.payment is not None:
            store.payments[invoice.payment.ers_reference] = invoice.reference
        for refund in invoice.refunds:
            store.payments[refund.ers_reference] = invoice.reference
    for raw in data.get("terminals", []):
        terminal, unclaimed = records.decode_terminal(raw)
        store.terminals[terminal.id] = terminal
        if unclaimed:
            store.unclaimed.add(terminal.id)
        if terminal.seqr_id is not None:
            store.seqr_ids[terminal.seqr_id] = terminal.id
    store.removed_terminals = {str(tid) for tid in data.get("removed_terminals", [])}
    periods = data.get("periods") or {}
    store.periods.restore(
        {
            (o["reseller_id"], o["terminal_id"]): [
                records.decode_transaction(t) for t in o["transactions"]
            ]
            for o in periods.get("open", [])
        },
        {
            (m["reseller_id"], m["terminal_id"]): records.fromiso(m["at"])
            for m in periods.get("marks", [])
        },
        [records.decode_period(p) for p in periods.get("closed", [])],
    )
    sessions = [records.decode_session(s, decoder) for s in data.get("sessions", [])]
    store.services.restore(
        [records.decode_definition(d) for d in data.get("services", [])],
        sessions,
        int(data.get("session_count") or 0),
    )
    store.terminal_scenarios = {
        str(tid): records.decode_scenario(s)
        for tid, s in (data.get("terminal_scenarios") or {}).items()
    }
    return store


def summary(store: Store) -> str:
    """One line: how much the state holds."""
    ledger: reports.Ledger = store.periods
    return (
        f"{store.invoice_count()} invoices, {len(store.terminals)} terminals, "
        f"{len(ledger.closed_periods())} closed transaction periods, "
        f"{len(store.services.definitions())} services, {len(store.services)} sessions"
    )
