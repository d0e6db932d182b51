"""Celery side: the app and the thin tasks; the work they schedule is in tracker services."""

from workers.celery import app

__all__ = ["app"]
