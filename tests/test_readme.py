"""The README's first steps, run as written against a freshly started `seqr-emulator serve`.

The snippets name port 8090; the server here takes a free port, which is put in its place.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.test_cli import serving
from tests.wire import envelope, post, send_invoice_xml

README = Path(__file__).resolve().parent.parent / "README.md"
ADDRESS = "127.0.0.1:8090"
NO_CURL = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


def section(heading: str) -> str:
    """The README's text under `heading` (e.g. `### A first invoice`), to the next heading of
    the same level or higher; a `#` inside a code block is not a heading."""
    level = len(heading.split(" ", 1)[0])
    lines = README.read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index(heading + "\n")
    fenced = False
    for end in range(start + 1, len(lines)):
        fenced ^= lines[end].startswith("```")
        marks = len(lines[end]) - len(lines[end].lstrip("#"))
        if not fenced and 0 < marks <= level and lines[end][marks : marks + 1] == " ":
            return "".join(lines[start:end])
    return "".join(lines[start:])


def blocks(heading: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", section(heading), re.S | re.M)


def served_at(snippet: str, url: str) -> str:
    """The snippet with the README's address replaced by the test server's."""
    assert ADDRESS in snippet
    return snippet.replace(ADDRESS, url.removeprefix("http://"))


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=30, cwd=cwd)


def invoice(url: str, ref: str) -> dict:
    with urllib.request.urlopen(f"{url}/_emulator/invoices/{ref}", timeout=5) as response:
        return json.load(response)


def test_the_first_invoice_with_zeep(tmp_path: Path):
    [snippet] = blocks("### A first invoice", "python")
    with serving() as (_, url):
        done = run([sys.executable, "-c", served_at(snippet, url)], tmp_path)
        assert done.returncode == 0, done.stderr
        shown = re.fullmatch(
            r"sendInvoice: 0 (\d{17}) HTTP://SEQR\.SE/R\1\ngetPaymentStatus: 0 PAID (\d{25})\n",
            done.stdout,
        )
        assert shown, done.stdout
        paid = invoice(url, shown.group(1))
        assert paid["status"] == "PAID" and paid["payment"]["ersReference"] == shown.group(2)
        assert paid["payment"]["acknowledged"] is True  # the poll came within the window


@NO_CURL
def test_the_first_invoice_with_curl(tmp_path: Path):
    [snippet] = blocks("### A first invoice", "sh")
    with serving() as (_, url):
        done = run(["bash", "-c", served_at(snippet, url)], tmp_path)
        assert done.returncode == 0, done.stderr
        ref = re.search(r"^invoiceReference: (\d{17})$", done.stdout, re.M)
        assert ref, done.stdout
        lines = done.stdout.splitlines()
        assert json.loads(lines[1])["status"] == "PAID"
        answer = lines[2]
        assert "<resultCode>0</resultCode>" in answer and "<status>PAID</status>" in answer
        assert f"<invoiceReference>{ref.group(1)}</invoiceReference>" in answer
        assert invoice(url, ref.group(1))["payment"]["acknowledged"] is True


@NO_CURL
def test_paying_the_newest_invoice_says_when_there_is_none(tmp_path: Path):
    snippet = blocks("## Play the customer", "sh")[-1]
    with serving() as (_, url):
        command = ["bash", "-c", served_at(snippet, url)]
        empty = run(command, tmp_path)
        assert empty.returncode != 0 and "no invoice yet" in empty.stderr
        ref = post(url + "/extclientproxy/service/v2", envelope(send_invoice_xml()))
        done = run(command, tmp_path)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["reference"] == ref.field("invoiceReference")
        assert json.loads(done.stdout)["status"] == "PAID"


def test_the_plugin_example_is_a_test_that_passes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    [example] = blocks("### The pytest plugin", "python")
    # the inner process imports this tree's emulator (and its plugin), wherever it is installed
    monkeypatch.setenv("PYTHONPATH", str(README.parent))
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_checkout=example)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_shell_twins_in_the_readme_are_commands_the_cli_takes():
    from emulator import cli

    [shell] = blocks("### Without pytest, and from a shell", "sh")
    for line in shell.splitlines():
        words = line.split("#")[0].split()
        assert words[0] == "seqr-emulator", line
        cli._parser().parse_args(words[1:])
