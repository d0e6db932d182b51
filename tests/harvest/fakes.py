"""Fake servers on loopback: real HTTP over a real socket, replaying recorded responses.

`FakeServer` answers each request from a responder, unless a fault is queued for that
request. `ArxivListing` serves recorded arXiv entries the way the API does: sorted by last
update (newest first), sliced by start/max_results, or looked up by id_list.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from lxml import etree

ATOM = "{http://www.w3.org/2005/Atom}"
FIXTURES_2026 = Path("arxiv_api") / "lukasschwab_arxiv.py" / "fixtures_2026"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # "normal", "reset" (TCP RST), "truncate" (half the declared body), "hang" (sleep first)
    action: str = "normal"
    delay: float = 0.0


@dataclass
class Request:
    path: str
    params: dict[str, str]


Responder = Callable[[Request], Reply]


class FakeServer:
    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[Request] = []
        # Faults keyed by a predicate; each is served `times` times (None: always).
        self.faults: list[tuple[Callable[[Request], bool], Reply, int | None]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                request = Request(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()})
                reply = server.reply_for(request)
                with suppress(BrokenPipeError, ConnectionResetError):
                    server.send(self, reply)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def fault(
        self, reply: Reply, *, when: Callable[[Request], bool] | None = None, times: int | None = 1
    ) -> None:
        with self.lock:
            self.faults.append((when or (lambda r: True), reply, times))

    def reply_for(self, request: Request) -> Reply:
        with self.lock:
            self.requests.append(request)
            for index, (when, reply, times) in enumerate(self.faults):
                if when(request):
                    if times is not None:
                        if times <= 1:
                            self.faults.pop(index)
                        else:
                            self.faults[index] = (when, reply, times - 1)
                    return reply
        return self.responder(request)

    def send(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        if reply.action == "reset":
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.connection.close()
            handler.close_connection = True
            return
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(reply.body)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        if reply.action == "truncate":
            handler.wfile.write(reply.body[: len(reply.body) // 2])
            handler.wfile.flush()
            handler.connection.shutdown(socket.SHUT_RDWR)
            handler.close_connection = True
            return
        handler.wfile.write(reply.body)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- arXiv ----------------------------------------------------------------------------------


def recorded(shared_data: Path, name_prefix: str) -> dict[str, object]:
    folder = shared_data / FIXTURES_2026
    path = next(folder.glob(f"{name_prefix}*.json"))
    return json.loads(path.read_text(encoding="utf-8"))


def recorded_entries(shared_data: Path, pattern: str = "q_testing_*.json") -> list[bytes]:
    """Entries of recorded responses, one per versionless id (the newest version seen)."""
    by_id: dict[str, tuple[int, bytes]] = {}
    for path in sorted((shared_data / FIXTURES_2026).glob(pattern)):
        body = json.loads(path.read_text(encoding="utf-8"))["body"].encode()
        for entry in etree.fromstring(body).iterfind(f"{ATOM}entry"):
            full = entry.findtext(f"{ATOM}id").rsplit("/abs/", 1)[1]
            base, _, version = full.rpartition("v")
            if int(version) >= by_id.get(base, (0, b""))[0]:
                by_id[base] = (int(version), etree.tostring(entry))
    return [entry for _, entry in by_id.values()]


def entry_updated(entry: bytes) -> datetime:
    text = etree.fromstring(entry).findtext(f"{ATOM}updated")
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def entry_id(entry: bytes) -> tuple[str, int]:
    full = etree.fromstring(entry).findtext(f"{ATOM}id").rsplit("/abs/", 1)[1]
    base, _, version = full.rpartition("v")
    return base, int(version)


def feed(entries: list[bytes], *, total: int, start: int) -> bytes:
    head = (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
        "<id>https://arxiv.org/api/fake</id><title>arXiv Query</title>"
        "<updated>2026-04-12T22:45:06Z</updated>\n"
        f"<opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>\n"
        f"<opensearch:totalResults>{total}</opensearch:totalResults>\n"
        f"<opensearch:startIndex>{start}</opensearch:startIndex>\n"
    )
    return head.encode() + b"\n".join(entries) + b"\n</feed>\n"


class ArxivListing:
    """The API over a list of entries: newest update first, sliced like the real thing."""

    def __init__(self, entries: list[bytes]) -> None:
        self.entries = list(entries)

    def replace(self, entries: list[bytes]) -> None:
        self.entries = list(entries)

    def sorted(self) -> list[bytes]:
        return sorted(self.entries, key=entry_updated, reverse=True)

    def __call__(self, request: Request) -> Reply:
        if request.params.get("id_list"):
            wanted = set(request.params["id_list"].split(","))
            found = [e for e in self.entries if entry_id(e)[0] in wanted]
            return Reply(body=feed(found, total=len(found), start=0))
        start = int(request.params.get("start", 0))
        size = int(request.params.get("max_results", 10))
        listing = self.sorted()
        return Reply(body=feed(listing[start : start + size], total=len(listing), start=start))


@contextmanager
def arxiv_server(entries: list[bytes]) -> Iterator[tuple[FakeServer, ArxivListing]]:
    listing = ArxivListing(entries)
    with FakeServer(listing) as server:
        yield server, listing
