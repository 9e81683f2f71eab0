"""`seqr-emulator certify`: scripted merchants (`tests/certify_merchants.py`) run as the
merchant's own command, against a real emulator that plays SEQR's side; the reports say
which tests and rules each passed or broke, naming the offending requests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import junitparser
import pytest
from lxml import etree

from emulator.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIRST = "20260101347720701"  # the first invoice reference with --seed 7
POLL = "getPaymentStatus"

# The shape CI servers read (the Jenkins/Ant JUnit format), restated as a schema here: a
# testsuites root of testsuite elements of testcase elements, each case named, with at most
# one failure, error or skipped child, and integer counts.
JUNIT_XSD = b"""<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="testsuites">
    <xs:complexType>
      <xs:sequence><xs:element ref="testsuite" maxOccurs="unbounded"/></xs:sequence>
      <xs:attribute name="name" type="xs:string"/>
      <xs:attribute name="tests" type="xs:nonNegativeInteger"/>
      <xs:attribute name="failures" type="xs:nonNegativeInteger"/>
      <xs:attribute name="errors" type="xs:nonNegativeInteger"/>
    </xs:complexType>
  </xs:element>
  <xs:element name="testsuite">
    <xs:complexType>
      <xs:sequence><xs:element ref="testcase" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
      <xs:attribute name="name" type="xs:string" use="required"/>
      <xs:attribute name="tests" type="xs:nonNegativeInteger" use="required"/>
      <xs:attribute name="failures" type="xs:nonNegativeInteger"/>
      <xs:attribute name="errors" type="xs:nonNegativeInteger"/>
      <xs:attribute name="skipped" type="xs:nonNegativeInteger"/>
    </xs:complexType>
  </xs:element>
  <xs:element name="testcase">
    <xs:complexType>
      <xs:sequence>
        <xs:choice minOccurs="0">
          <xs:element name="failure" type="outcome"/>
          <xs:element name="error" type="outcome"/>
          <xs:element name="skipped" type="outcome"/>
        </xs:choice>
        <xs:element name="system-out" type="xs:string" minOccurs="0"/>
        <xs:element name="system-err" type="xs:string" minOccurs="0"/>
      </xs:sequence>
      <xs:attribute name="name" type="xs:string" use="required"/>
      <xs:attribute name="classname" type="xs:string" use="required"/>
      <xs:attribute name="time" type="xs:decimal"/>
    </xs:complexType>
  </xs:element>
  <xs:complexType name="outcome">
    <xs:simpleContent>
      <xs:extension base="xs:string">
        <xs:attribute name="message" type="xs:string"/>
        <xs:attribute name="type" type="xs:string"/>
      </xs:extension>
    </xs:simpleContent>
  </xs:complexType>
