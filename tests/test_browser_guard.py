"""The guard as a real browser meets it (headless Chromium, as in tests/test_dashboard.py):

- a page on another origin submits a form and sends no-cors requests to the control API and
  the SOAP endpoint, as the review's attack did: every one reaches the emulator and is
  refused, and nothing changes;
- a name rebound to the emulator's address (Chromium's resolver told to map it) reads
  nothing;
- with a control token, the dashboard opened once with `/?token=` works: its list, its live
  events and its buttons, by the cookie alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from selenium import webdriver
from selenium.webdriver.common.by import By

from emulator.app import create_app
from emulator.server import EmulatorServer, ThreadedApp
from emulator.settings import Settings
from tests.test_control_plane import SEND, SOAP_PATH, TOKEN
from tests.test_dashboard import chromium, click, row, until

REBOUND = "rebound.test"


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with chromium(f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1") as driver:
        yield driver


@pytest.fixture
def watched() -> Iterator[Callable[..., tuple[EmulatorServer, list[tuple[str, str, int]]]]]:
    """Emulators that note (origin, path, status) of every request that carries an Origin."""
    started: list[EmulatorServer] = []

    def start(**settings: Any) -> tuple[EmulatorServer, list[tuple[str, str, int]]]:
        seen: list[tuple[str, str, int]] = []

        @web.middleware
        async def note(request: web.Request, handler: Any) -> web.StreamResponse:
            response = await handler(request)
            if "Origin" in request.headers:
                seen.append((request.headers["Origin"], request.path, response.status))
            return response

        def factory(chosen: Settings) -> web.Application:
            app = create_app(chosen)
            app.middlewares.append(note)
            return app

        server = EmulatorServer(Settings(port=0, ack_window=0, **settings), app_factory=factory)
        server.start()
        started.append(server)
        return server, seen

    yield start
    for server in started:
        server.stop()


ATTACK = """<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="pay" method="POST" action="{emulator}/_emulator/invoices/{ref}/pay" target="sink"></form>
<script>
const E = "{emulator}";
const envelope = {envelope};
const sent = [
  fetch(E + "/_emulator/reset", {{method: "POST", mode: "no-cors"}}),
  fetch(E + "/_emulator/clock/advance", {{method: "POST", mode: "no-cors",
    headers: {{"Content-Type": "text/plain"}}, body: '{{"seconds": 1000000000}}'}}),
  fetch(E + "{soap}", {{method: "POST", mode: "no-cors",
    headers: {{"Content-Type": "text/plain"}}, body: envelope}}),
  fetch(E + "{soap}", {{method: "POST", mode: "no-cors", body: new Blob([envelope])}}),
];
const framed = new Promise(done => document.querySelector("iframe").onload = done);
document.getElementById("pay").submit();
Promise.allSettled([...sent, framed]).then(() => document.title = "done");
</script></body></html>"""


def test_a_page_on_another_origin_drives_nothing(browser, watched):
    server, seen = watched()
    sent = server.backend.list_invoices
    from tests.test_control_plane import soap

    assert soap(server).status == 200
    [invoice] = sent()
    clock_before = server.backend.clock.now()

    async def page(request: web.Request) -> web.Response:
        body = ATTACK.format(
            emulator=server.url,
            ref=invoice.reference,
            soap=SOAP_PATH,
            envelope=json.dumps(SEND.decode()),
        )
        return web.Response(text=body, content_type="text/html")

    def attacker() -> web.Application:
        app = web.Application()
        app.router.add_get("/", page)
        return app

    with ThreadedApp(attacker) as evil:
        browser.get(f"http://localhost:{evil.port}/")
        until(browser, lambda d: d.title == "done")
    origin = f"http://localhost:{evil.port}"
    refused = [(path, status) for who, path, status in seen if who == origin]
    assert sorted(refused) == sorted(
        [
            (f"/_emulator/invoices/{invoice.reference}/pay", 403),
            ("/_emulator/reset", 403),
            ("/_emulator/clock/advance", 403),
            (SOAP_PATH, 403),
            (SOAP_PATH, 403),
        ]
    ), seen
    [still] = sent()
    assert still.reference == invoice.reference and still.status.value == "ISSUED"
    assert (server.backend.clock.now() - clock_before).total_seconds() < 3600


def test_a_rebound_name_reads_nothing(browser, watched):
    server, _ = watched()
    browser.get(f"http://{REBOUND}:{server.port}/_emulator/invoices")
    shown = browser.find_element(By.TAG_NAME, "body").text
    assert "does not serve the name 'rebound.test'" in shown and "invoices" not in shown


def test_the_dashboard_with_a_token_works_from_its_cookie(browser, watched):
    server, _ = watched(control_token=TOKEN)
    browser.get(server.url + "/")
    assert "needs the emulator's token" in browser.find_element(By.TAG_NAME, "body").text
    browser.get(f"{server.url}/?token={TOKEN}")
    until(browser, lambda d: d.find_element(By.ID, "live").text == "live")
    assert browser.current_url == server.url + "/"  # the token has left the address bar
    from tests.test_control_plane import soap

    assert soap(server).status == 200
    [invoice] = server.backend.list_invoices()
    click(browser, row(invoice.reference))
    click(browser, "#btn-pay")
    until(browser, lambda d: d.find_element(By.ID, "detail-status").text == "PAID")
    assert server.backend.invoice(invoice.reference).status.value == "PAID"
