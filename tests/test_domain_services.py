"""External-service rules without a server: definitions, tokens, next pages, expiry, ties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from emulator.domain import services as ext
from emulator.domain.errors import IllegalMove, NotFound, ResultCode, SeqrError
from emulator.domain.model import Customer, InvoiceStatus

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SHOP = "https://shop.example"
LIFETIME = 600.0


def coffee(service_id: str = "COFFEE") -> ext.ServiceDefinition:
    return ext.define(
        service_id,
        f"{SHOP}/order?lang=sv",
        f"{SHOP}/success",
        f"{SHOP}/failure",
        f"{SHOP}/cancel",
    )


def opened(
    registry: ext.Registry, at: datetime = T0, secret: str = "63506374"
) -> ext.CustomerSession:
    return registry.open(
        coffee(), (("f", "6"), ("e", "5")), Customer("46700643933", "132"), at, secret
    )


@pytest.mark.parametrize("service_id", ["", " ", "a b", "a/b", "x" * 65, "kaffe#1", "å"])
def test_service_ids_fit_a_qr_path(service_id: str) -> None:
    with pytest.raises(ext.InvalidService, match="service id"):
        ext.define(service_id, f"{SHOP}/o", f"{SHOP}/s", f"{SHOP}/f", f"{SHOP}/c")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("shop.example/order", "absolute"),
        ("ftp://shop.example/order", "absolute"),
        ("https:///order", "absolute"),
        ("https://shop.example/order#top", "fragment"),
        (" https://shop.example/order", "http"),
        ("", "http"),
        (None, "http"),
    ],
)
def test_pages_are_absolute_http_urls_without_fragment(url: object, why: str) -> None:
    with pytest.raises(ext.InvalidService, match=why):
        ext.define("COFFEE", url, f"{SHOP}/s", f"{SHOP}/f", f"{SHOP}/c")  # type: ignore[arg-type]


def test_token_has_the_documented_shape() -> None:
    assert ext.make_token(2012, "63506374") == "0000002012-63506374"
    registry = ext.Registry()
    first, second = opened(registry), opened(registry)
    assert (first.token, second.token) == ("0000000001-63506374", "0000000002-63506374")


def test_next_pages_follow_the_outcome() -> None:
    session = opened(ext.Registry())
    assert ext.order_url(session) == f"{SHOP}/order?lang=sv#{session.token}"
    assert ext.next_url(session) is None
    session.invoice_reference = "20260101000000042"
    ext.conclude(session, InvoiceStatus.PAID)
    assert ext.next_url(session) == f"{SHOP}/success#{session.token}_20260101000000042"
    ext.conclude(session, InvoiceStatus.FAILED)
    assert ext.next_url(session) == f"{SHOP}/failure#{session.token}"
    ext.conclude(session, InvoiceStatus.CANCELED)
    assert ext.next_url(session) == f"{SHOP}/cancel#{session.token}"


def test_reserved_counts_as_success_and_open_states_decide_nothing() -> None:
    session = opened(ext.Registry())
    for status in (InvoiceStatus.ISSUED, InvoiceStatus.PENDING_ISSUER_ACKNOWLEDGE):
        ext.conclude(session, status)
        assert session.state is ext.SessionState.OPEN
    ext.conclude(session, InvoiceStatus.RESERVED)
    assert session.state is ext.SessionState.SUCCEEDED


def test_client_info_names_the_customer_then_the_qr_parameters() -> None:
    session = opened(ext.Registry())
    assert ext.client_info(session, T0, LIFETIME) == [
        ("msisdn", "46700643933"),
        ("subscriberKey", "132"),
        ("authKey", session.token),
        ("f", "6"),
        ("e", "5"),
    ]


def test_a_qr_parameter_cannot_pose_as_the_customer() -> None:
    registry = ext.Registry()
    session = registry.open(
        coffee(), (("msisdn", "1"), ("zone", "7")), Customer("467", "9"), T0, "00000000"
    )
    assert ext.client_info(session, T0, LIFETIME)[0] == ("msisdn", "467")
    assert [k for k, _ in ext.client_info(session, T0, LIFETIME)].count("msisdn") == 1


def test_unknown_token_is_63_and_expired_is_60() -> None:
    with pytest.raises(SeqrError) as unknown:
        ext.client_info(None, T0, LIFETIME)
    assert unknown.value.code is ResultCode.INVALID_AUTHORIZATION_REFERENCE
    session = opened(ext.Registry())
    ext.client_info(session, T0 + timedelta(seconds=LIFETIME), LIFETIME)  # still valid
    with pytest.raises(SeqrError) as expired:
        ext.client_info(session, T0 + timedelta(seconds=LIFETIME + 1), LIFETIME)
    assert expired.value.code is ResultCode.AUTHORIZATION_EXPIRED
    assert ext.client_info(session, T0 + timedelta(days=365), 0)  # 0: never expires


def test_definitions_are_found_without_regard_to_case() -> None:
    registry = ext.Registry()
    assert registry.define(coffee("coffee")) is True
    assert registry.get("COFFEE").id == "coffee"
    assert registry.define(coffee("Coffee")) is False  # replaced, not added
    assert [d.id for d in registry.definitions()] == ["Coffee"]
    registry.delete("COFFEE")
    with pytest.raises(NotFound, match="no service"):
        registry.get("coffee")


def test_tying_invoices_to_sessions() -> None:
    registry = ext.Registry()
    first, second = opened(registry), opened(registry)
    registry.check_tie(first, "R1", T0, LIFETIME)
    registry.tie(first, "R1")
    assert registry.for_invoice("R1") is first
    with pytest.raises(IllegalMove, match="another session"):
        registry.check_tie(second, "R1", T0, LIFETIME)
    with pytest.raises(IllegalMove, match="expired"):
        registry.check_tie(first, "R2", T0 + timedelta(seconds=LIFETIME + 1), LIFETIME)
    ext.conclude(first, InvoiceStatus.FAILED)
    registry.tie(first, "R2")  # a retry after a failure reopens the session
    assert (first.state, registry.for_invoice("R2"), registry.for_invoice("R1")) == (
        ext.SessionState.OPEN,
        first,
        None,
    )
    ext.close(first)
    assert ext.next_url(first) == f"{SHOP}/cancel#{first.token}"
    with pytest.raises(IllegalMove, match="WIZARD/CANCEL"):
        registry.check_tie(first, "R3", T0, LIFETIME)


def test_long_expired_sessions_are_forgotten_oldest_first() -> None:
    registry = ext.Registry()
    old = opened(registry, T0)
    registry.tie(old, "R1")
    young = opened(registry, T0 + timedelta(hours=2))
    late = T0 + timedelta(seconds=LIFETIME) + ext.FORGET_AFTER + timedelta(seconds=1)
    registry.forget_expired(late, LIFETIME)
    assert registry.session(old.token) is None
    assert registry.for_invoice("R1") is None
    assert registry.session(young.token) is young
    assert len(registry) == 1


def test_leaving_the_wizard_after_paying_keeps_the_success_page() -> None:
    paid = opened(ext.Registry())
    paid.invoice_reference = "20260101000000042"
    ext.conclude(paid, InvoiceStatus.PAID)
    ext.close(paid)
    assert ext.next_url(paid) == f"{SHOP}/success#{paid.token}_20260101000000042"
    waiting = opened(ext.Registry(), secret="11111111")
    ext.close(waiting)
    assert waiting.state is ext.SessionState.CLOSED
    assert ext.next_url(waiting) == f"{SHOP}/cancel#{waiting.token}"
