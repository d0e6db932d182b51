"""Parsing untrusted XML: UTF-8 only, no DTD, no entities, no network."""

from __future__ import annotations

import re

from lxml import etree

from pipeline.errors import HarvestError

# Atom and OAI-PMH need no DTD; one in a response is either a mistake or an entity bomb.
_DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def xml_parse(body: bytes, *, what: str = "response") -> etree._Element:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HarvestError(f"{what} is not valid UTF-8 (bad byte at offset {exc.start})") from exc
    if _DECLARATION.search(body):
        raise HarvestError(f"{what} declares a DTD or entities; refused (entity expansion)")
    try:
        return etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise HarvestError(f"{what} is malformed XML: {exc}") from exc


def text_of(element: etree._Element | None) -> str:
    """The element's text with runs of whitespace (arXiv's hard wraps) folded to one space."""
    if element is None or element.text is None:
        return ""
    return " ".join(element.text.split())
