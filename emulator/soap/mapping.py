"""Where SEQR's camelCase wire names meet the domain: one small handler per operation.

Each handler converts the request dict in, calls one backend verb and converts the answer
out. `SeqrError` becomes `resultCode`/`resultDescription` here and nowhere else. `describe`
reads what the scenario hook needs of a call (operation, terminal, invoice, the
`[scenario:NAME]` marker) once, from the request as read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from emulator.backend import SeqrBackend
from emulator.domain import invoice as rules
from emulator.domain import seqr_urls
from emulator.domain.errors import ResultCode, SeqrError, describe
from emulator.domain.model import (
    AcknowledgmentMode,
    Amount,
    Credentials,
    CustomerToken,
    Invoice,
    InvoiceData,
    InvoiceRow,
    InvoiceStatus,
    PaymentMode,
)
from emulator.scenario.engine import Call, find_marker

Dict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What the transport knows about a call besides its body: the path's rule, and the path
    (which the journal names)."""

    default_ack: AcknowledgmentMode | None = None
    path: str = ""


Creds = Credentials | None
Handler = Callable[[SeqrBackend, Dict, CallInfo, Call, Creds], Dict]

SUCCESS: Dict = {"resultCode": 0, "resultDescription": "SUCCESS"}

# A named tuple made from all its fields by tuple.__new__ itself: the class's own __new__ is
# a Python function that only calls it. Worth (callgrind, instructions per call): sendInvoice
# 425.9k against 422.5k (its credentials and call).
_make = tuple.__new__


# --- in --------------------------------------------------------------------------------------


def credentials(request: Dict) -> Creds:
    """The context's principal and password; read once per reading of a request (the poll
    memo keeps them with it), so a repeating poll makes none."""
    context = request.get("context")
    if not context:
        return None
    principal = context.get("initiatorPrincipalId") or {}
    id_, kind, user = principal.get("id"), principal.get("type"), principal.get("userId")
    return _make(
        Credentials,
        (
            id_.strip() if isinstance(id_, str) else id_,
            kind.strip() if isinstance(kind, str) else kind,
            user.strip() if isinstance(user, str) else user,
            context.get("password"),
        ),
    )


def describe_call(operation: str, request: Dict, creds: Creds) -> Call:
    """What the scenario hook sees of a call (`creds` are the request's `credentials`); the
    marker is looked for in any `invoice` the request carries (sendInvoice's title or
    clientInvoiceId). On every parsed call, so it reads each field once, inline."""
    reference = request.get("invoiceReference")
    ers = request.get("ersReference")
    invoice = request.get("invoice")
    marker = None
    if invoice:
        marker = find_marker(invoice.get("title"), invoice.get("clientInvoiceId"))
    return _make(
        Call,
        (
            operation,
            None if creds is None else creds.id,
            reference.strip() if isinstance(reference, str) else None,
            ers.strip() if isinstance(ers, str) else None,
            marker,
        ),
    )


def answered_by_scenario(operation: str, result_code: int) -> Dict:
    """The answer a scenario chose: the code and its wire text, as SEQR wrote errors (a code
    SEQR never defined reads `UNKNOWN ERSWSResultCode = N`, as its client library wrote it)."""
    out = failure(SeqrError(), operation)
    out.update(resultCode=result_code, resultDescription=describe(result_code))
    return out


def amount_in(value: Dict | None) -> Amount | None:
    if not value:
        return None
    number = value.get("value")
    if number is None:
        return None
    return Amount(number, (value.get("currency") or "").strip())


# Each enumeration's members by value: `kind(value)` looks them up in Python (5k
# instructions), a dict in C (callgrind)
_MEMBERS: dict[type, dict[str, Any]] = {
    kind: {member.value: member for member in kind} for kind in (PaymentMode, AcknowledgmentMode)
}


def _enum(kind: type, value: str | None, name: str) -> Any:
    if value is None or value == "":
        return None
    found = _MEMBERS[kind].get(value)
    if found is None:
        raise SeqrError(ResultCode.INVALID_INVOICE_DATA, f"unknown {name} {value!r}")
    return found


