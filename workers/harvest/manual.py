"""Adding one paper by hand: an arXiv id or URL, or any other page as a lab report."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import lxml.html

from tracker.papers.models import Paper
from tracker.papers.records import PaperRecord, arxiv_id_parse
from tracker.papers.services import lab_report_upsert, paper_upsert
from workers.harvest import fetch
from workers.harvest.arxiv import arxiv_fetch_ids
from workers.harvest.errors import HarvestError, TransientHarvestError
from workers.harvest.feeds import MAX_TITLE_CHARS, html_to_text

log = logging.getLogger(__name__)


def _meta(doc: lxml.html.HtmlElement, *names: str) -> str:
    for name in names:
        for element in doc.xpath("//meta[@property=$name or @name=$name]/@content", name=name):
            if str(element).strip():
                return str(element)
    return ""


def page_record(url: str) -> PaperRecord:
    """Title and description of a web page, fetched safely."""
    resp = fetch.safe_get(url)
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


def paper_add(text: str) -> tuple[Paper, bool]:
    """Add (or find) the paper named by an arXiv id or URL, or a lab report at any other URL.

    Returns the paper and whether it is new. Raises HarvestError with a message for people.
    A person is waiting, so every fetch here fails within FETCH_INTERACTIVE_SECONDS.
    """
    text = text.strip()
    parsed = arxiv_id_parse(text)
    if parsed is not None:
        try:
            with fetch.interactive():
                records = arxiv_fetch_ids([parsed.id])
        except TransientHarvestError as exc:
            log.warning("add %s: arXiv failed: %s", parsed.id, exc)
            raise HarvestError("cannot reach arxiv.org; try again later") from exc
        if not records:
            raise HarvestError(f"arXiv has no paper {parsed.id}")
        return paper_upsert(records[0])
    if not text.lower().startswith(("http://", "https://")):
        raise HarvestError("give an arXiv id (2401.01234), an arXiv URL or a web page URL")
    with fetch.interactive():
        record = page_record(text)
    return lab_report_upsert(record)
