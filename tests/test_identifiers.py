"""Identifiers in SEQR's real formats, reproducible with a seed."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from emulator.clock import Clock, IdFactory


def test_formats():
    ids = IdFactory(Clock())
    assert re.fullmatch(r"\d{17}", ids.invoice_reference())
    assert re.fullmatch(r"\d{17}01\d{6}", ids.ers_reference())
    assert re.fullmatch(r"[0-9a-f]{32}", ids.hex_id(32))
    assert re.fullmatch(r"[0-9a-f]{25}", ids.hex_id(25))


def test_invoice_references_never_repeat():
    ids = IdFactory(Clock(), seed=7)
    refs = [ids.invoice_reference() for _ in range(100_000)]
    assert len(set(refs)) == len(refs)


def test_seeded_factories_agree_and_reset_restarts():
    a, b = IdFactory(Clock(), seed=3), IdFactory(Clock(), seed=3)
    run_a = [a.invoice_reference(), a.ers_reference(), a.hex_id(32)]
    assert run_a == [b.invoice_reference(), b.ers_reference(), b.hex_id(32)]
    a.reset()
    assert [a.invoice_reference(), a.ers_reference(), a.hex_id(32)] == run_a


def test_unseeded_references_carry_the_clock_date():
    from datetime import UTC, datetime

    clock = Clock(datetime(2015, 10, 29, 10, 18, 48, tzinfo=UTC), frozen=True)
    ids = IdFactory(clock)
    assert ids.invoice_reference().startswith("20151029")
    assert ids.ers_reference().startswith("20151029101848000")


def test_ers_reference_spells_the_given_time_field_by_field():
    ids = IdFactory(Clock())
    first = ids.ers_reference(datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC))
    second = ids.ers_reference(datetime(2031, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    assert first[:19] == "2026030405060789001"
    assert second[:19] == "2031123123595999901"
    assert int(second[19:]) == (int(first[19:]) + 1) % 10**6
