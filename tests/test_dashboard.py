"""The dashboard in a real headless Chromium: live list, the phone's buttons, escaped strings.

Runs Debian's `chromium` through its `chromedriver` with selenium; the browser tests are
skipped only where they are not installed (`.ci/run` installs both).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from lxml import etree
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from emulator.backend import SeqrBackend
from emulator.dashboard import QUEUE_LIMIT, EventHub
from emulator.settings import Settings
from tests.merchant import Merchant
from tests.shop import PASSWORD, send, status

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--window-size=1440,1100",
)
WAIT = 10.0

NO_BROWSER = (
    "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
)


@contextlib.contextmanager
def chromium(*flags: str) -> Iterator[webdriver.Chrome]:
    """A headless Chromium with a profile of its own and `flags` beside the usual ones; the
    test skips, saying why, where there is none."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip(NO_BROWSER)
    with tempfile.TemporaryDirectory(prefix="browser-profile-") as profile:
        options = Options()
        options.binary_location = CHROMIUM or ""
        for flag in (*FLAGS, f"--user-data-dir={profile}", *flags):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with chromium() as driver:
        yield driver


@pytest.fixture
def page(browser: webdriver.Chrome, emulator: Any) -> webdriver.Chrome:
    """The dashboard, freshly loaded and connected to the emulator's live events."""
    browser.get(emulator.url + "/")
    until(browser, lambda d: d.find_element(By.ID, "live").text == "live")
    browser.execute_script("window.notReloaded = true;")
    return browser


def until(driver: webdriver.Chrome, condition: Any) -> Any:
    """Wait for `condition`; the page re-renders live, so a vanished element is retried."""
    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, WAIT, ignored_exceptions=ignored).until(condition)


def text(driver: webdriver.Chrome, css: str) -> str | None:
    """The element's text, read in one step (a live page may replace it between two)."""
    script = "const e = document.querySelector(arguments[0]); return e && e.textContent;"
    return driver.execute_script(script, css)


def click(driver: webdriver.Chrome, css: str) -> None:
    until(driver, lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True)


def row(ref: str) -> str:
    return f'#invoices tr[data-ref="{ref}"]'


def open_invoice(driver: webdriver.Chrome, ref: str) -> None:
    click(driver, row(ref))
    until(driver, lambda d: text(d, "#detail-ref") == ref)


def test_an_invoice_sent_over_soap_appears_without_reload(page, zeep_service, context):
    ref = send(zeep_service, context, title="Order 2002")
    shown = until(page, lambda d: text(d, row(ref)))
    assert "Order 2002" in shown and "ISSUED" in shown and "100.00 SEK" in shown
    assert page.execute_script("return window.notReloaded") is True


def test_paying_on_the_phone_shows_paid_and_the_notification(page, zeep_service, context):
    with Merchant() as merchant:
        notify = merchant.url("/seqr/notify?order=2003")
        ref = send(zeep_service, context, notificationUrl=notify)
        open_invoice(page, ref)
        qr_loaded = "return document.getElementById('qr-image').naturalWidth"
        until(page, lambda d: d.execute_script(qr_loaded) > 0)
        click(page, "#btn-pay")
        until(page, lambda d: text(d, "#detail-status") == "PAID")
        delivered = '#notifications tr[data-outcome="delivered"]'
        attempt = until(page, lambda d: text(d, delivered))
        assert notify in attempt and "200" in attempt
        assert len(merchant.received) == 1
    assert text(page, "#back-url") == "https://shop.example/done?order=1001"
    assert "PAID" in (text(page, row(ref)) or "")
    assert page.find_element(By.ID, "btn-pay").get_attribute("disabled") is not None
    assert page.execute_script("return window.notReloaded") is True


def test_merchant_strings_are_shown_as_text(page, zeep_service, context):
    title = '<script>window.pwned = 1</script><b>Order</b> "3" & co'
    evil_row = {
        "itemDescription": '<img src=x onerror="window.pwned = 2">',
        "itemTotalAmount": {"currency": "SEK", "value": "100.00"},
    }
    ref = send(zeep_service, context, title=title, invoiceRows={"invoiceRow": [evil_row]})
    open_invoice(page, ref)
    assert text(page, "#detail-title") == title
    assert text(page, f"{row(ref)} .title") == title
    assert text(page, "#rows td") == evil_row["itemDescription"]
    assert page.find_elements(By.CSS_SELECTOR, "#detail-title b, #invoices b, #rows img") == []
    assert page.execute_script("return window.pwned") is None


