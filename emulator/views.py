"""JSON-ready views of the domain, shared by the control API and the dashboard.

Amounts are strings (exact decimals), times ISO 8601. Nothing here is a password: the
journal's bytes come out of `journal.Record` with every password hidden.
"""

from __future__ import annotations

from typing import Any

from emulator.domain import seqr_urls
from emulator.domain.model import Amount, Invoice, InvoiceRow, Terminal
from emulator.journal import CALL, Attempt, Record
from emulator.scenario.model import Scenario

Json = dict[str, Any]


def amount(value: Amount | None) -> Json | None:
    if value is None:
        return None
    return {"value": format(value.value, "f"), "currency": value.currency}


def _row(row: InvoiceRow) -> Json:
    return {
        "description": row.description,
        "quantity": None if row.quantity is None else format(row.quantity, "f"),
        "unitPrice": amount(row.unit_price),
        "totalAmount": amount(row.total),
        "discount": amount(row.discount),
        "taxRate": None if row.tax_rate is None else format(row.tax_rate, "f"),
        "sku": row.sku,
        "ean": row.ean,
        "unit": row.unit,
    }


def attempt(made: Attempt) -> Json:
    """One notification attempt, as `/_emulator/notifications` and the invoice view show it."""
    return {
        "seq": made.seq,
        "invoiceReference": made.invoice_reference,
        "event": made.event,
        "url": made.url,
        "at": made.at.isoformat(),
        "action": made.action,
        "outcome": made.outcome.value,
        "statusCode": made.status,
        "error": made.error,
        "latencyMs": made.latency_ms,
    }


def journal_entry(record: Record, bodies: bool = True) -> Json:
    """One journal entry, as `/_emulator/journal` and the dashboard show it. The bytes are
    text (undecodable bytes shown as U+FFFD), cut at the journal's BODY_LIMIT where
    `requestSize`/`answerSize` say they were longer; `bodies=False` leaves them out."""
    out: Json = {
        "seq": record.seq,
        "kind": record.kind,
        "at": record.at.isoformat(),
        "operation": record.operation,
        "terminal": record.terminal,
        "invoice": record.invoice,
        "outcome": record.outcome(),
    }
    made = record.attempt
    if record.kind != CALL and made is not None:
        out.update(
            {
                "event": made.event,
                "url": made.url,
                "action": made.action,
                "notificationOutcome": made.outcome.value,
                "statusCode": made.status,
                "error": made.error,
                "latencyMs": made.latency_ms,
            }
        )
        return out
    step = record.step
    fault = refused = None
    if record.fault_code is not None:
        fault = {"code": record.fault_code, "string": record.fault_string}
    elif record.result_code is None:  # refused before it was read (413): why
        refused = record.fault_string
    out.update(
        {
            "path": record.path,
            "ersReference": record.ers_reference,
            "resultCode": record.result_code,
            "fault": fault,
            "refused": refused,
            "httpStatus": record.status,
            "scenarioStep": None
            if step is None
            else {
                "number": step.number,
                "do": None if step.do is None else step.do.value,
                "describe": step.describe(),
            },
            "durationMs": None if record.duration_ms is None else round(record.duration_ms, 3),
            "requestSize": None if record.request_size < 0 else record.request_size,
            "answerSize": record.answer_size,
        }
    )
    if bodies:
        out["request"] = record.request.decode("utf-8", "replace")
        out["answer"] = record.answer.decode("utf-8", "replace")
    return out


def invoice_summary(invoice: Invoice) -> Json:
    data = invoice.data
    return {
        "reference": invoice.reference,
        "terminalId": invoice.terminal_id,
        "status": invoice.status.value,
        "version": invoice.version,
        "title": data.title,
        "clientInvoiceId": data.client_invoice_id,
        "totalAmount": amount(data.total),
        "createdAt": invoice.created_at.isoformat(),
    }


def invoice_detail(invoice: Invoice) -> Json:
    data = invoice.data
    payment = invoice.payment
    return {
        **invoice_summary(invoice),
        "invoiceQRCode": seqr_urls.invoice_qr(invoice.reference),
        "deepLink": seqr_urls.deep_link(invoice.reference),
        "paymentMode": data.effective_payment_mode.value,
        "acknowledgmentMode": data.ack_mode.value if data.ack_mode else None,
        "inProgress": invoice.in_progress,
        "rows": [_row(r) for r in data.rows or ()],
        "cashierId": data.cashier_id,
        "footer": data.footer,
        "backURL": data.back_url,
        "notificationUrl": data.notification_url,
        "customerTokens": [
            {"id": t.id, "value": t.value, "description": t.description, "status": t.status}
            for t in invoice.customer_tokens
        ],
        "payment": None
        if payment is None
        else {
            "ersReference": payment.ers_reference,
            "date": payment.date.isoformat(),
            "amount": amount(payment.amount),
            "acknowledged": payment.acknowledged,
            "msisdn": payment.customer.msisdn,
            "payerTerminalId": payment.customer.payer_terminal_id,
        },
        "refunds": [
            {
                "ersReference": r.ers_reference,
                "date": r.date.isoformat(),
                "amount": amount(r.amount),
                "cashierId": r.cashier_id,
            }
            for r in invoice.refunds
        ],
        "refundedTotal": format(invoice.refunded_total, "f"),
        "receipts": [
            {
                "ersReference": r.ers_reference,
                "for": r.target_reference,
                "mimeType": r.mime_type,
                "receiptType": r.receipt_type,
                "bytes": r.size,
            }
            for r in invoice.receipts
        ],
        "history": [
            {
                "at": h.at.isoformat(),
                "event": h.event,
                "status": h.status.value,
                "version": h.version,
            }
            for h in invoice.history
        ],
    }


def terminal_view(terminal: Terminal) -> Json:
    """A till as the dashboard shows it; `staticQRCode` is what its printed sticker encodes."""
    seqr_id = terminal.seqr_id
    return {
        "terminalId": terminal.id,
        "name": terminal.name,
        "externalTerminalId": terminal.external_id,
        "resellerId": terminal.reseller_id,
        "cashRegister": terminal.cash_register,
        "seqrId": terminal.seqr_id,
        "staticQRCode": None if seqr_id is None else seqr_urls.terminal_qr(seqr_id),
        "openInvoice": terminal.open_invoice,
    }


def scenario_view(scenario: Scenario | None) -> Json | None:
    """A scenario as the control API lists it: its steps as short human lines."""
    if scenario is None:
        return None
    return {
        "name": scenario.name,
        "description": scenario.description,
        "steps": [step.describe() for step in scenario.steps],
    }
