"""The Celery app. Its policy lives in tracker/settings.py under CELERY_*, with the reasons."""

from __future__ import annotations

import gc
import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")

app = Celery("tracker")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Imported when the worker starts, after Django is set up, so tasks may import models.
app.autodiscover_tasks(["workers"], related_name="tasks")


@signals.worker_init.connect
def freeze_what_is_loaded(**_: Any) -> None:
    """Everything the worker loaded before its pool forks (Django, Celery, the tasks and
    their libraries) is frozen out of the garbage collector's sight, as a web worker's is
    (gunicorn.conf.py). A full collection in a child otherwise walks every one of those
    objects in the middle of a task, and writing their collector state copies the
    parent's pages that the child shares, for each child the pool starts again after
    CELERY_WORKER_MAX_TASKS_PER_CHILD tasks."""
    gc.collect()
    gc.freeze()
