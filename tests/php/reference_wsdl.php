<?php
/*
 * A merchant whose SoapClient was built from the real SEQR WSDL (a local file) and only
 * pointed at the emulator with the `location` option: what PHP sees in that document must
 * also be in the emulator's own `?wsdl`, and a whole payment must work through it.
 *
 * usage: php reference_wsdl.php REFERENCE_WSDL_PATH SOAP_URL CONTROL_BASE_URL
 */

declare(strict_types=1);

require __DIR__ . '/common.php';

['wsdl' => $wsdlPath, 'soap_url' => $soapUrl, 'control' => $controlBase] =
    arguments($argv, 'wsdl', 'soap_url', 'control');

$reference = seqr_client($wsdlPath, ['location' => $soapUrl]);
$served = seqr_client($soapUrl . '?wsdl');

$context = [
    'initiatorPrincipalId' => ['id' => 'reference-wsdl-shop', 'type' => 'TERMINALID'],
    'password' => 'reference-secret',
    'clientRequestTimeout' => 0,
    'channel' => 'WS',
];
$invoice = [
    'paymentMode' => 'IMMEDIATE_DEBIT',
    'acknowledgmentMode' => 'NO_ACKNOWLEDGMENT',
    'title' => 'Reference order',
    'clientInvoiceId' => 'R-1',
    'invoiceRows' => ['invoiceRow' => [[
        'itemDescription' => 'Espresso',
        'itemQuantity' => 2,
        'itemUnitPrice' => ['currency' => 'SEK', 'value' => '30.00'],
        'itemTotalAmount' => ['currency' => 'SEK', 'value' => '60.00'],
    ]]],
    'totalAmount' => ['currency' => 'SEK', 'value' => '60.00'],
];

$sent = $reference->sendInvoice(['context' => $context, 'invoice' => $invoice])->return;
$ref = $sent->invoiceReference;
$issued = $reference->getPaymentStatus(['context' => $context, 'invoiceReference' => $ref, 'invoiceVersion' => 0])->return;
control($controlBase, "/invoices/$ref/pay");
$paid = $reference->getPaymentStatus([
    'context' => $context,
    'invoiceReference' => $ref,
    'invoiceVersion' => $issued->version,
])->return;
$refunds = [];
foreach (['25.00', '40.00'] as $value) {
    $refunds[] = $reference->refundPayment([
        'context' => $context,
        'ersReference' => $paid->ersReference,
        'invoice' => ['totalAmount' => ['currency' => 'SEK', 'value' => $value]],
    ])->return;
}

emit([
    'reference_types' => $reference->__getTypes(),
    'served_types' => $served->__getTypes(),
    'reference_operations' => operation_names($reference),
    'served_operations' => operation_names($served),
    'reference' => $ref,
    'sent' => $sent,
    'issued' => $issued,
    'paid' => $paid,
    'refunds' => $refunds,
]);
