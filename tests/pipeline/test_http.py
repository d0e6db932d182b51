"""pipeline.http on its own: no settings, no cache, no database; what it needs is passed in."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline import http
from pipeline.errors import HarvestError, RefusedURLError, TransientHarvestError


class _Handler(BaseHTTPRequestHandler):
    statuses: list[int] = []
    seen: list[str] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        status = self.statuses.pop(0) if self.statuses else 200
        body = b"x" * (300 if self.path.startswith("/big") else 2)
        self.send_response(status)
        if status == 503:
            self.send_header("Retry-After", "7")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.statuses = []
    _Handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class RecordingGate:
    """A gate that remembers what it was asked, and opens every other time."""

    def __init__(self) -> None:
        self.takes: list[tuple[str, float]] = []
        self.holds: list[tuple[str, float]] = []

    def take(self, key: str, seconds: float) -> bool:
        self.takes.append((key, seconds))
        return len(self.takes) % 2 == 0

    def hold(self, key: str, seconds: float) -> None:
        self.holds.append((key, seconds))


def test_the_local_gate_gives_one_turn_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(http.time, "monotonic", lambda: now[0])
    gate = http.LocalGate()
    assert gate.take("arxiv", 3.0)
    assert not gate.take("arxiv", 3.0)
    assert gate.take("other", 3.0)
    now[0] += 3.01
    assert gate.take("arxiv", 3.0)
    gate.hold("arxiv", 60.0)
    now[0] += 30
    assert not gate.take("arxiv", 3.0)


def test_requests_wait_at_the_injected_gate_and_share_retry_after(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(http, "sleep", slept.append)
    gate = RecordingGate()
    config = http.FetchConfig(
        polite_interval=2.0, retry_attempts=3, max_retry_after_seconds=5.0, gate=gate
    )
    _Handler.statuses = [503]

    def parse(resp: http.Response) -> bytes:
        http.raise_for_status(resp)
        return resp.body

    body = http.polite_request(
        f"{server}/api", {"q": "x"}, gate="arxiv", config=config, parse=parse
    )

    assert body == b"xx"
    assert _Handler.seen == ["/api?q=x", "/api?q=x"]
    # Each attempt asked the gate for a 2 s turn (the first ask of each was refused).
    assert gate.takes == [("arxiv", 2.0)] * 4
    # The server's Retry-After (7 s) capped at 5 s, held for every process sharing the gate.
    assert gate.holds == [("arxiv", 5.0)]
    assert 5.0 in slept


def test_the_configured_size_cap_and_attempts_are_the_ones_used(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    config = http.FetchConfig(max_bytes=100, polite_interval=0, retry_attempts=2)
    with pytest.raises(HarvestError, match="100-byte cap"):
        http.http_get(f"{server}/big", config=config)
    _Handler.statuses = [500, 500, 500]
    with pytest.raises(TransientHarvestError, match="HTTP 500"):
        http.polite_request(
            f"{server}/api", {}, gate="g", config=config, parse=http.raise_for_status
        )
    assert len(_Handler.seen) == 3  # one capped fetch, then the two attempts configured


def test_private_addresses_follow_the_config_not_the_environment(server: str) -> None:
    with pytest.raises(RefusedURLError, match=http.FETCH_FAILED):
        http.safe_get(f"{server}/page", http.FetchConfig())
    assert _Handler.seen == []
    resp = http.safe_get(f"{server}/page", http.FetchConfig(allow_private=True))
    assert (resp.status, resp.body) == (200, b"xx")
