"""HTTP fetching with timeouts, a size cap, the arXiv politeness gate and an address check.

Every response body is read in chunks and abandoned past FETCH_MAX_BYTES, so a hostile or
broken server cannot fill the worker's memory. URLs that people enter (feeds, pasted
pages) go through `safe_get`, which refuses private and loopback addresses unless
FETCH_ALLOW_PRIVATE is on; the arXiv endpoints come from settings and are trusted.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from django.core.cache import cache

from workers.harvest.errors import HarvestError, RefusedURLError, TransientHarvestError

T = TypeVar("T")
log = logging.getLogger(__name__)

USER_AGENT = "paper-tracker/0.1 (research paper triage; polite harvester)"
MAX_REDIRECTS = 5
CHUNK = 64 * 1024

# Indirection so tests can record sleeps instead of waiting.
sleep = time.sleep


@dataclass
class Response:
    url: str
    status: int
    headers: dict[str, str]
    body: bytes


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def politeness_wait(key: str = "arxiv", interval: float | None = None) -> None:
    """Wait for our turn: at most one request per `interval` seconds across every process
    sharing the cache. `cache.add` is atomic on Redis and on the database cache, and the
    key's expiry is what releases the next turn, so a killed process never holds it."""
    interval = settings.ARXIV_DELAY_SECONDS if interval is None else interval
    if interval <= 0:
        return
    gate = f"politeness-gate:{key}"
    # Bounded: a gate can only be held for `interval` at a time, so this ends.
    deadline = time.monotonic() + 20 * interval + 60
    while not cache.add(gate, "1", timeout=interval):
        if time.monotonic() > deadline:
            raise TransientHarvestError(f"politeness gate {key!r} stayed closed")
        sleep(min(interval / 4, 0.5))


def politeness_hold(key: str, seconds: float) -> None:
    """After a 503/429 with Retry-After, keep every process sharing the cache waiting too."""
    cache.set(f"politeness-gate:{key}", "1", timeout=seconds)


def _read_capped(resp: requests.Response, limit: int) -> bytes:
    declared = resp.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HarvestError(f"response is {int(declared)} bytes, over the {limit}-byte cap")
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in resp.iter_content(CHUNK):
            size += len(chunk)
            if size > limit:
                raise HarvestError(f"response exceeds the {limit}-byte cap")
            chunks.append(chunk)
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError) as exc:
        raise TransientHarvestError(f"response body cut short after {size} bytes: {exc}") from exc
    except requests.exceptions.Timeout as exc:
        raise TransientHarvestError(f"timed out reading the response body: {exc}") from exc
    return b"".join(chunks)


def http_get(
    url: str,
    *,
    params: dict[str, str | int] | None = None,
    allow_redirects: bool = True,
    max_bytes: int | None = None,
    check_peer: bool = False,
) -> Response:
    """GET with a timeout and a size cap; network failures become TransientHarvestError.

    `check_peer` refuses the response, before its body is read, when the address actually
    connected to is private: a name that resolved to a public address for `url_check` and
    to a private one a moment later (DNS rebinding) is caught here.
    """
    limit = settings.FETCH_MAX_BYTES if max_bytes is None else max_bytes
    timeout = settings.FETCH_TIMEOUT_SECONDS
    try:
        resp = requests.get(
            url,
            params=params,
            timeout=(timeout, timeout),
            stream=True,
            allow_redirects=allow_redirects,
            headers={"User-Agent": USER_AGENT},
        )
    except requests.exceptions.Timeout as exc:
        raise TransientHarvestError(f"timed out after {timeout:g}s: {url}") from exc
    except requests.exceptions.ConnectionError as exc:
        raise TransientHarvestError(f"connection failed: {exc}") from exc
    except requests.exceptions.RequestException as exc:
        raise HarvestError(f"bad request for {url}: {exc}") from exc
    with resp:
        if check_peer and not settings.FETCH_ALLOW_PRIVATE:
            _peer_check(resp)
        body = _read_capped(resp, limit)
        return Response(resp.url, resp.status_code, dict(resp.headers), body)


def _peer_check(resp: requests.Response) -> None:
    try:
        peer = resp.raw._fp.fp.raw._sock.getpeername()[0]
    except (AttributeError, OSError):
        # Not exposed by this urllib3 (or through a proxy): url_check already vetted the name.
        return
    ip = ipaddress.ip_address(str(peer).split("%")[0])
    if _address_refused(ip):
        raise RefusedURLError(
            f"{resp.url} connected to {ip}, a private or loopback address; "
            "set FETCH_ALLOW_PRIVATE to allow it"
        )


def raise_for_status(resp: Response) -> None:
    """5xx and 429 may pass; other 4xx will not."""
    if resp.status in (429, 503) or resp.status >= 500:
        raise TransientHarvestError(
            f"HTTP {resp.status} from {resp.url}",
            retry_after=retry_after_seconds(resp.headers.get("Retry-After")),
        )
    if resp.status >= 400:
        raise HarvestError(f"HTTP {resp.status} from {resp.url}")


def _address_refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def url_check(url: str) -> None:
    """Refuse what a user-entered URL must not reach. Every address the host resolves to is
    checked, so a public name pointing at 127.0.0.1 or 10.x is refused as well."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedURLError(f"only http and https URLs can be fetched: {url!r}")
    if settings.FETCH_ALLOW_PRIVATE:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise TransientHarvestError(f"cannot resolve {parts.hostname}: {exc}") from exc
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if _address_refused(ip):
            raise RefusedURLError(
                f"{parts.hostname} resolves to {ip}, a private or loopback address; "
                "set FETCH_ALLOW_PRIVATE to allow it"
            )


def safe_get(url: str) -> Response:
    """Fetch a user-entered URL: address check on the URL and on every redirect."""
    for _ in range(MAX_REDIRECTS + 1):
        url_check(url)
        resp = http_get(url, allow_redirects=False, check_peer=True)
        location = resp.headers.get("Location")
        if resp.status in (301, 302, 303, 307, 308) and location:
            url = urljoin(url, location)
            continue
        raise_for_status(resp)
        return resp
    raise HarvestError(f"more than {MAX_REDIRECTS} redirects from {url}")


def retry_wait(exc: TransientHarvestError, attempt: int, gate: str) -> None:
    """Wait before trying again: the server's Retry-After (shared with every process through
    the gate, and capped), or an exponential backoff."""
    if exc.retry_after is not None:
        wait = min(exc.retry_after, settings.HARVEST_MAX_RETRY_AFTER_SECONDS)
        politeness_hold(gate, wait)
    else:
        wait = settings.HARVEST_RETRY_DELAY_SECONDS * 2 ** (attempt - 1)
    log.warning("%s; trying again in %.1fs", exc, wait)
    sleep(wait)


def polite_request(
    url: str,
    params: dict[str, str | int],
    *,
    gate: str,
    parse: Callable[[Response], T],
) -> T:
    """GET through the politeness gate and parse; what a retry can fix (network errors,
    5xx, 429, a transient condition `parse` finds) is tried HARVEST_RETRY_ATTEMPTS times."""
    attempts = max(1, settings.HARVEST_RETRY_ATTEMPTS)
    for attempt in range(1, attempts + 1):
        try:
            politeness_wait(gate)
            return parse(http_get(url, params=params))
        except TransientHarvestError as exc:
            if attempt == attempts:
                raise
            retry_wait(exc, attempt, gate)
    raise AssertionError("unreachable")
