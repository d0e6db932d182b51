from django.contrib import admin

from tracker.papers.models import (
    DuplicateCandidate,
    Embedding,
    HarvestRun,
    Paper,
    PaperMerge,
    PaperSource,
    PaperVersion,
    Source,
)


class PaperVersionInline(admin.TabularInline):
    model = PaperVersion
    extra = 0
    fields = ["version", "title", "updated_at_source", "recorded_at"]
    readonly_fields = fields


class PaperSourceInline(admin.TabularInline):
    model = PaperSource
    extra = 0
    fields = ["source", "url", "title", "first_seen_at", "last_seen_at"]
    readonly_fields = fields


@admin.register(Paper)
class PaperAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "arxiv_id",
        "kind",
        "lab",
        "primary_category",
        "version",
        "published_at",
        "hidden",
    ]
    list_filter = ["kind", "hidden", "lab", "primary_category"]
    search_fields = ["=arxiv_id", "title"]
    show_full_result_count = False
    raw_id_fields = ["merged_into"]
    readonly_fields = ["normalized_title", "created_at", "updated_at", "revised_at"]
    inlines = [PaperVersionInline, PaperSourceInline]


class HarvestRunInline(admin.TabularInline):
    model = HarvestRun
    extra = 0
    fields = ["started_at", "finished_at", "status", "fetched", "new", "updated", "error"]
    readonly_fields = fields
    ordering = ["-started_at"]
    max_num = 0

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).order_by("-started_at")


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "lab", "enabled", "interval_minutes", "cursor", "next_run_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "query", "url", "lab"]
    inlines = [HarvestRunInline]


@admin.register(HarvestRun)
class HarvestRunAdmin(admin.ModelAdmin):
    list_display = ["source", "status", "started_at", "finished_at", "fetched", "new", "updated"]
    list_filter = ["status", "source"]
    list_select_related = ["source"]
    readonly_fields = [f.name for f in HarvestRun._meta.fields]


@admin.register(PaperVersion)
class PaperVersionAdmin(admin.ModelAdmin):
    list_display = ["paper", "version", "updated_at_source", "recorded_at"]
    raw_id_fields = ["paper"]
    list_select_related = ["paper"]


@admin.register(PaperSource)
class PaperSourceAdmin(admin.ModelAdmin):
    list_display = ["paper", "source", "url", "first_seen_at"]
    raw_id_fields = ["paper"]
    list_filter = ["source"]
    list_select_related = ["paper", "source"]


@admin.register(Embedding)
class EmbeddingAdmin(admin.ModelAdmin):
    list_display = ["paper", "model_name", "dimension", "created_at"]
    list_filter = ["model_name"]
    raw_id_fields = ["paper"]
    list_select_related = ["paper"]
    exclude = ["vector"]
    show_full_result_count = False


@admin.register(DuplicateCandidate)
class DuplicateCandidateAdmin(admin.ModelAdmin):
    list_display = ["paper_a", "paper_b", "reason", "score", "status", "created_at"]
    list_filter = ["status", "reason"]
    raw_id_fields = ["paper_a", "paper_b"]
    list_select_related = ["paper_a", "paper_b"]


@admin.register(PaperMerge)
class PaperMergeAdmin(admin.ModelAdmin):
    list_display = ["survivor", "merged", "merged_by", "merged_at", "undone_at"]
    raw_id_fields = ["survivor", "merged", "candidate"]
    list_select_related = ["survivor", "merged", "merged_by"]
