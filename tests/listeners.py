"""Raw TCP listeners on loopback that record whether anything arrived.

A refused fetch must not reach its target at all: these count every connection accepted and
every byte read, whatever the client thought it was talking to. Each one also plays a kind
of port a prober would meet: one that answers HTTP with an error, one that speaks another
protocol, one that accepts connections and never answers, and one that is closed.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

HTTP_500 = (
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\nConnection: close\r\n\r\noops!"
)
SSH_BANNER = b"SSH-2.0-OpenSSH_9.6p1 Debian-4\r\n"


class Listener:
    """Accepts on `host`:0, reads what arrives, then sends `reply` (if any) and closes."""

    def __init__(self, host: str = "127.0.0.1", reply: bytes | None = HTTP_500) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.05)
        self.host = host
        self.port: int = self.sock.getsockname()[1]
        self.reply = reply
        self.connections = 0
        self.received = b""
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            with conn:
                conn.settimeout(0.5)
                with suppress(OSError):
                    if self.reply is not None and self.reply.startswith(b"SSH"):
                        conn.sendall(self.reply)  # such servers speak first
                    self.received += conn.recv(65536)
                    if self.reply is not None and not self.reply.startswith(b"SSH"):
                        conn.sendall(self.reply)

    @property
    def reached(self) -> bool:
        return self.connections > 0 or bool(self.received)

    def __enter__(self) -> Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=2)
        self.sock.close()


@contextmanager
def blackhole() -> Iterator[int]:
    """A port whose connections complete (the kernel's backlog) but are never answered."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def closed_port() -> int:
    """A loopback port that nothing listens on (bound then released)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port
