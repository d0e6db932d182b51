"""Plain paper records: what harvesters hand to the upsert services.

Harvesters (arXiv API, OAI-PMH, snapshots, feeds, pasted URLs) know nothing of the
database; they produce these, and the tracker's paper services store them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

# New-style ids (0704.0001, 2401.01234) and old-style ones (hep-th/9901001, math.GT/0309136),
# each with an optional version suffix.
ARXIV_ID_PATTERN = (
    r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v(?P<version>\d+))?"
)
_BARE_ID = re.compile(rf"^(?:arxiv:)?{ARXIV_ID_PATTERN}$", re.IGNORECASE)
_ID_IN_URL = re.compile(rf"arxiv\.org/(?:abs|pdf|html)/{ARXIV_ID_PATTERN}(?:\.pdf)?", re.IGNORECASE)
# "arXiv:2401.01234" or "arXiv 2401.01234" named in text; new-style ids only, so that a
# date or a version number in prose is not taken for an id.
_ID_IN_TEXT = re.compile(r"arxiv[:\s]\s*(?P<id>\d{4}\.\d{4,5})(?:v(?P<version>\d+))?", re.I)


@dataclass(frozen=True)
class ArxivId:
    id: str
    version: int | None


def arxiv_id_parse(text: str) -> ArxivId | None:
    """An arXiv id from a bare id (with or without `arXiv:`) or an arxiv.org URL."""
    text = text.strip()
    match = _BARE_ID.match(text) or _ID_IN_URL.search(text)
    if not match:
        return None
    version = match.group("version")
    return ArxivId(match.group("id"), int(version) if version else None)


def arxiv_ids_in(text: str) -> list[str]:
    """Versionless arXiv ids linked or named anywhere in a text, first seen first."""
    found: dict[str, None] = {}
    for pattern in (_ID_IN_URL, _ID_IN_TEXT):
        for match in pattern.finditer(text):
            found.setdefault(match.group("id"), None)
    return list(found)


@dataclass
class PaperRecord:
    """One paper as a source saw it. `version` None means the source does not say."""

    title: str
    arxiv_id: str | None = None
    version: int | None = None
    url: str = ""
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    primary_category: str = ""
    comment: str = ""
    journal_ref: str = ""
    doi: str = ""
    published_at: datetime | None = None
    updated_at: datetime | None = None
    pdf_url: str = ""
    lab: str = ""
    # Each author's affiliations, in the authors' order, as the source gave them (the arXiv
    # API's <arxiv:affiliation>); empty when the source names none for anyone.
    affiliations: list[list[str]] = field(default_factory=list)

    @property
    def canonical_url(self) -> str:
        if self.arxiv_id:
            return f"https://arxiv.org/abs/{self.arxiv_id}"
        return self.url


# An affiliation longer than this is a pasted address or a sentence: kept, cut short.
AFFILIATION_MAX_CHARS = 200
# More than this many for one author is a list gone wrong; the first ones are kept.
AFFILIATIONS_PER_AUTHOR = 5


def affiliations_clean(per_author: list[list[str]]) -> list[list[str]]:
    """Affiliations ready to store: whitespace folded, empty ones dropped, each author's
    repeats (ignoring case) dropped, each cut to AFFILIATION_MAX_CHARS and at most
    AFFILIATIONS_PER_AUTHOR per author. One list per author, in order; [] when no author
    has any, so that the many papers without affiliations store nothing."""
    cleaned: list[list[str]] = []
    for names in per_author:
        kept: dict[str, str] = {}
        for name in names:
            text = " ".join(name.split())[:AFFILIATION_MAX_CHARS].strip(" ,;")
            if text and len(kept) < AFFILIATIONS_PER_AUTHOR:
                kept.setdefault(text.casefold(), text)
        cleaned.append(list(kept.values()))
    return cleaned if any(cleaned) else []


_NON_WORD = re.compile(r"[^\w]+")


def normalize_title(title: str) -> str:
    """Lower-case, accents and punctuation folded, spaces collapsed: the title match key."""
    folded = unicodedata.normalize("NFKD", title)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", folded.casefold()).strip()[:500]
