<?php
/*
 * Helpers shared by the PHP client scripts: the SoapClient the way the PHP shop plugins build
 * it, the emulated customer's control API over HTTP, and one JSON document on stdout.
 *
 * Every warning or notice is turned into an exception, so a script that PHP merely grumbles
 * about fails the calling test instead of passing with a half-filled result.
 */

declare(strict_types=1);

error_reporting(E_ALL);
ini_set('display_errors', 'stderr');
ini_set('default_socket_timeout', '10');

set_error_handler(static function (int $severity, string $message, string $file, int $line): bool {
    throw new ErrorException($message, 0, $severity, $file, $line);
});

set_exception_handler(static function (Throwable $error): void {
    fwrite(STDERR, get_class($error) . ': ' . $error->getMessage() . "\n" . $error->getTraceAsString() . "\n");
    exit(1);
});

const CLIENT_OPTIONS = [
    'cache_wsdl' => WSDL_CACHE_NONE,   // every test has its own port behind the same path
    'trace' => 1,
    'exceptions' => true,
    'connection_timeout' => 5,
];

/** The script's positional arguments, or a usage line and exit status 64. */
function arguments(array $argv, string ...$names): array
{
    if (count($argv) - 1 !== count($names)) {
        fwrite(STDERR, 'usage: php ' . basename($argv[0]) . ' ' . implode(' ', $names) . "\n");
        exit(64);
    }
    return array_combine($names, array_slice($argv, 1));
}

function seqr_client(string $wsdl, array $options = []): SoapClient
{
    return new SoapClient($wsdl, $options + CLIENT_OPTIONS);
}

/** POST to the control API (the customer's phone) and return the decoded JSON answer. */
function control(string $base, string $path, ?array $body = null): array
{
    $context = stream_context_create(['http' => [
        'method' => 'POST',
        'header' => "Content-Type: application/json\r\n",
        'content' => $body === null ? '' : json_encode($body, JSON_THROW_ON_ERROR),
        'ignore_errors' => true,
        'timeout' => 10,
    ]]);
    $raw = file_get_contents(rtrim($base, '/') . '/_emulator' . $path, false, $context);
    $headers = function_exists('http_get_last_response_headers')
        ? http_get_last_response_headers()
        : $http_response_header;
    $status = (int) explode(' ', $headers[0] ?? '')[1];
    if ($status !== 200) {
        throw new RuntimeException("control API answered $status for $path: $raw");
    }
    return json_decode($raw, true, 512, JSON_THROW_ON_ERROR);
}

/** The operation names of a SoapClient's WSDL, as `__getFunctions()` lists them. */
function operation_names(SoapClient $client): array
{
    $names = [];
    foreach ($client->__getFunctions() as $signature) {
        if (preg_match('/^\S+ (\w+)\(/', $signature, $match)) {
            $names[] = $match[1];
        }
    }
    sort($names);
    return array_values(array_unique($names));
}

/** What a plugin would log about a call: the raw request it sent and the answer it read. */
function exchange(SoapClient $client, object $answer): array
{
    return ['request' => $client->__getLastRequest(), 'answer' => $answer];
}

function emit(array $result): void
{
    echo json_encode(
        $result,
        JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION | JSON_THROW_ON_ERROR
    ), "\n";
}
