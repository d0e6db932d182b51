"""The admin history as the audit trail: every curator action is a LogEntry."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.db.models import Model
from django.http import HttpRequest


def audit_log(request: HttpRequest, objects: Iterable[Model], message: str) -> list[Any]:
    """One history entry per object, written in one INSERT, shown on each object's history."""
    return LogEntry.objects.log_actions(
        user_id=request.user.pk, queryset=list(objects), action_flag=CHANGE, change_message=message
    )
