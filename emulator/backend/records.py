"""The emulator's records as JSON values, and back: one codec for the state file and exports.

Each record kind has an `encode_*` that makes plain JSON values (dicts, lists, strings,
numbers) and a `decode_*` that rebuilds the domain object exactly: decimals as their text
(`Decimal("10.00")` stays two places), instants as ISO 8601 with their offset, enums by value.
Keys are the domain's field names; a field that is None, empty or at its default is left out,
which keeps a typical invoice near 500 bytes and its decoding short. A SQLite state file
holds one encoded record per row; an export is the same records in one document.

An invoice is decoded when it is first used after a start, and all of them at the first full
listing, so the decoders are written out by hand, look enum members up in dicts, and share
equal amounts and customers (both frozen) between the invoices they belong to.

Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import random
import sys
from array import array
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from emulator.clock import IdPosition
from emulator.domain import reports
from emulator.domain import services as ext
from emulator.domain.model import (
    NO_ITEMS,
    AcknowledgmentMode,
    Amount,
    Customer,
    CustomerToken,
    HistoryEntry,
    Invoice,
    InvoiceData,
    InvoiceRow,
    InvoiceStatus,
    Payment,
    PaymentMode,
    Receipt,
    Refund,
    Terminal,
)
from emulator.scenario import loader
from emulator.scenario.model import Action, Delivery, Scenario, Step, Trigger

Json = dict[str, Any]

_STATUS = {s.value: s for s in InvoiceStatus}
_PAYMENT_MODE = {m.value: m for m in PaymentMode}
_ACK_MODE = {m.value: m for m in AcknowledgmentMode}
_SESSION_STATE = {s.value: s for s in ext.SessionState}
_fromiso = fromiso = datetime.fromisoformat


class BadRecord(ValueError):
    """A stored or imported record that does not decode; the message says which."""


# --- small values --------------------------------------------------------------------------


def _amount(value: Amount | None) -> list[Any] | None:
    if value is None:
        return None
    return [None if value.value is None else str(value.value), value.currency]


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _put(out: Json, key: str, value: Any) -> None:
    """Sets `key` unless the value says nothing (None, False, an empty list)."""
    if value is not None and value is not False and value != []:
        out[key] = value


class Decoder:
    """Decodes records, sharing equal frozen values (amounts, customers) across them."""

    def __init__(self) -> None:
        self._amounts: dict[tuple[str | None, str], Amount] = {}
        self._customers: dict[tuple[str, str, str], Customer] = {}

    def amount(self, raw: list[Any] | None) -> Amount | None:
        if raw is None:
            return None
        value, currency = raw
        key = (value, currency)
        found = self._amounts.get(key)
        if found is None:
            number: Any = None if value is None else Decimal(value)
            found = self._amounts[key] = Amount(number, currency)
        return found

    def customer(self, raw: list[str] | None) -> Customer | None:
        if raw is None:
            return None
        key = (raw[0], raw[1], raw[2])
        found = self._customers.get(key)
        if found is None:
            found = self._customers[key] = Customer(*key)
        return found

    # --- invoices ----------------------------------------------------------------------------

    def invoice(self, raw: Json) -> Invoice:
        try:
            return self._invoice(raw)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            name = raw.get("reference") if isinstance(raw, Mapping) else None
            raise BadRecord(f"invoice {name or '?'}: {exc!r}") from None

    def _invoice(self, raw: Json) -> Invoice:
        get = raw.get
        amount = self.amount
        payment = get("payment")
        tokens = get("customer_tokens")
        refunds = get("refunds")
        receipts = get("receipts")
        return Invoice(
            raw["reference"],
            raw["terminal_id"],
            self._data(raw["data"]),
            _fromiso(raw["created_at"]),
            _STATUS[raw["status"]],
            get("version", 0),
            self.customer(get("customer")),
            get("in_progress", False),
            [CustomerToken(t[0], t[1], t[2], t[3]) for t in tokens] if tokens else NO_ITEMS,
            get("merchant_acknowledged", False),
            None
            if payment is None
            else Payment(
                payment[0],
                _fromiso(payment[1]),
                amount(payment[2]),  # type: ignore[arg-type]
                self.customer(payment[3]),  # type: ignore[arg-type]
                payment[4],
            ),
            [Refund(r[0], _fromiso(r[1]), amount(r[2]), r[3]) for r in refunds]  # type: ignore[arg-type]
            if refunds
            else NO_ITEMS,
            Decimal(get("refunded_total", "0")),
            [Receipt(r[0], r[1], r[2], r[3], r[4], _fromiso(r[5])) for r in receipts]
            if receipts
            else NO_ITEMS,
            [HistoryEntry(_fromiso(h[0]), h[1], _STATUS[h[2]], h[3]) for h in raw["history"]],
        )

    def _data(self, raw: Json) -> InvoiceData:
        get = raw.get
        mode, ack, issued, rows = (
            get(k) for k in ("payment_mode", "ack_mode", "issue_date", "rows")
        )
        return InvoiceData(
            None if mode is None else _PAYMENT_MODE[mode],
            None if ack is None else _ACK_MODE[ack],
            None if issued is None else _fromiso(issued),
            get("title"),
            get("client_invoice_id"),
            None if rows is None else [self._row(r) for r in rows],
            self.amount(get("total")),
            get("cashier_id"),
            get("footer"),
            get("back_url"),
            get("notification_url"),
            get("commit_reservation_timeout"),
        )

    def _row(self, raw: Json) -> InvoiceRow:
        get, amount = raw.get, self.amount
        quantity, tax = get("quantity"), get("tax_rate")
        return InvoiceRow(
            get("description"),
            amount(get("discount")),
            get("ean"),
            None if quantity is None else Decimal(quantity),
            get("sku"),
            None if tax is None else Decimal(tax),
            amount(get("total")),
            get("unit"),
            amount(get("unit_price")),
        )


def _customer(value: Customer | None) -> list[str] | None:
    if value is None:
        return None
    return [value.msisdn, value.subscriber_key, value.payer_terminal_id]


def encode_invoice(invoice: Invoice) -> Json:
    """Written out field by field: this runs in every flush that changed an invoice."""
    out: Json = {
        "reference": invoice.reference,
        "terminal_id": invoice.terminal_id,
        "data": _encode_data(invoice.data),
        "created_at": invoice.created_at.isoformat(),
        "status": invoice.status.value,
        "history": [
            [h.at.isoformat(), h.event, h.status.value, h.version] for h in invoice.history
        ],
    }
    if invoice.version:
        out["version"] = invoice.version
    customer = invoice.customer
    if customer is not None:
        out["customer"] = [customer.msisdn, customer.subscriber_key, customer.payer_terminal_id]
    if invoice.in_progress:
        out["in_progress"] = True
    if invoice.customer_tokens:
        out["customer_tokens"] = [
            [t.id, t.value, t.description, t.status] for t in invoice.customer_tokens
        ]
    if invoice.merchant_acknowledged:
        out["merchant_acknowledged"] = True
    payment = invoice.payment
    if payment is not None:
        out["payment"] = [
            payment.ers_reference,
            payment.date.isoformat(),
            _amount(payment.amount),
            _customer(payment.customer),
            payment.acknowledged,
        ]
    if invoice.refunds:
        out["refunds"] = [
            [r.ers_reference, r.date.isoformat(), _amount(r.amount), r.cashier_id]
            for r in invoice.refunds
        ]
    if invoice.refunded_total:
        out["refunded_total"] = str(invoice.refunded_total)
    if invoice.receipts:
        out["receipts"] = [
            [
                r.ers_reference,
                r.target_reference,
                r.mime_type,
                r.receipt_type,
                r.size,
                r.date.isoformat(),
            ]
            for r in invoice.receipts
        ]
    return out


def _encode_data(data: InvoiceData) -> Json:
    out: Json = {}
    if data.payment_mode is not None:
        out["payment_mode"] = data.payment_mode.value
    if data.ack_mode is not None:
        out["ack_mode"] = data.ack_mode.value
    if data.issue_date is not None:
        out["issue_date"] = data.issue_date.isoformat()
    if data.title is not None:
        out["title"] = data.title
    if data.client_invoice_id is not None:
        out["client_invoice_id"] = data.client_invoice_id
    if data.rows is not None:
        out["rows"] = [_encode_row(r) for r in data.rows]
    if data.total is not None:
        out["total"] = _amount(data.total)
    if data.cashier_id is not None:
        out["cashier_id"] = data.cashier_id
    if data.footer is not None:
        out["footer"] = data.footer
    if data.back_url is not None:
        out["back_url"] = data.back_url
    if data.notification_url is not None:
        out["notification_url"] = data.notification_url
    if data.commit_reservation_timeout is not None:
        out["commit_reservation_timeout"] = data.commit_reservation_timeout
    return out


def _encode_row(row: InvoiceRow) -> Json:
    fields = {
        "description": row.description,
        "discount": _amount(row.discount),
        "ean": row.ean,
        "quantity": None if row.quantity is None else str(row.quantity),
        "sku": row.sku,
        "tax_rate": None if row.tax_rate is None else str(row.tax_rate),
        "total": _amount(row.total),
        "unit": row.unit,
        "unit_price": _amount(row.unit_price),
    }
    return {key: value for key, value in fields.items() if value is not None}


# --- terminals --------------------------------------------------------------------------------


def encode_terminal(terminal: Terminal, *, password: bool = True) -> Json:
    """`password=False` writes `"password": null` (an export without passwords)."""
    out: Json = {"id": terminal.id, "password": terminal.password if password else None}
    _put(out, "name", terminal.name)
    _put(out, "cash_register", terminal.cash_register)
    _put(out, "external_id", terminal.external_id)
    _put(out, "reseller_id", terminal.reseller_id)
    _put(out, "seqr_id", terminal.seqr_id)
    _put(out, "open_invoice", terminal.open_invoice)
    return out


def decode_terminal(raw: Json) -> tuple[Terminal, bool]:
    """The terminal, and whether it came without its password (then it is "")."""
    try:
        password = raw["password"]
        made = Terminal(
            raw["id"],
            password or "",
            raw.get("name"),
            raw.get("cash_register", False),
            raw.get("external_id"),
            raw.get("reseller_id"),
            raw.get("seqr_id"),
            True,
            raw.get("open_invoice"),
        )
    except (KeyError, TypeError) as exc:
        raise BadRecord(f"terminal {_name(raw, 'id')}: {exc!r}") from None
    _check_strings(made.id, made.password)
    return made, password is None


def _name(raw: object, key: str) -> str:
    return str(raw.get(key) or "?") if isinstance(raw, Mapping) else "?"


def _check_strings(*values: object) -> None:
    for value in values:
        if not isinstance(value, str):
            raise BadRecord(f"expected a string, got {value!r}")


# --- external services --------------------------------------------------------------------------


def encode_definition(definition: ext.ServiceDefinition) -> Json:
    return {
        "id": definition.id,
        "order_url": definition.order_url,
        "success_url": definition.success_url,
        "failure_url": definition.failure_url,
        "cancel_url": definition.cancel_url,
    }


def decode_definition(raw: Json) -> ext.ServiceDefinition:
    try:
        return ext.ServiceDefinition(
            raw["id"], raw["order_url"], raw["success_url"], raw["failure_url"], raw["cancel_url"]
        )
    except (KeyError, TypeError) as exc:
        raise BadRecord(f"service {_name(raw, 'id')}: {exc!r}") from None


def encode_session(session: ext.CustomerSession) -> Json:
    out: Json = {
        "token": session.token,
        "service": encode_definition(session.service),
        "parameters": [list(p) for p in session.parameters],
        "customer": _customer(session.customer),
        "created_at": session.created_at.isoformat(),
        "state": session.state.value,
    }
    _put(out, "invoice_reference", session.invoice_reference)
    return out


def decode_session(raw: Json, decoder: Decoder | None = None) -> ext.CustomerSession:
    decoder = decoder or Decoder()
    try:
        customer = decoder.customer(raw["customer"])
        assert customer is not None
        return ext.CustomerSession(
            raw["token"],
            decode_definition(raw["service"]),
            tuple((str(k), str(v)) for k, v in raw["parameters"]),
            customer,
            _fromiso(raw["created_at"]),
            _SESSION_STATE[raw["state"]],
            raw.get("invoice_reference"),
        )
    except (KeyError, TypeError, ValueError, AssertionError) as exc:
        raise BadRecord(f"session {_name(raw, 'token')}: {exc!r}") from None


def session_number(token: str) -> int:
    """The session number a token starts with (`0000000012-63506374` is 12)."""
    head = token.partition("-")[0]
    return int(head) if head.isdigit() else 0


# --- transaction periods ----------------------------------------------------------------------


def encode_transaction(t: reports.Transaction) -> list[Any]:
    return [t.ers_reference, t.terminal_id, t.cashier_id, str(t.amount), t.at.isoformat()]


def decode_transaction(raw: list[Any]) -> reports.Transaction:
    try:
        ers, terminal, cashier, amount, at = raw
        _check_strings(ers, terminal)
        return reports.Transaction(ers, terminal, cashier, Decimal(amount), _fromiso(at))
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise BadRecord(f"transaction {raw!r}: {exc!r}") from None


def encode_period(period: reports.Period) -> Json:
    return {
        "id": period.id,
        "reseller_id": period.reseller_id,
        "terminal_id": period.terminal_id,
        "opened_at": _when(period.opened_at),
        "closed_at": period.closed_at.isoformat(),
        "transactions": [encode_transaction(t) for t in period.transactions],
    }


def decode_period(raw: Json) -> reports.Period:
    try:
        opened = raw["opened_at"]
        return reports.Period(
            raw["id"],
            raw["reseller_id"],
            raw["terminal_id"],
            None if opened is None else _fromiso(opened),
            _fromiso(raw["closed_at"]),
            tuple(decode_transaction(t) for t in raw["transactions"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRecord(f"transaction period {_name(raw, 'id')}: {exc!r}") from None


# --- scenarios, by value ------------------------------------------------------------------------


def encode_scenario(scenario: Scenario) -> Json:
    """The scenario as the loader reads it (`loader.from_mapping`), with its name and source."""
    body: Json = {"description": scenario.description, "steps": [_step(s) for s in scenario.steps]}
    if scenario.seed is not None:
        body["seed"] = scenario.seed
    return {"name": scenario.name, "source": scenario.source, "scenario": body}


def decode_scenario(raw: Json) -> Scenario:
    """Checked by the loader, exactly as a file or an inline scenario is."""
    try:
        name, source, body = raw["name"], raw["source"], raw["scenario"]
        return loader.from_mapping(body, str(source), str(name))
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRecord(f"scenario: {exc}") from None


def _step(step: Step) -> Json:
    out: Json = {"when": step.when.value}
    if step.when is Trigger.POLLS:
        out["polls"] = step.polls
    elif step.when is Trigger.AFTER:
        out["seconds"] = step.seconds
    elif step.when is Trigger.OPERATION:
        out["operation"] = step.operation
    do = step.do
    if do is not None:
        out["do"] = do.value
        if do is Action.PRESENT_TOKEN:
            out["tokens"] = [_token(t.id, t.value, t.description) for t in step.tokens]
        elif do is Action.RESERVE and step.timeout is not None:
            out["timeout"] = step.timeout
        elif do is Action.ANSWER:
            out["result_code"] = step.result_code
        elif do is Action.FAULT:
            out["fault_code"] = step.fault_code
            out["fault_string"] = step.fault_string
        elif do is Action.SLOW:
            out["duration"] = step.duration
        if do.on_call:
            out["times"] = step.times
    if step.probability != 1.0:
        out["probability"] = step.probability
    plan = step.notification
    if plan is not None:
        out["notification"] = plan.delivery.value
        if plan.delivery is Delivery.DELAY:
            out["delay"] = plan.delay
        elif plan.delivery is Delivery.DUPLICATE:
            out["copies"] = plan.copies
    return out


def _token(ident: str, value: str, description: str | None) -> Json:
    out: Json = {"id": ident, "value": value}
    if description is not None:
        out["description"] = description
    return out


# --- the identifier position -----------------------------------------------------------------

_WORD = "I" if array("I").itemsize == 4 else "L"  # the random stream's 32-bit words


def rng_bytes(words: tuple[int, ...]) -> bytes:
    """The random stream's 625 words as 2,500 bytes, little-endian on every machine."""
    packed = array(_WORD, words)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def rng_words(raw: bytes) -> tuple[int, ...]:
    packed = array(_WORD)
    packed.frombytes(raw)
    if sys.byteorder == "big":
        packed.byteswap()
    return tuple(packed)


def encode_ids(position: IdPosition) -> Json:
    assert position.rng is not None, "an export takes the whole position"
    version, words, gauss = position.rng
    return {
        "invoice_base": position.invoice_base,
        "invoice_seq": position.invoice_seq,
        "ers_seq": position.ers_seq,
        "virtual_ms": position.virtual_ms,
        "rng": {
            "version": version,
            "words": base64.b64encode(rng_bytes(words)).decode("ascii"),
            "gauss": gauss,
        },
    }


def decode_ids(raw: Json) -> IdPosition:
    try:
        rng = raw["rng"]
        words = rng_words(base64.b64decode(rng["words"], validate=True))
        gauss = rng["gauss"]
        position = IdPosition(
            int(raw["invoice_base"]),
            int(raw["invoice_seq"]),
            int(raw["ers_seq"]),
            int(raw["virtual_ms"]),
            (int(rng["version"]), words, None if gauss is None else float(gauss)),
        )
        random.Random().setstate(position.rng)  # type: ignore[arg-type]  # refuses a non-state
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise BadRecord(f"identifier position: {exc!r}") from None
    return position
