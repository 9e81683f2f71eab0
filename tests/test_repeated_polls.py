"""Polling: a poll that repeats byte for byte is read twice at most, and answers what is now."""

from __future__ import annotations

import copy

import pytest

from emulator.app import SOAP
from emulator.soap import transport
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