# InvoiceData and InvoiceRow are made with their fields in order, not by keyword: keywords
# cost a sendInvoice 5k instructions (an InvoiceData of twelve, 958 ns against 303 ns). Their
# order is checked here, once, so that a field added or moved cannot shift a value.
_INVOICE_ORDER = (
    "payment_mode",
    "ack_mode",
    "issue_date",
    "title",
    "client_invoice_id",
    "rows",
    "total",
    "cashier_id",
    "footer",
    "back_url",
    "notification_url",
    "commit_reservation_timeout",
)
_ROW_ORDER = (
    "description",
    "discount",
    "ean",
    "quantity",
    "sku",
    "tax_rate",
    "total",
    "unit",
    "unit_price",
)
if (
    tuple(f.name for f in fields(InvoiceData)) != _INVOICE_ORDER
    or tuple(f.name for f in fields(InvoiceRow)) != _ROW_ORDER
):
    raise ImportError("InvoiceData or InvoiceRow changed its fields: update soap/mapping.py")


def invoice_in(value: Dict | None) -> InvoiceData:
    if value is None:
        raise SeqrError(ResultCode.INVALID_INVOICE_DATA, "invoice is required")
    get = value.get
    rows = get("invoiceRows")
    return InvoiceData(  # in _INVOICE_ORDER
        _enum(PaymentMode, get("paymentMode"), "paymentMode"),
        _enum(AcknowledgmentMode, get("acknowledgmentMode"), "acknowledgmentMode"),
        get("issueDate"),
        get("title"),
        get("clientInvoiceId"),
        None if rows is None else _rows_in(rows.get("invoiceRow") or []),
        amount_in(get("totalAmount")),
        get("cashierId"),
        get("footer"),
        get("backURL"),
        get("notificationUrl"),
        get("commitReservationTimeout"),
    )


def _rows_in(rows: list[Dict]) -> list[InvoiceRow]:
    """Up to one row past `ROW_LIMIT`, enough for the rules to refuse the invoice (49): a
    megabyte holds 80,000 empty rows, and converting them all took 0.4 s."""
    return [_row_in(r) for r in rows[: rules.ROW_LIMIT + 1]]


def _row_in(row: Dict) -> InvoiceRow:
    get = row.get
    return InvoiceRow(  # in _ROW_ORDER
        get("itemDescription"),
        amount_in(get("itemDiscount")),
        get("itemEAN"),
        get("itemQuantity"),
        get("itemSKU"),
        get("itemTaxRate"),
        amount_in(get("itemTotalAmount")),
        get("itemUnit"),
        amount_in(get("itemUnitPrice")),
    )


# --- out -------------------------------------------------------------------------------------


def amount_out(value: Amount | None) -> Dict | None:
    if value is None:
        return None
    return {"currency": value.currency, "value": value.value}


def invoice_out(data: InvoiceData) -> Dict:
    """The invoice as the merchant sent it, limited to what the WSDL declares."""
    mode = data.payment_mode
    if mode is PaymentMode.RESERVATION_REQUIRED_PRELIMINARY_AMOUNT:
        mode = PaymentMode.RESERVATION_REQUIRED  # 2.9-only value: WSDL clients cannot read it
    return {
        "paymentMode": mode,
        "acknowledgmentMode": data.ack_mode,
        "issueDate": data.issue_date,
        "title": data.title,
        "clientInvoiceId": data.client_invoice_id,
        "invoiceRows": None
        if data.rows is None
        else {"invoiceRow": [_row_out(r) for r in data.rows]},
        "totalAmount": amount_out(data.total),
        "cashierId": data.cashier_id,
        "footer": data.footer,
        "backURL": data.back_url,
        "notificationUrl": data.notification_url,
    }


def _row_out(row: InvoiceRow) -> Dict:
    return {
        "itemDescription": row.description,
        "itemDiscount": amount_out(row.discount),
        "itemEAN": row.ean,
        "itemQuantity": row.quantity,
        "itemSKU": row.sku,
        "itemTaxRate": row.tax_rate,
        "itemTotalAmount": amount_out(row.total),
        "itemUnit": row.unit,
        "itemUnitPrice": amount_out(row.unit_price),
    }


def _token_out(token: CustomerToken) -> Dict:
    return {
        "description": token.description,
        "id": token.id,
        "status": token.status,
        "value": token.value,
    }


