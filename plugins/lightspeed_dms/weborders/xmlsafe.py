"""Hardened XML parsing for everything the DMS sends to the hub.

The Web Orders endpoints are reachable from the internet and take XML bodies, so the parser
is configured to do nothing but parse: no DTD loading, no entity resolution, no network, no
huge-tree mode. On top of that any document that declares a DOCTYPE at all is refused — the
protocol never uses one, and refusing it outright means a billion-laughs or external-entity
document is rejected before anything could be expanded, whatever libxml2 version is installed.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

__all__ = [
    "DEFAULT_MAX_BYTES",
    "WebOrdersXmlError",
    "XmlRejected",
    "XmlTooLarge",
    "parse_xml",
]

#: The spec's body limit: 1 MiB (the endpoint answers ``413`` beyond it).
DEFAULT_MAX_BYTES = 1_048_576

# Markers of a DTD. A DTD is the only way into entity expansion and external fetches; the
# byte scan catches it before libxml2 sees the document (the post-parse docinfo check below
# catches encodings, e.g. UTF-16, where these ASCII bytes do not appear literally).
_DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")


class WebOrdersXmlError(ValueError):
    """Base of every error raised while reading a Web Orders document.

    Endpoints catch this one class and answer ``FAILURE`` with ``str(error)`` as the
    ``responseMessage`` (except :class:`XmlTooLarge`, which becomes HTTP ``413``).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class XmlRejected(WebOrdersXmlError):
    """The body is not acceptable XML: empty, not well-formed, or it carries a DTD."""


class XmlTooLarge(XmlRejected):
    """The body is larger than the limit (the endpoint answers ``413``)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"XML body of {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit


def _hardened_parser() -> etree.XMLParser:
    # A fresh parser per call: lxml parsers are not thread-safe to share across threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        dtd_validation=False,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def parse_xml(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse an XML body from the DMS safely and return its root element.

    :param body: the raw request body.
    :param max_bytes: the size limit; larger bodies raise :class:`XmlTooLarge`.
    :raises XmlTooLarge: the body is larger than ``max_bytes``.
    :raises XmlRejected: the body is empty, not well-formed, or declares a DOCTYPE/ENTITY.
    """
    if len(body) > max_bytes:
        raise XmlTooLarge(len(body), max_bytes)
    if not body.strip():
        raise XmlRejected("empty XML body")
    for marker in _DTD_MARKERS:
        if marker in body:
            raise XmlRejected(
                f"XML documents with a DTD are refused ({marker.decode()} found); "
                "entities and external references are not allowed"
            )
    try:
        root = etree.fromstring(body, parser=_hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise XmlRejected(f"XML is not well-formed: {exc}") from None
    except ValueError as exc:  # e.g. an unsupported encoding declaration
        raise XmlRejected(f"XML could not be read: {exc}") from None
    if root is None:  # recover mode is off, but keep mypy and odd inputs honest
        raise XmlRejected("XML document has no root element")
    # lxml-stubs lack DocInfo.doctype; it is "" when the document has no DOCTYPE.
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise XmlRejected("XML documents with a DTD are refused")
    return root
