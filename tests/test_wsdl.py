"""The published WSDL: same schema and operations as the real service, in the split CXF shape.

The generated types document is compared structurally (not textually) with the reference WSDL;
the committed `wsdl/` copy must match a fresh generation; and real client stacks (zeep, suds)
must load the pair the way they loaded the live service's pair. No test touches the network:
clients read files from a temporary directory or bytes served by an in-memory transport.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import suds.client
import suds.transport
import zeep
import zeep.transports
from lxml import etree

from emulator.soap.types import ANONYMOUS_TYPES
from emulator.soap.wsdl import TYPES_DOCUMENT, render_service, render_types, write_published
from tests.reference import SEQR_NS, XSD, local_live_v2, reference_path

WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
SERVICE_NS = "http://externalclientservice.cashregister.seamless.com/"
PUBLISHED = Path(__file__).resolve().parents[1] / "wsdl"
BASE = "http://emulator.test:8090/extclientproxy/service/v2"
REGENERATE = "seqr-emulator wsdl --out wsdl/"

EXTRA_OPERATIONS = {"getClientSessionInfo"}
EXTRA_ELEMENTS = {"getClientSessionInfo", "getClientSessionInfoResponse"}
EXTRA_TYPES = {
    "getClientSessionInfo",
    "getClientSessionInfoResponse",
    "erswsClientSessionInfoResponse",
}

# suds `factory.create` names: the first three are the ones the documented suds samples use.
SUDS_NAMES = (
    "ns0:invoiceRows",
    "ns0:totalAmount",
    "ns0:itemTotalAmount",
    "ns0:invoice",
    "ns0:paymentInvoiceRow",
    "ns0:amount",
    "ns0:clientContext",
    "ns0:principalId",
    "ns0:accounts",
    "ns0:customerToken",
    "ns0:customerTokens",
    "ns0:invoiceRow",
    "ns0:paymentMode",
    "ns0:invoiceStatus",
    "ns0:getPaymentStatus",
    "ns0:receiptDocument",
    "ns0:parameterMap",
)
DOCUMENTED_SUDS_NAMES = SUDS_NAMES[:3]

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


def _w(local: str) -> str:
    return f"{{{WSDL}}}{local}"


def _xs(local: str) -> str:
    return f"{{{XSD}}}{local}"


def _soap(local: str) -> str:
    return f"{{{SOAP}}}{local}"


def _parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, _PARSER)


def _qname(el: etree._Element, value: str | None) -> str | None:
    """A QName-valued attribute in Clark notation, resolved where it is written."""
    if value is None:
        return None
    prefix, sep, local = value.partition(":")
    if not sep:
        prefix, local = None, value  # type: ignore[assignment]
    namespace = el.nsmap.get(prefix)
    assert namespace is not None, f"unresolvable QName {value!r} on line {el.sourceline}"
    return f"{{{namespace}}}{local}"


def _address(service_root: etree._Element) -> str | None:
    """The soap:address location of the (only) port of a service document."""
    (address,) = service_root.findall(f"{_w('service')}/{_w('port')}/{_soap('address')}")
    return address.get("location")


def _short(qname: object) -> str:
    """Readable form for failure messages: tns:x / xs:x instead of Clark notation."""
    if not isinstance(qname, str):
        return "<anonymous type>"
    return qname.replace(f"{{{SEQR_NS}}}", "tns:").replace(f"{{{XSD}}}", "xs:")


# --- a structural summary of a WSDL's schema and port type ---------------------------------------


@dataclass(frozen=True)
class Child:
    """One element of a sequence; `type` is a QName or, for an anonymous type, its structure."""

    name: str
    type: str | ComplexType | None
    min_occurs: str
    max_occurs: str
    nillable: bool


@dataclass(frozen=True)
class ComplexType:
    base: str | None
    children: tuple[Child, ...]


@dataclass(frozen=True)
class Summary:
    target_namespace: str | None
    element_form_default: str | None
    elements: dict[str, str | None]
    complex_types: dict[str, ComplexType]
    simple_types: dict[str, tuple[str | None, tuple[str, ...]]]
    operations: dict[str, tuple[str | None, str | None]]


def _complex_type(ct: etree._Element, where: str) -> ComplexType:
    base = None
    container = ct
    extension = ct.find(f"{_xs('complexContent')}/{_xs('extension')}")
    if extension is not None:
        base = _qname(extension, extension.get("base"))
        container = extension
    sequence = container.find(_xs("sequence"))
    others = [c.tag for c in container if c.tag not in {_xs("sequence"), _xs("complexContent")}]
    assert not others, f"{where}: unexpected content {others} (the summary cannot compare it)"
    children: list[Child] = []
    if sequence is not None:
        for el in sequence:
            assert el.tag == _xs("element"), f"{where}: unexpected {el.tag} in the sequence"
            name = el.get("name", "")
            anonymous = el.find(_xs("complexType"))
            children.append(
                Child(
                    name=name,
                    type=(
                        _complex_type(anonymous, f"{where}/{name}")
                        if anonymous is not None
                        else _qname(el, el.get("type"))
                    ),
                    min_occurs=el.get("minOccurs", "1"),
                    max_occurs=el.get("maxOccurs", "1"),
                    nillable=el.get("nillable", "false") == "true",
                )
            )
    return ComplexType(base=base, children=tuple(children))


def _summarise(root: etree._Element) -> Summary:
    schemas = root.findall(f"{_w('types')}/{_xs('schema')}")
    assert len(schemas) == 1, f"expected one xs:schema, found {len(schemas)}"
    schema = schemas[0]
    simple_types = {}
    for st in schema.iterfind(_xs("simpleType")):
        restriction = st.find(_xs("restriction"))
        assert restriction is not None, f"simpleType {st.get('name')}: no restriction"
        simple_types[st.get("name", "")] = (
            _qname(restriction, restriction.get("base")),
            tuple(e.get("value", "") for e in restriction.iterfind(_xs("enumeration"))),
        )
    parts = {}
    for message in root.iterfind(_w("message")):
        (part,) = message.findall(_w("part"))
        parts[f"{{{root.get('targetNamespace')}}}{message.get('name')}"] = (
            part.get("name"),
            _qname(part, part.get("element")),
        )
    operations = {}
    for op in root.iterfind(f"{_w('portType')}/{_w('operation')}"):
        ends = []
        for tag in ("input", "output"):
            io_el = op.find(_w(tag))
            assert io_el is not None, f"operation {op.get('name')}: no {tag}"
            part_name, element = parts[_qname(io_el, io_el.get("message")) or ""]
            assert part_name == "parameters", f"{op.get('name')} {tag}: part {part_name!r}"
            ends.append(element)
        operations[op.get("name", "")] = (ends[0], ends[1])
    return Summary(
        target_namespace=schema.get("targetNamespace"),
        element_form_default=schema.get("elementFormDefault"),
        elements={
            e.get("name", ""): _qname(e, e.get("type")) for e in schema.iterfind(_xs("element"))
        },
        complex_types={
            ct.get("name", ""): _complex_type(ct, f"complexType {ct.get('name')}")
            for ct in schema.iterfind(_xs("complexType"))
        },
        simple_types=simple_types,
        operations=operations,
    )


def _type_differences(where: str, expected: ComplexType, actual: ComplexType) -> Iterator[str]:
    if expected.base != actual.base:
        yield f"{where}: base {_short(expected.base)} expected, got {_short(actual.base)}"
    names = [c.name for c in expected.children]
    got = [c.name for c in actual.children]
    if names != got:
        yield f"{where}: children {names} expected, got {got}"
        return
    for want, have in zip(expected.children, actual.children, strict=True):
        at = f"{where}/{want.name}"
        if isinstance(want.type, ComplexType) and isinstance(have.type, ComplexType):
            yield from _type_differences(at, want.type, have.type)
        elif want.type != have.type:
            yield f"{at}: type {_short(want.type)} expected, got {_short(have.type)}"
        for field in ("min_occurs", "max_occurs", "nillable"):
            if getattr(want, field) != getattr(have, field):
                yield (
                    f"{at}: {field} {getattr(want, field)!r} expected, got {getattr(have, field)!r}"
                )


@pytest.fixture(
    scope="module",
    params=[TYPES_DOCUMENT, f"live-v2/{TYPES_DOCUMENT}"],
    ids=["single-document", "live-v2"],
)
def reference(request: pytest.FixtureRequest) -> Summary:
    """The 2013 single-document WSDL and the live service's types document (same schema)."""
    return _summarise(etree.parse(str(reference_path(request.param)), _PARSER).getroot())


