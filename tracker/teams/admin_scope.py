"""Admin querysets scoped to the teams a curator curates; superusers see every team."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import ForeignKey, QuerySet
from django.http import HttpRequest

from tracker.teams.access import curated_team_ids
from tracker.teams.models import Team


class TeamScopedAdminMixin:
    """For ModelAdmins of team-owned rows: a curator reads and picks only their teams' rows.

    `team_path` is the lookup from the model to its team (`team`, `reproduction__team`).
    """

    team_path = "team"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset(request)  # type: ignore[misc]
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.team_path}__in": curated_team_ids(request)})

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> Any:
        if db_field.related_model is Team and not request.user.is_superuser:
            kwargs["queryset"] = Team.objects.filter(pk__in=curated_team_ids(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


class ScopedModelAdmin(TeamScopedAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    pass