def test_a_scanned_code_opens_the_invoice(page, zeep_service, context):
    ref = send(zeep_service, context, title="Scan me")
    box = page.find_element(By.ID, "scan-input")
    box.send_keys(f"HTTP://SEQR.SE/R{ref}")
    click(page, "#scan-open")
    until(page, lambda d: text(d, "#detail-ref") == ref)
    assert text(page, "#detail-title") == "Scan me"
    box.clear()
    box.send_keys("seqr://SEQR.SE/R0000")
    click(page, "#scan-open")
    until(page, lambda d: d.find_element(By.ID, "scan-error").is_displayed())
    assert "0000" in (text(page, "#scan-error") or "")


def test_a_reset_empties_the_list_without_reload(page, zeep_service, context, control):
    ref = send(zeep_service, context)
    until(page, lambda d: text(d, row(ref)))
    control.ok("POST", "/reset")
    until(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#invoices tr") == [])
    assert page.execute_script("return window.notReloaded") is True


def test_the_phone_plays_a_service_session_to_its_success_page(
    page, zeep_service, context, control
):
    names = ("order", "success", "failure", "cancel")
    pages = {f"{name}Url": f"http://shop.example/{name}" for name in names}
    assert control.request("PUT", "/services/TABLES", pages)[0] == 201
    page.find_element(By.ID, "scan-input").send_keys("HTTP://SEQR.SE/000/TABLES?table=7")
    click(page, "#scan-open")
    token = until(page, lambda d: (shown := text(d, "#svc-token")) not in (None, "—") and shown)
    assert text(page, "#svc-open") == f"http://shop.example/order#{token}"
    assert text(page, "#svc-id") == "TABLES"
    assert text(page, "#svc-params") == "table7"
    assert not page.find_element(By.ID, "svc-invoice").is_displayed()

    # the merchant's backend sends the invoice; its page sends the app to it with the token
    ref = send(zeep_service, context, title="Table 7")
    tie = {"url": f"seqr://SEQR.SE/R{ref}", "token": token}
    assert control.ok("POST", "/app/scan", tie)["reference"] == ref
    until(page, lambda d: text(d, "#svc-invoice-ref") == ref)
    assert page.find_element(By.ID, "svc-invoice").is_displayed()
    assert text(page, "#svc-merchant") == "Table 7"

    click(page, "#svc-pay")
    success = f"http://shop.example/success#{token}_{ref}"
    until(page, lambda d: text(d, "#svc-open") == success)
    assert page.find_element(By.ID, "svc-open").get_attribute("href") == success
    until(page, lambda d: text(d, "#svc-state") == "SUCCEEDED")
    assert control.invoice(ref)["status"] == "PAID"
    assert page.execute_script("return window.notReloaded") is True


# The list reads held until the test lets them go; what the list showed, recorded from the
# moment the page's own script starts. Installed before any of the page's code runs.
HOLD_THE_LIST = """
(() => {
  const realFetch = window.fetch.bind(window);
  window.heldLists = [];
  window.fetch = (resource, options) =>
    String(resource).includes("/invoices?")
      ? new Promise((go) => window.heldLists.push(() => go(realFetch(resource, options))))
      : realFetch(resource, options);
  window.saidEmpty = [];
  const look = () => {
    const empty = document.getElementById("list-empty");
    if (empty && !empty.hidden) window.saidEmpty.push(empty.textContent.trim());
  };
  new MutationObserver(look).observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["hidden"],
  });
  document.addEventListener("DOMContentLoaded", () => {
    const loading = document.getElementById("list-loading");
    window.atStart = {
      loading: loading && !loading.hidden ? loading.textContent.trim() : null,
      rows: document.querySelectorAll("#invoices tr").length,
    };
  });
})();
"""


def shown(driver: webdriver.Chrome, element_id: str) -> bool:
    return driver.find_element(By.ID, element_id).is_displayed()


def test_the_list_says_loading_until_it_is_read(browser, emulator, zeep_service, context):
    ref = send(zeep_service, context, title="Already there")
    script = browser.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": HOLD_THE_LIST}
    )
    try:
        browser.get(emulator.url + "/")
        # the feed said hello and the list is asked for, but its answer is held
        until(browser, lambda d: d.find_element(By.ID, "live").text == "live")
        until(browser, lambda d: d.execute_script("return window.heldLists.length") > 0)
        assert browser.execute_script("return window.atStart") == {"loading": "Loading…", "rows": 0}
        assert shown(browser, "list-loading") and text(browser, "#list-loading") == "Loading…"
        assert not shown(browser, "list-empty")
        assert browser.find_elements(By.CSS_SELECTOR, "#invoices tr") == []
        later = send(zeep_service, context, title="Sent while loading")  # its event may come first

        browser.execute_script("window.heldLists.splice(0).forEach((go) => go())")
        assert "Already there" in until(browser, lambda d: text(d, row(ref)))
        assert "Sent while loading" in until(browser, lambda d: text(d, row(later)))
        assert not shown(browser, "list-loading") and not shown(browser, "list-empty")
        assert browser.execute_script("return window.saidEmpty") == []
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", script)


