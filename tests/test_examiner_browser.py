"""The examiner in headless Chromium: the HTML report renders its table (a screenshot is
taken and looked at), and the examiner page shows the live conformance and coverage."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.shop import make_invoice
from tests.test_certify import certify
from tests.test_dashboard import browser, until  # noqa: F401  (the module's browser fixture)

ROOT = Path(__file__).resolve().parent.parent


def test_the_html_report_renders_its_pass_fail_table(
    browser: webdriver.Chrome,  # noqa: F811
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    monkeypatch.chdir(ROOT)
    _, _, folder = certify(tmp_path, "webshop", "skip-receipt")
    browser.get((folder / "certification.html").as_uri())
    rows = browser.find_elements(By.CSS_SELECTOR, "#tests tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows] == [
        f"webshop-{n}" for n in range(1, 7)
    ]
    results = [r.find_elements(By.TAG_NAME, "td")[3].text for r in rows]
    assert results == ["passed", "passed", "failed", "passed", "passed", "passed"]
    table = browser.find_element(By.ID, "tests")
    assert table.size["height"] > 100 and table.size["width"] > 300
    shot = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    # the table's red "failed" is drawn: some pixels are the report's failure colour
    reds = sum(
        1
        for x in range(0, shot.width, 2)
        for y in range(0, shot.height, 2)
        if (pixel := shot.getpixel((x, y)))[0] > 150 and pixel[1] < 90 and pixel[2] < 80  # type: ignore[index]
    )
    assert reds > 20, "no failed cell was drawn"
    assert browser.find_element(By.ID, "verdict").text == "The run failed."


def test_the_examiner_page_shows_violations_and_coverage(
    browser: webdriver.Chrome,  # noqa: F811
    emulator: Any,
    zeep_service: Any,
    context: dict[str, Any],
) -> None:
    terminal = context["initiatorPrincipalId"]["id"]
    zeep_service.sendInvoice(context=context, invoice=make_invoice(acknowledgmentMode=None))
    browser.get(f"{emulator.url}/_emulator/examiner?terminal={terminal}")
    until(browser, lambda d: "ack-mode-set" in d.find_element(By.ID, "conf-table").text)
    rows = browser.find_elements(By.CSS_SELECTOR, "#conf-table tbody tr")
    assert any("sent no acknowledgmentMode" in row.text for row in rows)
    until(browser, lambda d: d.find_element(By.ID, "cov-summary").text.startswith("never saw:"))
    assert browser.find_element(By.ID, "certification").get_attribute("hidden") is not None
