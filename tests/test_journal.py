"""The request journal: every SOAP call and notification attempt, read over the control API.

Real emulators on random ports, zeep built from the emulator's own `?wsdl` for the calls a
merchant makes, raw bytes (tests/wire.py) for the ones no client would send.
"""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime

import pytest

from emulator.cli import _parser, settings_from
from emulator.clock import Clock
from emulator.journal import Journal, Query, redact, repeat_facts
from emulator.settings import Settings, SettingsError, load_config
from tests.merchant import Merchant
from tests.shop import PASSWORD, Control, paid, refund, send, status, wait_attempts
from tests.test_terminals import register
from tests.wire import context_xml, envelope, post, send_invoice_xml


def journal(control: Control, **query: object) -> dict:
    """`GET /_emulator/journal` with the given parameters."""
    shown = urllib.parse.urlencode({k: str(v) for k, v in query.items()})
    return control.ok("GET", "/journal" + (f"?{shown}" if shown else ""))


def entries(control: Control, **query: object) -> list[dict]:
    return journal(control, **query)["entries"]


# --- what an entry says ------------------------------------------------------------------------


def test_a_call_is_journaled_with_what_it_was_and_what_it_was_answered(
    emulator, zeep_service, context, control
):
    ref = send(zeep_service, context, title="Order 7")
    [entry] = entries(control)
    assert entry["kind"] == "call" and entry["seq"] == 1
    assert entry["operation"] == "sendInvoice"
    assert entry["terminal"] == context["initiatorPrincipalId"]["id"]
    assert entry["invoice"] == ref  # the one it issued
    assert (entry["resultCode"], entry["fault"], entry["httpStatus"]) == (0, None, 200)
    assert entry["path"] == "/extclientproxy/service/v2"
    assert entry["scenarioStep"] is None
    assert 0 < entry["durationMs"] < 5000
    at = datetime.fromisoformat(entry["at"])
    assert abs((at - emulator.backend.clock.now()).total_seconds()) < 60
    assert "<title>Order 7</title>" in entry["request"]
    assert f"<invoiceReference>{ref}</invoiceReference>" in entry["answer"]
    hidden = len(PASSWORD) - len("***")
    assert entry["requestSize"] == len(entry["request"].encode()) + hidden  # as received
    assert entry["answerSize"] == len(entry["answer"].encode())
    assert PASSWORD not in json.dumps(entry)
    assert "<password>***</password>" in entry["request"]


def test_polls_and_refunds_name_their_invoice(zeep_service, context, control):
    ref = paid(zeep_service, context, control)
    ers = status(zeep_service, context, ref).ersReference
    assert refund(zeep_service, context, ers, "10.00").resultCode == 0
    assert refund(zeep_service, context, "no-such-ers", "10.00").resultCode == 23
    found = entries(control)
    assert [(e["operation"], e["invoice"], e["resultCode"]) for e in found] == [
        ("refundPayment", None, 23),
        ("refundPayment", ref, 0),  # named by its ersReference
        ("getPaymentStatus", ref, 0),
        ("sendInvoice", ref, 0),
    ]
    assert found[1]["ersReference"] == ers


def test_a_refused_sendinvoice_is_journaled_with_its_result_code(zeep_service, context, control):
    answer = zeep_service.sendInvoice(context, {"title": "no total"})
    assert answer.resultCode == 49 and not answer.invoiceReference  # INVALID_INVOICE_DATA
    [entry] = entries(control)
    assert (entry["operation"], entry["resultCode"], entry["invoice"]) == ("sendInvoice", 49, None)


def test_a_scenario_step_that_answered_the_call_is_named(zeep_service, context, control):
    terminal = context["initiatorPrincipalId"]["id"]
    control.ok("PUT", f"/terminals/{terminal}/scenario", {"name": "refund-rejected"})
    ref = send(zeep_service, context)
    ers = status(zeep_service, context, ref).ersReference
    assert refund(zeep_service, context, ers, "1.00").resultCode == 99
    [entry] = entries(control, operation="refundPayment")
    assert entry["resultCode"] == 99 and entry["invoice"] == ref
    assert entry["scenarioStep"] == {
        "number": 2,
        "do": "answer",
        "describe": "on refundPayment: answer",
    }


def test_a_malformed_value_names_the_element_path(emulator, control):
    reply = post(emulator.soap_url, envelope(send_invoice_xml(total="twenty")))
    assert reply.status == 500
    [entry] = entries(control)
    assert entry["operation"] == "sendInvoice" and entry["terminal"] == "wire-terminal"
    assert (entry["resultCode"], entry["httpStatus"], entry["invoice"]) == (None, 500, None)
    assert entry["fault"] == {
        "code": "soap:Client",
        "string": "Unmarshalling Error: sendInvoice/invoice/totalAmount/value: "
        "'twenty' is not a decimal",
    }
    assert "sendInvoice/invoice/totalAmount/value: 'twenty' is not a decimal" in entry["outcome"]
    assert "<value>twenty</value>" in entry["request"]


