"""The stored state is frozen out of the collector's way while it changes, and only then."""

from __future__ import annotations

import json
import threading
import urllib.request

import pytest
from aiohttp import web

from emulator import heap
from emulator.app import BACKEND, SOAP, create_app
from emulator.heap import OldObjects
from emulator.server import EmulatorServer
from emulator.settings import Settings
from tests.wire import envelope, post, send_invoice_xml, status_xml


@pytest.fixture
def freezes() -> list[int]:
    """Each freeze the OldObjects under test makes, counted instead of done: gc.freeze() is
    process-wide, and the other emulators' sweepers in this process make their own."""
    return []


def _old(freezes: list[int]) -> OldObjects:
    return OldObjects(freeze=lambda: freezes.append(1))


def test_nothing_is_frozen_while_the_state_stands_still(freezes):
    assert not _old(freezes).settle()
    assert freezes == []


def test_a_change_freezes_once(freezes):
    old = _old(freezes)
    old.changed("paid")
    assert old.settle()
    assert not old.settle()  # nothing changed since
    assert freezes == [1]


def test_paying_is_a_change_though_no_invoice_is_added(start_emulator, freezes):
    emulator = start_emulator()
    old = _old(freezes)
    emulator.backend.subscribe(old.changed)
    ref = post(emulator.soap_url, envelope(send_invoice_xml())).field("invoiceReference")
    assert old.settle()  # the issue
    emulator.backend.pay(ref)
    assert old.settle()  # the payment
    assert not old.settle()
    assert freezes == [1, 1]


def _freezers(server) -> list[object]:
    listeners = server.backend.outbox._listeners
    return [f for f in listeners if isinstance(getattr(f, "__self__", None), OldObjects)]


def test_emulators_sharing_a_process_freeze_nothing(start_emulator):
    """gc.freeze() reaches every object of the process: only `serve` asks for it."""
    assert _freezers(start_emulator()) == [] and _freezers(start_emulator()) == []


def test_serve_keeps_its_state_out_of_the_collectors_way():
    app = create_app(Settings(port=0), freeze_heap=True)
    listeners = app[BACKEND].outbox._listeners
    assert any(isinstance(getattr(f, "__self__", None), OldObjects) for f in listeners)


# --- memory given back after a reset -----------------------------------------------------------


class Acts:
    """What an OldObjects under test would have done to the process, in order."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.trimmed = threading.Event()

    def keeper(self) -> OldObjects:
        def trim() -> bool:
            self.done.append("trim")
            self.trimmed.set()
            return True

        return OldObjects(
            freeze=lambda: self.done.append("freeze"),
            unfreeze=lambda: self.done.append("unfreeze"),
            collect=lambda: self.done.append("collect"),
            trim=trim,
            forget=lambda: self.done.append("forget"),
        )


def test_a_release_without_a_reset_does_nothing():
    acts = Acts()
    assert not acts.keeper().release()
    assert acts.done == []


def test_a_release_after_a_reset_thaws_collects_and_freezes_again():
    acts = Acts()
    old = acts.keeper()
    old.changed("issued")
    assert old.settle()
    old.dropped()
    old.dropped()  # two resets before the sweeper's turn: one release
    assert old.release() and not old.release()
    assert acts.done == ["freeze", "forget", "unfreeze", "collect", "freeze"]


def test_a_keeper_that_never_froze_only_collects():
    acts = Acts()
    old = acts.keeper()
    old.dropped()
    assert old.release()
    assert acts.done == ["forget", "collect"]


def test_the_reset_route_gives_memory_back_through_the_trim_hook():
    """POST /_emulator/reset, and the sweeper's next turn collects and trims (its wait is a
    bound, not a measure: the hook sets an event)."""
    acts = Acts()
    keeper = acts.keeper()

    def factory(settings: Settings) -> web.Application:
        return create_app(settings, heap=keeper)

    with EmulatorServer(Settings(port=0), app_factory=factory) as server:
        assert acts.trimmed.wait(10), acts.done  # the trim at start: its thread made early
        assert acts.done == ["trim"]
        acts.trimmed.clear()
        post(server.soap_url, envelope(send_invoice_xml()))
        assert not acts.trimmed.is_set()
        request = urllib.request.Request(f"{server.url}/_emulator/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.load(answer) == {"reset": True}
        assert acts.trimmed.wait(10), acts.done
    after = acts.done[acts.done.index("forget") :]  # frozen again only if it had frozen
    assert after in (["forget", "collect", "trim"], ["forget", "collect", "freeze", "trim"])


def test_malloc_trim_is_a_no_op_where_the_c_library_has_none(monkeypatch):
    assert isinstance(heap.malloc_trim(), bool)  # glibc here: a real call, which must not raise
    monkeypatch.setattr(heap, "_malloc_trim", None)
    assert heap.malloc_trim() is False


def test_a_reset_forgets_the_remembered_polls_and_the_shared_values(start_emulator):
    """The poll memo names invoices a reset forgot; kept, it would pin the heap a reset frees."""
    emulator = start_emulator()
    ref = post(emulator.soap_url, envelope(send_invoice_xml())).field("invoiceReference")
    for _ in range(2):  # a poll seen twice is remembered
        post(emulator.soap_url, envelope(status_xml(ref)))
    endpoint = emulator.app[SOAP]
    assert len(endpoint._polls) == 1
    assert endpoint.codec._shared  # the texts it read, shared among the readings
    emulator.backend.reset()
    assert len(endpoint._polls) == 0 and len(endpoint._seen_once) == 0
    assert not endpoint.codec._shared  # nor do the values shared by invoices it forgot


def test_a_release_forgets_the_urls_the_http_stack_parsed():
    """A control route's URL names an invoice; yarl keeps the last ones parsed, in objects
    made while the store filled, which outlive a reset and keep its memory (`heap`)."""
    from yarl import URL, _url

    URL("http://127.0.0.1/_emulator/invoices/20260101000000001/pay")
    assert _url.encode_url.cache_info().currsize > 0
    assert heap.forget_caches() > 0
    assert _url.encode_url.cache_info().currsize == 0


def test_a_reset_frees_the_old_store_before_it_makes_the_new_one(start_emulator):
    """New parts made while the old store stood took places among its objects, and kept its
    memory from the system once it was freed (`heap`)."""
    import weakref

    emulator = start_emulator()
    backend = emulator.backend
    post(emulator.soap_url, envelope(send_invoice_xml()))
    old = weakref.ref(backend.store)
    make = backend._make_store
    alive_when_made: list[bool] = []

    def store():  # type: ignore[no-untyped-def]
        alive_when_made.append(old() is not None)
        return make()

    backend._make_store = store
    backend.reset()
    assert alive_when_made == [False]
