"""What the pytest plugin costs a merchant's suite: per-test set-up and tear-down, and in all.

    python bench/plugin.py            # 200 tests
    python bench/plugin.py --tests 20 # a smoke run

It writes a suite of N trivial tests and runs it twice in fresh processes: once with each
test asking for the `seqr_emulator` fixture, once without it. The figures: the median of
the fixture's set-up plus tear-down per test (pytest's own phase durations, read by a hook
in the generated conftest), and the whole suite's wall time with the fixture and without.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFTEST = """
import json, os

phases = {}

def pytest_runtest_logreport(report):
    if report.when in ("setup", "teardown"):
        phases.setdefault(report.nodeid, 0.0)
        phases[report.nodeid] += report.duration

def pytest_sessionfinish(session):
    with open(os.environ["PHASES"], "w") as out:
        json.dump(phases, out)
"""

SUITE = """
import pytest

@pytest.mark.parametrize("n", range({tests}))
def test_one_order(n, {fixture}):
    handle = {handle}
    assert n >= 0 and handle is not None
"""


def run(folder: Path, tests: int, with_emulator: bool) -> tuple[float, list[float]]:
    fixture, handle = ("seqr_emulator", "seqr_emulator.context") if with_emulator else ("", "1")
    (folder / "conftest.py").write_text(CONFTEST)
    suite = SUITE.format(tests=tests, fixture=fixture, handle=handle).replace("n, )", "n)")
    (folder / "test_suite.py").write_text(suite)
    phases = folder / "phases.json"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        capture_output=True,
        text=True,
        cwd=folder,
        env={"PHASES": str(phases), "PATH": "", "PYTHONDONTWRITEBYTECODE": "1"},
        timeout=600,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    per_test = list(json.loads(phases.read_text()).values())
    return wall, per_test


def measure(tests: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as where:
        folder = Path(where)
        bare_wall, bare = run(folder, tests, False)
        with_wall, handled = run(folder, tests, True)
    # The first test also pays for the session's emulator start; the median leaves it out.
    return {
        "tests": tests,
        "median_ms": statistics.median(handled) * 1000,
        "bare_median_ms": statistics.median(bare) * 1000,
        "suite_with_s": with_wall,
        "suite_without_s": bare_wall,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200)
    args = parser.parse_args(argv)
    figures = measure(args.tests)
    print(
        f"- pytest plugin: set-up and tear-down of seqr_emulator, median of {args.tests} "
        f"tests: {figures['median_ms']:.2f} ms (without the fixture "
        f"{figures['bare_median_ms']:.2f} ms); the suite {figures['suite_with_s']:.2f} s "
        f"against {figures['suite_without_s']:.2f} s without the emulator"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
