"""Two emulators in one process share nothing: no catalogue, no image cache, no codec."""

from __future__ import annotations

import urllib.request

from emulator.app import IMAGES, SOAP
from tests.shop import accepted_invoice, own_zeep, service_at


def test_each_emulator_reads_its_own_scenario_catalogue(start_emulator):
    one, two = start_emulator(), start_emulator()
    assert one.backend.scenario_named("pay") is not two.backend.scenario_named("pay")


def test_each_emulator_draws_and_keeps_its_own_images(start_emulator, context):
    one, two = start_emulator(), start_emulator()
    with own_zeep(one.soap_url) as client:
        ref = accepted_invoice(service_at(client, one.soap_url), context).invoiceReference
    with urllib.request.urlopen(f"{one.url}/_emulator/invoices/{ref}/qr.png", timeout=10) as r:
        assert r.status == 200 and r.read().startswith(b"\x89PNG")
    assert one.app[IMAGES].misses == 1 and two.app[IMAGES].misses == 0
    assert one.app[IMAGES] is not two.app[IMAGES]


def test_each_endpoint_has_its_own_codec(start_emulator):
    one, two = start_emulator(), start_emulator()
    assert one.app[SOAP].codec is not two.app[SOAP].codec
