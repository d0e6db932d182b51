"""The OAI-PMH client (ListRecords, oai_dc) for backfills past the API's 30,000 cap.

Each page gives its resumptionToken; the tracker stores it after the page commits, so a
killed run resumes where it stopped. arXiv answers 503 with Retry-After as flow control:
honoured.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

from lxml import etree

from pipeline import http
from pipeline.errors import HarvestError
from pipeline.records import PaperRecord, arxiv_id_parse
from pipeline.xml import text_of, xml_parse

log = logging.getLogger(__name__)

OAI = "{http://www.openarchives.org/OAI/2.0/}"
DC = "{http://purl.org/dc/elements/1.1/}"
OAI_DC = "{http://www.openarchives.org/OAI/2.0/oai_dc/}"
GATE = "arxiv"
# 1,000 records a page: a bound far above any real backfill, so a looping token ends.
MAX_PAGES = 10_000


@dataclass
class OaiPage:
    records: list[PaperRecord]
    token: str
    seen: int


def _day(text: str, identifier: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text[:10]), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        raise HarvestError(f"record {identifier}: invalid date {text[:40]!r}") from None


def _author(name: str) -> str:
    """oai_dc writes "Last, First"; the rest of the tracker writes "First Last"."""
    last, sep, first = name.partition(",")
    return f"{first.strip()} {last.strip()}" if sep and first.strip() else name.strip()


def record_from(record: etree._Element) -> PaperRecord | None:
    header = record.find(f"{OAI}header")
    identifier = text_of(header.find(f"{OAI}identifier")) if header is not None else ""
    if header is None or header.get("status") == "deleted":
        return None
    dc = record.find(f"{OAI}metadata/{OAI_DC}dc")
    if dc is None:
        raise HarvestError(f"record {identifier}: no oai_dc metadata")
    parsed = None
    for element in dc.iterfind(f"{DC}identifier"):
        parsed = parsed or arxiv_id_parse(text_of(element))
    parsed = parsed or arxiv_id_parse(identifier.removeprefix("oai:arXiv.org:"))
    if parsed is None:
        raise HarvestError(f"record {identifier!r}: no arXiv id")
    descriptions = [text_of(d) for d in dc.iterfind(f"{DC}description")]
    comment = next(
        (d.removeprefix("Comment: ") for d in descriptions if d.startswith("Comment:")), ""
    )
    abstract = next((d for d in descriptions if not d.startswith("Comment:")), "")
    dates = [_day(text_of(d), identifier) for d in dc.iterfind(f"{DC}date")]
    dates = [d for d in dates if d is not None]
    return PaperRecord(
        arxiv_id=parsed.id,
        # oai_dc lists one date per version: the first is the submission.
        version=len(dates) or None,
        title=text_of(dc.find(f"{DC}title")),
        abstract=abstract,
        comment=comment,
        authors=[_author(text_of(c)) for c in dc.iterfind(f"{DC}creator")],
        published_at=dates[0] if dates else None,
        updated_at=dates[-1] if dates else None,
    )


def page_parse(body: bytes) -> OaiPage:
    root = xml_parse(body, what="OAI-PMH response")
    error = root.find(f"{OAI}error")
    if error is not None:
        code = error.get("code", "")
        if code == "noRecordsMatch":
            return OaiPage([], "", 0)
        raise HarvestError(f"OAI-PMH error {code}: {text_of(error)}")
    listing = root.find(f"{OAI}ListRecords")
    if listing is None:
        raise HarvestError("OAI-PMH response has no ListRecords")
    elements = listing.findall(f"{OAI}record")
    records = [r for r in (record_from(e) for e in elements) if r is not None]
    return OaiPage(records, text_of(listing.find(f"{OAI}resumptionToken")), len(elements))


def oai_page(url: str, params: dict[str, str | int], *, config: http.FetchConfig) -> OaiPage:
    def parse(resp: http.Response) -> OaiPage:
        http.raise_for_status(resp)
        return page_parse(resp.body)

    return http.polite_request(url, params, gate=GATE, config=config, parse=parse)
