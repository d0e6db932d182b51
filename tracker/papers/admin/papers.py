"""The curator's papers: the paper list (quick at 100,000+ rows: one query for the page,
topic joined in, filters whose choices come from small tables or fixed lists, no per-row
queries, no full COUNT of the table), a paper's versions and its sources."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import admin, messages
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from tracker.core.audit import audit_log
from tracker.papers.admin.duplicates import open_candidate_papers
from tracker.papers.admin.lists import URL_INPUT, CappedCountPaginator, QuickListMixin
from tracker.papers.curation import (
    papers_embeddings_reset,
    papers_hidden_set,
    papers_pinned_set,
)
from tracker.papers.duplicates import duplicate_candidate_propose, normalize_title
from tracker.papers.models import (
    CandidateStatus,
    DuplicateCandidate,
    Paper,
    PaperKind,
    PaperMerge,
    PaperSource,
    PaperVersion,
    Source,
)
from tracker.topics.models import Topic

# The arXiv categories the team harvests; a fixed list, so the filter costs no query.
CATEGORIES = ("cs.CL", "cs.LG", "cs.AI", "cs.CV", "cs.IR", "cs.NE", "cs.RO", "stat.ML")
# "2401.01234", "2401.01234v2", "arXiv:2401.01234", "hep-th/9901001": an exact id lookup.
ARXIV_ID = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5}|[a-z-]+(?:\.[a-z]{2})?/\d{7})(?:v\d+)?$", re.I)


class PaperVersionInline(admin.TabularInline):
    model = PaperVersion
    extra = 0
    fields = readonly_fields = ("version", "title", "updated_at_source", "recorded_at")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PaperSourceInline(admin.TabularInline):
    model = PaperSource
    extra = 0
    fields = readonly_fields = ("source", "url", "title", "first_seen_at", "last_seen_at")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(pk), name) for pk, name in Source.objects.values_list("pk", "name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Paper]) -> QuerySet[Paper]:
        source_id = self.value()
        if source_id is None:
            return queryset
        # An IN over the source's rows (indexed by source) rather than EXISTS per paper: a
        # small source's papers are found without walking the whole table.
        seen = PaperSource.objects.filter(source_id=source_id).values("paper_id")
        return queryset.filter(pk__in=seen)


class LabFilter(admin.SimpleListFilter):
    title = "lab"
    parameter_name = "lab"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        # Labs are named by sources, and by lab reports (a few thousand rows, reached through
        # the kind index), never by a DISTINCT over every paper.
        labs = set(Source.objects.exclude(lab="").values_list("lab", flat=True))
        labs |= set(
            Paper.objects.filter(kind=PaperKind.LAB_REPORT)
            .exclude(lab="")
            .order_by()
            .values_list("lab", flat=True)
            .distinct()
        )
        return [(lab, lab) for lab in sorted(labs)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Paper]) -> QuerySet[Paper]:
        return queryset.filter(lab=self.value()) if self.value() else queryset


class TopicFilter(admin.SimpleListFilter):
    title = "topic"
    parameter_name = "topic"

    # The largest topics only: a sidebar of hundreds helps no one and renders slowly. Every
    # topic's papers are one click away from the Topic list (its "papers" link).
    SHOWN = 30

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        largest = Topic.objects.active().order_by("-size").values_list("pk", "label")
        topics = sorted(largest[: self.SHOWN], key=lambda row: row[1].casefold())
        chosen = self.value()
        if chosen and chosen.isdigit() and all(str(pk) != chosen for pk, _ in topics):
            topics += list(Topic.objects.filter(pk=chosen).values_list("pk", "label"))
        return [("none", "No topic"), *((str(pk), label) for pk, label in topics)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Paper]) -> QuerySet[Paper]:
        topic_id = self.value()
        if topic_id == "none":
            return queryset.filter(paper_topic__isnull=True)
        return queryset.filter(paper_topic__topic_id=topic_id) if topic_id else queryset


class CategoryFilter(admin.SimpleListFilter):
    title = "category"
    parameter_name = "category"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(category, category) for category in CATEGORIES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Paper]) -> QuerySet[Paper]:
        return queryset.filter(primary_category=self.value()) if self.value() else queryset


class HasCodeFilter(admin.SimpleListFilter):
    title = "code"
    parameter_name = "has_code"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Has code"), ("no", "No code")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Paper]) -> QuerySet[Paper]:
        # The stored column: harvested code links or a repository named in the text, as in
        # the inbox's filter.
        if self.value() == "yes":
            return queryset.filter(has_code=True)
        if self.value() == "no":
            return queryset.filter(has_code=False)
        return queryset


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("visible", "Visible"),
            ("hidden", "Hidden"),
            ("merged", "Merged into another"),
            ("pinned", "Pinned for the digest"),
            ("index_error", "Skipped by indexing"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Paper]) -> QuerySet[Paper]:
        match self.value():
            case "visible":
                # The change list's queryset is Paper's own (PaperQuerySet); the list
                # filter's signature, from Django, names the base QuerySet.
                return queryset.visible()  # type: ignore[attr-defined]
            case "hidden":
                return queryset.filter(hidden=True)
            case "merged":
                return queryset.filter(merged_into__isnull=False)
            case "pinned":
                return queryset.filter(pinned_for_digest=True)
            case "index_error":
                return queryset.exclude(index_error="")
        return queryset


class DuplicateFilter(admin.SimpleListFilter):
    title = "duplicate candidate"
    parameter_name = "duplicate"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Has an open candidate")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Paper]) -> QuerySet[Paper]:
        return queryset.filter(open_candidate_papers()) if self.value() == "open" else queryset


@admin.register(Paper)
class PaperAdmin(QuickListMixin, admin.ModelAdmin):
    # Few, plain columns: rendering cells is most of this page's time, not SQL.
    list_display = ["title_short", "origin", "topic", "published", "flags"]
    list_filter = [
        # "Past 7 days" of harvest: a week's cleaning starts here (fixed choices, indexed).
        ("created_at", admin.DateFieldListFilter),
        StateFilter,
        DuplicateFilter,
        "kind",
        SourceFilter,
        LabFilter,
        TopicFilter,
        CategoryFilter,
        HasCodeFilter,
    ]
    search_fields = ["=arxiv_id", "title"]
    search_help_text = "An arXiv id (exact) or words of the title."
    list_per_page = 50
    paginator = CappedCountPaginator
    # No COUNT(*) over the whole table on every page, and no per-choice counts ("Show
    # counts" would run one COUNT per filter choice over 100,000 rows).
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    readonly_fields = [
        "curation",
        "normalized_title",
        "merged_into",
        "created_at",
        "updated_at",
        "revised_at",
        "version",
        "index_error",
    ]
    inlines = [PaperVersionInline, PaperSourceInline]
    formfield_overrides = URL_INPUT
    actions = ["hide", "unhide", "pin", "unpin", "reembed", "merge_two"]

    def view_on_site(self, paper: Paper) -> str:
        return reverse("papers:detail", args=[paper.pk])

    @admin.display(description="Merges and duplicates")
    def curation(self, paper: Paper) -> str:
        if not paper.pk:
            return "-"
        merges = PaperMerge.objects.filter(Q(survivor=paper) | Q(merged=paper)).order_by(
            "-merged_at"
        )
        candidates = DuplicateCandidate.objects.filter(
            Q(paper_a=paper) | Q(paper_b=paper), status=CandidateStatus.OPEN
        )
        lines = [
            (
                reverse("admin:papers_papermerge_change", args=[m.pk]),
                f"{m.merged_id} merged into {m.survivor_id} on {m.merged_at:%Y-%m-%d}"
                + (" (undone)" if m.undone_at else ""),
            )
            for m in merges
        ] + [
            (
                reverse("admin:papers_duplicatecandidate_change", args=[c.pk]),
                f"open duplicate candidate: {c.paper_a_id} ~ {c.paper_b_id} ({c.reason})",
            )
            for c in candidates
        ]
        if not lines:
            return "None"
        return format_html_join(mark_safe("<br>"), '<a href="{}">{}</a>', lines)

    @admin.display(description="title", ordering="title")
    def title_short(self, paper: Paper) -> str:
        return paper.title[:100]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Paper]:
        # The topic's label joined in as a column: no query, and no two extra model
        # instances, per row.
        return super().get_queryset(request).annotate(topic_label=F("paper_topic__topic__label"))

    @admin.display(description="topic", ordering="topic_label")
    def topic(self, paper: Paper) -> str:
        return getattr(paper, "topic_label", None) or "-"

    @admin.display(description="from", ordering="arxiv_id")
    def origin(self, paper: Paper) -> str:
        if paper.kind == PaperKind.LAB_REPORT:
            return f"{paper.lab or 'lab'} report"
        return f"arXiv:{paper.arxiv_id} {paper.primary_category}"

    @admin.display(description="published", ordering="published_at")
    def published(self, paper: Paper) -> str:
        return f"{paper.published_at:%Y-%m-%d}" if paper.published_at else "-"

    @admin.display(description="flags")
    def flags(self, paper: Paper) -> str:
        flags = []
        if paper.has_code:
            flags.append("code")
        if paper.hidden:
            flags.append("hidden")
        if paper.pinned_for_digest:
            flags.append("pinned")
        if paper.merged_into_id:
            flags.append(f"merged into #{paper.merged_into_id}")
        return ", ".join(flags)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Paper], search_term: str
    ) -> tuple[QuerySet[Paper], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        match = ARXIV_ID.match(term)
        if match:
            # The unique index answers this; no title scan.
            return queryset.filter(arxiv_id=match.group(1).lower()), False
        # The folded title (see normalize_title) without UPPER(): a plain LIKE, which the
        # trigram index answers on PostgreSQL.
        folded = normalize_title(term)
        if not folded:
            return queryset.filter(title__icontains=term), False
        return queryset.filter(normalized_title__contains=folded), False

    def _done(self, request: HttpRequest, queryset: QuerySet[Paper], what: str, n: int) -> None:
        audit_log(request, queryset, what)
        self.message_user(request, f"{what}: {n} paper(s).", messages.SUCCESS)

    @admin.action(description="Hide (leaves inbox, search and digests)", permissions=["change"])
    def hide(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        self._done(request, queryset, "Hidden", papers_hidden_set(queryset, True))

    @admin.action(description="Unhide", permissions=["change"])
    def unhide(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        self._done(request, queryset, "Unhidden", papers_hidden_set(queryset, False))

    @admin.action(description="Pin for the next digest", permissions=["change"])
    def pin(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        self._done(request, queryset, "Pinned for the digest", papers_pinned_set(queryset, True))

    @admin.action(description="Unpin from the digest", permissions=["change"])
    def unpin(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        self._done(request, queryset, "Unpinned", papers_pinned_set(queryset, False))

    @admin.action(description="Re-embed (with the current model)", permissions=["change"])
    def reembed(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        papers_embeddings_reset(queryset)
        self._done(request, queryset, "Queued for re-embedding", queryset.count())

    @admin.action(description="Compare the two selected as duplicates", permissions=["change"])
    def merge_two(self, request: HttpRequest, queryset: QuerySet[Paper]) -> HttpResponse | None:
        papers = list(queryset[:3])
        if len(papers) != 2:
            self.message_user(request, "Select exactly two papers.", messages.WARNING)
            return None
        candidate = duplicate_candidate_propose(papers[0], papers[1], reason="curator")
        assert candidate is not None
        if candidate.status != CandidateStatus.OPEN:
            self.message_user(
                request,
                f"This pair was already decided: {candidate.get_status_display()}.",
                messages.WARNING,
            )
        return HttpResponseRedirect(
            reverse("admin:papers_duplicatecandidate_change", args=[candidate.pk])
        )


@admin.register(PaperVersion)
class PaperVersionAdmin(admin.ModelAdmin):
    list_display = ["paper", "version", "updated_at_source", "recorded_at"]
    raw_id_fields = ["paper"]
    list_select_related = ["paper"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


@admin.register(PaperSource)
class PaperSourceAdmin(admin.ModelAdmin):
    formfield_overrides = URL_INPUT
    list_display = ["paper", "source", "url", "first_seen_at"]
    raw_id_fields = ["paper"]
    list_filter = ["source"]
    list_select_related = ["paper", "source"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