@pytest.fixture(scope="module")
def generated() -> Summary:
    return _summarise(_parse(render_types()))


# --- the types document against the reference ----------------------------------------------------


def test_schema_namespace_and_form(reference: Summary, generated: Summary) -> None:
    assert generated.target_namespace == reference.target_namespace == SEQR_NS
    assert generated.element_form_default == reference.element_form_default == "unqualified"
    root = _parse(render_types())
    assert root.get("targetNamespace") == SEQR_NS
    assert root.get("name") == "ERSWSExternalClientService"


def test_global_elements_match_reference(reference: Summary, generated: Summary) -> None:
    missing = sorted(set(reference.elements) - set(generated.elements))
    extra = sorted(set(generated.elements) - set(reference.elements) - EXTRA_ELEMENTS)
    assert not missing, f"global elements missing: {missing}"
    assert not extra, f"global elements not in the reference: {extra}"
    wrong = [
        f"element {name}: type {_short(t)} expected, got {_short(generated.elements[name])}"
        for name, t in reference.elements.items()
        if generated.elements[name] != t
    ]
    assert not wrong, "\n".join(wrong)


def test_complex_types_match_reference(reference: Summary, generated: Summary) -> None:
    missing = sorted(set(reference.complex_types) - set(generated.complex_types))
    extra = sorted(set(generated.complex_types) - set(reference.complex_types) - EXTRA_TYPES)
    assert not missing, f"complex types missing: {missing}"
    assert not extra, f"complex types not in the reference: {extra}"
    problems = [
        problem
        for name, expected in reference.complex_types.items()
        for problem in _type_differences(
            f"complexType {name}", expected, generated.complex_types[name]
        )
    ]
    assert not problems, "\n".join(problems)