</xs:schema>
"""


def certify(
    tmp_path: Path, profile: str, variant: str | None = None, *extra: str
) -> tuple[int, dict[str, Any], Path]:
    folder = tmp_path / (variant or profile)
    merchant = [sys.executable, "-m", "tests.certify_merchants", profile]
    if variant:
        merchant += ["--variant", variant]
    status = main(
        ["certify", "--profile", profile, "--port", "0", "--seed", "7",
         "--report-dir", str(folder), *extra, "--", *merchant]
    )  # fmt: skip
    return status, json.loads((folder / "certification.json").read_text()), folder


def failed(report: dict[str, Any]) -> dict[str, str]:
    """test id -> why, for the tests and prerequisites that failed."""
    return {t["id"]: t["why"] for t in report["tests"] + report["prerequisites"] if not t["passed"]}


def rules(report: dict[str, Any]) -> dict[str, list[str]]:
    """rule id -> the requests its violations name, as `#seq operation`."""
    found: dict[str, list[str]] = {}
    for v in report["conformance"]:
        found.setdefault(v["rule"], []).extend(
            f"#{e['seq']} {e['operation']}" for e in v["evidence"]
        )
    return found


@pytest.fixture(autouse=True)
def _merchants_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # `python -m tests.certify_merchants` finds this checkout


@pytest.mark.parametrize(("profile", "count"), [("webshop", 6), ("pos", 9), ("app", 3),
                                                ("service", 4)])  # fmt: skip
def test_a_merchant_following_the_procedure_passes_every_test(
    tmp_path: Path, profile: str, count: int, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report, _ = certify(tmp_path, profile)
    assert (status, failed(report), report["conformance"]) == (0, {}, [])
    assert len(report["tests"]) == count and report["passed"] is True
    for test in report["tests"]:
        assert set(test) >= {"id", "name", "passed", "source", "evidence"}
        assert test["source"].startswith("SEQR ") and test["evidence"]
    out = capsys.readouterr().out
    assert out.count("PASS ") == count + len(report["prerequisites"])
    assert out.rstrip().endswith("certification rehearsal passed")


@pytest.mark.parametrize(
    ("variant", "tests", "broken"),
    [
        ("skip-receipt", {"webshop-3": "no submitPaymentReceipt"}, {}),
        (
            "timeout-30",
            {"prerequisite-timeout": f"#1 sendInvoice {FIRST} sent clientRequestTimeout 30"},
            {"request-timeout-zero": ["#1 sendInvoice", "#17 markTransactionPeriod"]},
        ),
        (
            "never-ack",
            {"webshop-5": "no refundPayment"},
            {"poll-after-notification": ["#14 notification"]},
        ),
        ("poll-after-paid", {}, {"poll-stops-at-final": [f"#5 {POLL}", f"#7 {POLL}"]}),
        ("over-refund", {}, {"refund-within-paid": ["#17 refundPayment"]}),
    ],
)  # fmt: skip
def test_a_variant_fails_exactly_what_it_breaks(
    tmp_path: Path, variant: str, tests: dict[str, str], broken: dict[str, list[str]]
) -> None:
    status, report, _ = certify(tmp_path, "webshop", variant)
    assert status == 1 and report["passed"] is False
    assert failed(report) == tests
    assert rules(report) == broken


def test_a_point_of_sale_that_used_its_terminal_before_registering(tmp_path: Path) -> None:
    """The till must be deregistered before the run: here the webshop's script (an old
    terminal id, no registerTerminal) is graded as a point of sale."""
    status, report, _ = certify(tmp_path, "pos", None)
    assert status == 0
    status, report, _ = certify(tmp_path / "webshop-as-pos", "webshop", None, "--profile", "pos")
    assert status == 1
    why = failed(report)
    assert why["prerequisite-deregistered"] == "the run never registered its terminal"
    assert why["pos-1"] == "no registerTerminal as RESELLERUSER answered 0"


def test_two_runs_with_a_seed_write_the_same_reports(tmp_path: Path) -> None:
    _, _, first = certify(tmp_path / "a", "webshop", "skip-receipt")
    _, _, second = certify(tmp_path / "b", "webshop", "skip-receipt")
    for name in ("certification.json", "certification.xml", "certification.html"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_the_junit_report_validates_and_names_each_failure(tmp_path: Path) -> None:
    _, _, folder = certify(tmp_path, "webshop", "skip-receipt")
    document = etree.parse(str(folder / "certification.xml"))
    schema = etree.XMLSchema(etree.fromstring(JUNIT_XSD))
    assert schema.validate(document), schema.error_log
    cases = document.findall(".//testcase")
    assert len(cases) == 8
    [failure] = document.findall(".//failure")
    assert failure.get("message") == "no submitPaymentReceipt"
    assert document.getroot().get("failures") == "1"


@pytest.mark.parametrize(
    ("profile", "variant"),
    [("webshop", None), ("webshop", "skip-receipt"), ("webshop", "timeout-30"),
     ("pos", "scan-invoice-qr"), ("app", "http-link"), ("service", None)],
)  # fmt: skip
def test_a_junit_reader_reads_every_test_as_its_verdict(
    tmp_path: Path, profile: str, variant: str | None
) -> None:
    """junitparser, a JUnit reader CI tools build on, sees each certification test and
    prerequisite as one test case, passed or failed as the JSON report says, with its why."""
    _, report, folder = certify(tmp_path, profile, variant)
    xml = junitparser.JUnitXml.fromfile(str(folder / "certification.xml"))
    seen: dict[str, tuple[bool, str | None]] = {}
    for suite in xml:
        assert isinstance(suite, junitparser.TestSuite)
        cases = list(suite)
        assert suite.tests == len(cases)
        assert suite.failures == sum(not c.is_passed for c in cases)
        for case in cases:
            results = list(case.result)
            assert all(isinstance(r, junitparser.Failure) for r in results)
            seen[case.name.split(" ")[0]] = (
                case.is_passed,
                results[0].message if results else None,
            )
    expected = {
        t["id"]: (t["passed"], None if t["passed"] else t["why"])
        for t in report["tests"] + report["prerequisites"]
    }
    assert seen == expected
    assert sum(not passed for passed, _ in seen.values()) == (0 if variant is None else 1)


def test_a_baseline_shows_how_the_traffic_drifted(tmp_path: Path) -> None:
    _, passing, folder = certify(tmp_path / "good", "webshop")
    _, report, _ = certify(
        tmp_path / "bad",
        "webshop",
        "skip-receipt",
        "--baseline",
        str(folder / "certification.json"),
    )
    assert passing["passed"] is True
    assert report["drift"] == {
        "added": [],
        "dropped": ["submitPaymentReceipt -> 0"],
        "changed": [],
    }


def test_the_till_is_paid_by_a_scan_of_its_sticker(tmp_path: Path) -> None:
    """Point of sale test 4: SEQR's customer scans the till's sticker, which leads to the
    till's open invoice, and pays; the evidence shows the scan between the polls."""
    status, report, _ = certify(tmp_path, "pos")
    test = next(t for t in report["tests"] if t["id"] == "pos-4")
    assert status == 0 and test["passed"], test
    [scan] = [e for e in test["evidence"] if e.get("after")]
    assert scan["act"] == f"the app read HTTP://SEQR.SE/Qexamplecafe0001 for {FIRST}"
    polls = [e["seq"] for e in test["evidence"] if e["operation"] == POLL]
    assert polls[0] <= scan["seq"] < polls[1]  # after the ISSUED poll, before the PAID one


