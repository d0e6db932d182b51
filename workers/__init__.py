"""Celery side: the app, the thin tasks, and pipeline code that needs no web request."""

from workers.celery import app

__all__ = ["app"]