def test_anonymous_types_are_inlined(generated: Summary) -> None:
    named = sorted(ANONYMOUS_TYPES & set(generated.complex_types))
    assert not named, f"declared as named types, expected inline: {named}"
    invoice_rows = next(
        c for c in generated.complex_types["invoice"].children if c.name == "invoiceRows"
    )
    assert isinstance(invoice_rows.type, ComplexType)


def test_simple_types_match_reference(reference: Summary, generated: Summary) -> None:
    assert list(generated.simple_types) == list(reference.simple_types), "simple type names"
    for name, (base, values) in reference.simple_types.items():
        got_base, got_values = generated.simple_types[name]
        assert got_base == base, f"simpleType {name}: base {_short(got_base)}"
        assert got_values == values, f"simpleType {name}: enumeration {got_values}"


def test_port_type_matches_reference(reference: Summary, generated: Summary) -> None:
    missing = sorted(set(reference.operations) - set(generated.operations))
    extra = sorted(set(generated.operations) - set(reference.operations) - EXTRA_OPERATIONS)
    assert not missing, f"operations missing: {missing}"
    assert not extra, f"operations not in the reference: {extra}"
    for name, (request, response) in reference.operations.items():
        got_request, got_response = generated.operations[name]
        assert got_request == request, f"{name}: input element {_short(got_request)}"
        assert got_response == response, f"{name}: output element {_short(got_response)}"
    assert generated.operations["getClientSessionInfo"] == (
        f"{{{SEQR_NS}}}getClientSessionInfo",
        f"{{{SEQR_NS}}}getClientSessionInfoResponse",
    )


def test_types_schema_compiles() -> None:
    schema = _parse(render_types()).find(f"{_w('types')}/{_xs('schema')}")
    assert schema is not None
    etree.XMLSchema(schema)  # raises XMLSchemaParseError on a broken schema


def test_no_foreign_namespaces_declared() -> None:
    allowed = {WSDL, SOAP, XSD, SEQR_NS, SERVICE_NS}
    for name, data in (("types", render_types()), ("service", render_service(BASE))):
        declared = {ns for el in _parse(data).iter() for ns in el.nsmap.values()}
        assert declared <= allowed, f"{name} document declares {sorted(declared - allowed)}"


def test_no_spyne_leftovers() -> None:
    root = _parse(render_types())
    port_type = root.find(_w("portType"))
    assert port_type is not None
    assert all(op.get("parameterOrder") is None for op in port_type), "parameterOrder left"
    nillable = [el.get("name") for el in root.iter(_xs("element")) if el.get("nillable")]
    assert nillable == ["purchasedProducts"]


