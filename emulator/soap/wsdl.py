"""The published WSDL: spyne's description of `MerchantService`, reshaped into what CXF served.

This module owns the two WSDL documents the emulator publishes and serves:

* the *types document* (`ERSWSExternalClientService.wsdl`, `<path>?wsdl=<that name>`): the
  schema, the messages and the port type, in the target namespace of the merchant interface;
* the *service document* (`<path>?wsdl`, `service.wsdl` on disk): binding and service in the
  implementation's namespace, importing the types document.

Both are generated from the spyne models (`types.py`, `operations.py`), never copied from the
real WSDL. spyne writes a single combined document with its own conventions (a global element
for every type, parts named after their element, SOAPActions named after the operation, a
dozen unused namespace declarations, no anonymous types); the functions below rebuild it into
the split shape the live Apache CXF service answered with, because suds assigns its `ns0:`
prefix from that structure and the documented suds samples (`factory.create('ns0:invoiceRows')`)
only work against it (seqr-protocol.md §14). The facts kept from CXF are the ones clients see:
names, namespaces, the `parameters` part name, `soapAction=""`, the inline wrapper types, the
declaration order of the schema, sorted attributes.

Everything is computed once, on first use. Serving `?wsdl` then only splices the two URLs
(the import location and `soap:address`) into prepared bytes, since every WSDL-driven client
posts to the address written in the document and it must be the emulator's own.

Imports only the stdlib, lxml, spyne and `emulator.soap` models: no HTTP, no domain code.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from xml.sax.saxutils import escape

from lxml import etree
from spyne import Application
from spyne.interface.wsdl import Wsdl11
from spyne.protocol.soap import Soap11

from emulator.soap.operations import MerchantService
from emulator.soap.types import ANONYMOUS_TYPES, NAMESPACE

TYPES_DOCUMENT = "ERSWSExternalClientService.wsdl"
"""File name of the types document, and the value of `?wsdl=` that serves it."""

SERVICE_DOCUMENT = "service.wsdl"
"""File name under which `write_published` stores the service document."""

SERVICE_NAMESPACE = "http://externalclientservice.cashregister.seamless.com/"
"""Target namespace of the service document (CXF derived it from the implementation class)."""

DEFAULT_BASE_URL = "http://127.0.0.1:8090/extclientproxy/service/v2"
"""Endpoint written into the published copy; the server substitutes its own when serving."""

PORT_TYPE_NAME = "ERSWSExternalClientService"
SERVICE_NAME = "ERSWSExternalClientServiceImplService"
BINDING_NAME = "ERSWSExternalClientServiceImplServiceSoapBinding"
PORT_NAME = "ERSWSExternalClientServiceImplPort"

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP_BINDING_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
SOAP_HTTP_TRANSPORT = "http://schemas.xmlsoap.org/soap/http"

_PART_NAME = "parameters"  # JAX-WS wrapped style: the single part is always called this
_SCHEMA_VERSION = "1.0"  # JAXB writes version="1.0" on every generated schema

# Placeholders written where the per-request URLs go. Plain ASCII without markup characters,
# so lxml serialises them verbatim and they can be found again in the bytes.
_TYPES_LOCATION_TOKEN = "urn:seqr-emulator:placeholder:types-location"
_ADDRESS_TOKEN = "urn:seqr-emulator:placeholder:soap-address"

# Characters that must not appear raw in a double-quoted attribute value. Whitespace controls
# are written as character references so attribute-value normalisation keeps them.
_ATTRIBUTE_ENTITIES = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}

# Attributes whose value is a QName that has to be re-resolved in the rebuilt document.
_QNAME_ATTRIBUTES = frozenset({"type", "base", "element", "message", "binding"})


def _w(local: str) -> str:
    return f"{{{WSDL_NS}}}{local}"


def _xs(local: str) -> str:
    return f"{{{XSD_NS}}}{local}"


def _soap(local: str) -> str:
    return f"{{{SOAP_BINDING_NS}}}{local}"


@dataclass(frozen=True)
class _Documents:
    """The prepared output: the types document and the service document cut at its URLs."""

    types: bytes
    service_head: bytes  # up to the import location
    service_middle: bytes  # between the import location and the soap:address location
    service_tail: bytes  # after the soap:address location


@dataclass(frozen=True)
class _Operation:
    name: str
    input_message: str
    input_name: str | None
    output_message: str
    output_name: str | None


def render_types() -> bytes:
    """The types document, byte for byte as served for `?wsdl=ERSWSExternalClientService.wsdl`.

    It holds no URL, so one cached rendering serves every endpoint.
    """
    return _documents().types


def render_service(base_url: str, types_location: str | None = None) -> bytes:
    """The service document for the endpoint `base_url`, as served for `<path>?wsdl`.

    `base_url` becomes the `soap:address` (clients post there, not to where they fetched the
    WSDL); the types document is imported from `types_location`, by default the CXF-style
    `<base_url>?wsdl=ERSWSExternalClientService.wsdl`. Called per request, so it only splices
    the two XML-escaped URLs into bytes prepared once.
    """
    if types_location is None:
        types_location = f"{base_url}?wsdl={TYPES_DOCUMENT}"
    docs = _documents()
    return b"".join(
        (
            docs.service_head,
            _attribute_bytes(types_location),
            docs.service_middle,
            _attribute_bytes(base_url),
            docs.service_tail,
        )
    )


def write_published(out_dir: Path, base_url: str = DEFAULT_BASE_URL) -> list[Path]:
    """Write the published pair (`service.wsdl`, `ERSWSExternalClientService.wsdl`) to `out_dir`.

    The service document imports the types document by the relative location
    `ERSWSExternalClientService.wsdl`, so the pair loads from any directory or static host.
    The output is deterministic: a test compares it with the committed copy under `wsdl/`.
    Returns the written paths, service document first.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    service_path = out_dir / SERVICE_DOCUMENT
    types_path = out_dir / TYPES_DOCUMENT
    service_path.write_bytes(render_service(base_url, TYPES_DOCUMENT))
    types_path.write_bytes(render_types())
    return [service_path, types_path]


