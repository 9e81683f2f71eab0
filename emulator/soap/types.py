"""The SEQR merchant schema as spyne models: the one source of the WSDL and the wire codec.

Field order inside every model is the XSD sequence order, which strict clients (zeep, JAXB)
enforce on responses. Nothing else in the package declares element names or order: the codec
(`codec.py`) and the WSDL writer (`wsdl.py`) both derive theirs from these classes.

Wrapper models listed in `ANONYMOUS_TYPES` are written inline (as anonymous complex types)
in the published schema, the way the real service declares `invoiceRows` and
`customerTokens`; spyne can only name them, so the WSDL writer inlines them.
"""

from __future__ import annotations

from spyne import ByteArray, ComplexModel, Enum, Integer32, Integer64, Unicode
from spyne import DateTime as _DateTime
from spyne import Decimal as _Decimal

NAMESPACE = "http://external.interfaces.ers.seamless.com/"

# JAXB never writes xsi:nil; only `purchasedProducts` is declared nillable in the real schema.
String = Unicode(nillable=False)
Int = Integer32(min_occurs=1, nillable=False)
Long = Integer64(min_occurs=1, nillable=False)
Decimal = _Decimal(nillable=False)
DateTime = _DateTime(nillable=False)
Base64 = ByteArray(nillable=False)


# spyne ships no types, so its bases are Any to mypy: these two are the only such subclasses
# here (every model below derives from `Model`).
class Model(ComplexModel):  # type: ignore[misc]  # subclasses spyne's untyped ComplexModel
    """Base for every SEQR type: target namespace, unqualified children, never nillable."""

    __namespace__ = NAMESPACE

    class Attributes(ComplexModel.Attributes):  # type: ignore[misc]  # spyne's, untyped
        nillable = False


PaymentMode = Enum(
    "IMMEDIATE_DEBIT", "RESERVATION_DESIRED", "RESERVATION_REQUIRED", type_name="paymentMode"
)
AcknowledgmentMode = Enum(
    "NO_ACKNOWLEDGMENT",
    "OPTIONAL_ACKNOWLEDGMENT",
    "REQUIRE_ACKNOWLEDGMENT",
    type_name="acknowledgmentMode",
)
InvoiceStatus = Enum(
    "ISSUED",
    "PAID",
    "PENDING_ISSUER_ACKNOWLEDGE",
    "CANCELED",
    "FAILED",
    "RESERVED",
    type_name="invoiceStatus",
)
PaymentMode = PaymentMode.customize(nillable=False)
AcknowledgmentMode = AcknowledgmentMode.customize(nillable=False)
InvoiceStatus = InvoiceStatus.customize(nillable=False)


class PrincipalId(Model):
    __type_name__ = "principalId"
    _type_info = [("id", String), ("type", String), ("userId", String)]


class ClientContext(Model):
    __type_name__ = "clientContext"
    _type_info = [
        ("channel", String),
        ("clientComment", String),
        ("clientId", String),
        ("clientReference", String),
        ("clientRequestTimeout", Long),
        ("initiatorPrincipalId", PrincipalId),
        ("password", String),
    ]


class Amount(Model):
    __type_name__ = "amount"
    _type_info = [("currency", String), ("value", Decimal)]


class PaymentInvoiceRow(Model):
    __type_name__ = "paymentInvoiceRow"
    _type_info = [
        ("itemDescription", String),
        ("itemDiscount", Amount),
        ("itemEAN", String),
        ("itemQuantity", Decimal),
        ("itemSKU", String),
        ("itemTaxRate", Decimal),
        ("itemTotalAmount", Amount),
        ("itemUnit", String),
        ("itemUnitPrice", Amount),
    ]


class InvoiceRows(Model):
    __type_name__ = "invoiceRows"
    _type_info = [("invoiceRow", PaymentInvoiceRow.customize(max_occurs="unbounded"))]


class Invoice(Model):
    __type_name__ = "invoice"
    _type_info = [
        ("paymentMode", PaymentMode),
        ("acknowledgmentMode", AcknowledgmentMode),
        ("issueDate", DateTime),
        ("title", String),
        ("clientInvoiceId", String),
        ("invoiceRows", InvoiceRows),
        ("totalAmount", Amount),
        ("cashierId", String),
        ("footer", String),
        ("backURL", String),
        ("notificationUrl", String),
    ]


class CustomerToken(Model):
    __type_name__ = "customerToken"
    _type_info = [
        ("description", String),
        ("id", String),
        ("status", Int),
        ("value", String),
    ]


class CustomerTokens(Model):
    __type_name__ = "customerTokens"
    _type_info = [("token", CustomerToken.customize(max_occurs="unbounded"))]


class ReceiptDocument(Model):
    __type_name__ = "receiptDocument"
    _type_info = [("mimeType", String), ("receiptData", Base64), ("receiptType", String)]


class Parameter(Model):
    __type_name__ = "parameter"
    _type_info = [("key", String), ("value", String)]


class MapArray(Model):
    __type_name__ = "mapArray"
    _type_info = [("entry", Parameter.customize(max_occurs="unbounded"))]


class ParameterMap(Model):
    __type_name__ = "parameterMap"
    _type_info = [("parameter", MapArray)]


