"""Access to the real SEQR WSDL kept beside the project (`../shared/reference/`).

The reference is data to test against, never part of the package. Tests that need it call
`reference_path()`, which skips with a clear reason where the folder is absent (CI has it);
only comparisons with the real WSDL need it, every other test uses the emulator's own.

Two documents are there: the 2013 WSDL in one file, and the live v2 pair (`live-v2/`), whose
service document imports its types from SEQR's server; `local_live_v2` copies the pair with
that import pointed at the local types document.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from lxml import etree

REFERENCE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
XSD = "http://www.w3.org/2001/XMLSchema"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SEQR_NS = "http://external.interfaces.ers.seamless.com/"
TYPES_DOCUMENT = "ERSWSExternalClientService.wsdl"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def reference_path(name: str = TYPES_DOCUMENT) -> Path:
    """The path of a reference file, or skip the calling test when it is not there."""
    path = REFERENCE_DIR / name
    if not path.is_file():
        pytest.skip(
            f"compares with the real SEQR WSDL: {name} not found beside the project"
            " (../shared/reference/)"
        )
    return path


@functools.cache
def _schema_at(path: Path) -> etree.XMLSchema:
    wsdl = etree.parse(str(path), _PARSER)
    schema = wsdl.find(f".//{{{XSD}}}schema")
    assert schema is not None, "no xs:schema in the reference WSDL"
    return etree.XMLSchema(schema)


def reference_schema() -> etree.XMLSchema:
    """The XML Schema embedded in the reference WSDL, to validate response payloads with."""
    return _schema_at(reference_path())


def local_live_v2(directory: Path) -> Path:
    """The live v2 pair copied into `directory`, its import pointed at the copied types
    document; the path of the copied service document (skips where the pair is absent)."""
    service = reference_path("live-v2/service.wsdl")
    types = reference_path(f"live-v2/{TYPES_DOCUMENT}")
    tree = etree.parse(str(service), _PARSER)
    for imported in tree.getroot().iterfind(f"{{{WSDL_NS}}}import"):
        imported.set("location", TYPES_DOCUMENT)
    tree.write(str(directory / "service.wsdl"), xml_declaration=True, encoding="UTF-8")
    (directory / TYPES_DOCUMENT).write_bytes(types.read_bytes())
    return directory / "service.wsdl"
