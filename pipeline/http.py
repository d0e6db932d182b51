"""HTTP fetching with timeouts, a size cap, the arXiv politeness gate and an address check.

Every response body is read in chunks and abandoned past `FetchConfig.max_bytes`, so a
hostile or broken server cannot fill the worker's memory. URLs that people enter (feeds,
pasted pages) go through `safe_get`, which parses each URL once, resolves its host once,
refuses private and loopback addresses unless `allow_private` is on, and connects to the
address it checked, on every redirect; the arXiv endpoints come from configuration and are
trusted.

Nothing here reads settings: the caller passes a `FetchConfig`, whose `gate` spaces
requests to one host across every process that shares it (the tracker passes one backed by
its cache; `LocalGate` serves a single process).
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from dataclasses import dataclass, field
from typing import Protocol, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import requests.utils
import urllib3
from requests.utils import requote_uri

from pipeline.errors import HarvestError, NetworkError, RefusedURLError, TransientHarvestError

T = TypeVar("T")
log = logging.getLogger(__name__)

USER_AGENT = "paper-tracker/0.1 (research paper triage; polite harvester)"
MAX_REDIRECTS = 5
CHUNK = 64 * 1024

# Indirection so tests can record sleeps instead of waiting.
sleep = time.sleep


class Gate(Protocol):
    """Turns at one host shared by every process that shares the gate. Both calls must be
    atomic across those processes; an expiry (not a release) ends a turn, so a killed
    process never holds one."""

    def take(self, key: str, seconds: float) -> bool:
        """Start a turn of `seconds` unless one is running; whether it was started."""
        ...

    def hold(self, key: str, seconds: float) -> None:
        """Keep the gate closed for `seconds` from now, whatever turn is running."""
        ...


class LocalGate:
    """A gate for one process (scripts, tests without a shared cache)."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def take(self, key: str, seconds: float) -> bool:
        now = time.monotonic()
        if self._until.get(key, 0.0) > now:
            return False
        self._until[key] = now + seconds
        return True

    def hold(self, key: str, seconds: float) -> None:
        self._until[key] = time.monotonic() + seconds


@dataclass(frozen=True)
class FetchConfig:
    """How to fetch: the tracker builds one from its settings for each harvest or request."""

    timeout_seconds: float = 20.0
    max_bytes: int = 20 * 1024 * 1024
    allow_private: bool = False
    # Requests through one gate key are at least this far apart (arXiv asks for 3 s).
    polite_interval: float = 3.0
    retry_attempts: int = 4
    retry_delay_seconds: float = 5.0
    max_retry_after_seconds: float = 120.0
    gate: Gate = field(default_factory=LocalGate)


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


# Set while someone waits on the result (a person adding a paper): the monotonic time by
# which every fetch in the block must have answered or failed.
_deadline: ContextVar[float | None] = ContextVar("fetch_deadline", default=None)


@contextmanager
def interactive(seconds: float) -> Iterator[None]:
    """Within this block a person is waiting: one attempt per request, no retry waits, and
    every gate wait and timeout fits in `seconds` in all, so an unreachable server fails in
    seconds instead of after the harvest's retries."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def _time_left() -> float | None:
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def _timeout(config: FetchConfig) -> float:
    """The connect and read timeout of the next request: the configured one, or less when a
    person is waiting and the block's time is running out."""
    left = _time_left()
    if left is None:
        return config.timeout_seconds
    if left <= 0:
        raise NetworkError("out of time")
    return min(config.timeout_seconds, left)


# Socket timeouts do not cover the name lookup, which blocks for as long as the system's
# resolver likes. When a person is waiting, blocking calls run here and are abandoned at the
# deadline; the few threads bound what abandoned lookups can pile up.
_waiting_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fetch-interactive")


def _within_deadline(call: Callable[[], T]) -> T:
    """`call()`, given up at the interactive deadline (TransientHarvestError) if one is set."""
    left = _time_left()
    if left is None:
        return call()
    future = _waiting_pool.submit(copy_context().run, call)
    try:
        return future.result(timeout=max(left, 0.0))
    except FutureTimeout as exc:
        future.cancel()
        raise NetworkError("out of time (name lookup or connection pending)") from exc


def politeness_wait(key: str, interval: float, gate: Gate) -> None:
    """Wait for our turn: at most one request per `interval` seconds across every process
    sharing the gate."""
    if interval <= 0:
        return
    # Bounded: a gate can only be held for `interval` at a time, so this ends.
    deadline = time.monotonic() + 20 * interval + 60
    left = _time_left()
    if left is not None:
        deadline = min(deadline, time.monotonic() + left)
    while not gate.take(key, interval):
        if time.monotonic() > deadline:
            raise TransientHarvestError(f"politeness gate {key!r} stayed closed")
        sleep(min(interval / 4, 0.5))


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
        raise NetworkError(f"response body cut short after {size} bytes: {exc}") from exc
    except requests.exceptions.Timeout as exc:
        raise NetworkError(f"timed out reading the response body: {exc}") from exc
    return b"".join(chunks)


