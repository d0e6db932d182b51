from django.contrib import admin

from tracker.teams.admin_scope import ScopedModelAdmin
from tracker.triage.models import Comment, Rating, RatingHistory, Skip


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
    list_display = ["paper", "user", "team", "created_at"]
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
