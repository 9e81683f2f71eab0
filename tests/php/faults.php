<?php
/*
 * What a PHP merchant sees when something goes wrong. Requests mangled on their way out
 * (through an overridden `__doRequest`) must come back as SOAP 1.1 Faults that SoapClient
 * turns into a SoapFault; business errors such as a wrong password must come back as a normal
 * answer with a resultCode, never as an exception.
 *
 * usage: php faults.php SOAP_URL
 */

declare(strict_types=1);

require __DIR__ . '/common.php';

['soap_url' => $soapUrl] = arguments($argv, 'soap_url');

/** A SoapClient whose next request body is rewritten by `$mangle` before it is sent. */
final class MangledClient extends SoapClient
{
    /** @var null|Closure(string): string */
    public ?Closure $mangle = null;

    /** The body that really went out (`__getLastRequest()` shows it before mangling). */
    public ?string $sent = null;

    public function __doRequest(
        string $request,
        string $location,
        string $action,
        int $version,
        bool $oneWay = false
    ): ?string {
        $body = $this->mangle === null ? $request : ($this->mangle)($request);
        $this->sent = $body;
        return parent::__doRequest($body, $location, $action, $version, $oneWay);
    }
}

const TERMINAL_ID = 'php-faults-shop';
const TERMINAL_PASSWORD = 'faults-secret';

function context(string $password = TERMINAL_PASSWORD): array
{
    return [
        'initiatorPrincipalId' => ['id' => TERMINAL_ID, 'type' => 'TERMINALID'],
        'password' => $password,
        'clientRequestTimeout' => '0',
    ];
}

function status_line(SoapClient $client): string
{
    return strtok((string) $client->__getLastResponseHeaders(), "\r\n");
}

$client = new MangledClient($soapUrl . '?wsdl', CLIENT_OPTIONS);
$invoice = ['title' => 'Fault probe', 'totalAmount' => ['currency' => 'SEK', 'value' => '10.00']];
$known = $client->sendInvoice(['context' => context(), 'invoice' => $invoice])->return;

$mangles = [
    'truncated' => static fn (string $xml): string => substr($xml, 0, intdiv(strlen($xml), 2)),
    'unknown_operation' => static fn (string $xml): string =>
        str_replace('ns1:getPaymentStatus>', 'ns1:getPaymentStatusX>', $xml),
    'not_an_int' => static fn (string $xml): string =>
        str_replace('<invoiceVersion>0</invoiceVersion>', '<invoiceVersion>zero</invoiceVersion>', $xml),
];
$faults = [];
foreach ($mangles as $name => $mangle) {
    $client->mangle = $mangle;
    try {
        $answer = $client->getPaymentStatus([
            'context' => context(),
            'invoiceReference' => $known->invoiceReference,
            'invoiceVersion' => 0,
        ]);
        $faults[$name] = ['fault' => null, 'answer' => $answer];
    } catch (SoapFault $fault) {
        $faults[$name] = [
            'fault' => ['faultcode' => $fault->faultcode, 'faultstring' => $fault->faultstring],
            'sent' => $client->sent,
            'status_line' => status_line($client),
            'response' => $client->__getLastResponse(),
        ];
    }
}
$client->mangle = null;

$wrongSend = $client->sendInvoice(['context' => context('not-the-password'), 'invoice' => $invoice])->return;
$wrongStatus = $client->getPaymentStatus([
    'context' => context('not-the-password'),
    'invoiceReference' => $known->invoiceReference,
    'invoiceVersion' => 0,
])->return;
$unknown = $client->getPaymentStatus([
    'context' => context(),
    'invoiceReference' => '1328543027208',
    'invoiceVersion' => 0,
])->return;

emit([
    'known' => $known,
    'faults' => $faults,
    'wrong_password_send' => $wrongSend,
    'wrong_password_status' => $wrongStatus,
    'unknown_reference' => $unknown,
]);
