"""Gunicorn settings for bench/web.py: a 2-core machine shared with PostgreSQL.

Python runs one thread at a time per process, so CPU parallelism comes from processes:
three keep both cores busy while one of them waits on PostgreSQL, and each more would only
add context switches and another copy of the embedding model and the 100k-row vector
matrix. gthread with four threads per process lets requests that wait on the database
overlap, so 20 clients queue for 12 slots instead of 3.
"""

from __future__ import annotations

from typing import Any

workers = 3
worker_class = "gthread"
threads = 4
loglevel = "warning"
# The clients hold their connections between pages as browsers do; gunicorn's default of
# 2 s closes them while the other clients log in, and the next request meets a reset.
keepalive = 75


def post_worker_init(worker: Any) -> None:
    """Load the embedding model and the vector matrix before the first request, as a
    long-running server would have: the bench measures serving, not a cold start."""
    from django.db import connections

    from tracker.papers.search import search

    search("warm up")
    connections.close_all()