def payment_status_out(invoice: Invoice, terminal_name: str | None) -> Dict:
    out: Dict = {**SUCCESS, "status": invoice.status, "version": invoice.version}
    tokens = invoice.customer_tokens if invoice.status is not InvoiceStatus.CANCELED else []
    out["customerTokens"] = {"token": [_token_out(t) for t in tokens]}
    payment = invoice.payment
    if invoice.status is InvoiceStatus.PAID and payment is not None:
        out["ersReference"] = payment.ers_reference
        out["receipt"] = {
            "terminalId": invoice.terminal_id,
            "paymentDate": payment.date,
            "clientInvoiceId": invoice.data.client_invoice_id,
            "invoiceReference": invoice.reference,
            "paymentReference": payment.ers_reference,
            "payerTerminalId": payment.customer.payer_terminal_id,
            "receiverName": terminal_name,
            "invoice": invoice_out(_paid_invoice(invoice)),
        }
    return out


def _paid_invoice(invoice: Invoice) -> InvoiceData:
    """A committed preliminary amount shows in the receipt as the invoice's total."""
    payment = invoice.payment
    data = invoice.data
    if payment is None or data.total == payment.amount:
        return data
    return replace(data, total=payment.amount)


def failure(error: SeqrError, operation: str) -> Dict:
    out: Dict = {"resultCode": int(error.code), "resultDescription": error.description}
    if operation == "getPaymentStatus":
        out["version"] = 0  # a primitive int: JAXB always wrote it
    return out


# --- handlers --------------------------------------------------------------------------------


def send_invoice(backend: SeqrBackend, req: Dict, info: CallInfo, call: Call, creds: Creds) -> Dict:
    made = backend.send_invoice(
        creds,
        invoice_in(req.get("invoice")),
        default_ack=info.default_ack,
        marker=call.marker,
    )
    return {
        **SUCCESS,
        "invoiceQRCode": seqr_urls.invoice_qr(made.reference),
        "invoiceReference": made.reference,
    }


def update_invoice(
    backend: SeqrBackend, req: Dict, info: CallInfo, call: Call, creds: Creds
) -> Dict:
    data = invoice_in(req.get("invoice"))
    backend.update_invoice(creds, req.get("invoiceReference"), data)
    return SUCCESS


def polled(backend: SeqrBackend, req: Dict, creds: Creds) -> tuple[Invoice, str | None]:
    """getPaymentStatus's verb: the invoice polled, and the name its receipt gives the till."""
    found = backend.get_payment_status(creds, req.get("invoiceReference"))
    return found, backend.receiver_name(found)


def get_payment_status(
    backend: SeqrBackend, req: Dict, info: CallInfo, call: Call, creds: Creds
) -> Dict:
    return payment_status_out(*polled(backend, req, creds))


def cancel_invoice(
    backend: SeqrBackend, req: Dict, info: CallInfo, call: Call, creds: Creds
) -> Dict:
    backend.cancel_invoice(creds, req.get("invoiceReference"))
    return SUCCESS


def commit_reservation(
    backend: SeqrBackend, req: Dict, info: CallInfo, call: Call, creds: Creds
) -> Dict:
    backend.commit_reservation(creds, req.get("invoiceReference"), amount_in(req.get("amount")))
    return SUCCESS


def submit_payment_receipt(
    backend: SeqrBackend, req: Dict, info: CallInfo, call: Call, creds: Creds
) -> Dict:
    document = req.get("receiptDocument") or {}
    made = backend.submit_payment_receipt(
        creds,
        req.get("ersReference"),
        document.get("mimeType"),
        document.get("receiptType"),
        document.get("receiptData"),
    )
    return {"ersReference": made.ers_reference, **SUCCESS}


def refund_payment(
    backend: SeqrBackend, req: Dict, info: CallInfo, call: Call, creds: Creds
) -> Dict:
    """The refund's details come in an `invoice`: its totalAmount and cashierId are used, and
    its notificationUrl is held to sendInvoice's rule (64), as SEQR documented for refunds;
    its other fields are not read."""
    data = req.get("invoice") or {}
    rules.check_notification_url(data.get("notificationUrl"))
    made = backend.refund_payment(
        creds,
        req.get("ersReference"),
        amount_in(data.get("totalAmount")),
        data.get("cashierId"),
    )
    return {"ersReference": made.ers_reference, **SUCCESS}


