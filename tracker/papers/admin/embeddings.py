"""The curator's stored vectors, by the model that made them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from tracker.papers.models import (
    Embedding,
)


class EmbeddingModelFilter(admin.SimpleListFilter):
    """Current model or not: fixed choices instead of a DISTINCT over every vector."""

    title = "model"
    parameter_name = "model"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("current", settings.EMBEDDING_MODEL), ("other", "Other models")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Embedding]) -> QuerySet[Embedding]:
        if self.value() == "current":
            return queryset.filter(model_name=settings.EMBEDDING_MODEL)
        if self.value() == "other":
            return queryset.exclude(model_name=settings.EMBEDDING_MODEL)
        return queryset


@admin.register(Embedding)
class EmbeddingAdmin(admin.ModelAdmin):
    list_display = ["paper", "model_name", "dimension", "created_at"]
    list_filter = [EmbeddingModelFilter]
    raw_id_fields = ["paper"]
    list_select_related = ["paper"]
    exclude = ["vector"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