def test_requests_it_could_not_read_are_journaled_with_the_reason(start_emulator):
    server = start_emulator(max_body_bytes=4096)
    control = Control(server.url)
    post(server.soap_url, b"<not xml")
    post(server.soap_url, envelope(f"<ext:stealMoney>{context_xml()}</ext:stealMoney>"))
    big = envelope(send_invoice_xml(extra="<footer>" + "x" * 8000 + "</footer>"))
    assert post(server.soap_url, big).status == 413
    too_big, unknown, not_xml = entries(control)
    assert not_xml["operation"] is None and not_xml["fault"]["code"] == "soap:Client"
    assert not_xml["fault"]["string"].startswith("Error reading XMLStreamReader")
    assert not_xml["request"] == "<not xml"
    assert unknown["operation"] is None
    assert "stealMoney" in unknown["fault"]["string"]
    assert too_big["operation"] is None and too_big["httpStatus"] == 413
    assert too_big["refused"] == "request body larger than 4096 bytes"
    assert too_big["fault"] is None and too_big["requestSize"] == len(big)
    assert too_big["outcome"] == "HTTP 413: request body larger than 4096 bytes"


def test_notification_attempts_are_entries_of_the_same_journal(zeep_service, context, control):
    with Merchant() as merchant:
        ref = send(zeep_service, context, notificationUrl=merchant.url("/n"))
        control.pay(ref)
        [attempt] = wait_attempts(control, ref)
    notified, sent = entries(control, invoice=ref)
    assert (sent["operation"], notified["kind"]) == ("sendInvoice", "notification")
    assert notified["seq"] > sent["seq"]
    assert notified["notificationOutcome"] == "delivered" and notified["statusCode"] == 200
    assert notified["url"] == attempt["url"] and notified["event"] == "paid"
    terminal = context["initiatorPrincipalId"]["id"]
    assert notified["terminal"] == terminal
    assert entries(control, operation="notification") == [notified]
    assert entries(control, kind="notification", terminal=terminal) == [notified]
    assert entries(control, kind="notification", terminal="someone-else") == []


# --- the bound, the switch, the reset ----------------------------------------------------------


def test_the_journal_stays_at_its_bound_and_counts_what_it_dropped(
    start_emulator, zeep_for, context
):
    server = start_emulator(journal_size=50)
    service, control = zeep_for(server), Control(server.url)
    ref = send(service, context)
    for _ in range(499):
        status(service, context, ref)
    page = journal(control, limit=1000)
    assert (page["total"], page["held"], page["dropped"], page["size"]) == (500, 50, 450, 50)
    assert [e["seq"] for e in page["entries"]] == list(range(500, 450, -1))
    assert {e["operation"] for e in page["entries"]} == {"getPaymentStatus"}
    assert len(server.backend.requests) == 50


def test_size_zero_turns_the_journal_off(start_emulator, zeep_for, context):
    server = start_emulator(journal_size=0)
    service, control = zeep_for(server), Control(server.url)
    status(service, context, send(service, context))
    page = journal(control)
    assert (page["entries"], page["total"], page["size"]) == ([], 0, 0)


def test_a_reset_clears_it(zeep_service, context, control):
    send(zeep_service, context)
    assert journal(control)["total"] == 1
    control.ok("POST", "/reset")
    page = journal(control)
    assert (page["entries"], page["total"], page["dropped"]) == ([], 0, 0)
    send(zeep_service, context)
    assert [e["seq"] for e in entries(control)] == [1]


def test_the_size_comes_from_a_flag_the_environment_or_the_file(tmp_path):
    args = _parser().parse_args(["serve", "--journal-size", "50"])
    assert settings_from(args).journal_size == 50
    assert Settings.from_env({"SEQR_EMULATOR_JOURNAL_SIZE": "0"}).journal_size == 0
    config = tmp_path / "seqr.toml"
    config.write_text("journal_size = 7\n")
    assert load_config(config).journal_size == 7
    assert Settings().journal_size == 10_000
    with pytest.raises(SettingsError, match=r"^--journal-size must be 0\.\.1000000 \(got -1\)$"):
        settings_from(_parser().parse_args(["serve", "--journal-size", "-1"]))
    with pytest.raises(SettingsError, match="SEQR_EMULATOR_JOURNAL_SIZE is not an integer"):
        Settings.from_env({"SEQR_EMULATOR_JOURNAL_SIZE": "many"})


