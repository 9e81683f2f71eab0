"""Polling: a poll that repeats byte for byte is read twice at most, and answers what is now;
the answer of an invoice that did not change is the one kept."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from emulator.app import SOAP
from emulator.backend import SeqrBackend, StateFile
from emulator.clock import Clock
from emulator.domain.model import CustomerToken
from emulator.settings import Settings
from emulator.soap import transport
from emulator.soap.transport import SoapEndpoint
from tests.inproc import Till, answer_field, result_code
from tests.wire import envelope, post, send_invoice_xml, status_xml


@pytest.fixture
def parses(emulator, monkeypatch) -> list[bytes]:
    """Every body the emulator's SOAP endpoint actually parses, in order."""
    endpoint = emulator.app[SOAP]
    seen: list[bytes] = []
    real = endpoint._parse

    def counting(body: bytes):
        seen.append(body)
        return real(body)

    monkeypatch.setattr(endpoint, "_parse", counting)
    endpoint._polls.clear()
    endpoint._seen_once.clear()
    return seen


def _issue(emulator) -> str:
    ref = post(emulator.soap_url, envelope(send_invoice_xml())).field("invoiceReference")
    assert ref
    return ref


def test_a_repeating_poll_is_parsed_twice_then_remembered(emulator, parses):
    ref = _issue(emulator)
    poll = envelope(status_xml(ref))
    answers = {post(emulator.soap_url, poll).field("status") for _ in range(5)}
    assert answers == {"ISSUED"}
    assert parses.count(poll) == 2


def test_a_poll_seen_once_leaves_no_reading_behind(emulator, parses):
    ref = _issue(emulator)
    poll = envelope(status_xml(ref))
    assert post(emulator.soap_url, poll).field("status") == "ISSUED"
    endpoint = emulator.app[SOAP]
    assert poll not in endpoint._polls and poll in endpoint._seen_once


def test_a_remembered_poll_still_answers_the_state_of_now(emulator, control, parses):
    ref = _issue(emulator)
    poll = envelope(status_xml(ref))
    for _ in range(2):
        assert post(emulator.soap_url, poll).field("status") == "ISSUED"
    control.pay(ref)
    reply = post(emulator.soap_url, poll)
    assert (reply.field("status"), reply.field("version")) == ("PAID", "1")
    assert reply.field("ersReference")
    assert parses.count(poll) == 2


def test_polls_of_other_invoices_are_their_own(emulator, control, parses):
    first, second = _issue(emulator), _issue(emulator)
    control.pay(second)
    assert post(emulator.soap_url, envelope(status_xml(first))).field("status") == "ISSUED"
    assert post(emulator.soap_url, envelope(status_xml(second))).field("status") == "PAID"
    assert post(emulator.soap_url, envelope(status_xml(first))).field("status") == "ISSUED"


def test_only_polls_are_remembered(emulator, parses):
    send = envelope(send_invoice_xml())
    refs = {post(emulator.soap_url, send).field("invoiceReference") for _ in range(3)}
    assert len(refs) == 3  # each identical sendInvoice issues an invoice of its own
    assert parses.count(send) == 3


def test_a_faulty_poll_is_refused_every_time(emulator, parses):
    poll = envelope(status_xml("1", version="<invoiceVersion>two</invoiceVersion>"))
    for _ in range(2):
        reply = post(emulator.soap_url, poll)
        assert reply.status == 500 and reply.fault and reply.fault[0] == "soap:Client"
    assert parses.count(poll) == 2


def test_the_table_of_polls_is_bounded(emulator, parses, monkeypatch):
    monkeypatch.setattr(transport, "MEMO_SIZE", 4)
    endpoint = emulator.app[SOAP]
    ref = _issue(emulator)
    polls = [
        envelope(status_xml(ref, version=f"<invoiceVersion>{v}</invoiceVersion>"))
        for v in range(10)
    ]
    for poll in polls:
        for _ in range(2):
            assert post(emulator.soap_url, poll).field("status") == "ISSUED"
    assert list(endpoint._polls) == polls[-4:]  # first in, first out
    for poll in polls:
        post(emulator.soap_url, poll)
    assert len(endpoint._seen_once) <= 4
    assert parses.count(polls[0]) == 3


