<?php
/*
 * An External Service's backend in PHP: a SoapClient built from the emulator's `?wsdl` calls
 * getClientSessionInfo with the token the app put in the order page's fragment. PHP refuses
 * operations its WSDL does not declare, so this only works when the served WSDL has it.
 *
 * usage: php external_service.php SOAP_URL TERMINAL_ID PASSWORD TOKEN
 */

declare(strict_types=1);

require __DIR__ . '/common.php';

[
    'soap_url' => $soapUrl,
    'terminal' => $terminal,
    'password' => $password,
    'token' => $token,
] = arguments($argv, 'soap_url', 'terminal', 'password', 'token');

$client = seqr_client($soapUrl . '?wsdl');
$context = [
    'initiatorPrincipalId' => ['id' => $terminal, 'type' => 'TERMINALID'],
    'password' => $password,
    'clientRequestTimeout' => '0',
];

$known = $client->getClientSessionInfo(['context' => $context, 'key' => $token])->return;
$entries = [];
foreach ($known->parameters->entry as $entry) {
    $entries[] = [$entry->key, $entry->value];
}
$unknown = $client->getClientSessionInfo(['context' => $context, 'key' => 'no-such-token'])->return;

emit([
    'operations' => operation_names($client),
    'result_code_is_int_zero' => $known->resultCode === 0,
    'entries' => $entries,
    'unknown' => $unknown,
]);
