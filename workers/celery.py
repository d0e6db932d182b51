"""The Celery app. Its policy lives in tracker/settings.py under CELERY_*, with the reasons."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")

app = Celery("tracker")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Imported when the worker starts, after Django is set up, so tasks may import models.
app.autodiscover_tasks(["workers"], related_name="tasks")
