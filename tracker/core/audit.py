"""The admin history as the audit trail: every curator action is a LogEntry."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest


def acting_user_id(request: HttpRequest) -> int:
    """The id of the signed-in user an admin action is recorded against."""
    # The admin lets only signed-in staff act, so this only guards the type.
    if not request.user.is_authenticated:
        raise PermissionDenied
    return request.user.pk


def audit_log(request: HttpRequest, objects: Iterable[Model], message: str) -> list[Any]:
    """One history entry per object, written in one INSERT, shown on each object's history."""
    return LogEntry.objects.log_actions(
        user_id=acting_user_id(request),
        queryset=list(objects),
        action_flag=CHANGE,
        change_message=message,
    )
