"""A fake OpenAI-compatible chat-completions server on loopback: real HTTP over a real
socket, answering POST /v1/chat/completions the way vLLM, Ollama and hosted APIs do."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeLLM:
    """What the server answers next: a model reply (`content`), or a raw `status`/`body`,
    after `delay` seconds. `seen` keeps each request's JSON body and headers."""

    content: str = '{"claims": []}'
    status: int = 200
    body: bytes | None = None
    delay: float = 0.0
    seen: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def completion(self, model: str) -> bytes:
        if self.body is not None:
            return self.body
        return json.dumps(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": self.content},
                    }
                ],
            }
        ).encode()


@contextmanager
def fake_llm() -> Iterator[FakeLLM]:
    fake = FakeLLM()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            request = json.loads(self.rfile.read(length) or b"{}")
            fake.seen.append({"path": self.path, "body": request, "headers": dict(self.headers)})
            if fake.delay:
                time.sleep(fake.delay)
            payload = fake.completion(str(request.get("model", "")))
            with suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    host, port = httpd.server_address[:2]
    fake.url = f"http://{host}:{port}/v1"
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()
