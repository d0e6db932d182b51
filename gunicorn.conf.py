"""Gunicorn settings for the web process: the Dockerfile, docker-compose.yml and
bench/web.py all start it with these (gunicorn reads ./gunicorn.conf.py by itself).

Python runs one thread at a time per process, so CPU parallelism comes from processes
(WEB_WORKERS, about one per core plus one); each process also holds a copy of the
embedding model and of the vector matrix search reads. Threads (WEB_THREADS) let requests
that wait on PostgreSQL overlap within a process. On two cores, 3 x 4 answered 20
clients' pages with the lowest p95 of the shapes measured (3 x 4, 2 x 6, 4 x 3, 6 x 2).
"""

from __future__ import annotations

import logging
import os
from typing import Any

# One BLAS/torch thread per web process: several processes share the cores, and a short
# question's encoding and the similarity product are latency-bound (threads only queue).
# Set before a worker imports torch.
os.environ.setdefault("OMP_NUM_THREADS", "1")

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_WORKERS", "3"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 60
# Browsers hold their connection between pages; gunicorn's default of 2 s closes it under
# them and the next page pays for a new one.
keepalive = 75


def post_worker_init(worker: Any) -> None:
    """Load the embedding model and the vector matrix before the first request, so that
    the first search after a deploy is not the one that waits for them.

    Then everything loaded so far (Django, the model and its libraries: about 400,000
    objects) is frozen out of the garbage collector's sight. Each of its full collections
    otherwise walked them all, a pause of about 190 ms in whichever request set it off:
    the slowest of 40 searches at a million papers."""
    import gc

    from django.db import connections

    from tracker.search.fusion import search

    try:
        search("warm up")
    except Exception:  # an empty or not yet migrated database: the first search loads them
        logging.getLogger(__name__).warning("search warm-up skipped", exc_info=True)
    finally:
        connections.close_all()
        gc.collect()
        gc.freeze()