@pytest.mark.parametrize(
    ("variant", "why", "read"),
    [
        (
            "scan-invoice-qr",
            f"{FIRST} was paid, but not by a scan of the till's sticker "
            f"HTTP://SEQR.SE/Qexamplecafe0001: the app read HTTP://SEQR.SE/R{FIRST}",
            f"HTTP://SEQR.SE/R{FIRST}",
        ),
        ("no-sticker", f"{FIRST} was paid, but its till has no SEQR ID, so no sticker", None),
    ],
)
def test_a_till_paid_without_its_sticker_fails_test_4(
    tmp_path: Path, variant: str, why: str, read: str | None
) -> None:
    status, report, _ = certify(tmp_path, "pos", variant)
    assert status == 1
    assert failed(report)["pos-4"] == why
    expected = {"pos-4"} if variant == "scan-invoice-qr" else {"pos-2", "pos-4"}
    assert set(failed(report)) == expected
    if read is not None:
        [act] = [e for e in report["tests"][3]["evidence"] if e.get("after")]
        assert act["act"] == f"the app read {read} for {FIRST}"


def test_the_app_is_graded_on_the_seqr_link_it_opened(tmp_path: Path) -> None:
    """In-app guide: the app opens invoiceQRCode with HTTP: replaced by seqr:; the emulated
    SEQR app pays and returns to backURL; app-3 names the link the emulator answered."""
    status, report, _ = certify(tmp_path, "app")
    test = next(t for t in report["tests"] if t["id"] == "app-3")
    assert status == 0 and test["passed"]
    assert test["why"] == (
        f"the app opened seqr://SEQR.SE/R{FIRST}, the seqr: form of HTTP://SEQR.SE/R{FIRST}"
    )
    assert [e.get("act") for e in test["evidence"]] == [
        None,
        f"the app read seqr://SEQR.SE/R{FIRST} for {FIRST}",
    ]


@pytest.mark.parametrize(
    ("variant", "opened"),
    [("http-link", f"HTTP://SEQR.SE/R{FIRST}"), ("demo-link", f"seqr-demo://SEQR.SE/R{FIRST}")],
)
def test_an_app_opening_another_link_fails_app_3(tmp_path: Path, variant: str, opened: str) -> None:
    status, report, _ = certify(tmp_path, "app", variant)
    assert status == 1
    assert failed(report) == {
        "app-3": f"the app opened {opened} for {FIRST}, not seqr://SEQR.SE/R{FIRST}, the "
        f"seqr: form of its invoiceQRCode HTTP://SEQR.SE/R{FIRST}"
    }
    [act] = [e for e in report["tests"][2]["evidence"] if e.get("after")]
    assert act["act"] == f"the app read {opened} for {FIRST}"


def test_the_service_is_paid_inside_the_session_by_its_customer(tmp_path: Path) -> None:
    status, report, _ = certify(tmp_path, "service")
    test = next(t for t in report["tests"] if t["id"] == "service-4")
    assert status == 0 and test["passed"]
    [info, paid] = test["evidence"]
    assert info["operation"] == "getClientSessionInfo"
    assert paid["act"].startswith(f"the customer 46701234567/132 paid {FIRST} in session ")
    status, report, _ = certify(tmp_path, "service", "outside-session")
    assert status == 1 and set(failed(report)) == {"service-4"}
    assert failed(report)["service-4"].startswith(f"{FIRST} was paid outside session ")
