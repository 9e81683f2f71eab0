"""The README's "Export and import" commands, run as written (the port put in place of 8090)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_readme import blocks, served_at
from tests.test_state import send_xml, serving
from tests.wire import post


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_export_and_import_as_the_readme_says(tmp_path: Path) -> None:
    with serving(tmp_path / "ci.db") as ci:  # a CI job's emulator, stopped
        ref = post(ci.soap, send_xml("readme-till")).field("invoiceReference")
        ci.proc.send_signal(signal.SIGTERM)
        assert ci.proc.wait(10) == 0
    [snippet] = blocks("### Export and import", "sh")
    with serving(tmp_path / "other.db") as running:
        script = served_at(snippet, running.url).replace("seqr-emulator ", "seqr_emulator ")
        done = subprocess.run(
            ["sh", "-ec", f'seqr_emulator() {{ "{sys.executable}" -m emulator "$@"; }}\n{script}'],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("fixture.db: 1 invoices, ")
    assert json.loads((tmp_path / "state.json").read_text())["format"] == 1  # the running one
    again = subprocess.run(
        [sys.executable, "-m", "emulator", "export", "--state", str(tmp_path / "fixture.db")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert [i["reference"] for i in json.loads(again.stdout)["invoices"]] == [ref]
