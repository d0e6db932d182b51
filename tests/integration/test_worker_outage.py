"""A real worker process rides out Redis outages: it reconnects, and never exits."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from celery import Celery

from tests.integration.conftest import OwnRedis, celery_app, wait_for, worker_process
from tracker.core.heartbeat import HEARTBEAT_KEY

pytestmark = [pytest.mark.integration]

OUTAGES = 3


def _beat(app: Celery, own: OwnRedis, hostname: str) -> bool:
    """Send a heartbeat task; True once the worker ran it (its stamp is in Redis)."""
    app.tasks["workers.tasks.record_heartbeat_task"].apply_async(args=[hostname])
    client = redis.Redis(port=own.port)
    return wait_for(lambda: hostname.encode() in (client.get(f":1:{HEARTBEAT_KEY}") or b""), 60)


def test_worker_reconnects_after_each_redis_outage_and_keeps_running(
    own_redis: OwnRedis, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    app = celery_app(own_redis.url, own_redis.url)
    # Gossip, mingle and heartbeats on, as in production: the crash came from them.
    with worker_process(
        {"REDIS_URL": own_redis.url, "VAR_DIR": str(tmp_path)}, log, "-c", "1", "-l", "INFO"
    ) as worker:
        assert _beat(app, own_redis, "before"), log.read_text()[-3000:]
        for outage in range(OUTAGES):
            with own_redis.down_for(4):
                pass
            assert worker.poll() is None, log.read_text()[-3000:]
            assert _beat(app, own_redis, f"after-{outage}"), log.read_text()[-3000:]
        assert worker.poll() is None
    assert "Unrecoverable error" not in log.read_text()