# --- the committed copy --------------------------------------------------------------------------


def test_published_files_are_current(tmp_path: Path) -> None:
    written = write_published(tmp_path)
    assert [p.name for p in written] == ["service.wsdl", TYPES_DOCUMENT]
    for fresh in written:
        committed = PUBLISHED / fresh.name
        assert committed.is_file(), f"wsdl/{fresh.name} is missing; run `{REGENERATE}`"
        assert committed.read_bytes() == fresh.read_bytes(), (
            f"wsdl/{fresh.name} is stale (the spyne models changed); run `{REGENERATE}`"
        )


def test_published_service_imports_types_relatively(tmp_path: Path) -> None:
    service_path, _ = write_published(tmp_path, base_url=BASE)
    root = _parse(service_path.read_bytes())
    (imported,) = root.findall(_w("import"))
    assert imported.get("location") == TYPES_DOCUMENT
    assert _address(root) == BASE


# --- the split shape -----------------------------------------------------------------------------


def test_service_document_imports_types_document() -> None:
    root = _parse(render_service(BASE))
    assert root.get("targetNamespace") == SERVICE_NS
    assert root.get("name") == "ERSWSExternalClientServiceImplService"
    (imported,) = root.findall(_w("import"))
    assert imported.get("namespace") == SEQR_NS
    assert imported.get("location") == f"{BASE}?wsdl={TYPES_DOCUMENT}"
    assert root.find(_w("types")) is None
    assert root.find(_w("portType")) is None


def test_service_document_binding_and_address() -> None:
    root = _parse(render_service(BASE))
    (binding,) = root.findall(_w("binding"))
    assert binding.get("name") == "ERSWSExternalClientServiceImplServiceSoapBinding"
    assert _qname(binding, binding.get("type")) == f"{{{SEQR_NS}}}ERSWSExternalClientService"
    soap_binding = binding.find(_soap("binding"))
    assert soap_binding is not None
    assert soap_binding.get("style") == "document"
    assert soap_binding.get("transport") == "http://schemas.xmlsoap.org/soap/http"
    for op in binding.iterfind(_w("operation")):
        soap_op = op.find(_soap("operation"))
        assert soap_op is not None, op.get("name")
        assert soap_op.get("soapAction") == "", f"{op.get('name')}: soapAction"
        assert soap_op.get("style") == "document", f"{op.get('name')}: style"
        bodies = [b.get("use") for b in op.iter(_soap("body"))]
        assert bodies == ["literal", "literal"], f"{op.get('name')}: bodies {bodies}"
    port_type = _parse(render_types()).find(_w("portType"))
    assert port_type is not None
    assert [op.get("name") for op in binding.iterfind(_w("operation"))] == [
        op.get("name") for op in port_type.iterfind(_w("operation"))
    ]
    (service,) = root.findall(_w("service"))
    assert service.get("name") == "ERSWSExternalClientServiceImplService"
    (port,) = service.findall(_w("port"))
    assert port.get("name") == "ERSWSExternalClientServiceImplPort"
    assert _qname(port, port.get("binding")) == (
        f"{{{SERVICE_NS}}}ERSWSExternalClientServiceImplServiceSoapBinding"
    )
    assert _address(root) == BASE


def test_service_urls_are_escaped_and_overridable() -> None:
    base = 'http://h.test/p?a=1&b="2"<3>'
    root = _parse(render_service(base, types_location="types.wsdl?x=1&y=2"))
    (imported,) = root.findall(_w("import"))
    assert imported.get("location") == "types.wsdl?x=1&y=2"
    assert _address(root) == base
    assert render_service(BASE) == render_service(BASE)


# --- real client stacks --------------------------------------------------------------------------


class OfflineZeepTransport(zeep.transports.Transport):
    """A zeep transport answering from `served` (URL -> bytes); local paths load as files."""

    def __init__(self, served: dict[str, bytes] | None = None) -> None:
        super().__init__()
        self.served = served or {}

    def _load_remote_data(self, url: str) -> bytes:
        if url in self.served:
            return self.served[url]
        raise AssertionError(f"zeep tried to fetch {url}")


