<?php
/*
 * The WooCommerce gateway's conversation: a fresh SoapClient on the service's own `?wsdl` for
 * every call, `__soapCall` with the context appended last, a minimal context, an invoice
 * without paymentMode whose amounts are PHP floats, status polled with version 0, a refund by
 * `receipt->paymentReference`, and cancelInvoice treated as done on 0 or 95.
 *
 * usage: php woocommerce.php SOAP_URL CONTROL_BASE_URL
 */

declare(strict_types=1);

require __DIR__ . '/common.php';

['soap_url' => $soapUrl, 'control' => $controlBase] = arguments($argv, 'soap_url', 'control');

const TERMINAL_ID = 'woocommerce-shop';
const TERMINAL_PASSWORD = 'woo-terminal-secret';
const SHOP = 'https://shop.example/?wc-api=WC_SEQR_Payment_Gateway';

function woo_call(string $wsdl, string $operation, array $params, array &$log): object
{
    $params['context'] = [
        'initiatorPrincipalId' => ['id' => TERMINAL_ID, 'type' => 'TERMINALID'],
        'password' => TERMINAL_PASSWORD,
        'clientRequestTimeout' => '0',
    ];
    $client = seqr_client($wsdl);
    $result = $client->__soapCall($operation, [$params]);
    $log[] = ['operation' => $operation] + exchange($client, $result);
    return $result->return;
}

function woo_invoice(int $order): array
{
    $rows = [];
    $rows[] = [
        'itemDescription' => 'Hoodie ( Size: L )',
        'itemTotalAmount' => ['currency' => 'SEK', 'value' => 159.99],
        'itemQuantity' => 2,
    ];
    $rows[] = [
        'itemDescription' => 'Cart Discount:',
        'itemTotalAmount' => ['currency' => 'SEK', 'value' => -1 * 10.0],
    ];
    return [
        'acknowledgmentMode' => 'NO_ACKNOWLEDGMENT',
        'issueDate' => date('Y-m-d\TH:i:s', time()),
        'title' => (string) $order,
        'clientInvoiceId' => $order,
        'invoiceRows' => $rows,
        'totalAmount' => ['currency' => 'SEK', 'value' => round(159.99 - 10.0, 2)],
        'backURL' => SHOP . '&order=' . $order . '&backurl=true',
        'notificationUrl' => SHOP . '&order=' . $order . '&notification=true',
    ];
}

$wsdl = $soapUrl . '?wsdl';
$log = [];

$sent = woo_call($wsdl, 'sendInvoice', ['invoice' => woo_invoice(1001)], $log);
$reference = $sent->invoiceReference;
$issued = woo_call($wsdl, 'getPaymentStatus', ['invoiceReference' => $reference, 'invoiceVersion' => 0], $log);

control($controlBase, "/invoices/$reference/pay");

$paid = woo_call($wsdl, 'getPaymentStatus', ['invoiceReference' => $reference, 'invoiceVersion' => 0], $log);
$paymentReference = $paid->receipt->paymentReference;
$refund = woo_call($wsdl, 'refundPayment', [
    'ersReference' => $paymentReference,
    'invoice' => ['title' => 'Refund 1001', 'totalAmount' => ['currency' => 'SEK', 'value' => 20.0]],
], $log);

$resumed = woo_call($wsdl, 'sendInvoice', ['invoice' => woo_invoice(1002)], $log);
$cancels = [];
foreach ([1, 2] as $attempt) {
    $cancel = woo_call($wsdl, 'cancelInvoice', ['invoiceReference' => $resumed->invoiceReference], $log);
    $cancels[] = ['answer' => $cancel, 'done' => $cancel->resultCode == 0 || $cancel->resultCode == 95];
}

emit([
    'reference' => $reference,
    'sent' => $sent,
    'issued' => $issued,
    'issued_result_is_int_zero' => $issued->resultCode === 0,
    'paid' => $paid,
    'payment_reference' => $paymentReference,
    'refund' => $refund,
    'cancelled_reference' => $resumed->invoiceReference,
    'cancels' => $cancels,
    'log' => $log,
]);
