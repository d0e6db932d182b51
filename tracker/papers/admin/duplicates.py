"""The curator's duplicate queue, merges and their undo."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from tracker.core.audit import audit_log
from tracker.papers.admin.lists import QuickListMixin, curator
from tracker.papers.curation import (
    duplicate_candidate_reject,
)
from tracker.papers.merge import MergeError, paper_merge, paper_merge_undo
from tracker.papers.models import (
    CandidateStatus,
    DuplicateCandidate,
    PaperMerge,
    PaperSource,
    PaperVersion,
)
from tracker.topics.models import PaperTopic


def open_candidate_papers() -> Q:
    # One IN over a UNION: an OR of two INs makes PostgreSQL walk every paper.
    open_ = DuplicateCandidate.objects.filter(status=CandidateStatus.OPEN).order_by()
    return Q(pk__in=open_.values("paper_a_id").union(open_.values("paper_b_id")))


class QueueFilter(admin.SimpleListFilter):
    """The queue opens on what still needs a decision; decided ones are a click away."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [*CandidateStatus.choices, ("all", "All")]

    def choices(self, changelist: Any) -> Any:
        current = self.value() or CandidateStatus.OPEN
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[DuplicateCandidate]
    ) -> QuerySet[DuplicateCandidate]:
        value = self.value() or CandidateStatus.OPEN
        return queryset if value == "all" else queryset.filter(status=value)