class Receipt(Model):
    __type_name__ = "receipt"
    _type_info = [
        ("terminalId", String),
        ("paymentDate", DateTime),
        ("clientInvoiceId", String),
        ("invoiceReference", String),
        ("paymentReference", String),
        ("payerTerminalId", String),
        ("receiverName", String),
        ("invoice", Invoice),
    ]


class Report(Model):
    __type_name__ = "report"
    _type_info = [
        ("title", String),
        ("mimeType", String),
        ("content", Base64),
        ("contentString", String),
    ]


class PrincipalAccountSpecifier(Model):
    __type_name__ = "principalAccountSpecifier"
    _type_info = [("accountId", String), ("accountTypeId", String)]


class PrincipalAccount(Model):
    __type_name__ = "principalAccount"
    _type_info = [
        ("accountDescription", String),
        ("accountSpecifier", PrincipalAccountSpecifier),
        ("balance", Amount),
        ("creditLimit", Amount),
    ]


class PrincipalAccounts(Model):
    __type_name__ = "principalAccounts"
    _type_info = [("account", PrincipalAccount.customize(max_occurs="unbounded"))]


class Principal(Model):
    __type_name__ = "principal"
    _type_info = [
        ("principalId", PrincipalId),
        ("principalName", String),
        ("accounts", PrincipalAccounts),
        ("status", String),
        ("msisdn", String),
    ]


class PrincipalPurchaseProductSpecifier(Model):
    __type_name__ = "principalPurchaseProductSpecifier"
    _type_info = [("productId", String), ("productIdType", String)]


class PurchaseOrderRow(Model):
    __type_name__ = "purchaseOrderRow"
    _type_info = [
        ("productSpecifier", PrincipalPurchaseProductSpecifier),
        ("purchaseCount", Int),
    ]


class SessionEntry(Model):
    """One key/value pair of getClientSessionInfo (JAXB's mapping of a Map<String,String>)."""

    __type_name__ = "sessionEntry"
    _type_info = [("key", String), ("value", String)]


class SessionParameters(Model):
    __type_name__ = "sessionParameters"
    _type_info = [("entry", SessionEntry.customize(max_occurs="unbounded"))]


# --- responses -------------------------------------------------------------------------------


class ErswsResponse(Model):
    __type_name__ = "erswsResponse"
    _type_info = [
        ("ersReference", String),
        ("resultCode", Int),
        ("resultDescription", String),
    ]


class ErswsSendInvoiceResponse(ErswsResponse):
    __type_name__ = "erswsSendInvoiceResponse"
    _type_info = [("invoiceQRCode", String), ("invoiceReference", String)]


class ErswsPaymentStatusResponse(ErswsResponse):
    __type_name__ = "erswsPaymentStatusResponse"
    _type_info = [
        ("status", InvoiceStatus),
        ("receipt", Receipt),
        ("customerTokens", CustomerTokens),
        ("version", Int),
    ]


class ErswsRegisterTerminalResponse(ErswsResponse):
    __type_name__ = "erswsRegisterTerminalResponse"
    _type_info = [("terminalId", String)]


class ErswsMarkTransactionPeriodResponse(ErswsResponse):
    __type_name__ = "erswsMarkTransactionPeriodResponse"
    _type_info = [("transactionPeriodId", String)]


class ErswsExecuteReportResponse(ErswsResponse):
    __type_name__ = "erswsExecuteReportResponse"
    _type_info = [("report", Report)]


class ErswsPrincipalInformationResponse(ErswsResponse):
    __type_name__ = "erswsPrincipalInformationResponse"
    _type_info = [("requestedPrincipal", Principal)]


class ErswsTopupResponse(ErswsResponse):
    __type_name__ = "erswsTopupResponse"
    _type_info = [
        ("requestedTopupAmount", Amount),
        ("senderPrincipal", Principal),
        ("topupAccountSpecifier", PrincipalAccountSpecifier),
        ("topupAmount", Amount),
        ("topupPrincipal", Principal),
    ]


class ErswsTransferResponse(ErswsResponse):
    __type_name__ = "erswsTransferResponse"
    _type_info = [
        ("receivedAmount", Amount),
        ("receiverPrincipal", Principal),
        ("requestedTransferAmount", Amount),
        ("senderPrincipal", Principal),
    ]


class ErswsPurchaseResponse(ErswsResponse):
    __type_name__ = "erswsPurchaseResponse"
    _type_info = [
        ("paymentPrincipal", Principal),
        ("purchaseReference", String),
        (
            "purchasedProducts",
            PrincipalPurchaseProductSpecifier.customize(max_occurs="unbounded", nillable=True),
        ),
        ("receiverPrincipal", Principal),
    ]


class ErswsClientSessionInfoResponse(ErswsResponse):
    __type_name__ = "erswsClientSessionInfoResponse"
    _type_info = [("parameters", SessionParameters)]


ANONYMOUS_TYPES = frozenset(
    {"invoiceRows", "customerTokens", "principalAccounts", "sessionParameters", "sessionEntry"}
)
"""Types the real schema declares inline; the WSDL writer inlines them where used."""
