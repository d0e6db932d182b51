"""A pasted web page (not arXiv) as a lab report record: its title and description."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import lxml.html

from pipeline import http
from pipeline.errors import HarvestError
from pipeline.feeds import MAX_TITLE_CHARS, html_to_text
from pipeline.records import PaperRecord

log = logging.getLogger(__name__)


def _meta(doc: lxml.html.HtmlElement, *names: str) -> str:
    for name in names:
        for element in doc.xpath("//meta[@property=$name or @name=$name]/@content", name=name):
            if str(element).strip():
                return str(element)
    return ""


def page_record(url: str, config: http.FetchConfig) -> PaperRecord:
    """Title and description of a web page, fetched safely."""
    resp = http.safe_get(url, config)
    try:
        doc = lxml.html.document_fromstring(resp.body)
    except Exception as exc:
        raise HarvestError(f"{url} is not an HTML page: {exc}") from exc
    title = _meta(doc, "og:title", "twitter:title") or " ".join(
        doc.xpath("string(//title)").split()
    )
    host = (urlsplit(resp.url).hostname or "").removeprefix("www.")
    return PaperRecord(
        title=html_to_text(title, limit=MAX_TITLE_CHARS) or resp.url,
        url=resp.url,
        abstract=html_to_text(_meta(doc, "og:description", "description", "twitter:description")),
        lab=host,
    )
