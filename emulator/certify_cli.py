"""`seqr-emulator certify`: a rehearsal of SEQR's certification meeting.

It starts an emulator whose examiner plays SEQR's side (`examiner_api.Rehearsal`), then
either tells the integrator each step on the terminal (and on the examiner page) until every
test has passed or Ctrl-C ends the run, or, given a command after `--`, runs the merchant's
own tests against it (`SEQR_EMULATOR_URL` and `SEQR_EMULATOR_SOAP_URL` in their
environment) and grades what they sent. Either way it writes `certification.json`,
`certification.xml` (JUnit) and `certification.html` to `--report-dir`, prints the verdict
per test, and exits 1 if a test or a prerequisite failed (or the command did), else 0.
`--baseline OLD.json` adds how the run's calls drifted from an earlier report's.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator.settings import Settings, parse_setting

if TYPE_CHECKING:
    from emulator.examiner.reports import Outcome
    from emulator.examiner_api import Rehearsal

STEP_POLL_SECONDS = 0.5  # how often the interactive form looks for the next step
# `--profile`'s choices: the names of `emulator.examiner.certify.PROFILES` (a test holds them
# equal). Named here, the graders and reports are imported by a rehearsal only, not by the
# parser every command builds: `seqr-emulator serve` to `listening` took 38M
# instructions fewer, 1,589M against 1,551M (callgrind).
PROFILE_NAMES = ("app", "pos", "service", "webshop")


def add_command(commands: Any) -> None:
    certify = commands.add_parser(
        "certify",
        help="rehearse SEQR's certification: grade a webshop, till, app or service",
        description="Rehearse SEQR's certification procedure and grade every test.",
    )
    certify.add_argument("--profile", choices=PROFILE_NAMES, required=True)
    certify.add_argument("--report-dir", type=Path, default=Path("seqr-certification"))
    certify.add_argument("--port", metavar="PORT", help="as for serve (default 8090)")
    certify.add_argument("--seed", metavar="N", help="as for serve: the same references")
    certify.add_argument("--baseline", type=Path, metavar="OLD.json", help="a passing report")
    certify.add_argument(
        "merchant", nargs=argparse.REMAINDER, help="-- CMD...: run it and grade its traffic"
    )


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name, raw in (("port", args.port), ("seed", args.seed)):
        if raw is not None:
            overrides[name] = parse_setting(name, raw, f"--{name}")
    return Settings().with_overrides(**overrides)


def run(args: argparse.Namespace) -> int:
    from emulator.examiner.certify import PROFILES
    from emulator.examiner.facts import Call
    from emulator.examiner.reports import Outcome, drift
    from emulator.examiner_api import EXAMINER
    from emulator.server import EmulatorServer

    profile = PROFILES[args.profile]
    command = args.merchant[1:] if args.merchant[:1] == ["--"] else list(args.merchant)
    try:
        settings = _settings(args)
        baseline = json.loads(args.baseline.read_text()) if args.baseline else None
    except (OSError, ValueError) as exc:  # a bad setting is a ValueError naming it
        print(f"seqr-emulator: {exc}", file=sys.stderr)
        return 2
    server = EmulatorServer(settings)
    server.start()
    try:
        assert server.app is not None
        live = server.app[EXAMINER]
        rehearsal: Rehearsal = server.call(lambda: live.rehearse(profile))  # type: ignore[assignment]
        print(f"listening on {server.url}", flush=True)
        print(f"SEQR certification rehearsal: {profile.title} ({len(profile.tests)} tests)")
        status = None
        if command:
            env = {
                **os.environ,
                "SEQR_EMULATOR_URL": server.url,
                "SEQR_EMULATOR_SOAP_URL": server.soap_url,
            }
            status = subprocess.run(command, env=env, check=False).returncode
        else:
            _walk(live, rehearsal)
        server.call(live.catch_up)
        tests, prerequisites = rehearsal.results()
        violations = live.violations(None, settled=True, closing=profile.closes)
        calls = [
            f"{f.operation} -> {f.result_code}"
            for f in rehearsal.facts
            if isinstance(f, Call) and f.operation is not None
        ]
    finally:
        server.stop()
    outcome = Outcome(profile, tests, prerequisites, violations, calls, command, status)
    _write(outcome, args.report_dir, None if baseline is None else drift(baseline, calls))
    _print(outcome)
    return 0 if outcome.passed else 1


def _walk(live: Any, rehearsal: Rehearsal) -> None:
    """Tell the integrator each step until every test passed, or Ctrl-C.

    Ctrl-C only raises a flag, read between steps: a KeyboardInterrupt raised inside
    `catch_up` could leave the backend's lock taken, and the server's thread, which needs it
    to stop, waiting for it for good (seen as a rehearsal that never ended under load)."""
    interrupted: list[int] = []
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.append(1)) if main else None
    shown = None
    try:
        while not interrupted:
            live.catch_up()
            tests = rehearsal.results()[0]
            step = rehearsal.conductor.next_step(tests)
            if step != shown:
                print(f"next: {step}", flush=True)
                shown = step
            if all(r.verdict.passed for r in tests):
                return
            time.sleep(STEP_POLL_SECONDS)
    except KeyboardInterrupt:  # off the main thread, where no handler could be set
        pass
    finally:
        if main:
            signal.signal(signal.SIGINT, previous or signal.default_int_handler)
    print("interrupted: grading what was seen", flush=True)


def _write(outcome: Outcome, folder: Path, drifted: dict[str, list[str]] | None) -> None:
    from emulator.examiner.reports import to_html, to_json, to_junit

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "certification.json").write_text(to_json(outcome, drifted))
    (folder / "certification.xml").write_text(to_junit(outcome))
    (folder / "certification.html").write_text(to_html(outcome))
    print(f"reports in {folder}/")


def _print(outcome: Outcome) -> None:
    for result in outcome.tests + outcome.prerequisites:
        word = "PASS" if result.verdict.passed else "FAIL"
        evidence = "; ".join(str(e) for e in result.verdict.evidence)
        print(f"{word} {result.test.id} {result.test.name}: {result.verdict.why}")
        if evidence:
            print(f"     evidence: {evidence}")
    for violation in outcome.violations:
        print(f"rule {violation.rule.id} ({violation.rule.severity.value}): {violation.message}")
    if outcome.exit_status not in (None, 0):
        print(f"the command exited with status {outcome.exit_status}")
    print("certification rehearsal " + ("passed" if outcome.passed else "failed"))
