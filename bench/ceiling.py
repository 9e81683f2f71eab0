"""The ceiling: a raw aiohttp handler answering a fixed ~600-byte SOAP body.

Run beside the emulator and driven by the same load generator, it shows what the HTTP stack
itself can do on this machine, so the emulator's figures are read as ratios of it.
"""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import web

BODY = (
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b'<ns2:getPaymentStatusResponse xmlns:ns2="http://external.interfaces.ers.seamless.com/">'
    b"<return><ersReference>2026010100000000101000001</ersReference><resultCode>0</resultCode>"
    b"<resultDescription>SUCCESS</resultDescription><status>PAID</status><receipt>"
    b"<terminalId>bench</terminalId><paymentDate>2026-01-01T00:00:00.000+00:00</paymentDate>"
    b"<invoiceReference>20260101000000001</invoiceReference>"
    b"<paymentReference>2026010100000000101000001</paymentReference></receipt>"
    b"<customerTokens/><version>1</version></return></ns2:getPaymentStatusResponse>"
    b"</soap:Body></soap:Envelope>"
)
HEADERS = {"Content-Type": "text/xml;charset=UTF-8"}


async def answer(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=BODY, headers=HEADERS)


async def main(port: int) -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"listening on http://127.0.0.1:{bound}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(main(parser.parse_args().port))
