"""The curator's sources (feeds, arXiv categories, OAI sets) and their harvest runs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from tracker.core.audit import audit_log
from tracker.papers.admin.lists import URL_INPUT
from tracker.papers.models import (
    HarvestRun,
    Source,
)
from tracker.papers.services import source_harvest_enqueue
from tracker.papers.source_checks import source_check


class SourceForm(forms.ModelForm):
    CHECKED_FIELDS = ("kind", "query", "url", "oai_set")
    url = forms.URLField(
        max_length=1000,
        required=False,
        assume_scheme="https",
        help_text=Source._meta.get_field("url").help_text,
    )

    class Meta:
        model = Source
        fields = [
            "name",
            "kind",
            "query",
            "url",
            "lab",
            "oai_set",
            "enabled",
            "interval_minutes",
            "window_days",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if self.errors:
            return cleaned
        # Tried against the network only when what a harvest would fetch changed.
        if self.instance.pk and not set(self.CHECKED_FIELDS) & set(self.changed_data):
            return cleaned
        probe = Source(**{name: cleaned.get(name) or "" for name in self.CHECKED_FIELDS})
        source_check(probe)
        return cleaned


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    form = SourceForm
    formfield_overrides = URL_INPUT
    list_display = ["name", "kind", "lab", "enabled", "interval_minutes", "last_run", "next_run_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "query", "url", "lab"]
    readonly_fields = ["cursor", "next_run_at", "recent_runs"]
    actions = ["enable", "disable", "harvest_now"]
    change_form_template = "admin/papers/source/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Source]:
        # The newest run's status and error, joined in: no query per source row.
        latest = HarvestRun.objects.filter(source=OuterRef("pk")).order_by("-started_at")
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_status=Subquery(latest.values("status")[:1]),
                last_started=Subquery(latest.values("started_at")[:1]),
                last_error=Subquery(latest.values("error")[:1]),
            )
        )

    @admin.display(description="last run")
    def last_run(self, source: Source) -> str:
        status = getattr(source, "last_status", None)
        if status is None:
            return "never"
        started = getattr(source, "last_started", None)
        error = (getattr(source, "last_error", "") or "")[:80]
        text = f"{status} {started:%Y-%m-%d %H:%M}" if started else status
        return f"{text}: {error}" if error else text

    @admin.display(description="Recent runs")
    def recent_runs(self, source: Source) -> str:
        if not source.pk:
            return "-"
        runs = list(source.runs.all()[:10])
        if not runs:
            return "No runs yet."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{run.started_at:%Y-%m-%d %H:%M}",
                    run.get_status_display(),
                    run.fetched,
                    run.new,
                    run.updated,
                    run.error[:300],
                )
                for run in runs
            ),
        )
        more = reverse("admin:papers_harvestrun_changelist") + f"?source__id__exact={source.pk}"
        return format_html(
            "<table><thead><tr><th>Started</th><th>Status</th><th>Fetched</th><th>New</th>"
            '<th>Updated</th><th>Error</th></tr></thead><tbody>{}</tbody></table><a href="{}">'
            "All runs</a>",
            rows,
            more,
        )

    @admin.action(description="Enable", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        queryset.update(enabled=True)
        audit_log(request, queryset, "Enabled")

    @admin.action(description="Disable", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        queryset.update(enabled=False)
        audit_log(request, queryset, "Disabled")

    @admin.action(description="Harvest now", permissions=["change"])
    def harvest_now(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        sources = list(queryset)
        for source in sources:
            source_harvest_enqueue(source)
        audit_log(request, sources, "Harvest now")
        self.message_user(request, f"Harvest queued for {len(sources)} source(s).")

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:pk>/harvest/",
                self.admin_site.admin_view(require_POST(self.harvest_view)),
                name="papers_source_harvest",
            ),
            *super().get_urls(),
        ]

    def harvest_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        source = get_object_or_404(Source, pk=pk)
        if not self.has_change_permission(request, source):
            raise PermissionDenied
        self.harvest_now(request, Source.objects.filter(pk=pk))
        return HttpResponseRedirect(reverse("admin:papers_source_change", args=[pk]))


@admin.register(HarvestRun)
class HarvestRunAdmin(admin.ModelAdmin):
    list_display = [
        "source",
        "status",
        "started_at",
        "finished_at",
        "fetched",
        "new",
        "updated",
        "skipped",
        "error_short",
    ]
    list_filter = ["status", "source"]
    list_select_related = ["source"]
    readonly_fields = [f.name for f in HarvestRun._meta.fields]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description="error")
    def error_short(self, run: HarvestRun) -> str:
        return run.error[:120]
