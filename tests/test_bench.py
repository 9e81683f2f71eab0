"""The benchmark runs, in a tiny configuration, so the published figures never rot.

Marked `bench`: the default run leaves it out, `pytest -m bench` runs it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench

BENCH = Path(__file__).resolve().parents[1] / "bench" / "run.py"
ROWS = [
    "ceiling (raw aiohttp, fixed body)",
    "| getPaymentStatus (ISSUED) |",
    "| getPaymentStatus (ISSUED), every poll new bytes |",
    "| getPaymentStatus (PAID, receipt) |",
    "| sendInvoice |",
    "| refundPayment |",
    "control pay",
    "stored |",
    "cold start to `listening`",
    "notification after payment",
    "memory with",
    "mixed workload",
    "attempts hanging (",
    "attempts hanging: < 2x alone",
    "| goal | this run | met |",
    "within 10% of ~100",
    "the journal on vs off",
    "the journal on: >= 90%",
    "pytest plugin: set-up and tear-down of seqr_emulator",
    "pytest plugin: set-up and tear-down < 5 ms",
]


@pytest.mark.timeout(240)  # about 30 s; the suite's 60 s default is for single calls
def test_tiny_benchmark_prints_every_row():
    out = subprocess.run(
        [sys.executable, str(BENCH), "--tiny"], capture_output=True, text=True, timeout=240
    )
    assert out.returncode == 0, out.stderr
    for row in ROWS:
        assert row in out.stdout, f"missing {row!r} in:\n{out.stdout}"
    assert "errors or non-2xx" not in out.stdout, out.stdout
    assert "nan" not in out.stdout, out.stdout
    goals = out.stdout.split("| goal | this run | met |")[1].strip().splitlines()[1:]
    assert goals and all(g.endswith(("| yes |", "| no |")) for g in goals), goals
    assert "memory with 300 invoices" in out.stdout, "the store is filled to exactly --invoices"
