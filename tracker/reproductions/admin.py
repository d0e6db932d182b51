from django.contrib import admin
from django.db import models

from tracker.papers.admin.lists import URL_INPUT
from tracker.reproductions.models import Claim, Reproduction, ReproductionEvent, ResultLog
from tracker.teams.admin_scope import ScopedModelAdmin


class ReproductionEventInline(admin.TabularInline):
    model = ReproductionEvent
    extra = 0
    readonly_fields = ["actor", "kind", "from_status", "to_status", "note", "at"]


@admin.register(Reproduction)
class ReproductionAdmin(ScopedModelAdmin):
    list_display = ["paper", "team", "status", "due_date", "compute_spent_gpu_hours", "updated_at"]
    list_filter = ["status", "team"]
    raw_id_fields = ["paper"]
    filter_horizontal = ["assignees"]
    list_select_related = ["paper", "team"]
    inlines = [ReproductionEventInline]


@admin.register(Claim)
class ClaimAdmin(ScopedModelAdmin):
    list_display = [
        "paper",
        "team",
        "metric",
        "dataset",
        "claimed_value",
        "higher_is_better",
        "tolerance",
    ]
    list_filter = ["team"]
    raw_id_fields = ["paper"]
    list_select_related = ["paper", "team"]


@admin.register(ResultLog)
class ResultLogAdmin(ScopedModelAdmin):
    # Spelled out so the type checker reads it as the admin's own mapping type.
    formfield_overrides = {models.URLField: URL_INPUT[models.URLField]}
    team_path = "reproduction__team"
    list_display = [
        "claim",
        "reproduction",
        "reproduced_value",
        "spread",
        "logged_by",
        "created_at",
    ]
    raw_id_fields = ["claim", "reproduction"]
    list_select_related = ["claim", "reproduction"]


@admin.register(ReproductionEvent)
class ReproductionEventAdmin(ScopedModelAdmin):
    team_path = "reproduction__team"
    list_display = ["reproduction", "actor", "kind", "from_status", "to_status", "at"]
    raw_id_fields = ["reproduction"]
