"""Checks a source before it is saved, and asks the harvest worker to run it now.

`source_check` tries what a harvest would do, in the small: one result from the arXiv API
for a query, one fetch of a feed URL. URLs come from an admin form, so the fetch refuses
private and loopback addresses (unless FETCH_ALLOW_PRIVATE), follows redirects only after
checking each hop, and stops reading at FETCH_MAX_BYTES. The address check resolves the
name before requests connects; a name whose answer changes in between (DNS rebinding) is
not covered here, since pinning the connection to the checked address needs a transport
of its own.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import feedparser
import requests
from celery import current_app
from defusedxml import ElementTree
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from tracker.papers.models import Source, SourceKind

HARVEST_TASK = "workers.tasks.harvest_source_task"
MAX_REDIRECTS = 5
_ATOM = "{http://www.w3.org/2005/Atom}"
_USER_AGENT = "paper-tracker source check"


class FetchError(Exception):
    """The URL could not be fetched safely; the message says why, for the curator."""


def _check_address(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"Only http and https URLs can be fetched, not {url!r}.")
    if settings.FETCH_ALLOW_PRIVATE:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchError(f"Cannot resolve {parts.hostname}: {exc.strerror}.") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise FetchError(f"{parts.hostname} resolves to a private address ({address}).")


def safe_fetch(url: str, params: dict[str, str | int] | None = None) -> bytes:
    """GET a URL with the timeouts, size cap and address rules above; the body as bytes."""
    for _ in range(MAX_REDIRECTS + 1):
        _check_address(url)
        try:
            response = requests.get(
                url,
                params=params,
                timeout=settings.FETCH_TIMEOUT_SECONDS,
                stream=True,
                allow_redirects=False,
                headers={"User-Agent": _USER_AGENT},
            )
        except requests.RequestException as exc:
            raise FetchError(f"Could not fetch {url}: {exc.__class__.__name__}.") from exc
        with response:
            if response.is_redirect:
                url, params = urljoin(url, response.headers["Location"]), None
                continue
            if response.status_code >= 400:
                raise FetchError(f"{url} answered HTTP {response.status_code}.")
            body = bytearray()
            for chunk in response.iter_content(64 * 1024):
                body.extend(chunk)
                if len(body) > settings.FETCH_MAX_BYTES:
                    raise FetchError(f"{url} is larger than {settings.FETCH_MAX_BYTES} bytes.")
            return bytes(body)
    raise FetchError(f"{url} redirects more than {MAX_REDIRECTS} times.")


def _check_arxiv_query(query: str) -> None:
    try:
        body = safe_fetch(
            settings.ARXIV_API_URL, {"search_query": query, "start": 0, "max_results": 1}
        )
        root = ElementTree.fromstring(body)
    except FetchError as exc:
        raise ValidationError({"query": str(exc)}) from exc
    except ElementTree.ParseError as exc:
        raise ValidationError({"query": "The arXiv API did not answer with a feed."}) from exc
    # A bad query is answered with HTTP 200 and a single entry titled "Error".
    for entry in root.iter(f"{_ATOM}entry"):
        if (entry.findtext(f"{_ATOM}title") or "").strip() == "Error":
            summary = (entry.findtext(f"{_ATOM}summary") or "").strip()
            raise ValidationError({"query": f"arXiv rejects this query: {summary}"})


def _check_feed(url: str) -> None:
    try:
        body = safe_fetch(url)
    except FetchError as exc:
        raise ValidationError({"url": str(exc)}) from exc
    parsed = feedparser.parse(body)
    if not parsed.entries and not parsed.feed.get("title"):
        raise ValidationError({"url": "This URL is not an RSS or Atom feed."})


def source_check(source: Source) -> None:
    """Raise ValidationError, keyed by the offending field, if a harvest of it would fail."""
    if source.kind == SourceKind.ARXIV:
        if not source.query.strip():
            raise ValidationError({"query": "An arXiv source needs a query."})
        _check_arxiv_query(source.query)
    elif source.kind == SourceKind.FEED:
        if not source.url:
            raise ValidationError({"url": "A feed source needs its URL."})
        _check_feed(source.url)
    elif source.kind == SourceKind.OAI and not source.oai_set.strip():
        raise ValidationError({"oai_set": "An OAI-PMH source needs its set, e.g. cs."})


def source_harvest_enqueue(source: Source) -> None:
    """Ask the harvest worker to run this source now, once the current transaction commits."""
    source_id = source.pk
    transaction.on_commit(
        lambda: current_app.send_task(HARVEST_TASK, args=[source_id], queue="harvest")
    )
