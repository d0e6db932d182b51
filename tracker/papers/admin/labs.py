"""The author → lab table that gives arXiv papers a lab (tracker.papers.labs)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from tracker.papers.labs import author_labs_suggest
from tracker.papers.models import AuthorLab


@admin.register(AuthorLab)
class AuthorLabAdmin(admin.ModelAdmin):
    """Suggestions come from lab posts; only confirmed rows count."""

    list_display = ("author", "lab", "confirmed", "posts_with_lab", "posts_total", "updated_at")
    list_filter = ("confirmed",)
    search_fields = ("author", "lab")
    actions = ["confirm", "suggest"]

    @admin.action(description="Confirm the selected entries", permissions=["change"])
    def confirm(self, request: HttpRequest, queryset: QuerySet[AuthorLab]) -> None:
        count = queryset.update(confirmed=True, updated_at=timezone.now())
        self.message_user(request, f"{count} entr{'y' if count == 1 else 'ies'} confirmed.")

    @admin.action(description="Suggest entries from lab posts", permissions=["add"])
    def suggest(self, request: HttpRequest, queryset: QuerySet[AuthorLab]) -> None:
        count = author_labs_suggest()
        self.message_user(request, f"{count} suggestion(s) added or updated; confirm them.")
