"""XML parsing that never resolves entities, loads DTDs or touches the network.

Every XML document that crosses the gateway or a mock (SOAP envelopes, ISO 20022
messages) is parsed here. A document declaring a DOCTYPE is refused outright: no
legitimate message of these protocols carries one, and refusing it closes entity
expansion attacks (XXE, billion laughs) at the door.
"""

from __future__ import annotations

import re

from lxml import etree

_POSITION = re.compile(r", line \d+, column \d+$")


class UnsafeXmlError(ValueError):
    """The document is not well-formed XML (``malformed XML at line L, column C: ...``
    in libxml2's words), or it declares a DTD."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=True,
    )


def parse_xml(data: bytes) -> etree._Element:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise UnsafeXmlError("XML with a DOCTYPE or entity declaration is refused")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        # libxml2's own words, without the position lxml appends to them.
        said = _POSITION.sub("", exc.msg or "")
        raise UnsafeXmlError(f"malformed XML at line {line}, column {column}: {said}") from None
    if root.getroottree().docinfo.doctype:  # type: ignore[union-attr]
        raise UnsafeXmlError("XML with a DOCTYPE is refused")
    return root
