<?php
/*
 * The PrestaShop and Magento plugins' conversation: magic-method calls on a SoapClient built
 * from the service's `?wsdl`; a TERMINALID principal that still carries userId 9900; channel,
 * clientId (and for Magento clientReference, clientComment); issueDate from
 * `date('Y-m-d\Th:i:s')`, a 12-hour clock without zone; Magento's rows with quantity
 * "1.0000", unit "EA" and a shipping row whose tax rate `(x - 1) * 100` is negative; amounts
 * as `number_format` strings; status checks with `===`; Magento echoing the last version;
 * refund by the top-level ersReference; a cron-style cancel; and the served WSDL must offer
 * getClientSessionInfo, which PHP refuses to call when the WSDL lacks it.
 *
 * usage: php prestashop.php SOAP_URL CONTROL_BASE_URL
 */

declare(strict_types=1);

require __DIR__ . '/common.php';

['soap_url' => $soapUrl, 'control' => $controlBase] = arguments($argv, 'soap_url', 'control');

const TERMINAL_ID = 'prestashop-shop';
const TERMINAL_PASSWORD = 'ps-terminal-secret';
const ISSUED_AT = [15, 4, 5, 3, 1, 2016];  // 15:04:05 on 2016-03-01, sent as "03:04:05"

function principal(): array
{
    return ['id' => TERMINAL_ID, 'type' => 'TERMINALID', 'userId' => '9900'];
}

function prestashop_context(): array
{
    return [
        'initiatorPrincipalId' => principal(),
        'password' => TERMINAL_PASSWORD,
        'clientRequestTimeout' => '0',
        'channel' => 'WS',
        'clientId' => 'Prestashop plugin',
    ];
}

function magento_context(string $order): array
{
    return [
        'channel' => 'MagentoWS',
        'initiatorPrincipalId' => principal(),
        'clientId' => '1.3.0',
        'clientReference' => $order,
        'clientComment' => "Order #$order",
        'password' => TERMINAL_PASSWORD,
        'clientRequestTimeout' => '0',
    ];
}

function money(float $value): array
{
    return ['currency' => 'SEK', 'value' => number_format($value, 2, '.', '')];
}

function shop_invoice(string $order, string $back): array
{
    $shippingTax = (0.955 - 1) * 100;
    return [
        'paymentMode' => 'IMMEDIATE_DEBIT',
        'acknowledgmentMode' => 'NO_ACKNOWLEDGMENT',
        'issueDate' => date('Y-m-d\Th:i:s', mktime(...ISSUED_AT)),
        'title' => 'SEQR payment',
        'clientInvoiceId' => $order,
        'totalAmount' => money(149.0),
        'backURL' => $back,
        'invoiceRows' => [
            [
                'itemDescription' => 'Mug',
                'itemSKU' => '',
                'itemTaxRate' => '25.0000',
                'itemUnit' => 'EA',
                'itemQuantity' => '1.0000',
                'itemUnitPrice' => money(100.0),
                'itemTotalAmount' => money(100.0),
            ],
            [
                'itemDescription' => 'Shipping & Handling',
                'itemQuantity' => '1.0000',
                'itemTaxRate' => round($shippingTax, 4),
                'itemUnit' => 'EA',
                'itemTotalAmount' => money(49.0),
                'itemUnitPrice' => money(49.0),
            ],
        ],
    ];
}

$client = seqr_client($soapUrl . '?wsdl');
$context = prestashop_context();

$sent = $client->sendInvoice([
    'context' => $context,
    'invoice' => shop_invoice('42', 'https://shop.example/index.php?controller=confirmation&orderId=42'),
]);
$sendRequest = $client->__getLastRequest();
$reference = $sent->return->invoiceReference;

$issued = $client->getPaymentStatus(['context' => $context, 'invoiceReference' => $reference, 'invoiceVersion' => 0]);
control($controlBase, "/invoices/$reference/pay");
$paid = $client->getPaymentStatus([
    'context' => $context,
    'invoiceReference' => $reference,
    'invoiceVersion' => $issued->return->version,
]);
$refund = $client->refundPayment([
    'context' => $context,
    'ersReference' => $paid->return->ersReference,
    'invoice' => ['title' => 'SEQR refund', 'totalAmount' => money(49.0), 'cashierId' => 'WEB'],
]);

$magento = magento_context('100000043');
$open = $client->sendInvoice([
    'context' => $magento,
    'invoice' => shop_invoice('100000043', 'https://shop.example/seqr/payment/submit/id/43/'),
]);
$cancel = $client->cancelInvoice(['context' => $magento, 'invoiceReference' => $open->return->invoiceReference]);
$afterCancel = $client->getPaymentStatus([
    'context' => $magento,
    'invoiceReference' => $open->return->invoiceReference,
    'invoiceVersion' => 0,
]);

emit([
    'operations' => operation_names($client),
    'reference' => $reference,
    'send_request' => $sendRequest,
    'sent' => $sent->return,
    'issued' => $issued->return,
    'paid' => $paid->return,
    'paid_is_paid' => $paid->return->status === 'PAID',
    'refund' => $refund->return,
    'magento_reference' => $open->return->invoiceReference,
    'magento_sent' => $open->return,
    'cancel' => $cancel->return,
    'cancel_ok' => $cancel->return->resultCode === 0,
    'after_cancel' => $afterCancel->return,
    'after_cancel_is_canceled' => $afterCancel->return->status === 'CANCELED',
    'session_info_types' => array_values(array_filter(
        $client->__getTypes(),
        static fn (string $type): bool => str_contains($type, 'ClientSessionInfo')
    )),
]);