def test_answering_a_poll_never_changes_its_remembered_reading(emulator, control, parses):
    ref = _issue(emulator)
    poll = envelope(status_xml(ref))
    post(emulator.soap_url, poll)
    post(emulator.soap_url, poll)
    endpoint = emulator.app[SOAP]
    remembered = copy.deepcopy(endpoint._polls[poll][2])
    control.pay(ref)
    for _ in range(3):  # PAID, then acknowledged by the poll itself
        assert post(emulator.soap_url, poll).field("status") == "PAID"
    assert endpoint._polls[poll][2] == remembered


# --- the answer kept per invoice (`SoapEndpoint._status`) --------------------------------------


def _truth(till: Till, ref: str) -> bytes:
    """The poll's answer from an endpoint that keeps nothing yet: made of the invoice now."""
    return SoapEndpoint(till.backend).handle(till_poll(till, ref)).body


def till_poll(till: Till, ref: str) -> bytes:
    inner = f"<invoiceReference>{ref}</invoiceReference><invoiceVersion>0</invoiceVersion>"
    return envelope(f"<ext:getPaymentStatus>{till.context}{inner}</ext:getPaymentStatus>")


def test_an_invoice_that_did_not_change_is_answered_with_the_answer_kept():
    till = Till()
    ref = till.issued()
    first, again = till.status(ref), till.status(ref)
    assert first.body is again.body  # the same bytes, not only equal ones
    assert till.endpoint._answers[ref][0] is till.backend.invoice(ref)


def test_every_change_of_the_invoice_makes_the_kept_answer_stale():
    """Through a whole life, polled after every move (and after each poll, which itself
    acknowledges a payment): each answer is the one an endpoint keeping nothing makes."""
    till = Till()
    loyalty = "<acknowledgmentMode>REQUIRE_ACKNOWLEDGMENT</acknowledgmentMode>"
    ref = till.issued(extra=loyalty)
    backend = till.backend
    token = CustomerToken("card", "4711", "Gold")
    moves = [
        lambda: backend.scan(ref, [token]),
        lambda: till.update(ref, "12.00", loyalty),
        lambda: backend.scan(ref),
        lambda: backend.pay(ref),
        lambda: None,  # the acknowledging poll
        lambda: till.refund(backend.invoice(ref).payment.ers_reference, "2.00"),
        lambda: till.receipt(backend.invoice(ref).payment.ers_reference, "aGk="),
    ]
    seen = []
    for move in moves:
        move()
        for _ in range(2):
            answer = till.status(ref).body
            assert answer == _truth(till, ref)
            seen.append(answer)
    assert b"PENDING_ISSUER_ACKNOWLEDGE" in seen[0] and b"<receipt>" in seen[-1]
    assert len(set(seen)) == 3  # PENDING_ISSUER_ACKNOWLEDGE, ISSUED again, PAID


def test_an_invoice_another_endpoint_changed_is_answered_anew():
    till = Till()
    ref = till.issued()
    till.status(ref)
    other = SoapEndpoint(till.backend)
    reply = other.handle(
        envelope(
            f"<ext:cancelInvoice>{till.context}<invoiceReference>{ref}"
            "</invoiceReference></ext:cancelInvoice>"
        )
    )
    assert result_code(reply) == 0
    assert answer_field(till.status(ref), "status") == "CANCELED"


def test_a_reset_forgets_the_answers_kept():
    till = Till()
    ref = till.issued()
    till.status(ref)
    till.backend.reset()
    till.endpoint.forget()  # the reset hook create_app registers
    assert not till.endpoint._answers
    assert result_code(till.status(ref)) == 54  # the invoice is gone with the reset


def test_a_state_file_counts_the_changes_too(tmp_path: Path):
    backend = SeqrBackend(
        Settings(ack_window=0), Clock(frozen=True), store=StateFile(tmp_path / "s")
    )
    till = Till(SoapEndpoint(backend))
    ref = till.issued()
    assert answer_field(till.status(ref), "status") == "ISSUED"
    before = backend.invoice(ref).changes
    backend.pay(ref)
    assert backend.invoice(ref).changes > before
    assert answer_field(till.status(ref), "status") == "PAID"
    backend.store.close()


def test_the_answers_kept_are_bounded(monkeypatch):
    monkeypatch.setattr(transport, "MEMO_SIZE", 3)
    till = Till()
    refs = [till.issued() for _ in range(5)]
    for ref in refs:
        till.status(ref)
    assert list(till.endpoint._answers) == refs[-3:]  # first in, first out
