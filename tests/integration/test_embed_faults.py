"""A pool of three worker processes embeds 2,000 papers while one is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.db.models import Count

from tests.factories import PaperFactory
from tests.integration.conftest import worker_process
from tracker.papers.embeddings import stored_model_name
from tracker.papers.models import Embedding, Paper

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parent.parent.parent
PAPERS = 2000
CHUNK = 50


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(line) for line in out.stdout.split()]


def _wait(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def test_killed_worker_process_leaves_every_paper_embedded_once(
    redis_url: str, postgres_url: str, tmp_path: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs the PostgreSQL test database")
    from workers import app

    # Titles only: the test is about delivery, not about the model's speed.
    ids = [p.pk for p in PaperFactory.create_batch(PAPERS, abstract="")]
    db = connection.settings_dict
    env = {
        # The worker must see the test database pytest-django made, not the configured one.
        "DATABASE_URL": urlsplit(postgres_url)._replace(path=f"/{db['NAME']}").geturl(),
        "REDIS_URL": redis_url,
        "VAR_DIR": str(tmp_path),
        # The torch encoder loads at once; the onnx one would first be exported in every
        # worker process, a cost that says nothing about delivery.
        "EMBEDDING_BACKEND": "torch",
    }
    args = ["-c", "3", "--loglevel", "WARNING"]
    args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    with worker_process(env, tmp_path / "worker.log", *args, queues="ml") as worker:
        with app.connection_for_write() as conn:
            # Messages left by an earlier aborted run would point at papers that are gone.
            conn.default_channel.queue_purge("ml")
            task = app.tasks["workers.tasks.embed_papers_task"]
            for start in range(0, PAPERS, CHUNK):
                task.apply_async(args=[ids[start : start + CHUNK]], connection=conn)
        model = stored_model_name(backend="torch")
        embedded = Embedding.objects.filter(model_name=model)
        assert _wait(lambda: embedded.count() >= 200, 240), (tmp_path / "worker.log").read_text()[
            -3000:
        ]
        victims = _children(worker.pid)
        assert len(victims) == 3
        os.kill(victims[0], signal.SIGKILL)
        finished = _wait(lambda: embedded.count() >= PAPERS, 240)
        assert finished, f"stalled at {embedded.count()} of {PAPERS}"
        time.sleep(2)  # a late duplicate write would show up now
        per_paper = embedded.values("paper").annotate(n=Count("id")).filter(n__gt=1)
        assert not per_paper.exists()
        assert embedded.count() == Paper.objects.count() == PAPERS
