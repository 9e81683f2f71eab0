"""`seqr-emulator serve` as a merchant starts it: one ready line, a clean stop on signals."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.wire import envelope, post, send_invoice_xml

READY = re.compile(r"^listening on (http://127\.0\.0\.1:(\d+))$")


@contextmanager
def serving(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`seqr-emulator serve --port 0 ARGS`, its URL read from the ready line; killed at exit."""
    with subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            line = proc.stdout.readline().strip()
            match = READY.match(line)
            assert match, f"unexpected first line {line!r}"
            yield proc, match.group(1)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=5)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_announces_its_port_and_stops_on_signal(sig):
    with serving() as (proc, url):
        with urllib.request.urlopen(url + "/_emulator/health", timeout=5) as resp:
            assert resp.status == 200
        proc.send_signal(sig)
        assert proc.wait(timeout=5) == 0
        assert "Traceback" not in proc.stderr.read()


def _references(seed: str) -> list[str]:
    with serving("--seed", seed) as (_, url):
        soap = url + "/extclientproxy/service/v2"
        return [
            post(soap, envelope(send_invoice_xml())).field("invoiceReference") for _ in range(3)
        ]


def test_seed_makes_references_reproducible_run_to_run():
    first, second = _references("42"), _references("42")
    assert first == second and len(set(first)) == 3
    assert _references("43") != first


def test_wsdl_command_writes_the_published_documents(tmp_path: Path):
    out = subprocess.run(
        [sys.executable, "-m", "emulator", "wsdl", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["ERSWSExternalClientService.wsdl", "service.wsdl"]
    assert str(tmp_path) in out.stdout


def test_port_in_use_is_a_clear_error():
    with serving() as (_, url):
        port = url.rsplit(":", 1)[1]
        busy = subprocess.run(
            [sys.executable, "-m", "emulator", "serve", "--port", port],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert busy.returncode == 1 and "cannot serve" in busy.stderr
        assert "Traceback" not in busy.stderr
