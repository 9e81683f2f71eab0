"""`seqr-emulator certify --profile webshop` without a command: the form an integrator runs by
hand. It is started here as a subprocess and driven as a person would: read the step it
prints, make the merchant's calls for that step (the scripted shop of `certify_merchants`
against the port it printed), wait for the next step. Output is awaited with a deadline,
never with a fixed sleep."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from emulator.settings import Settings
from tests.certify_merchants import RESELLER, TERMINAL, Shop
from tests.merchant import Merchant

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 20.0  # seconds any awaited line may take; a step is graded within half a second
STEPS = [f"webshop-{n}" for n in range(1, 7)]


class Certify:
    """The running command, its output gathered line by line by a reader thread."""

    def __init__(self, report_dir: Path) -> None:
        command = [sys.executable, "-m", "emulator", "certify", "--profile", "webshop",
                   "--port", "0", "--seed", "7", "--report-dir", str(report_dir)]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.lines.append("")  # end of output
            self._changed.notify_all()

    def wait_for(self, pattern: str) -> re.Match[str]:
        """The first line matching `pattern`, once it is printed (within DEADLINE)."""
        found: re.Match[str] | None = None

        def printed() -> bool:
            nonlocal found
            found = next((m for line in self.lines if (m := re.search(pattern, line))), None)
            return found is not None or (bool(self.lines) and self.process.poll() is not None)

        with self._changed:
            self._changed.wait_for(printed, DEADLINE)
        assert found is not None, f"{pattern!r} not printed; output:\n" + "\n".join(self.lines)
        return found

    def finish(self) -> int:
        status = self.process.wait(DEADLINE)
        self._reader.join(DEADLINE)
        return status

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(DEADLINE)
        self._reader.join(DEADLINE)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Callable[[], tuple[Certify, Shop]]]:
    """Start certify and a scripted shop with a notification endpoint, against its port."""
    made: list[Certify] = []
    receivers: list[Merchant] = []
    shops: list[Shop] = []

    def go() -> tuple[Certify, Shop]:
        certify = Certify(tmp_path / "reports")
        made.append(certify)
        url = certify.wait_for(r"^listening on (http://\S+)$").group(1)
        receiver = Merchant()
        receiver.start()
        receivers.append(receiver)
        shop = Shop(url + Settings().soap_paths[0], url, None, receiver)
        shops.append(shop)
        return certify, shop

    yield go
    for shop in shops:
        shop.client.transport.session.close()
    for receiver in receivers:
        receiver.stop()
    for certify in made:
        certify.stop()


def _report(tmp_path: Path) -> dict[str, Any]:
    folder = tmp_path / "reports"
    for name in ("certification.json", "certification.xml", "certification.html"):
        assert (folder / name).is_file(), name
    document: dict[str, Any] = json.loads((folder / "certification.json").read_text())
    return document


def test_an_integrator_walks_the_printed_steps_to_a_pass(
    run: Callable[[], tuple[Certify, Shop]], tmp_path: Path
) -> None:
    certify, shop = run()
    ctx, reseller = shop.context(TERMINAL, "12345678"), shop.context(RESELLER, "1234")
    made: dict[str, str] = {}

    def first() -> None:
        made["first"] = shop.send(ctx)

    def second() -> None:
        made["ers"] = shop.until_paid(ctx, made["first"])
        made["second"] = shop.send(ctx)  # SEQR's side: the 30 seconds pass here
        assert shop.poll(ctx, made["first"]).resultCode == 0

    def third() -> None:
        shop.receipt(ctx, made["ers"])

    def fourth() -> None:
        assert shop.poll(ctx, made["second"]).status == "ISSUED"
        assert shop.seqr.cancelInvoice(context=ctx, invoiceReference=made["second"]).resultCode == 0

    def fifth() -> None:
        ref = shop.send(ctx)
        assert shop.refund(ctx, shop.until_paid(ctx, ref)) == 0

    def sixth() -> None:
        assert shop.seqr.markTransactionPeriod(context=reseller).resultCode == 0

    certify.wait_for(r"^SEQR certification rehearsal: Webshop and appshop \(6 tests\)$")
    for test, step in zip(STEPS, (first, second, third, fourth, fifth, sixth), strict=True):
        certify.wait_for(rf"^next: {test}: ")  # the step the integrator is at, as printed
        step()
    certify.wait_for(r"^next: every test passed")
    assert certify.finish() == 0
    for test in STEPS:
        certify.wait_for(rf"^PASS {test} ")
    certify.wait_for(r"^certification rehearsal passed$")
    certify.wait_for(r"^reports in .*/reports/$")
    report = _report(tmp_path)
    assert report["passed"] is True and "command" not in report
    assert [t["id"] for t in report["tests"] if t["passed"]] == STEPS


def test_ctrl_c_grades_what_was_seen_and_fails(
    run: Callable[[], tuple[Certify, Shop]], tmp_path: Path
) -> None:
    certify, shop = run()
    certify.wait_for(r"^next: webshop-1: send an invoice")
    ref = shop.send(shop.context(TERMINAL, "12345678"))
    certify.wait_for(r"^next: webshop-2: ")  # test 1 is graded passed; stop here
    certify.process.send_signal(signal.SIGINT)
    assert certify.finish() == 1
    certify.wait_for(r"^interrupted: grading what was seen$")
    certify.wait_for(rf"^     evidence: #1 sendInvoice {ref}$")
    certify.wait_for(r"^PASS webshop-1 sendInvoice: ")
    certify.wait_for(r"^FAIL webshop-2 getPaymentStatus: no invoice was polled while ISSUED$")
    certify.wait_for(r"^certification rehearsal failed$")
    report = _report(tmp_path)
    verdicts = {t["id"]: t["passed"] for t in report["tests"]}
    assert verdicts == {test: test == "webshop-1" for test in STEPS}
    assert report["passed"] is False


def test_ctrl_c_never_interrupts_a_reading_of_the_journal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Ctrl-C arriving while the rehearsal reads the journal (under the backend's lock) lets
    that reading finish: an interrupt inside it could leave the lock taken for good."""
    from emulator import certify_cli

    finished: list[bool] = []

    class Live:
        def catch_up(self) -> None:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, in the middle of the reading
            finished.append(True)

    class Conductor:
        def next_step(self, tests: object) -> str:
            return "webshop-1: send an invoice"

    class Rehearsal:
        conductor = Conductor()

        def results(self) -> tuple[list[Any], list[Any]]:
            unpassed = SimpleNamespace(verdict=SimpleNamespace(passed=False))
            return [unpassed], []  # a test not passed: the walk goes on until interrupted

    certify_cli._walk(Live(), Rehearsal())  # type: ignore[arg-type]
    assert finished == [True]
    assert capsys.readouterr().out.splitlines()[-1] == "interrupted: grading what was seen"