# --- filters and pages -------------------------------------------------------------------------


def test_filters_by_terminal_operation_invoice_and_time(start_emulator, zeep_for, context):
    server = start_emulator(freeze_clock=True, clock_start="2026-03-01T12:00:00+00:00")
    service, control = zeep_for(server), Control(server.url)
    other = {**context, "initiatorPrincipalId": {"id": "ci-terminal-2", "type": "TERMINALID"}}
    first = send(service, context)
    control.advance(60)
    second = send(service, other)
    status(service, other, second)
    control.advance(60)
    status(service, context, first)
    mine = context["initiatorPrincipalId"]["id"]

    def shown(**query: object) -> list[tuple[str, str]]:
        return [(e["operation"], e["invoice"]) for e in entries(control, **query)]

    assert shown(terminal=mine) == [("getPaymentStatus", first), ("sendInvoice", first)]
    assert shown(terminal="ci-terminal-2", operation="sendInvoice") == [("sendInvoice", second)]
    assert shown(invoice=second) == [("getPaymentStatus", second), ("sendInvoice", second)]
    assert shown(since="2026-03-01T12:01:00+00:00", until="2026-03-01T12:01:00Z") == [
        ("getPaymentStatus", second),
        ("sendInvoice", second),
    ]
    assert shown(since="2026-03-01T12:02:00") == [("getPaymentStatus", first)]  # no zone: UTC
    assert shown(until="2026-03-01T11:59:59Z") == []
    assert shown(kind="call", operation="cancelInvoice") == []
    assert journal(control, invoice=first)["matched"] == 2


def test_a_terminals_reset_forgets_its_entries_and_no_one_elses(start_emulator, zeep_for, context):
    server = start_emulator()
    service, control = zeep_for(server), Control(server.url)
    other = {**context, "initiatorPrincipalId": {"id": "ci-terminal-2", "type": "TERMINALID"}}
    mine = context["initiatorPrincipalId"]["id"]
    ours = send(service, context)
    theirs = send(service, other)
    status(service, other, theirs)
    control.ok("POST", f"/terminals/{mine}/reset")
    page = journal(control)
    assert [(e["terminal"], e["invoice"]) for e in page["entries"]] == [
        ("ci-terminal-2", theirs),
        ("ci-terminal-2", theirs),
    ]
    assert ours not in json.dumps(page)
    assert (page["total"], page["held"], page["dropped"]) == (3, 2, 0)  # forgotten, not dropped
    send(service, context)
    assert entries(control, terminal=mine)[0]["seq"] == 4  # the numbering goes on


def test_a_terminal_with_its_own_clock_journals_its_calls_at_its_time(
    start_emulator, zeep_for, context
):
    server = start_emulator(freeze_clock=True, clock_start="2026-03-01T12:00:00+00:00")
    service, control = zeep_for(server), Control(server.url)
    mine = context["initiatorPrincipalId"]["id"]
    control.ok("POST", f"/terminals/{mine}/clock/advance", {"seconds": 3600})
    ref = send(service, context)
    other = {**context, "initiatorPrincipalId": {"id": "ci-terminal-2", "type": "TERMINALID"}}
    send(service, other)
    at = {e["terminal"]: e["at"] for e in entries(control)}
    assert at[mine].startswith("2026-03-01T13:00:00")
    assert at["ci-terminal-2"].startswith("2026-03-01T12:00:00")
    assert [e["invoice"] for e in entries(control, since="2026-03-01T12:30:00Z")] == [ref]


