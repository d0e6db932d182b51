"""Processes started at once, as the web and Celery workers of a fresh deploy are."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable


def run_together(target: Callable[..., None], *args: object, count: int = 4) -> list[int | None]:
    """Fork `count` processes running `target(*args)` together; their exit codes."""
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=target, args=args) for _ in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return [worker.exitcode for worker in workers]
