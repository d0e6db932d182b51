from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tracker.teams.selectors import current_membership


def current_team(request: HttpRequest) -> dict[str, Any]:
    membership = current_membership(request)
    return {
        "current_membership": membership,
        "current_team": membership.team if membership else None,
    }