def benchmarking_nop(
    backend: SeqrBackend, req: Dict, info: CallInfo, call: Call, creds: Creds
) -> Dict:
    return SUCCESS


# --- terminals and reconciliation ------------------------------------------------------------


def report_parameters(req: Dict) -> dict[str, str]:
    """Parameters by upper-cased key, from all three shapes clients sent them in."""
    given = req.get("parameters") or {}
    entries = [
        *((given.get("parameter") or {}).get("entry") or ()),
        *(given.get("entry") or ()),
        *(req.get("entry") or ()),
    ]
    found: dict[str, str] = {}
    for entry in entries:
        key = (entry.get("key") or "").strip().upper()
        if key:
            found[key] = (entry.get("value") or "").strip()
    return found


def register_terminal(
    backend: SeqrBackend, req: Dict, info: CallInfo, call: Call, creds: Creds
) -> Dict:
    made = backend.register_terminal(
        creds, req.get("externalTerminalId"), req.get("password"), req.get("name")
    )
    return {**SUCCESS, "terminalId": made.id}


def unregister_terminal(
    backend: SeqrBackend, req: Dict, info: CallInfo, call: Call, creds: Creds
) -> Dict:
    backend.unregister_terminal(creds)
    return SUCCESS


def assign_seqr_id(
    backend: SeqrBackend, req: Dict, info: CallInfo, call: Call, creds: Creds
) -> Dict:
    backend.assign_seqr_id(creds, req.get("seqrId"))
    return SUCCESS


def mark_transaction_period(
    backend: SeqrBackend, req: Dict, info: CallInfo, call: Call, creds: Creds
) -> Dict:
    terminal = report_parameters(req).get("TERMINALID") or None
    period = backend.mark_transaction_period(creds, terminal)
    return {**SUCCESS, "transactionPeriodId": period.id}


def execute_report(
    backend: SeqrBackend, req: Dict, info: CallInfo, call: Call, creds: Creds
) -> Dict:
    params = report_parameters(req)
    report = backend.execute_report(
        creds,
        req.get("reportId"),
        params.get("TRANSACTIONPERIODID"),
        params.get("TERMINALID") or None,
    )
    out = {
        "title": report.title,
        "mimeType": report.mime_type,
        "content": report.content,
        "contentString": report.content_string,
    }
    return {**SUCCESS, "report": out}


def get_client_session_info(
    backend: SeqrBackend, req: Dict, info: CallInfo, call: Call, creds: Creds
) -> Dict:
    """msisdn, subscriberKey, authKey and the scanned QR's own parameters, as JAXB's map."""
    pairs = backend.client_session_info(creds, req.get("key"))
    return {**SUCCESS, "parameters": {"entry": [{"key": k, "value": v} for k, v in pairs]}}


def unsupported(backend: SeqrBackend, req: Dict, info: CallInfo, call: Call, creds: Creds) -> Dict:
    raise SeqrError(ResultCode.UNSUPPORTED_OPERATION)


HANDLERS: dict[str, Handler] = {
    "sendInvoice": send_invoice,
    "updateInvoice": update_invoice,
    "getPaymentStatus": get_payment_status,
    "cancelInvoice": cancel_invoice,
    "commitReservation": commit_reservation,
    "submitPaymentReceipt": submit_payment_receipt,
    "refundPayment": refund_payment,
    "benchmarkingNop": benchmarking_nop,
    "registerTerminal": register_terminal,
    "unregisterTerminal": unregister_terminal,
    "assignSeqrId": assign_seqr_id,
    "markTransactionPeriod": mark_transaction_period,
    "executeReport": execute_report,
    "getClientSessionInfo": get_client_session_info,
}
"""Operations served; every other operation of the port type answers 91."""


def handle(backend: SeqrBackend, request: Dict, info: CallInfo, call: Call, creds: Creds) -> Dict:
    """`creds` are the request's `credentials`, read with it (`SoapEndpoint._read`)."""
    handler = HANDLERS.get(call.operation, unsupported)
    try:
        return handler(backend, request, info, call, creds)
    except SeqrError as error:
        return failure(error, call.operation)
