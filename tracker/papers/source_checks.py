"""Checks a source before it is saved, the way its harvest would run, in the small.

One result from the arXiv API for a query, one fetch of a feed URL, through the harvest's
own fetch code: the same address rules (no private or loopback addresses unless
FETCH_ALLOW_PRIVATE; each hop resolved once and connected at the address checked), timeouts
and size cap, and the same one message for a feed URL that could not be fetched.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from pipeline.errors import HarvestError
from tracker.papers.harvest import arxiv_query_validate, feed_url_validate
from tracker.papers.models import Source, SourceKind


def source_check(source: Source) -> None:
    """Raise ValidationError, keyed by the offending field, if a harvest of it would fail."""
    if source.kind == SourceKind.ARXIV:
        if not source.query.strip():
            raise ValidationError({"query": "An arXiv source needs a query."})
        try:
            arxiv_query_validate(source.query)
        except HarvestError as exc:
            raise ValidationError({"query": f"arXiv rejects this query: {exc}"}) from exc
    elif source.kind == SourceKind.FEED:
        if not source.url:
            raise ValidationError({"url": "A feed source needs its URL."})
        try:
            feed_url_validate(source.url)
        except HarvestError as exc:
            raise ValidationError({"url": str(exc)}) from exc
    elif source.kind == SourceKind.OAI and not source.oai_set.strip():
        raise ValidationError({"oai_set": "An OAI-PMH source needs its set, e.g. cs."})