def test_pages_newest_first_with_a_cursor(zeep_service, context, control):
    ref = send(zeep_service, context)
    for _ in range(11):
        status(zeep_service, context, ref)
    seen, cursor, pages = [], None, 0
    while True:
        page = journal(control, limit=5, **({} if cursor is None else {"before": cursor}))
        assert page["matched"] == 12 - len(seen) and page["total"] == 12
        seen += [e["seq"] for e in page["entries"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
        assert cursor == seen[-1]
    assert seen == list(range(12, 0, -1)) and pages == 3
    assert entries(control, limit=0) == []
    without = journal(control, limit=1, bodies="false")["entries"][0]
    assert "request" not in without and without["requestSize"] > 0


@pytest.mark.parametrize(
    "query",
    ["limit=x", "limit=1001", "before=-1", "since=yesterday", "kind=other", "colour=red"],
)
def test_a_bad_query_is_a_400_naming_it(control, query):
    status_code, body = control.request("GET", f"/journal?{query}")
    assert status_code == 400
    assert query.split("=")[0] in body["error"]


# --- the journal itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b"<password>s3cr3t</password>", b"<password>***</password>"),
        (b"<ns1:PassWord a='1'>x<y</ns1:PASSWORD >", b"<ns1:PassWord a='1'>***</ns1:PASSWORD >"),
        (b"<a><PASSWORD>one</PASSWORD><password>two</password></a>", None),
        (b"<password>cut in ha", b"<password>***"),
        (b"<x:password>a</y:password>tail", b"<x:password>***"),  # no end tag: hidden to the end
        (b"<title>my password</title><password/><a x='password'>kept</a>", None),
        (b"<newPassword>s3cr3t</newPassword>", b"<newPassword>***</newPassword>"),  # its op's
        (b"password=s3cr3t&x=1", b"password=***&x=1"),  # a body that is not XML at all
        (b'{"password": "s3cr3t"}', b'{"password": "***"}'),
        (b"<context Password='s3cr3t'/>", b"<context Password='***'/>"),
        (b"wrong password: kept", None),
    ],
)
def test_redact_hides_every_password_element(body, shown):
    hidden = redact(body)
    if shown is not None:
        assert hidden == shown
    for secret in (b"s3cr3t", b"one", b"two", b"cut in", b"x<y"):
        assert secret not in hidden
    if b"kept" in body:
        assert hidden == body  # nothing named password holds text, nor is given a value


def test_the_registered_tills_password_is_hidden_too(zeep_service, control):
    assert register(zeep_service, password="till-s3cr3t").resultCode == 0
    [entry] = entries(control, operation="registerTerminal")
    assert "till-s3cr3t" not in json.dumps(entry) and "1234" not in entry["request"]
    assert entry["request"].count("<password>***</password>") == 2  # the reseller's, the till's


def test_times_are_the_emulator_clocks():
    clock = Clock(datetime(2026, 3, 1, 12, tzinfo=UTC), frozen=True)
    made = Journal(10, clock)
    clock.advance(90)
    facts = (clock.elapsed(), "/p", "op", "t", "r", None, 0, None, None, 200, None, 1.0)
    made.call((*facts, b"", 0, b"", 0))
    [record] = made.select(Query()).records
    assert record.at == clock.now() == datetime(2026, 3, 1, 12, 1, 30, tzinfo=UTC)
    assert made.select(Query(since=record.at, until=record.at)).records == [record]


def test_the_journal_also_keeps_within_a_byte_limit_and_counts_what_it_dropped():
    journal = Journal(100, Clock(), byte_limit=10_000)
    body = b"<x>" + b"a" * 994 + b"</x>"  # 1,001 bytes
    for _ in range(30):
        journal.call((0.0, "/p", "sendInvoice", "t", None, None, 0, None, None, 200, None, 1.0,
                      body, len(body), body, len(body)))  # fmt: skip
    page = journal.select(Query(limit=1000))
    assert (page.total, page.held, page.dropped) == (30, 4, 26)  # 4 * 2,002 bytes <= 10,000
    assert [r.seq for r in page.records] == [30, 29, 28, 27]
    journal.call((0.0, "/p", "x", "t", None, None, 0, None, None, 200, None, 1.0,
                  b"", 0, b"", 0))  # fmt: skip
    assert journal.select(Query()).held == 5  # an entry that holds nothing sheds none


def test_a_repeated_call_is_an_entry_of_its_own_and_reads_as_the_first():
    """A repeat shares its facts with the call it repeats (`Journal.repeat`), but is read as
    a whole entry: its own seq, time and duration, its bytes, redacted, and counted."""
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC), frozen=True)
    journal = Journal(3, clock, byte_limit=10_000)
    body = b"<password>secret</password>"
    facts = (0.0, "/p", "getPaymentStatus", "t", "r", None, 0, None, None, 200, None, 1.0,
             body, len(body), b"<ok/>", 5)  # fmt: skip
    journal.call(facts)
    shared = repeat_facts(facts)
    for second in (1.0, 2.0, 3.0):
        journal.repeat(second, 0.5, shared)
    page = journal.select(Query(operation="getPaymentStatus", terminal="t", invoice="r"))
    assert (page.total, page.held, page.dropped) == (4, 3, 1)
    first, *older = page.records
    assert (first.seq, first.duration_ms, first.at.second) == (4, 0.5, 3)
    assert first.request == b"<password>***</password>" and first.answer == b"<ok/>"
    assert (first.request_size, first.answer_size, first.result_code) == (len(body), 5, 0)
    assert [r.seq for r in older] == [3, 2]
    assert [r.seq for r in journal.records(after=2, bodies=False)] == [3, 4]
    # bytes: three repeats held, and a repeat dropped gives back what it held
    assert journal._bytes == 3 * (len(body) + 5)
    journal.forget("t", ["r"])
    assert (len(journal), journal._bytes) == (0, 0)
