from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import time_machine

from tracker.teams.models import Membership
from workers.celery import app

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Tasks run in the test's thread as soon as they are queued (after commit)."""
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def frozen() -> Iterator[time_machine.Coordinates]:
    # tick: the clock moves on from NOW, so that what happens later is later.
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


def member(user: object, team: object) -> Membership:
    return Membership.objects.select_related("team", "user").get(user=user, team=team)