@admin.register(DuplicateCandidate)
class DuplicateCandidateAdmin(QuickListMixin, admin.ModelAdmin):
    """The duplicate queue: open candidates, each reviewed side by side."""

    list_display = ["pair", "reason", "score", "status", "created_at", "decided_by"]
    list_filter = [QueueFilter, "reason"]
    list_select_related = ["paper_a", "paper_b", "decided_by"]
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    actions = ["reject"]

    @admin.display(description="candidate pair")
    def pair(self, candidate: DuplicateCandidate) -> str:
        # The row's link to the side-by-side review is Django's, around this cell.
        a, b = candidate.paper_a, candidate.paper_b
        return format_html(
            "{}{}<br>{}{}",
            a.title[:90],
            " [merged away]" if a.merged_into_id else "",
            b.title[:90],
            " [merged away]" if b.merged_into_id else "",
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Not duplicates (never propose again)", permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet[DuplicateCandidate]) -> None:
        candidates = list(queryset.filter(status=CandidateStatus.OPEN))
        for candidate in candidates:
            duplicate_candidate_reject(candidate, curator(request))
        audit_log(request, candidates, "Rejected: not duplicates")
        self.message_user(request, f"{len(candidates)} candidate(s) rejected.")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        candidate = get_object_or_404(
            DuplicateCandidate.objects.select_related("paper_a", "paper_b", "decided_by"),
            pk=object_id,
        )
        if not self.has_view_permission(request, candidate):
            raise PermissionDenied
        if request.method == "POST":
            if not self.has_change_permission(request, candidate):
                raise PermissionDenied
            return self._decide(request, candidate)
        papers = [candidate.paper_a, candidate.paper_b]
        sources = PaperSource.objects.filter(paper__in=papers).select_related("source")
        versions = PaperVersion.objects.filter(paper__in=papers)
        topics = {
            pt.paper_id: pt.topic
            for pt in PaperTopic.objects.filter(paper__in=papers).select_related("topic")
        }
        sides = [
            {
                "paper": paper,
                "sources": [s for s in sources if s.paper_id == paper.pk],
                "versions": [v for v in versions if v.paper_id == paper.pk],
                "topic": topics.get(paper.pk),
                "change_url": reverse("admin:papers_paper_change", args=[paper.pk]),
            }
            for paper in papers
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Duplicate candidate",
            "opts": self.model._meta,
            "candidate": candidate,
            "original": candidate,
            "sides": sides,
            "can_decide": candidate.status == CandidateStatus.OPEN
            and self.has_change_permission(request, candidate),
        }
        return TemplateResponse(request, "admin/papers/duplicatecandidate/review.html", context)

    def _next(self, candidate: DuplicateCandidate) -> str:
        """The next open candidate's page, so a curator works through the queue in one go."""
        following = (
            DuplicateCandidate.objects.filter(status=CandidateStatus.OPEN)
            .exclude(pk=candidate.pk)
            .values_list("pk", flat=True)
            .first()
        )
        if following is None:
            return reverse("admin:papers_duplicatecandidate_changelist") + "?status=open"
        return reverse("admin:papers_duplicatecandidate_change", args=[following])

    def _decide(self, request: HttpRequest, candidate: DuplicateCandidate) -> HttpResponse:
        decision = request.POST.get("decision")
        if candidate.status != CandidateStatus.OPEN:
            self.message_user(request, "This candidate was already decided.", messages.WARNING)
        elif decision == "reject":
            duplicate_candidate_reject(candidate, curator(request))
            audit_log(request, [candidate], "Rejected: not duplicates")
            self.message_user(request, "Kept apart; this pair will not be proposed again.")
        elif decision in ("keep_a", "keep_b"):
            a, b = candidate.paper_a, candidate.paper_b
            survivor, merged = (a, b) if decision == "keep_a" else (b, a)
            try:
                merge = paper_merge(survivor, merged, curator(request), candidate=candidate)
            except MergeError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return HttpResponseRedirect(request.path)
            message = f"Merged paper {merged.pk} into {survivor.pk} (merge {merge.pk})"
            audit_log(request, [candidate, survivor, merged, merge], message)
            self.message_user(request, message + ". It can be undone from Paper merges.")
        else:
            self.message_user(request, "Choose a decision.", messages.WARNING)
            return HttpResponseRedirect(request.path)
        return HttpResponseRedirect(self._next(candidate))


MERGE_FIELDS = (
    "survivor",
    "merged",
    "candidate",
    "merged_by",
    "merged_at",
    "moved_summary",
    "undone_by",
    "undone_at",
)


@admin.register(PaperMerge)
class PaperMergeAdmin(admin.ModelAdmin):
    list_display = ["merged", "survivor", "merged_by", "merged_at", "undone_at"]
    list_filter = [("undone_at", admin.EmptyFieldListFilter)]
    list_select_related = ["survivor", "merged", "merged_by"]
    fields = MERGE_FIELDS
    readonly_fields = [*MERGE_FIELDS, "moved_pretty"]
    actions = ["undo"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The full record names other teams' ratings; curators get the counts.
        if request.user.is_superuser:
            return (*MERGE_FIELDS[:-3], "moved_pretty", *MERGE_FIELDS[-2:])
        return MERGE_FIELDS

    @admin.display(description="What moved")
    def moved_summary(self, merge: PaperMerge) -> str:
        rows = merge.moved.get("rows", {})
        kept = merge.moved.get("kept", {})
        parts = [f"{len(ids)} {label}" for label, ids in sorted(rows.items()) if ids]
        stayed = [f"{len(ids)} {label}" for label, ids in sorted(kept.items()) if ids]
        displaced = len(merge.moved.get("displaced_ratings", []))
        text = "Moved: " + (", ".join(parts) or "nothing")
        if stayed:
            text += ". Left on the merged record (clashing): " + ", ".join(stayed)
        if displaced:
            text += f". Ratings displaced into history: {displaced}"
        return text + "."

    @admin.display(description="What moved (record)")
    def moved_pretty(self, merge: PaperMerge) -> str:
        return format_html("<pre>{}</pre>", json.dumps(merge.moved, indent=2, sort_keys=True))

    change_form_template = "admin/papers/papermerge/change_form.html"

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:pk>/undo/",
                self.admin_site.admin_view(require_POST(self.undo_view)),
                name="papers_papermerge_undo",
            ),
            *super().get_urls(),
        ]

    def undo_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        merge = get_object_or_404(PaperMerge, pk=pk)
        if not self.has_change_permission(request, merge):
            raise PermissionDenied
        self.undo(request, PaperMerge.objects.filter(pk=pk))
        return HttpResponseRedirect(reverse("admin:papers_papermerge_change", args=[pk]))

    @admin.action(description="Undo the merge (restores both papers)", permissions=["change"])
    def undo(self, request: HttpRequest, queryset: QuerySet[PaperMerge]) -> None:
        for merge in queryset.filter(undone_at__isnull=True).select_related("survivor", "merged"):
            try:
                paper_merge_undo(merge, curator(request))
            except (MergeError, ValidationError, IntegrityError) as exc:
                # A clash the record cannot resolve (say, a new rating on the merged paper):
                # the service rolled back; the curator sees why.
                self.message_user(request, f"Merge {merge.pk}: {exc}", messages.ERROR)
                continue
            audit_log(request, [merge, merge.survivor, merge.merged], f"Undid merge {merge.pk}")
            self.message_user(request, f"Merge {merge.pk} undone.")
