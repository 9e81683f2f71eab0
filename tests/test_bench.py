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
    "| operation | requests/s | requests/CPU-s |",
    "| paced p99 ms | paced p99 / ceiling's |",
    "so that every p99 is a request's own time",
    "each row by the median of its turns' ratios",
    "turns with the bare aiohttp app (bench/ceiling.py, spawned alike)",
    "notification after payment",
    "a bare aiohttp client's POST",
    "memory with",
    "bytes per stored invoice",
    "mixed workload",
    "attempts hanging (",
    "| goal | this run | met |",
    "within 10% of ~100",
    "the journal on vs off",
    "pytest plugin: set-up and tear-down of seqr_emulator",
]
# Every goal of the issues that set them, each a row of the goals table, graded yes or no.
GOALS = [
    "getPaymentStatus (ISSUED), the same bytes >= 85% of the ceiling",
    "getPaymentStatus (ISSUED), every poll new bytes >= 60% of the ceiling",
    "getPaymentStatus (PAID, receipt) >= 70% of the ceiling",
    "sendInvoice >= 40% of the ceiling, also with 300 stored",
    "refundPayment >= 50% of the ceiling",
    "every row's p99 <= 2x the ceiling's p99, at one paced load",
    "cold start <= 1.5x the bare aiohttp app's",
    "memory <= 1 KB per stored invoice",
    "notification p99 <= 2x a bare aiohttp POST's p99",
    "attempts hanging < 2x alone",
    "sendInvoice with --state >= 50% of sendInvoice in memory",
    "restart holding 300 invoices <=",
    "the journal on: >= 90%",
    "pytest plugin: set-up and tear-down < 5 ms",
    "getPaymentStatus with 300 stored within 10% of ~100",
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
    assert len(goals) == len(GOALS), goals
    for goal in GOALS:
        (graded,) = [g for g in goals if goal in g] or [f"missing {goal!r}"]
        assert graded.endswith(("| yes |", "| no |")), graded
    assert "memory with 300 invoices" in out.stdout, "the store is filled to exactly --invoices"
