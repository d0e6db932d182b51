"""Real Celery workers for integration tests: one on Redis, one on the folder broker."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from celery import Celery
from celery.contrib.testing.worker import start_worker

import workers.tasks  # noqa: F401  (registers the shared tasks)


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
