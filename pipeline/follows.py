"""What a follow matches, and how an outgoing webhook is signed: plain data in and out.

A follow is a kind and a normalised value: an author's name, a lab, a source (its id), a
keyword or phrase, a saved search (its words), a topic (its id) or a seed paper (its
vector, compared by cosine). The tracker turns its rows into `Follow` and `PaperFacts` and
asks `follow_matches`.

Signatures follow the scheme Stripe and GitHub use: HMAC-SHA256 with the webhook's own
secret over `"{timestamp}.{body}"`, sent as `t=<unix seconds>,v1=<hex digest>`. The
timestamp inside the signed text lets a receiver refuse a replayed old delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

AUTHOR, LAB, SOURCE, KEYWORD, SEARCH, TOPIC, PAPER = (
    "author",
    "lab",
    "source",
    "keyword",
    "search",
    "topic",
    "paper",
)
# A new paper this close (cosine of unit vectors) to a seed paper is "more like" it.
SIMILAR_MIN = 0.6
# A receiver should refuse a signature older than this (seconds), as Stripe's libraries do.
SIGNATURE_TOLERANCE = 300


def normalize(kind: str, value: str) -> str:
    """The form a follow is stored and compared in: names and words without case, accents
    or extra spaces ("Yann  LeCun" and "yann lecun" are one follow); ids as they are."""
    if kind in (SOURCE, TOPIC, PAPER):
        return value.strip()
    text = value if value.isascii() else _unaccented(value)  # most text is ASCII: fast
    if kind in (AUTHOR, LAB):
        text = text.replace(".", " ")
    return " ".join(text.casefold().split())


def _unaccented(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=65536)
def author_key(name: str) -> str:
    """An author's name as follows store it; cached, as the same names recur all day."""
    return normalize(AUTHOR, name)


def search_terms(query: str) -> list[str]:
    """A saved search's terms: "quoted phrases" stay whole, other words one by one."""
    terms = [normalize(KEYWORD, phrase) for phrase in re.findall(r'"([^"]+)"', query)]
    rest = re.sub(r'"[^"]*"', " ", query)
    terms += [normalize(KEYWORD, word) for word in re.findall(r"[\w+#.-]+", rest)]
    return [t for t in terms if t.strip(".-")]


@lru_cache(maxsize=4096)
def _word_pattern(term: str) -> re.Pattern[str]:
    # Whole words only ("rag" does not match "fragment"), spaces between words loose.
    words = [re.escape(w) for w in term.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)")


@dataclass(frozen=True)
class Follow:
    key: object  # the caller's id for the follow
    kind: str
    value: str  # normalised
    vector: np.ndarray | None = None  # a seed paper's, for PAPER


@dataclass(frozen=True)
class PaperFacts:
    title: str
    abstract: str
    authors: tuple[str, ...] = ()
    lab: str = ""
    # How the lab was attributed when not by the paper's own record ("arXiv affiliation",
    # "author table"): a lab follow's reason says so.
    lab_evidence: str = ""
    source_ids: frozenset[str] = frozenset()
    topic_ids: frozenset[str] = frozenset()
    vector: np.ndarray | None = None
    paper_id: str = ""
    # Worked out once per paper, not once per follow compared with it.
    text: str = field(init=False, repr=False)  # title and abstract, normalised
    names: frozenset[str] = field(init=False, repr=False)  # the authors, normalised

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", normalize(KEYWORD, f"{self.title}\n{self.abstract}"))
        object.__setattr__(self, "names", frozenset(author_key(n) for n in self.authors))


def follow_matches(follow: Follow, paper: PaperFacts) -> bool:
    """Whether `paper` is news for `follow`. A seed paper never matches itself."""
    if follow.kind == AUTHOR:
        return follow.value in paper.names
    if follow.kind == LAB:
        return bool(paper.lab) and normalize(LAB, paper.lab) == follow.value
    if follow.kind == SOURCE:
        return follow.value in paper.source_ids
    if follow.kind == TOPIC:
        return follow.value in paper.topic_ids
    if follow.kind == KEYWORD:
        return bool(follow.value) and bool(_word_pattern(follow.value).search(paper.text))
    if follow.kind == SEARCH:
        terms = search_terms(follow.value)
        return bool(terms) and all(_word_pattern(t).search(paper.text) for t in terms)
    if follow.kind == PAPER:
        if follow.value == paper.paper_id or follow.vector is None or paper.vector is None:
            return False
        if follow.vector.shape != paper.vector.shape:
            return False  # vectors of two models: not comparable
        return float(np.dot(follow.vector, paper.vector)) >= SIMILAR_MIN
    return False


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the signature header for `body` sent at `timestamp`."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signature_valid(
    secret: str, header: str, body: bytes, now: float, tolerance: int = SIGNATURE_TOLERANCE
) -> bool:
    """What a receiver does: recompute the digest over the header's timestamp and the raw
    body, compare in constant time, and refuse a timestamp out of `tolerance`."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return hmac.compare_digest(expected, f"t={timestamp},v1={parts.get('v1', '')}")
