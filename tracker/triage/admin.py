from django.contrib import admin

from tracker.triage.models import Comment, Rating, RatingHistory, Skip


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ["paper", "user", "team", "value", "updated_at"]
    list_filter = ["team", "value"]
    raw_id_fields = ["paper"]
    list_select_related = ["paper", "user", "team"]


@admin.register(RatingHistory)
class RatingHistoryAdmin(admin.ModelAdmin):
    list_display = ["paper", "user", "team", "value", "reason", "recorded_at"]
    raw_id_fields = ["paper"]
    list_select_related = ["paper", "user", "team"]


@admin.register(Skip)
class SkipAdmin(admin.ModelAdmin):
    list_display = ["paper", "user", "team", "created_at"]
    raw_id_fields = ["paper"]
    list_select_related = ["paper", "user", "team"]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["paper", "user", "team", "created_at"]
    list_filter = ["team"]
    raw_id_fields = ["paper"]
    list_select_related = ["paper", "user", "team"]
