from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from tracker.teams.admin_scope import ScopedModelAdmin
from tracker.teams.models import Membership
from tracker.triage.models import Assignment, Comment, Rating, RatingHistory, Skip
from tracker.triage.sharing import assignment_reassign


@admin.register(Rating)
class RatingAdmin(ScopedModelAdmin):
    list_display = ["paper", "user", "team", "value", "updated_at"]
    list_filter = ["team", "value"]
    raw_id_fields = ["paper"]
    list_select_related = ["paper", "user", "team"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


@admin.register(RatingHistory)
class RatingHistoryAdmin(ScopedModelAdmin):
    list_display = ["paper", "user", "team", "value", "reason", "recorded_at"]
    list_filter = ["reason"]
    raw_id_fields = ["paper"]
    list_select_related = ["paper", "user", "team"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


@admin.register(Skip)
class SkipAdmin(ScopedModelAdmin):
    list_display = ["paper", "user", "team", "not_interested", "created_at"]
    raw_id_fields = ["paper"]
    list_select_related = ["paper", "user", "team"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


@admin.register(Comment)
class CommentAdmin(ScopedModelAdmin):
    list_display = ["paper", "user", "team", "created_at"]
    list_filter = ["team"]
    raw_id_fields = ["paper"]
    list_select_related = ["paper", "user", "team"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


class AssignmentForm(forms.ModelForm):
    class Meta:
        model = Assignment
        fields = ["team", "paper", "user"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        team = cleaned.get("team") or getattr(self.instance, "team", None)
        user = cleaned.get("user")
        if (
            team is not None
            and user is not None
            and not Membership.objects.filter(team=team, user=user).exists()
        ):
            raise ValidationError("That person is not a member of the team.")
        return cleaned


@admin.register(Assignment)
class AssignmentAdmin(ScopedModelAdmin):
    """A curator moves a share by changing its reader (to a member of the same team)."""

    form = AssignmentForm

    list_display = ["paper", "user", "team", "assigned_at", "affinity"]
    list_filter = ["team"]
    raw_id_fields = ["paper"]
    list_select_related = ["paper", "user", "team"]
    readonly_fields = ["affinity", "assigned_at"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # An existing share changes its reader only; team and paper stay.
        return [*self.readonly_fields, "team", "paper"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Assignment, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        # The form checked the reader; the service stamps the new start of their day.
        assignment_reassign(assignment=Assignment.objects.get(pk=obj.pk), to_user=obj.user)
