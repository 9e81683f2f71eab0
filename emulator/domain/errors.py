"""SEQR result codes, and the errors that carry them out of the domain.

Business errors are never SOAP Faults: every operation answers HTTP 200 with `resultCode` and
`resultDescription`. The wire text of a code is its constant's name, except code 98, whose
description the real service spelled out.
"""

from __future__ import annotations

from enum import IntEnum


class ResultCode(IntEnum):
    """Every code of the merchant service (ERSWSResultCodes), including ones out of scope."""

    SUCCESS = 0
    PENDING_APPROVAL = 1
    REPORT_NOT_READY = 2
    REJECTED_BUSINESS_LOGIC = 10
    REJECTED_AMOUNT = 11
    REJECTED_PAYMENT = 12
    REJECTED_TOPUP = 13
    AUTHENTICATION_FAILED = 20
    ACCESS_DENIED = 21
    INVALID_NEW_PASSWORD = 22
    INVALID_ERS_REFERENCE = 23
    INVALID_INITIATOR_PRINCIPAL_ID = 29
    INVALID_RECEIVER_PRINCIPAL_ID = 30
    INVALID_SENDER_PRINCIPAL_ID = 31
    INVALID_TOPUP_PRINCIPAL_ID = 32
    INVALID_INITIATOR_PRINCIPAL_STATE = 33
    INVALID_RECEIVER_PRINCIPAL_STATE = 34
    INVALID_SENDER_PRINCIPAL_STATE = 35
    INVALID_TOPUP_PRINCIPAL_STATE = 36
    INITIATOR_PRINCIPAL_NOT_FOUND = 37
    RECEIVER_PRINCIPAL_NOT_FOUND = 38
    SENDER_PRINCIPAL_NOT_FOUND = 39
    TOPUP_PRINCIPAL_NOT_FOUND = 40
    INVALID_PRODUCT = 41
    INVALID_RECEIVER_ACCOUNT_TYPE = 42
    INVALID_SENDER_ACCOUNT_TYPE = 43
    INVALID_TOPUP_ACCOUNT_TYPE = 44
    RECEIVER_ACCOUNT_NOT_FOUND = 45
    SENDER_ACCOUNT_NOT_FOUND = 46
    TOPUP_ACCOUNT_NOT_FOUND = 47
    PAYMENT_IN_PROGRESS = 48
    INVALID_INVOICE_DATA = 49
    CANNOT_CANCEL_PAID_INVOICE = 50
    CANNOT_CANCEL_INVOICE_IN_PROGRESS = 51
    INVALID_CUSTOMER = 52
    INVALID_SEQR_ID = 53
    INVALID_INVOICE_REFERENCE = 54
    PAYMENT_ALREADY_CANCELLED = 55
    REGISTRATION_NOT_POSSIBLE = 56
    REGISTRATION_PRINCIPAL_ALREADY_EXISTS = 57
    PAYMENT_EXPIRED = 58
    AUTHORIZATION_EXPIRED = 60
    AUTHORIZATION_CANCELLED = 61
    AUTHORIZATION_IN_PROGRESS = 62
    INVALID_AUTHORIZATION_REFERENCE = 63
    INVALID_NOTIFICATION_URL = 64
    SYSTEM_ERROR = 90
    UNSUPPORTED_OPERATION = 91
    LICENSE_REJECTION = 92
    SYSTEM_BUSY = 93
    SERVICE_UNAVAILABLE = 94
    INVOICE_ALREADY_CANCELED = 95
    INVOICE_STATE_NOT_RESERVED = 96
    RESELLER_NOT_ALLOWED_TO_DO_REFUND = 97
    SUM_OF_REFUNDS_CAN_NOT_BE_MORE_THAN_ORIGINAL_TRANSACTION = 98
    RECEIVER_ACCOUNT_DOES_NOT_ALLOW_REFUNDS = 99


_WIRE_TEXT = {
    ResultCode.SUM_OF_REFUNDS_CAN_NOT_BE_MORE_THAN_ORIGINAL_TRANSACTION: (
        "Sum of refunds can not be more than original transaction"
    ),
}


def describe(code: int) -> str:
    """The `resultDescription` the real service wrote for a bare code."""
    try:
        known = ResultCode(code)
    except ValueError:
        return f"UNKNOWN ERSWSResultCode = {code}"
    return _WIRE_TEXT.get(known, known.name)


class SeqrError(Exception):
    """A business outcome other than SUCCESS; `soap.mapping` turns it into the response.

    The wire carries only the code's own text, as the real service did for business errors;
    `detail` says why for people (logs, the control API), never for parsers.
    """

    code: ResultCode = ResultCode.SYSTEM_ERROR

    def __init__(self, code: ResultCode | None = None, detail: str | None = None) -> None:
        if code is not None:
            self.code = code
        self.detail = detail
        super().__init__(f"{self.description}: {detail}" if detail else self.description)

    @property
    def description(self) -> str:
        return describe(self.code)


class IllegalMove(Exception):
    """The emulated customer tried something the invoice's state forbids (HTTP 409)."""


class NotFound(Exception):
    """A control-API lookup for something that does not exist (HTTP 404)."""
