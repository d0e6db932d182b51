"""Admin querysets scoped to the teams a curator curates; superusers see every team."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth import get_user_model
from django.db.models import ForeignKey, QuerySet
from django.http import HttpRequest

from tracker.teams.access import curated_team_ids, curated_users
from tracker.teams.models import Team


class TeamScopedAdminMixin:
    """For ModelAdmins of team-owned rows: a curator reads and picks only their teams' rows.

    `team_path` is the lookup from the model to its team (`team`, `reproduction__team`).
    """

    team_path = "team"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # A mixin: super() is ModelAdmin at runtime, which mypy cannot see from here.
        queryset: QuerySet[Any] = super().get_queryset(request)  # type: ignore[misc]
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.team_path}__in": curated_team_ids(request)})

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> Any:
        if not request.user.is_superuser:
            if db_field.related_model is Team:
                kwargs["queryset"] = Team.objects.filter(pk__in=curated_team_ids(request))
            elif db_field.related_model is get_user_model():
                # Otherwise a curator could add any account by id and then read it.
                kwargs["queryset"] = curated_users(request)
        # super() is ModelAdmin at runtime, as above.
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def get_list_filter(self, request: HttpRequest) -> list[Any] | tuple[Any, ...]:
        # super() is ModelAdmin at runtime, as above.
        filters: list[Any] | tuple[Any, ...] = super().get_list_filter(request)  # type: ignore[misc]
        if request.user.is_superuser:
            return filters
        # A related filter lists every row of its model, other teams' names included; for
        # a curator it lists only what the rows they may see point to. (`self.model` comes
        # from ModelAdmin, which the mixin cannot name as a base.)
        return [
            (name, admin.RelatedOnlyFieldListFilter)
            if isinstance(name, str) and get_fields_from_path(self.model, name)[-1].is_relation  # type: ignore[attr-defined]  # self.model
            else name
            for name in filters
        ]


class ScopedModelAdmin(TeamScopedAdminMixin, admin.ModelAdmin):
    pass