def http_get(
    url: str,
    *,
    config: FetchConfig,
    params: dict[str, str | int] | None = None,
    allow_redirects: bool = True,
) -> Response:
    """GET a trusted endpoint (arXiv, OAI-PMH from configuration) with a timeout and a size
    cap; network failures become TransientHarvestError. User-entered URLs go through
    `safe_get`."""
    limit = config.max_bytes
    timeout = _timeout(config)
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
        raise NetworkError(f"timed out after {timeout:g}s: {url}") from exc
    except requests.exceptions.ConnectionError as exc:
        raise NetworkError(f"connection failed: {exc}") from exc
    except requests.exceptions.RequestException as exc:
        raise HarvestError(f"bad request for {url}: {exc}") from exc
    with resp:
        body = _read_capped(resp, limit)
        return Response(resp.url, resp.status_code, dict(resp.headers), body)


def raise_for_status(resp: Response) -> None:
    """5xx and 429 may pass; other 4xx will not."""
    if resp.status in (429, 503) or resp.status >= 500:
        raise TransientHarvestError(
            f"HTTP {resp.status} from {resp.url}",
            retry_after=retry_after_seconds(resp.headers.get("Retry-After")),
        )
    if resp.status >= 400:
        raise HarvestError(f"HTTP {resp.status} from {resp.url}")


# --- user-entered URLs ----------------------------------------------------------------------

# What a person is told when a URL they entered could not be fetched, whatever the reason: a
# refused address, a closed port, a port that speaks something else and an HTTP error all
# read the same, so the form cannot be used to map the network. The reason goes to the log.
FETCH_FAILED = "could not fetch that URL"


