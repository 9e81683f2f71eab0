"""Verification: the journal against an ordered expectation, over `POST /_emulator/verify`.

The route's tests make real SOAP calls with zeep (built from the emulator's own `?wsdl`) to a
real emulator and read the answer's words as a failing test would show them; the counting
rules are pinned down on made-up entries, one rule a test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from emulator.verification import (
    BadExpectation,
    Seen,
    calls_after_final_status,
    expect,
    polled_after_notification,
    steps_from_json,
    verify,
)
from tests.shop import Control, refund, send, status

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def entry(seq: int, operation: str, invoice: str = "A", code: int | None = 0, **more) -> Seen:
    """A made-up journal entry, `seq` tenths of a second after noon."""
    outcome = more.pop("outcome", f"resultCode {code}" if code is not None else "SOAP Fault")
    at = T0 + timedelta(seconds=more.pop("second", seq / 10))
    return Seen(seq, at, operation, "till", invoice, code, outcome, **more)


def sent(seq: int, invoice: str = "A") -> Seen:
    return entry(seq, "sendInvoice", invoice)


def poll(seq: int, invoice: str = "A", **more) -> Seen:
    return entry(seq, "getPaymentStatus", invoice, **more)


def refunded(seq: int, invoice: str = "A", code: int = 0) -> Seen:
    return entry(seq, "refundPayment", invoice, code)


def note(seq: int, invoice: str = "A", outcome: str = "delivered", **more) -> Seen:
    return entry(seq, "notification", invoice, None, notification=outcome, outcome=outcome, **more)


CHECKOUT = [
    expect("sendInvoice", times=1),
    expect("getPaymentStatus", at_least=1),
    expect("refundPayment", times=1),
]


def seqs(verdict) -> list[list[int]]:
    return [[m.seq for m in s.matched] for s in verdict.steps]


# --- how entries count ---------------------------------------------------------------------


def test_each_step_counts_its_own_stretch_and_other_calls_are_ignored():
    journal = [sent(1), poll(2), entry(3, "updateInvoice"), poll(4), refunded(5), poll(6)]
    verdict = verify(journal, CHECKOUT)
    assert verdict.ok, verdict.message()
    assert seqs(verdict) == [[1], [2, 4], [5]]  # the poll after the refund is not step 2's


def test_a_later_step_ends_the_earlier_one_and_a_missing_step_is_named_with_the_late_call():
    verdict = verify([sent(1), refunded(2), poll(3)], CHECKOUT)
    assert not verdict.ok and seqs(verdict) == [[1], [], [2]]
    assert verdict.message().splitlines() == [
        "expected step 2 of 3, getPaymentStatus at least once: saw none between "
        "sendInvoice #1 and refundPayment #2",
        "  nearest:",
        "    #3 12:00:00.300 getPaymentStatus invoice A: resultCode 0: "
        "came after the next step (refundPayment #2)",
        "met: step 1 #1; step 3 #2",
    ]


def test_a_step_that_came_before_the_previous_one_is_named_so():
    steps = [expect("notification"), expect("getPaymentStatus")]
    verdict = verify([poll(1), note(2)], steps)
    [near] = verdict.steps[1].nearest
    assert near.seen.seq == 1
    assert near.differences == ("came before the previous step (notification #2)",)


def test_one_too_many_is_counted_and_every_counted_entry_listed():
    verdict = verify([sent(1), poll(2), refunded(3), refunded(4)], CHECKOUT)
    assert seqs(verdict) == [[1], [2], [3, 4]]
    lines = verdict.message().splitlines()
    assert lines[0] == (
        "expected step 3 of 3, refundPayment exactly once: saw twice after getPaymentStatus #2"
    )
    assert lines[1:4] == [
        "  counted:",
        "    #3 12:00:00.300 refundPayment invoice A: resultCode 0",
        "    #4 12:00:00.400 refundPayment invoice A: resultCode 0",
    ]


def test_at_most_zero_forbids_a_call_in_its_stretch_only():
    steps = [expect("refundPayment"), expect("getPaymentStatus", at_most=0)]
    assert verify([poll(1), refunded(2)], steps).ok  # polling before the refund is fine
    verdict = verify([poll(1), refunded(2), poll(3)], steps)
    assert not verdict.ok and seqs(verdict) == [[2], [3]]
    assert verdict.message().startswith(
        "expected step 2 of 2, getPaymentStatus never: saw once after refundPayment #2"
    )


def test_an_entry_of_a_later_step_before_the_first_step_began_is_ignored():
    """An earlier poll for another payment does not end a sequence that has not begun."""
    steps = [expect("notification"), expect("getPaymentStatus")]
    verdict = verify([poll(1), note(2), poll(3)], steps)
    assert verdict.ok and seqs(verdict) == [[2], [3]]


def test_a_full_step_hands_an_entry_that_fits_both_to_the_next():
    steps = [expect("getPaymentStatus", times=2), expect("getPaymentStatus", result_code=0)]
    verdict = verify([poll(1), poll(2), poll(3)], steps)
    assert verdict.ok and seqs(verdict) == [[1, 2], [3]]


def test_the_nearest_calls_say_how_they_differ_fewest_differences_first():
    steps = [expect("refundPayment", invoice="A", result_code=0)]
    journal = [
        sent(1, invoice="Z"),  # another operation and invoice: further than all below
        refunded(2, invoice="B"),
        refunded(3, invoice="A", code=41),
        entry(4, "cancelInvoice", "A"),
    ]
    verdict = verify(journal, steps)
    assert verdict.message().splitlines() == [
        "expected refundPayment at least once for invoice A with resultCode 0: saw none",
        "  nearest:",
        "    #2 12:00:00.200 refundPayment invoice B: resultCode 0: another invoice (B)",
        "    #3 12:00:00.300 refundPayment invoice A: resultCode 41: "
        "resultCode 41, not resultCode 0",
        "    #4 12:00:00.400 cancelInvoice invoice A: resultCode 0: "
        "another operation (cancelInvoice)",
    ]


def test_with_nothing_near_the_message_lists_what_the_journal_holds():
    verdict = verify([sent(1)], [expect("notification", notification="delivered")])
    assert verdict.message().splitlines() == [
        "expected notification delivered at least once: saw none",
        "  nothing near it; the journal holds:",
        "    #1 12:00:00.100 sendInvoice invoice A: resultCode 0",
    ]


def test_a_notifications_outcome_and_a_polls_answer_are_matched_too():
    steps = [expect("notification", notification="delivered", times=1)]
    verdict = verify([note(1, outcome="failed")], steps)
    assert [n.differences for n in verdict.steps[0].nearest] == [("not delivered",)]
    paid = [expect("getPaymentStatus", invoice_status="PAID")]
    assert verify([poll(1, invoice_status="PAID")], paid).ok
    [near] = verify([poll(1, invoice_status="ISSUED")], paid).steps[0].nearest
    assert near.differences == ("answered ISSUED, not PAID",)


def test_only_the_named_terminals_entries_are_read():
    other = Seen(1, T0, "sendInvoice", "elsewhere", "A", 0, "resultCode 0")
    verdict = verify([other], [expect("sendInvoice")], terminal="till")
    assert not verdict.ok and verdict.read == 0
    assert "the journal of terminal till holds nothing" in verdict.message()


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ([], "steps must be a non-empty list"),
        ([{"operation": "sendInvoice", "times": 1, "atLeast": 1}], "step 1: times is exactly N"),
        ([{"operation": "x", "atLeast": 3, "atMost": 2}], "step 1: atLeast 3 is more than"),
        ([{"operation": "x", "times": -1}], "step 1: times must be a non-negative integer"),
        (["sendInvoice", {"operation": "x", "when": 1}], "step 2: unknown field 'when'"),
        ([{"operation": "sendInvoice", "outcome": "delivered"}], "step 1: an outcome is for"),
        ([{"operation": "notification", "outcome": "lost"}], "step 1: outcome must be one of"),
        ([{"atLeast": 1}], "step 1: operation must be"),
        ([7], "step 1 must be an operation's name or an object"),
    ],
)
def test_a_malformed_expectation_names_its_step(raw, words):
    with pytest.raises(BadExpectation) as caught:
        steps_from_json(raw)
    assert str(caught.value).startswith(words), caught.value


def test_the_helpers_checks_time_and_final_status():
    late = [note(1, second=0), poll(2, second=3.5)]
    said = polled_after_notification(late, "A", within=2.0)
    assert said is not None and "but the first came 3.5 s after:" in said
    assert polled_after_notification([note(1, second=0), poll(2, second=1.5)], "A", 2.0) is None
    done = [poll(1, invoice_status="PAID"), poll(2, invoice_status="PAID"), refunded(3)]
    said = calls_after_final_status(done, "A")
    assert said is not None and "#2 12:00:00.200 getPaymentStatus invoice A" in said
    assert calls_after_final_status(done[::2], "A") is None


# --- the route, with real SOAP calls -------------------------------------------------------


def verify_route(control: Control, body: dict, query: str = "") -> tuple[int, dict]:
    return control.request("POST", "/verify" + query, body)


def checkout(zeep_service, context, control) -> tuple[str, str]:
    """sendInvoice, two polls, the customer pays, a poll that sees PAID, a refund."""
    ref = send(zeep_service, context)
    assert status(zeep_service, context, ref).status == "ISSUED"
    control.pay(ref)
    answer = status(zeep_service, context, ref)
    assert answer.status == "PAID"
    assert refund(zeep_service, context, answer.ersReference, "10.00").resultCode == 0
    return ref, context["initiatorPrincipalId"]["id"]


def test_a_merchant_that_did_everything_in_order_passes(emulator, zeep_service, context, control):
    ref, terminal = checkout(zeep_service, context, control)
    code, answer = verify_route(
        control,
        {
            "invoice": ref,
            "steps": [
                {"operation": "sendInvoice", "times": 1},
                {"operation": "getPaymentStatus", "atLeast": 1},
                {"operation": "getPaymentStatus", "status": "PAID", "times": 1},
                {"operation": "refundPayment", "times": 1, "resultCode": 0},
            ],
        },
        f"?terminal={terminal}",
    )
    assert code == 200 and answer["ok"] is True, answer["message"]
    assert [s["seqs"] for s in answer["steps"]] == [[1], [2], [3], [4]]
    assert answer["message"] == (
        "the journal matches: sendInvoice #1; getPaymentStatus #2; getPaymentStatus #3; "
        "refundPayment #4"
    )


def test_a_mismatch_names_the_nearest_call_and_how_it_differs(
    emulator, zeep_service, context, control
):
    """The merchant polls the wrong invoice (an older one) and refunds the right one."""
    older = send(zeep_service, context)
    ref = send(zeep_service, context)
    control.pay(ref)
    assert status(zeep_service, context, older).status == "ISSUED"  # the wrong invoice
    ers = emulator.backend.invoice(ref).payment.ers_reference
    assert refund(zeep_service, context, ers, "10.00").resultCode == 0
    code, answer = verify_route(
        control,
        {
            "invoice": ref,
            "terminal": context["initiatorPrincipalId"]["id"],
            "steps": ["sendInvoice", "getPaymentStatus", {"operation": "refundPayment"}],
        },
    )
    assert code == 200 and answer["ok"] is False
    failed = answer["steps"][1]
    assert failed["ok"] is False and failed["seqs"] == []
    assert failed["problem"] == "saw none between sendInvoice #2 and refundPayment #4"
    [near] = failed["nearest"]
    assert (near["seq"], near["operation"], near["invoice"]) == (3, "getPaymentStatus", older)
    assert near["differences"] == [f"another invoice ({older})"]
    lines = answer["message"].splitlines()
    assert lines[0] == (
        f"expected step 2 of 3, getPaymentStatus at least once for invoice {ref}: "
        "saw none between sendInvoice #2 and refundPayment #4"
    )
    assert lines[2].startswith("    #3 ") and lines[2].endswith(
        f"getPaymentStatus invoice {older}: resultCode 0, ISSUED: another invoice ({older})"
    )


def test_the_terminal_scopes_what_is_read(emulator, zeep_service, context, control):
    send(zeep_service, context)
    ok = verify_route(control, {"steps": ["sendInvoice"]}, "?terminal=somebody-else")[1]
    assert ok["ok"] is False and ok["read"] == 0
    mine = context["initiatorPrincipalId"]["id"]
    assert verify_route(control, {"steps": ["sendInvoice"], "terminal": mine})[1]["ok"] is True


@pytest.mark.parametrize(
    ("body", "query", "words"),
    [
        ({}, "", "steps must be a non-empty list"),
        ({"steps": [{"operation": "x", "times": "2"}]}, "", "step 1: times must be"),
        ({"steps": ["x"], "since": 1}, "", "unknown field 'since'"),
        ({"steps": ["x"], "invoice": 7}, "", "invoice must be a string"),
        ({"steps": ["x"], "terminal": "a"}, "?terminal=b", "terminal is given twice"),
    ],
)
def test_a_malformed_body_is_a_400_that_says_why(emulator, control, body, query, words):
    code, answer = verify_route(control, body, query)
    assert code == 400 and answer["error"].startswith(words), answer