class OfflineSudsTransport(suds.transport.Transport):
    """A suds transport answering from `served` (URL -> bytes) and file:// URLs only."""

    def __init__(self, served: dict[str, bytes] | None = None) -> None:
        super().__init__()
        self.served = served or {}

    def open(self, request: suds.transport.Request) -> io.BytesIO:
        if request.url in self.served:
            return io.BytesIO(self.served[request.url])
        parts = urlsplit(request.url)
        if parts.scheme == "file":
            return io.BytesIO(Path(unquote(parts.path)).read_bytes())
        raise AssertionError(f"suds tried to fetch {request.url}")

    def send(self, request: suds.transport.Request) -> None:
        raise AssertionError("suds tried to send a request")


def _served() -> dict[str, bytes]:
    return {f"{BASE}?wsdl": render_service(BASE), f"{BASE}?wsdl={TYPES_DOCUMENT}": render_types()}


@pytest.fixture(scope="module")
def published_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("published")
    write_published(directory, base_url=BASE)
    return directory


@pytest.fixture(scope="module")
def reference_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The live-v2 pair, its import pointed at the local copy of the types document."""
    return local_live_v2(tmp_path_factory.mktemp("live-v2")).parent


def _zeep_operations(client: zeep.Client) -> set[str]:
    (service,) = client.wsdl.services.values()
    (port,) = service.ports.values()
    return set(port.binding._operations)


def test_zeep_loads_published_pair(published_dir: Path) -> None:
    client = zeep.Client(str(published_dir / "service.wsdl"), transport=OfflineZeepTransport())
    operations = set(_summarise(_parse(render_types())).operations)
    assert _zeep_operations(client) == operations
    assert "getClientSessionInfo" in operations
    assert client.service._binding_options["address"] == BASE
    invoice = client.get_type(f"{{{SEQR_NS}}}invoice")
    assert "invoiceRows" in [name for name, _ in invoice.elements]


def test_zeep_loads_served_pair() -> None:
    client = zeep.Client(f"{BASE}?wsdl", transport=OfflineZeepTransport(_served()))
    assert "getClientSessionInfo" in _zeep_operations(client)
    assert client.service._binding_options["address"] == BASE


def _suds_client(url: str, served: dict[str, bytes] | None = None) -> suds.client.Client:
    return suds.client.Client(url, cache=None, transport=OfflineSudsTransport(served))


def _suds_creates(client: suds.client.Client, name: str) -> bool:
    try:
        client.factory.create(name)
    except suds.TypeNotFound:
        return False
    return True


@pytest.fixture(scope="module")
def suds_published(published_dir: Path) -> suds.client.Client:
    return _suds_client((published_dir / "service.wsdl").as_uri())


@pytest.fixture(scope="module")
def suds_reference(reference_dir: Path) -> suds.client.Client:
    return _suds_client((reference_dir / "service.wsdl").as_uri())


def test_suds_loads_published_pair(suds_published: suds.client.Client) -> None:
    methods = set(suds_published.wsdl.services[0].ports[0].methods)
    assert methods == set(_summarise(_parse(render_types())).operations)
    assert suds_published.wsdl.services[0].ports[0].location == BASE


@pytest.mark.parametrize("name", DOCUMENTED_SUDS_NAMES)
def test_suds_documented_creations(
    name: str, suds_reference: suds.client.Client, suds_published: suds.client.Client
) -> None:
    assert _suds_creates(suds_reference, name), f"{name}: the reference pair itself fails"
    assert _suds_creates(suds_published, name), f"factory.create({name!r}) fails on ours"


@pytest.mark.parametrize("name", SUDS_NAMES)
def test_suds_creations_mirror_reference(
    name: str, suds_reference: suds.client.Client, suds_published: suds.client.Client
) -> None:
    expected = _suds_creates(suds_reference, name)
    assert _suds_creates(suds_published, name) == expected, (
        f"factory.create({name!r}) should {'work' if expected else 'fail'} as on the live pair"
    )


def test_suds_loads_served_pair() -> None:
    client = _suds_client(f"{BASE}?wsdl", _served())
    assert "getClientSessionInfo" in client.wsdl.services[0].ports[0].methods
    for name in DOCUMENTED_SUDS_NAMES:
        assert _suds_creates(client, name), f"factory.create({name!r}) fails on the served pair"