@dataclass(frozen=True)
class Target:
    """A URL taken apart once, by this module: what is resolved and connected is what was
    checked, never a second parser's reading of the same string."""

    url: str
    scheme: str
    host: str  # ASCII (IDNA) name or address literal, without brackets
    port: int
    request_target: str  # path and query, as sent on the request line

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def url_target(url: str) -> Target:
    """Parse a user-entered URL, or raise RefusedURLError saying what is wrong with it.

    Backslashes, spaces, control characters and a user:password@ are refused outright:
    parsers disagree on where such a host ends (`http://127.0.0.1:80\\@8.8.8.8/`), and no
    feed or report needs them. An @ further on (`https://medium.com/@lab/post`) is fine."""
    if "\\" in url or any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        raise RefusedURLError(
            "URLs with a backslash, a space or a control character cannot be fetched"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
        hostname = parts.hostname
    except ValueError as exc:  # a port out of range, an unclosed [IPv6 ...
        raise RefusedURLError(f"not a valid URL: {exc}") from exc
    if "@" in parts.netloc:
        raise RefusedURLError("URLs with a user name or password (user@host) cannot be fetched")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise RefusedURLError("only http and https URLs can be fetched")
    if not hostname:
        raise RefusedURLError("not a valid URL: it names no host")
    host = hostname.split("%", 1)[0]  # an IPv6 zone id is nobody's business on the web
    if ":" not in host:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:  # empty or over-long labels, 300 dots ...
            raise RefusedURLError("not a valid URL: its host name is malformed") from exc
        if len(host) > 253:
            raise RefusedURLError("not a valid URL: its host name is too long")
    path = requote_uri(parts.path or "/")
    target = f"{path}?{requote_uri(parts.query)}" if parts.query else path
    return Target(url, scheme, host, port or (443 if scheme == "https" else 80), target)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries to the same host (mapped, 6to4, Teredo, NAT64)."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _address_refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None and _address_refused(inner):
            return True
    return not ip.is_global or ip.is_multicast


def _resolve(target: Target, allow_private: bool) -> str:
    """The one address this fetch will connect to: the host is resolved once, and unless
    `allow_private` is on every address it has must be public (a name with one private
    address among public ones is refused, not raced)."""
    try:
        infos = _within_deadline(
            lambda: socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        )
    except (OSError, UnicodeError) as exc:
        raise NetworkError(f"cannot resolve {target.host}: {exc}") from exc
    addresses = [str(info[4][0]).split("%", 1)[0] for info in infos]
    if not addresses:
        raise NetworkError(f"{target.host} has no address")
    if not allow_private:
        for address in addresses:
            if _address_refused(ipaddress.ip_address(address)):
                raise RefusedURLError(
                    f"{target.host} is {address}, a private or loopback address; "
                    "set FETCH_ALLOW_PRIVATE to allow it"
                )
    return addresses[0]


def _pool(target: Target, address: str, timeout: float) -> urllib3.HTTPConnectionPool:
    """A pool that connects to `address` and nothing else. Over TLS the certificate is still
    checked against the name in the URL, which is also the SNI sent."""
    limits = urllib3.Timeout(connect=timeout, read=timeout)
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=limits,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=CA_BUNDLE,
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    return urllib3.HTTPConnectionPool(address, target.port, timeout=limits, retries=False)


# Where trusted CAs are read from; a test may point it at its own.
CA_BUNDLE = requests.utils.DEFAULT_CA_BUNDLE_PATH


def _pinned_get(
    target: Target,
    config: FetchConfig,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """One request (a GET unless told) to `target` at the address it was vetted for,
    redirects not followed."""
    limit = config.max_bytes
    address = _resolve(target, config.allow_private)
    pool = _pool(target, address, _timeout(config))
    try:
        resp = pool.urlopen(
            method,
            target.request_target,
            body=body,
            headers={
                "Host": target.host_header,
                "User-Agent": USER_AGENT,
                "Accept": "*/*",
                **(headers or {}),
            },
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise NetworkError(f"{target.url} at {address}: {exc!r}") from exc
    try:
        declared = resp.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise HarvestError(f"{target.url}: {declared} bytes, over the {limit}-byte cap")
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.stream(CHUNK):
            size += len(chunk)
            if size > limit:
                raise HarvestError(f"{target.url}: over the {limit}-byte cap")
            chunks.append(chunk)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise NetworkError(f"{target.url}: body cut short: {exc!r}") from exc
    finally:
        resp.release_conn()
        pool.close()
    return Response(target.url, resp.status, dict(resp.headers), b"".join(chunks))


def safe_get(url: str, config: FetchConfig) -> Response:
    """Fetch a user-entered URL. Each hop is parsed, resolved once, checked and connected at
    the checked address before a byte is sent; redirects are followed here, so each of them
    is too. Every failure that touched the network reads FETCH_FAILED (the reason is logged);
    a URL refused before that says what is wrong with it."""
    target = url_target(url)
    for _ in range(MAX_REDIRECTS + 1):
        try:
            resp = _pinned_get(target, config)
            location = resp.headers.get("Location")
            if resp.status in (301, 302, 303, 307, 308) and location:
                target = url_target(urljoin(target.url, location))
                continue
            raise_for_status(resp)
            return resp
        except HarvestError as exc:
            log.warning("fetch of %s failed: %s", url, exc)
            if isinstance(exc, TransientHarvestError):
                raise TransientHarvestError(FETCH_FAILED, retry_after=exc.retry_after) from exc
            raise type(exc)(FETCH_FAILED) from exc
    log.warning("fetch of %s failed: more than %d redirects", url, MAX_REDIRECTS)
    raise HarvestError(FETCH_FAILED)


def public_url_check(url: str, config: FetchConfig) -> None:
    """Refuse, before anything is stored, a URL that names a private or loopback address
    (unless `allow_private` is on): RefusedURLError for that, NetworkError when its host
    cannot be resolved. Sending checks again, so a name that later resolves elsewhere is
    still refused then."""
    _resolve(url_target(url), config.allow_private)


def safe_post(url: str, body: bytes, headers: dict[str, str], config: FetchConfig) -> Response:
    """POST `body` to a user-entered URL under safe_get's rules: parsed once, resolved once,
    checked and connected at the checked address. The response comes back whatever its
    status, for the caller to judge; a redirect is not followed (a POST that moved is the
    receiver's configuration to fix), and the body read is capped like every other."""
    return _pinned_get(url_target(url), config, method="POST", body=body, headers=headers)


def retry_wait(exc: TransientHarvestError, attempt: int, key: str, config: FetchConfig) -> None:
    """Wait before trying again: the server's Retry-After (shared with every process through
    the gate, and capped), or an exponential backoff."""
    if exc.retry_after is not None:
        wait = min(exc.retry_after, config.max_retry_after_seconds)
        config.gate.hold(key, wait)
    else:
        wait = config.retry_delay_seconds * 2 ** (attempt - 1)
    log.warning("%s; trying again in %.1fs", exc, wait)
    sleep(wait)


def polite_request(
    url: str,
    params: dict[str, str | int],
    *,
    gate: str,
    config: FetchConfig,
    parse: Callable[[Response], T],
) -> T:
    """GET through the politeness gate `gate` and parse; what a retry can fix (network
    errors, 5xx, 429, a transient condition `parse` finds) is tried `retry_attempts` times."""
    # A person waiting gets one attempt: retry waits would keep them for half a minute.
    attempts = 1 if _time_left() is not None else max(1, config.retry_attempts)
    for attempt in range(1, attempts + 1):
        try:
            politeness_wait(gate, config.polite_interval, config.gate)
            return parse(_within_deadline(lambda: http_get(url, config=config, params=params)))
        except TransientHarvestError as exc:
            if attempt == attempts:
                raise
            retry_wait(exc, attempt, gate, config)
    raise AssertionError("unreachable")