def test_an_empty_list_says_so_once_it_is_read(page):
    until(page, lambda d: shown(d, "list-empty"))
    assert (text(page, "#list-empty") or "").startswith("No invoices yet.")
    assert not shown(page, "list-loading")


# --- without a browser ------------------------------------------------------------------------


def test_the_page_as_served_says_loading_not_empty(emulator):
    with urllib.request.urlopen(emulator.url + "/", timeout=10) as response:
        html = etree.HTML(response.read())
    loading, empty = html.find(".//*[@id='list-loading']"), html.find(".//*[@id='list-empty']")
    assert "".join(loading.itertext()).strip() == "Loading…" and loading.get("hidden") is None
    assert "No invoices yet" in "".join(empty.itertext()) and empty.get("hidden") is not None


def test_page_and_assets_are_served_locally_with_a_strict_policy(emulator):
    with urllib.request.urlopen(emulator.url + "/", timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
        html = response.read().decode()
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert re.findall(r'(?:src|href)="(?![/#]|data:)', html) == []  # nothing from a CDN
    for asset in ("app.js", "app.css"):
        with urllib.request.urlopen(f"{emulator.url}/_emulator/static/{asset}", timeout=10) as r:
            text = r.read().decode()
        assert "innerHTML" not in text and "://" not in text.replace("HTTP://SEQR.SE", "")


async def test_a_page_that_falls_behind_is_told_to_resync():
    hub = EventHub(SeqrBackend(Settings()))
    queue = hub.join()
    for number in range(QUEUE_LIMIT + 5):
        hub.publish("notification", {"n": number})
    frames = [queue.get_nowait() for _ in range(queue.qsize())]
    assert frames[0].startswith(b"event: resync\n")
    assert [f.split(b"\n")[0] for f in frames[1:]] == [b"event: notification"] * 4
    hub.leave(queue)
    hub.publish("notification", {})
    assert queue.empty()


def test_the_journal_shows_every_call_as_a_whole_and_per_invoice(page, zeep_service, context):
    ref = send(zeep_service, context, title="Order 2010")
    status(zeep_service, context, ref)
    page.get(page.current_url.split("#")[0] + "#/journal")
    until(page, lambda d: "getPaymentStatus" in (text(d, "#journal-entries tbody") or ""))
    rows = page.find_elements(By.CSS_SELECTOR, "#journal-entries tbody tr")
    assert [r.get_attribute("data-seq") for r in rows] == ["2", "1"]  # newest first
    whole = text(page, "#journal-entries") or ""
    assert "sendInvoice" in whole and ref in whole and "resultCode 0" in whole
    assert "2 matching" in (text(page, "#journal-counts") or "")
    source = page.execute_script("return document.documentElement.outerHTML")
    assert PASSWORD not in source
    assert "<password>***</password>" in whole  # the request is shown, its password hidden
    page.find_element(By.CSS_SELECTOR, "#journal-filter input[name=operation]").send_keys(
        "sendInvoice"
    )
    click(page, "#journal-filter button")
    until(page, lambda d: "getPaymentStatus" not in (text(d, "#journal-entries tbody") or ""))
    open_invoice(page, ref)
    until(page, lambda d: "sendInvoice" in (text(d, "#invoice-journal tbody") or ""))
    mine = text(page, "#invoice-journal tbody") or ""
    assert "getPaymentStatus" in mine and "<title>Order 2010</title>" in mine
    assert PASSWORD not in (page.execute_script("return document.body.textContent") or "")
