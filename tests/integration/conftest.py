"""Real Celery workers for integration tests: one on Redis, one on the folder broker."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker

import workers.tasks  # noqa: F401  (registers the shared tasks)

# Ports for Redis servers that tests start, stop and restart themselves; the shared Redis
# in REDIS_URL is never taken down.
REDIS_PORTS = (18600, 18700)


def celery_app(broker_url: str, result_backend: str, **transport_options: Any) -> Celery:
    app = Celery("tracker-test")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(
        broker_url=broker_url,
        result_backend=result_backend,
        broker_transport_options=transport_options,
        task_always_eager=False,
    )
    app.set_current()
    app.finalize()
    return app


def folder_broker_app(root: Path) -> Celery:
    queue, processed, results = root / "queue", root / "processed", root / "results"
    control = root / "control"
    for folder in (queue, processed, results, control):
        folder.mkdir(parents=True, exist_ok=True)
    return celery_app(
        "filesystem://",
        f"file://{results}",
        data_folder_in=str(queue),
        data_folder_out=str(queue),
        processed_folder=str(processed),
        control_folder=str(control),
    )


@contextmanager
def running_worker(app: Celery, **kwargs: Any) -> Iterator[Any]:
    """A real worker consuming every queue, in a thread of this process."""
    with start_worker(
        app,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        queues=["default", "harvest", "ml", "email"],
        loglevel="WARNING",
        shutdown_timeout=30,
        **kwargs,
    ) as worker:
        yield worker


class OwnRedis:
    """A Redis server of the test's own on a fixed loopback port, so that it can be taken
    down and brought back at the same address while the app and a worker point at it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                # Not persistent, like a cache-sized production Redis: what was queued
                # is lost with the server.
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_timeout=1).ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not come up on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    @contextmanager
    def down_for(self, seconds: float) -> Iterator[None]:
        """Kill the server, run the body while it is down, bring it back after `seconds`."""
        started = time.monotonic()
        self.stop()
        try:
            yield
        finally:
            time.sleep(max(0.0, seconds - (time.monotonic() - started)))
            self.start()


def _free_port(low: int, high: int) -> int:
    for port in range(low, high):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free port in {low}-{high}")


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = OwnRedis(_free_port(REDIS_PORTS[0], REDIS_PORTS[1]))
    server.start()
    yield server
    server.stop()


REPO = Path(__file__).resolve().parent.parent.parent


@contextmanager
def worker_process(
    env: dict[str, str], log: Path, *args: str, queues: str = "default,harvest,ml,email"
) -> Iterator[subprocess.Popen[bytes]]:
    """A real `celery worker` in a process of its own (so that it can be SIGKILLed)."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers", "worker", "-Q", queues, *args],
        cwd=REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "DEBUG": "1", **env},
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    try:
        yield worker
    finally:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def wait_for(condition: Callable[[], object], timeout: float, step: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False