def _attribute_bytes(value: str) -> bytes:
    return escape(value, _ATTRIBUTE_ENTITIES).encode("utf-8")


# --- building ----------------------------------------------------------------------------------


@functools.cache
def _documents() -> _Documents:
    """Run spyne once and derive both documents from its output (first use only)."""
    app = Application(
        [MerchantService],
        tns=NAMESPACE,
        name=PORT_TYPE_NAME,
        in_protocol=Soap11(),
        out_protocol=Soap11(),
    )
    wsdl = Wsdl11(app.interface, element_form_default="unqualified")
    wsdl.build_interface_document(_ADDRESS_TOKEN)
    source = etree.fromstring(
        wsdl.get_interface_document(), etree.XMLParser(resolve_entities=False, no_network=True)
    )
    operations = _operations(source)
    types_root = _TypesBuilder(source, operations, app.interface.classes).build()
    service_bytes = _serialise(_service_document(source, operations))
    head, rest = _split_once(service_bytes, _TYPES_LOCATION_TOKEN)
    middle, tail = _split_once(rest, _ADDRESS_TOKEN)
    return _Documents(
        types=_declare_tns_on_schema(_serialise(types_root)),
        service_head=head,
        service_middle=middle,
        service_tail=tail,
    )


def _serialise(root: etree._Element) -> bytes:
    _sort_attributes(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _declare_tns_on_schema(data: bytes) -> bytes:
    """Repeat the `tns` declaration on `xs:schema`, as CXF did, so the schema stands alone.

    Tools that lift the schema out of the WSDL (lxml's `XMLSchema(element)`, validators fed
    the schema element) resolve the `tns:` QNames inside attribute values only from
    declarations they copy along, i.e. those on the schema element or below it. lxml's tree
    API never writes a declaration an ancestor already makes, so it goes into the bytes.
    """
    opening = f'<xs:schema xmlns:xs="{XSD_NS}"'.encode()
    if data.count(opening) != 1:
        raise RuntimeError("WSDL types document: xs:schema start tag not found once")
    return data.replace(opening, opening + f' xmlns:tns="{NAMESPACE}"'.encode(), 1)


def _sort_attributes(root: etree._Element) -> None:
    """Write attributes in name order, as CXF's serialiser did (and for stable bytes)."""
    for el in root.iter():
        if len(el.attrib) > 1:
            items = sorted(el.attrib.items())
            el.attrib.clear()
            for key, value in items:
                el.set(key, value)


def _split_once(data: bytes, token: str) -> tuple[bytes, bytes]:
    parts = data.split(token.encode("ascii"))
    if len(parts) != 2:
        raise RuntimeError(f"WSDL template: expected placeholder {token} exactly once")
    return parts[0], parts[1]


def _resolve(el: etree._Element, value: str) -> tuple[str, str]:
    """Resolve a QName-valued attribute against the in-scope namespaces of `el`."""
    head, sep, tail = value.partition(":")
    prefix, local = (head, tail) if sep else (None, value)
    namespace = el.nsmap.get(prefix)
    if namespace is None:
        raise RuntimeError(f"spyne WSDL: unresolvable QName {value!r} on <{el.tag}>")
    return namespace, local


def _operations(source: etree._Element) -> list[_Operation]:
    """The port type's operations in declaration order (spyne keeps `MerchantService`'s)."""
    port_types = source.findall(_w("portType"))
    if len(port_types) != 1:
        raise RuntimeError(f"spyne WSDL: expected one portType, found {len(port_types)}")
    result = []
    for op in port_types[0].findall(_w("operation")):
        if op.find(_w("fault")) is not None:
            raise RuntimeError(f"spyne WSDL: {op.get('name')} declares a fault; SEQR has none")
        inp, out = op.find(_w("input")), op.find(_w("output"))
        if inp is None or out is None:
            raise RuntimeError(f"spyne WSDL: {op.get('name')} is not request-response")
        result.append(
            _Operation(
                name=op.get("name", ""),
                input_message=_resolve(inp, inp.get("message", ""))[1],
                input_name=inp.get("name"),
                output_message=_resolve(out, out.get("message", ""))[1],
                output_name=out.get("name"),
            )
        )
    return result


class _TypesBuilder:
    """Rebuilds spyne's schema, messages and port type into the CXF types document."""

    def __init__(
        self, source: etree._Element, operations: list[_Operation], classes: dict[str, Any]
    ) -> None:
        self.source = source
        self.operations = operations
        self.classes = classes
        schemas = [
            s
            for s in source.iterfind(f"{_w('types')}/{_xs('schema')}")
            if s.get("targetNamespace") == NAMESPACE
        ]
        if len(schemas) != 1:
            raise RuntimeError(f"spyne WSDL: expected one schema for {NAMESPACE}")
        self.schema = schemas[0]
        self.complex_types = {ct.get("name"): ct for ct in self.schema.iterfind(_xs("complexType"))}
        self.simple_types = {st.get("name"): st for st in self.schema.iterfind(_xs("simpleType"))}
        self.messages = {m.get("name"): m for m in source.iterfind(_w("message"))}
        self.prefixes = {NAMESPACE: "tns", XSD_NS: "xs"}

    def build(self) -> etree._Element:
        root = etree.Element(
            _w("definitions"),
            nsmap={"wsdl": WSDL_NS, "tns": NAMESPACE},
            name=PORT_TYPE_NAME,
            targetNamespace=NAMESPACE,
        )
        schema = etree.SubElement(
            etree.SubElement(root, _w("types")), _xs("schema"), nsmap={"xs": XSD_NS}
        )
        schema.set("elementFormDefault", "unqualified")
        schema.set("targetNamespace", NAMESPACE)
        schema.set("version", _SCHEMA_VERSION)

        parts = {name: self._part_element(name) for name in self._message_names()}
        wrapper_elements = set(parts.values())
        # CXF lists the wrapper elements alphabetically; spyne also declares an element for
        # every type, which the real schema does not have.
        for element in sorted(
            self.schema.iterfind(_xs("element")), key=lambda e: e.get("name", "")
        ):
            if element.get("name") in wrapper_elements:
                self._copy_into(schema, element, owner=None)

        complex_order, simple_order = self._declaration_order(wrapper_elements, parts)
        for name in complex_order:
            self._type_declaration(schema, self.complex_types[name], name)
        for name in simple_order:
            self._type_declaration(schema, self.simple_types[name], name)

        for name in self._message_names():
            message = etree.SubElement(root, _w("message"), name=name)
            etree.SubElement(message, _w("part"), element=f"tns:{parts[name]}", name=_PART_NAME)

        port_type = etree.SubElement(root, _w("portType"), name=PORT_TYPE_NAME)
        for op in self.operations:  # spyne's parameterOrder attribute is not carried over
            operation = etree.SubElement(port_type, _w("operation"), name=op.name)
            for tag, message_name, label in (
                ("input", op.input_message, op.input_name),
                ("output", op.output_message, op.output_name),
            ):
                io = etree.SubElement(operation, _w(tag), message=f"tns:{message_name}")
                if label:
                    io.set("name", label)
        return root

    def _message_names(self) -> Iterator[str]:
        for op in self.operations:
            yield op.input_message
            yield op.output_message

    def _part_element(self, message_name: str) -> str:
        message = self.messages.get(message_name)
        parts = [] if message is None else message.findall(_w("part"))
        if len(parts) != 1 or parts[0].get("element") is None:
            raise RuntimeError(f"spyne WSDL: message {message_name} is not one element part")
        namespace, local = _resolve(parts[0], parts[0].get("element", ""))
        if namespace != NAMESPACE:
            raise RuntimeError(f"spyne WSDL: message {message_name} part outside {NAMESPACE}")
        return local

    def _declaration_order(
        self, wrapper_elements: set[str], parts: dict[str, str]
    ) -> tuple[list[str], list[str]]:
        """Named types in CXF's order: depth first from each operation's request, then response.

        Simple types come last, in the order they were first reached. Types that are inlined
        (`ANONYMOUS_TYPES`) are walked through but not declared.
        """
        complex_order: list[str] = []
        simple_order: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            if name in self.simple_types:
                simple_order.append(name)
                return
            if name not in self.complex_types:
                raise RuntimeError(f"spyne WSDL: type {name} is referenced but not declared")
            if name not in ANONYMOUS_TYPES:
                complex_order.append(name)
            for ref in self._references(self.complex_types[name]):
                visit(ref)

        elements = {e.get("name"): e for e in self.schema.iterfind(_xs("element"))}
        for name in self._message_names():
            element = elements[parts[name]]
            namespace, local = _resolve(element, element.get("type", ""))
            if namespace != NAMESPACE:
                raise RuntimeError(f"spyne WSDL: element {parts[name]} has a foreign type")
            visit(local)
        unused = set(self.complex_types) - seen
        if unused:
            raise RuntimeError(f"spyne WSDL: types not reachable from any operation: {unused}")
        return complex_order, simple_order

    def _references(self, declaration: etree._Element) -> Iterator[str]:
        """Target-namespace types a declaration refers to, in document order."""
        for el in declaration.iter(_xs("element"), _xs("extension"), _xs("restriction")):
            for attribute in ("type", "base"):
                value = el.get(attribute)
                if value is not None:
                    namespace, local = _resolve(el, value)
                    if namespace == NAMESPACE:
                        yield local

    def _type_declaration(self, schema: etree._Element, source: etree._Element, name: str) -> None:
        declaration = self._copy_into(schema, source, owner=name)
        if declaration.tag == _xs("complexType") and len(declaration) == 0:
            etree.SubElement(declaration, _xs("sequence"))  # JAXB writes <xs:sequence/>

    def _copy_into(
        self, parent: etree._Element, source: etree._Element, owner: str | None
    ) -> etree._Element:
        """Copy a schema node into `parent`, inlining anonymous types and fixing attributes.

        `owner` is the name of the complex type whose children are being copied; it decides,
        from the spyne model, whether an element may keep `nillable="true"`.
        """
        copy = etree.SubElement(parent, source.tag)
        inline: str | None = None
        for key, value in source.attrib.items():
            if key == "nillable":
                if value == "true" and self._model_nillable(owner, source.get("name")):
                    copy.set(key, value)
            elif key in _QNAME_ATTRIBUTES:
                # lxml's attribute values are str; its stubs also allow bytes
                namespace, local = _resolve(source, cast(str, value))
                if key == "type" and namespace == NAMESPACE and local in ANONYMOUS_TYPES:
                    inline = local
                else:
                    copy.set(key, f"{self.prefixes[namespace]}:{local}")
            else:
                copy.set(key, value)
        if inline is not None:
            anonymous = self.complex_types[inline]
            self._copy_into(copy, anonymous, owner=inline).attrib.pop("name")
        for child in source:
            if not isinstance(child.tag, str) or child.tag in {
                _xs("annotation"),
                _w("documentation"),
            }:
                continue  # comments and spyne's docstring annotations are not published
            self._copy_into(copy, child, owner)
        return copy

    def _model_nillable(self, owner: str | None, element: str | None) -> bool:
        """Whether the spyne model declares `owner.element` nillable (only purchasedProducts)."""
        if owner is None or element is None:
            return False
        cls = self.classes.get(f"{{{NAMESPACE}}}{owner}")
        if cls is None:
            return False
        child = cls.get_flat_type_info(cls).get(element)
        return bool(child is not None and child.Attributes.nillable)


def _service_document(source: etree._Element, operations: list[_Operation]) -> etree._Element:
    """The binding and service, in the implementation namespace, importing the types document.

    URLs are placeholders here; `render_service` substitutes them per request.
    """
    bindings = source.findall(_w("binding"))
    if len(bindings) != 1:
        raise RuntimeError(f"spyne WSDL: expected one binding, found {len(bindings)}")
    bound = [op.get("name") for op in bindings[0].iterfind(_w("operation"))]
    if bound != [op.name for op in operations]:
        raise RuntimeError("spyne WSDL: binding operations differ from the port type's")

    root = etree.Element(
        _w("definitions"),
        nsmap={
            "wsdl": WSDL_NS,
            "soap": SOAP_BINDING_NS,
            "tns": SERVICE_NAMESPACE,
            "ns1": NAMESPACE,
        },
        name=SERVICE_NAME,
        targetNamespace=SERVICE_NAMESPACE,
    )
    etree.SubElement(root, _w("import"), location=_TYPES_LOCATION_TOKEN, namespace=NAMESPACE)
    binding = etree.SubElement(root, _w("binding"), name=BINDING_NAME, type=f"ns1:{PORT_TYPE_NAME}")
    etree.SubElement(binding, _soap("binding"), style="document", transport=SOAP_HTTP_TRANSPORT)
    for op in operations:
        operation = etree.SubElement(binding, _w("operation"), name=op.name)
        # Clients send SOAPAction "" and the server dispatches on the body element.
        etree.SubElement(operation, _soap("operation"), soapAction="", style="document")
        for tag, label in (("input", op.input_name), ("output", op.output_name)):
            io = etree.SubElement(operation, _w(tag))
            if label:
                io.set("name", label)
            etree.SubElement(io, _soap("body"), use="literal")
    service = etree.SubElement(root, _w("service"), name=SERVICE_NAME)
    port = etree.SubElement(service, _w("port"), binding=f"tns:{BINDING_NAME}", name=PORT_NAME)
    etree.SubElement(port, _soap("address"), location=_ADDRESS_TOKEN)
    return root
