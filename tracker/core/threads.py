"""Thread pools that belong to one process."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

_pools: dict[tuple[int, str], ThreadPoolExecutor] = {}


def process_pool(
    name: str, workers: int, initializer: Callable[[], object] | None = None
) -> ThreadPoolExecutor:
    """This process's pool of `workers` threads named `name`, made on first use, and made
    anew in a forked child (a web or worker process), which does not inherit its parent's
    threads."""
    key = (os.getpid(), name)
    if key not in _pools:
        _pools[key] = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=name, initializer=initializer
        )
    return _pools[key]


def process_pool_end(name: str) -> bool:
    """End this process's pool named `name`, once its threads have finished what they
    were given; whether there was one."""
    pool = _pools.pop((os.getpid(), name), None)
    if pool is None:
        return False
    pool.shutdown(wait=True)
    return True
