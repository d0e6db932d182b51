"""Thin tasks: each takes ids, loads rows, calls one domain function, and owns its retries."""

from __future__ import annotations

from celery import shared_task

from tracker.core.heartbeat import heartbeat_record


@shared_task(name="workers.tasks.record_heartbeat_task")
def record_heartbeat_task(hostname: str = "") -> str:
    """Beat sends this every minute; /health/ reports when a worker last ran one."""
    return heartbeat_record(hostname)
