"""Fake GitHub and Hugging Face API servers on loopback: real HTTP
over a real socket, answering the REST paths the code watch uses with the real APIs' status
codes, JSON shapes and ETag/304 behaviour."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeHosts:
    """Repositories by "owner/name": GitHub `repos` hold the /repos/{o}/{n} JSON plus
    "releases" and "tags" lists; Hugging Face `models` hold /api/models/{o}/{n} JSON.
    `seen` keeps (path, headers) of each request; `fail` makes a path answer that status."""

    repos: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail: dict[str, int] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def answer(self, path: str) -> tuple[int, Any]:
        if path in self.fail:
            return self.fail[path], {"message": "Server Error"}
        parts = path.split("?")[0].strip("/").split("/")
        if parts[:1] == ["repos"] and len(parts) >= 3:
            repo = self.repos.get(f"{parts[1]}/{parts[2]}")
            if repo is None:
                return 404, {
                    "message": "Not Found",
                    "documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository",
                    "status": "404",
                }
            if len(parts) == 3:
                return 200, {k: v for k, v in repo.items() if k not in ("releases", "tags")}
            return 200, repo.get(parts[3], [])
        if parts[:2] == ["api", "models"] and len(parts) == 4:
            model = self.models.get(f"{parts[2]}/{parts[3]}")
            if model is None:
                return 401, {"error": "Repository Not Found for url"}  # as the Hub answers
            return 200, model
        return 404, {"message": "Not Found"}


def github_repo(full_name: str, *, size: int = 120, stars: int = 3, **extra: Any) -> dict:
    """A /repos/{owner}/{name} answer as GitHub gives it (the fields the watch reads)."""
    owner, name = full_name.split("/")
    return {
        "id": 1,
        "name": name,
        "full_name": full_name,
        "owner": {"login": owner, "type": "Organization"},
        "html_url": f"https://github.com/{full_name}",
        "default_branch": "main",
        "size": size,
        "stargazers_count": stars,
        "pushed_at": "2026-03-02T10:00:00Z",
        "license": {"key": "mit", "name": "MIT License", "spdx_id": "MIT"},
        "releases": [],
        "tags": [],
        **extra,
    }


@contextmanager
def fake_code_hosts() -> Iterator[FakeHosts]:
    fake = FakeHosts()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.seen.append((self.path, dict(self.headers.items())))
            status, payload = fake.answer(self.path)
            body = json.dumps(payload).encode()
            etag = f'W/"{hashlib.sha256(body).hexdigest()[:40]}"'
            if status == 200 and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if status == 200:
                self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
