"""Access to the real SEQR WSDL kept beside the project (`../shared/reference/`).

The reference is data to test against, never part of the package. Tests that need it call
`reference_path()`, which skips with a clear reason where the folder is absent (CI has it).
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from lxml import etree

REFERENCE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
XSD = "http://www.w3.org/2001/XMLSchema"
SEQR_NS = "http://external.interfaces.ers.seamless.com/"


def reference_path(name: str = "ERSWSExternalClientService.wsdl") -> Path:
    """The path of a reference file, or skip the calling test when it is not there."""
    path = REFERENCE_DIR / name
    if not path.is_file():
        pytest.skip(f"reference file {name} not found beside the project (../shared/reference/)")
    return path


@functools.cache
def _schema_at(path: Path) -> etree.XMLSchema:
    wsdl = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    schema = wsdl.find(f".//{{{XSD}}}schema")
    assert schema is not None, "no xs:schema in the reference WSDL"
    return etree.XMLSchema(schema)


def reference_schema() -> etree.XMLSchema:
    """The XML Schema embedded in the reference WSDL, to validate response payloads with."""
    return _schema_at(reference_path())
