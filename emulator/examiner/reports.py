"""The rehearsal's reports: JSON for machines, JUnit XML for CI, HTML for a person.

All three are made from one `Outcome` and hold no wall-clock time and no random value, so
two reports of the same run are the same bytes, and with `--seed` (the same references) two
runs of the same merchant are too. `drift` compares today's traffic with a baseline run's:
the calls added, dropped or changed, operation by operation. Pure: strings in, strings out.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from emulator.examiner.certify import Profile, Result
from emulator.examiner.monitor import Violation
from emulator.examiner.rules import FAILING


@dataclass(frozen=True, slots=True)
class Outcome:
    profile: Profile
    tests: list[Result]
    prerequisites: list[Result]
    violations: list[Violation]
    calls: list[str]  # the run's calls, in order: "operation -> resultCode"
    command: list[str] = field(default_factory=list)
    exit_status: int | None = None  # the merchant's command's, in the non-interactive form

    @property
    def failing_violations(self) -> list[Violation]:
        """The rules broken badly enough to fail the run: errors and warnings, as SEQR's
        staff would have stopped at them; information is only shown."""
        return [v for v in self.violations if v.rule.severity in FAILING]

    @property
    def passed(self) -> bool:
        results = self.tests + self.prerequisites
        return (
            all(r.verdict.passed for r in results)
            and not self.failing_violations
            and self.exit_status in (None, 0)
        )


def to_json(outcome: Outcome, drift: dict[str, list[str]] | None = None) -> str:
    document: dict[str, Any] = {
        "profile": outcome.profile.name,
        "title": outcome.profile.title,
        "passed": outcome.passed,
        "tests": [r.to_json() for r in outcome.tests],
        "prerequisites": [r.to_json() for r in outcome.prerequisites],
        "conformance": [v.to_json() for v in outcome.violations],
        "notes": list(outcome.profile.notes),
        "calls": outcome.calls,
    }
    if outcome.command:
        document["command"] = outcome.command
        document["exitStatus"] = outcome.exit_status
    if drift is not None:
        document["drift"] = drift
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _evidence(result: Result) -> str:
    return "; ".join(str(e) for e in result.verdict.evidence)


def to_junit(outcome: Outcome) -> str:
    """One testsuite per list (the checklist, the prerequisites), one testcase per test."""
    root = ElementTree.Element("testsuites", name=f"seqr-certify {outcome.profile.name}")
    total = failed = 0
    for suite_name, results in (("tests", outcome.tests), ("prerequisites", outcome.prerequisites)):
        failures = sum(not r.verdict.passed for r in results)
        total += len(results)
        failed += failures
        suite = ElementTree.SubElement(
            root,
            "testsuite",
            name=f"seqr-certify.{outcome.profile.name}.{suite_name}",
            tests=str(len(results)),
            failures=str(failures),
            errors="0",
            skipped="0",
        )
        for result in results:
            case = ElementTree.SubElement(
                suite,
                "testcase",
                classname=f"seqr.{outcome.profile.name}.{suite_name}",
                name=f"{result.test.id} {result.test.name}",
            )
            text = f"{result.test.source}\n{result.verdict.why}\nevidence: {_evidence(result)}"
            if result.verdict.passed:
                ElementTree.SubElement(case, "system-out").text = text
            else:
                ElementTree.SubElement(case, "failure", message=result.verdict.why).text = text
    root.set("tests", str(total))
    root.set("failures", str(failed))
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, "unicode") + "\n"


_STYLE = (
    "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2433}"
    "table{border-collapse:collapse;margin:12px 0}"
    "th,td{border:1px solid #d8dde6;padding:5px 9px;text-align:left;vertical-align:top}"
    "th{background:#f4f6f8}.pass{color:#0a7d5a;font-weight:600}"
    ".fail{color:#c0392b;font-weight:600}code{font-family:ui-monospace,monospace}"
)


def to_html(outcome: Outcome) -> str:
    e = html.escape
    profile = outcome.profile
    verdict = "passed" if outcome.passed else "failed"
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>SEQR certification rehearsal: {e(profile.title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>SEQR certification rehearsal: {e(profile.title)}</h1>",
        f'<p id="verdict" class="{"pass" if outcome.passed else "fail"}">The run {verdict}.</p>',
    ]
    for heading, key, results in (
        ("Tests", "tests", outcome.tests),
        ("Prerequisites", "prerequisites", outcome.prerequisites),
    ):
        out.append(f"<h2>{heading}</h2>")
        out.append(f'<table id="{key}"><thead><tr><th>Test</th><th>Name</th><th>Source</th>')
        out.append("<th>Result</th></tr></thead><tbody>")
        for r in results:
            cls, word = ("pass", "passed") if r.verdict.passed else ("fail", "failed")
            out.append(
                f"<tr><td><code>{e(r.test.id)}</code></td><td>{e(r.test.name)}</td>"
                f'<td>{e(r.test.source)}</td><td class="{cls}">{word}</td></tr>'
            )
        out.append("</tbody></table>")
    out.append("<h2>Evidence</h2>")
    for r in outcome.tests + outcome.prerequisites:
        out.append(f'<h3 id="{e(r.test.id)}">{e(r.test.id)} {e(r.test.name)}</h3>')
        out.append(f"<p>{e(r.test.instruction)}. {e(r.verdict.why)}.</p>")
        if r.verdict.evidence:
            items = "".join(f"<li><code>{e(str(ev))}</code></li>" for ev in r.verdict.evidence)
            out.append(f"<ul>{items}</ul>")
    out.append("<h2>Conformance</h2>")
    if outcome.violations:
        out.append("<table><thead><tr><th>Rule</th><th>Severity</th><th>What</th>")
        out.append("<th>Requests</th><th>Source</th></tr></thead><tbody>")
        for v in outcome.violations:
            seqs = ", ".join(str(ev) for ev in v.evidence)
            out.append(
                f"<tr><td><code>{e(v.rule.id)}</code></td><td>{e(v.rule.severity.value)}</td>"
                f"<td>{e(v.message)}</td><td><code>{e(seqs)}</code></td>"
                f"<td>{e(str(v.rule.source))}</td></tr>"
            )
        out.append("</tbody></table>")
    else:
        out.append("<p>No rule broken.</p>")
    if profile.notes:
        out.append("<h2>Not checked here</h2><ul>")
        out.extend(f"<li>{e(note)}</li>" for note in profile.notes)
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def drift(baseline: dict[str, Any], calls: list[str]) -> dict[str, list[str]]:
    """How today's calls differ from a baseline report's: per `operation -> resultCode`
    line, the ones added (more today) and dropped (fewer today); `changed` lists the
    operations whose answers changed (the same operation, other result codes)."""
    before = Counter(baseline.get("calls", []))
    now = Counter(calls)
    added = sorted((now - before).elements())
    dropped = sorted((before - now).elements())
    changed = sorted({_operation(a) for a in added} & {_operation(d) for d in dropped})
    return {"added": added, "dropped": dropped, "changed": changed}


def _operation(line: str) -> str:
    return line.split(" -> ")[0]
