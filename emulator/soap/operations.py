# mypy: disable-error-code="no-untyped-def"
# (MerchantService's methods are declarations that never run: spyne takes their parameter
# names from their code objects and the types from `@_op`, so the parameters are unannotated.)
"""The operations of the merchant port type, declared as a spyne service.

This declaration is the single source of the operation list, the request wrappers' children
(names, order, types) and each operation's `return` type. spyne turns it into the WSDL
(`wsdl.py`) and the codec (`codec.py`) reads it once at start-up to build its lean parsers
and writers. Requests are never dispatched through spyne: its generic (de)serializer is an
order of magnitude slower than the HTTP stack and cannot write the prefixes CXF used, so the
bodies below only state where the real work happens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spyne import ServiceBase, rpc

from emulator.soap import types as t

CLIENT_SESSION_INFO = "getClientSessionInfo"
"""Not in the 2013 WSDL (a separate JAX-WS interface in the same namespace); served and
published here because PHP's SoapClient refuses to call operations its WSDL lacks."""


def _declared_only() -> None:
    raise NotImplementedError("SEQR requests are served by emulator.soap.transport")


def _op(*params: Any, returns: Any) -> Callable[[Callable[..., None]], Any]:
    """spyne's `@rpc` for a wrapped SEQR operation (the models are spyne classes: Any here)."""
    decorate: Callable[[Callable[..., None]], Any] = rpc(
        *params, _returns=returns, _body_style="wrapped", _out_variable_name="return"
    )
    return decorate


Tokens = t.CustomerToken.customize(max_occurs="unbounded")
InvoiceVersion = t.Int


class MerchantService(ServiceBase):  # type: ignore[misc]  # spyne's untyped ServiceBase
    """ERSWSExternalClientService: one method per WSDL operation, in the WSDL's order."""

    @_op(t.ClientContext, t.String, t.Invoice, returns=t.ErswsResponse)
    def refundPayment(ctx, context, ersReference, invoice):
        _declared_only()

    @_op(t.ClientContext, t.PrincipalId, t.PrincipalId, t.String, returns=t.ErswsResponse)
    def confirmCustomerRegistration(
        ctx,
        context,
        principalId,
        secondaryPrincipalId,
        registrationReference,
    ):
        _declared_only()

    @_op(t.ClientContext, t.ParameterMap, returns=t.ErswsMarkTransactionPeriodResponse)
    def markTransactionPeriod(ctx, context, parameters):
        _declared_only()

    @_op(t.ClientContext, t.String, returns=t.ErswsResponse)
    def commitReservation(ctx, context, invoiceReference):
        _declared_only()

    @_op(t.ClientContext, t.String, t.String, t.ParameterMap, returns=t.ErswsExecuteReportResponse)
    def executeReport(ctx, context, reportId, language, parameters):
        _declared_only()

    @_op(t.ClientContext, t.String, t.String, t.String, returns=t.ErswsRegisterTerminalResponse)
    def registerTerminal(ctx, context, externalTerminalId, password, name):
        _declared_only()

    @_op(t.ClientContext, t.String, returns=t.ErswsResponse)
    def cancelInvoice(ctx, context, invoiceReference):
        _declared_only()

    @_op(t.ClientContext, t.PrincipalId, returns=t.ErswsPrincipalInformationResponse)
    def requestPrincipalInformation(ctx, context, principalId):
        _declared_only()

    @_op(t.ClientContext, t.String, t.ReceiptDocument, returns=t.ErswsResponse)
    def submitPaymentReceipt(ctx, context, ersReference, receiptDocument):
        _declared_only()

    @_op(t.ClientContext, t.String, InvoiceVersion, returns=t.ErswsPaymentStatusResponse)
    def getPaymentStatus(ctx, context, invoiceReference, invoiceVersion):
        _declared_only()

    @_op(t.ClientContext, returns=t.ErswsResponse)
    def unregisterTerminal(ctx, context):
        _declared_only()

    @_op(
        t.ClientContext,
        t.PrincipalId,
        t.PrincipalId,
        t.PrincipalAccountSpecifier,
        t.PrincipalAccountSpecifier,
        t.PurchaseOrderRow.customize(max_occurs="unbounded"),
        returns=t.ErswsPurchaseResponse,
    )
    def requestPurchase(
        ctx,
        context,
        senderPrincipalId,
        receiverPrincipalId,
        senderAccountSpecifier,
        receiverAccountSpecifier,
        purchaseOrder,
    ):
        _declared_only()

    @_op(t.ClientContext, t.String, t.Invoice, Tokens, returns=t.ErswsResponse)
    def updateInvoice(ctx, context, invoiceReference, invoice, tokens):
        _declared_only()

    @_op(
        t.ClientContext,
        t.PrincipalId,
        t.PrincipalId,
        t.PrincipalAccountSpecifier,
        t.PrincipalAccountSpecifier,
        t.String,
        t.Amount,
        returns=t.ErswsTopupResponse,
    )
    def requestTopup(
        ctx,
        context,
        senderPrincipalId,
        topupPrincipalId,
        senderAccountSpecifier,
        topupAccountSpecifier,
        productId,
        amount,
    ):
        _declared_only()

    @_op(t.ClientContext, t.Invoice, Tokens, returns=t.ErswsSendInvoiceResponse)
    def sendInvoice(ctx, context, invoice, tokens):
        _declared_only()

    @_op(t.ClientContext, t.PrincipalId, t.String, returns=t.ErswsResponse)
    def changePrincipalPassword(ctx, context, principalId, newPassword):
        _declared_only()

    @_op(
        t.ClientContext,
        t.PrincipalId,
        t.PrincipalId,
        t.PrincipalAccountSpecifier,
        t.PrincipalAccountSpecifier,
        t.String,
        t.Amount,
        returns=t.ErswsTransferResponse,
    )
    def requestTransfer(
        ctx,
        context,
        senderPrincipalId,
        receiverPrincipalId,
        senderAccountSpecifier,
        receiverAccountSpecifier,
        productId,
        amount,
    ):
        _declared_only()

    @_op(t.ClientContext, t.String, returns=t.ErswsResponse)
    def assignSeqrId(ctx, context, seqrId):
        _declared_only()

    @_op(returns=t.ErswsResponse)
    def benchmarkingNop(ctx):
        _declared_only()

    @_op(t.ClientContext, t.String, returns=t.ErswsClientSessionInfoResponse)
    def getClientSessionInfo(ctx, context, key):
        _declared_only()
