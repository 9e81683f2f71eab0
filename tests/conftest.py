"""Shared fixtures: real emulators on random loopback ports and real SOAP clients against them.

The SOAP clients load the emulator's own WSDL (`?wsdl`), so the suite needs nothing beside
the project; clients built from the real WSDL are tested in test_reference_wsdl_clients.
Every SOAP answer any test receives is validated against the schema of the reference WSDL
where it is beside the project, else against the emulator's own published schema; a test
whose answers do not validate fails at teardown.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from lxml import etree

from emulator.app import SOAP, create_app
from emulator.server import EmulatorServer
from emulator.settings import Settings
from emulator.soap.mapping import CallInfo
from emulator.soap.transport import WEBSHOP, SoapReply
from tests.reference import REFERENCE_DIR, TYPES_DOCUMENT, reference_schema
from tests.shop import PASSWORD, TERMINAL, Control, own_wsdl, own_zeep, service_at

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


OWN_ONLY = frozenset({"getClientSessionInfoResponse"})


@functools.cache
def own_schema() -> etree.XMLSchema:
    """The schema of the emulator's own published types document."""
    from emulator.soap.wsdl import render_types

    document = etree.fromstring(render_types())
    return etree.XMLSchema(document.find(".//{http://www.w3.org/2001/XMLSchema}schema"))


class SchemaAudit:
    """Collects SOAP answers that do not validate: against the reference schema where it is
    beside the project, else against the emulator's own (what its `?wsdl` promises)."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.checked = 0
        self.with_reference = (REFERENCE_DIR / TYPES_DOCUMENT).is_file()
        self.against = "the reference" if self.with_reference else "the emulator's own"

    def check(self, body: bytes) -> None:
        root = etree.fromstring(body)
        payload = root.find(f"{{{SOAP_ENV}}}Body")[0]
        if payload.tag == f"{{{SOAP_ENV}}}Fault":
            return
        # getClientSessionInfo is not in the 2013 WSDL: its answers are held to our own schema.
        local = payload.tag.rsplit("}", 1)[-1]
        reference = self.with_reference and local not in OWN_ONLY
        schema = reference_schema() if reference else own_schema()
        self.checked += 1
        if not schema.validate(payload):
            self.problems.append(f"{payload.tag}: {schema.error_log.last_error}\n{body.decode()}")

    def take(self) -> list[str]:
        problems, self.problems = self.problems, []
        return problems


def audited_app(audit: SchemaAudit) -> Callable[[Settings], web.Application]:
    """Emulators whose every SOAP answer is checked, at the endpoint: a middleware would
    see them too, but would send every request by the router (`app.front_door`), where
    a served emulator takes its SOAP POSTs past it."""

    def factory(settings: Settings) -> web.Application:
        app = create_app(settings)
        endpoint = app[SOAP]
        handle = endpoint.handle

        def checked(body: bytes, info: CallInfo = WEBSHOP) -> SoapReply:
            reply = handle(body, info)
            # not one a scenario cut or dropped on purpose
            if reply.disturbance is None or reply.disturbance.kind == "slow":
                audit.check(reply.body)
            return reply

        endpoint.handle = checked  # type: ignore[method-assign]
        return app

    return factory


@pytest.fixture(scope="session")
def schema_audit() -> SchemaAudit:
    return SchemaAudit()


@pytest.fixture(autouse=True)
def _answers_validate(schema_audit: SchemaAudit) -> Iterator[None]:
    schema_audit.take()
    yield
    problems = schema_audit.take()
    against = f"answers that do not validate against {schema_audit.against} schema:\n"
    assert not problems, against + "\n".join(problems)


@pytest.fixture(scope="session")
def _session_server(schema_audit: SchemaAudit) -> Iterator[EmulatorServer]:
    server = EmulatorServer(Settings(port=0), app_factory=audited_app(schema_audit))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def emulator(_session_server: EmulatorServer) -> EmulatorServer:
    """The session's emulator, reset to a clean state for this test."""
    _session_server.backend.reset()
    return _session_server


@pytest.fixture
def start_emulator(schema_audit: SchemaAudit) -> Iterator[Callable[..., EmulatorServer]]:
    """Factory: an emulator of its own with the given settings, stopped after the test."""
    started: list[EmulatorServer] = []

    def go(**overrides: Any) -> EmulatorServer:
        server = EmulatorServer(
            Settings(port=0).with_overrides(**overrides), app_factory=audited_app(schema_audit)
        )
        server.start()
        started.append(server)
        return server

    yield go
    for server in started:
        server.stop()


# --- SOAP clients ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _zeep_client(_session_server: EmulatorServer) -> Iterator[Any]:
    """zeep built from the emulator's own `?wsdl`, as a merchant's integration would load it."""
    import zeep

    client = zeep.Client(own_wsdl(_session_server.soap_url))
    yield client
    client.transport.session.close()


@pytest.fixture
def new_zeep_client() -> Iterator[Callable[[EmulatorServer], Any]]:
    """Factory: a zeep client of its own from the server's `?wsdl`, closed after the test."""
    with contextlib.ExitStack() as stack:
        yield lambda server: stack.enter_context(own_zeep(server.soap_url))


@pytest.fixture
def zeep_service(_zeep_client: Any, emulator: EmulatorServer) -> Any:
    """zeep built from the emulator's own WSDL, pointing at this test's emulator."""
    return service_at(_zeep_client, emulator.soap_url)


@pytest.fixture
def zeep_for(_zeep_client: Any) -> Callable[[EmulatorServer], Any]:
    return lambda server: service_at(_zeep_client, server.soap_url)


@pytest.fixture
def context() -> dict[str, Any]:
    return {
        "clientRequestTimeout": 0,
        "initiatorPrincipalId": dict(TERMINAL),
        "password": PASSWORD,
        "channel": "WS",
        "clientId": "seqr-emulator tests",
    }


# --- the control API ------------------------------------------------------------------------


@pytest.fixture
def control(emulator: EmulatorServer) -> Control:
    return Control(emulator.url)
