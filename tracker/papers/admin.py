"""The curator's papers, sources, duplicate queue and merges.

The paper list must stay quick at 100,000+ rows: one query for the page (topic joined in),
filters whose choices come from small tables or fixed lists, no per-row queries, and no
full COUNT of the table.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError, models
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from tracker.core.audit import audit_log
from tracker.papers.curation import (
    duplicate_candidate_reject,
    papers_embeddings_reset,
    papers_hidden_set,
    papers_pinned_set,
)
from tracker.papers.duplicates import duplicate_candidate_propose, normalize_title
from tracker.papers.labs import author_labs_suggest
from tracker.papers.merge import MergeError, paper_merge, paper_merge_undo
from tracker.papers.models import (
    AuthorLab,
    CandidateStatus,
    DuplicateCandidate,
    Embedding,
    HarvestRun,
    Paper,
    PaperKind,
    PaperMerge,
    PaperSource,
    PaperVersion,
    Source,
)
from tracker.papers.services import source_harvest_enqueue
from tracker.papers.source_checks import source_check
from tracker.topics.models import PaperTopic, Topic

# Curators paste links without a scheme; they are https nowadays.
URL_INPUT = {models.URLField: {"assume_scheme": "https"}}
# The arXiv categories the team harvests; a fixed list, so the filter costs no query.
CATEGORIES = ("cs.CL", "cs.LG", "cs.AI", "cs.CV", "cs.IR", "cs.NE", "cs.RO", "stat.ML")
# "2401.01234", "2401.01234v2", "arXiv:2401.01234", "hep-th/9901001": an exact id lookup.
ARXIV_ID = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5}|[a-z-]+(?:\.[a-z]{2})?/\d{7})(?:v\d+)?$", re.I)


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows: a curator needs "more than 1000", not the exact size of a
    filter over 100,000 papers, and a capped count stops scanning early. Pages past the cap
    are not offered (narrow the filter instead); "select all" still acts on every match."""

    CAP = 1_000

    @cached_property
    def count(self) -> int:
        # Unordered: a count needs no sort, and the database stops at the cap.
        capped = self.object_list.order_by().values("pk")[: self.CAP]  # type: ignore[union-attr]
        return capped.count()  # type: ignore[no-any-return]


class QuickRowsChangeList(ChangeList):
    """Row links that carry the list's filters themselves. Django adds the filters to each
    row's link by resolving that link's URL through the whole URLconf, once per row: on a
    filtered 50-row list that was a tenth of the page. The link and its query are the same."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.row_link_query, self.preserved_filters = self.preserved_filters, ""

    def url_for_result(self, result: Any) -> str:
        url = super().url_for_result(result)
        return f"{url}?{self.row_link_query}" if self.row_link_query else url


class QuickListMixin:
    """Cheaper rows for long change lists (same HTML): the row links above, and the action
    checkbox formatted directly. The stock checkbox renders a form widget through the
    template engine, once per row: a quarter of a 50-row list's time."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return QuickRowsChangeList

    @admin.display(description=mark_safe('<input type="checkbox" id="action-toggle">'))
    def action_checkbox(self, obj: Any) -> str:
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" '
            'aria-label="Select this object for an action - {}">',
            admin.helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            obj,
        )


class PaperVersionInline(admin.TabularInline):  # type: ignore[type-arg]
    model = PaperVersion
    extra = 0
    fields = ["version", "title", "updated_at_source", "recorded_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PaperSourceInline(admin.TabularInline):  # type: ignore[type-arg]
    model = PaperSource
    extra = 0
    fields = ["source", "url", "title", "first_seen_at", "last_seen_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(pk), name) for pk, name in Source.objects.values_list("pk", "name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Paper]) -> QuerySet[Paper]:
        if self.value() is None:
            return queryset
        # An IN over the source's rows (indexed by source) rather than EXISTS per paper: a
        # small source's papers are found without walking the whole table.
        seen = PaperSource.objects.filter(source_id=self.value()).values("paper_id")
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
        if self.value() == "none":
            return queryset.filter(paper_topic__isnull=True)
        return queryset.filter(paper_topic__topic_id=self.value()) if self.value() else queryset


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
                return queryset.visible()  # type: ignore[attr-defined,no-any-return]
            case "hidden":
                return queryset.filter(hidden=True)
            case "merged":
                return queryset.filter(merged_into__isnull=False)
            case "pinned":
                return queryset.filter(pinned_for_digest=True)
            case "index_error":
                return queryset.exclude(index_error="")
        return queryset


def open_candidate_papers() -> Q:
    # One IN over a UNION: an OR of two INs makes PostgreSQL walk every paper.
    open_ = DuplicateCandidate.objects.filter(status=CandidateStatus.OPEN).order_by()
    return Q(pk__in=open_.values("paper_a_id").union(open_.values("paper_b_id")))


class DuplicateFilter(admin.SimpleListFilter):
    title = "duplicate candidate"
    parameter_name = "duplicate"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Has an open candidate")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Paper]) -> QuerySet[Paper]:
        return queryset.filter(open_candidate_papers()) if self.value() == "open" else queryset


@admin.register(Paper)
class PaperAdmin(QuickListMixin, admin.ModelAdmin):  # type: ignore[type-arg]
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


class SourceForm(forms.ModelForm):  # type: ignore[type-arg]
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
class SourceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
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
class HarvestRunAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
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


@admin.register(PaperVersion)
class PaperVersionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["paper", "version", "updated_at_source", "recorded_at"]
    raw_id_fields = ["paper"]
    list_select_related = ["paper"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


@admin.register(PaperSource)
class PaperSourceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    formfield_overrides = URL_INPUT
    list_display = ["paper", "source", "url", "first_seen_at"]
    raw_id_fields = ["paper"]
    list_filter = ["source"]
    list_select_related = ["paper", "source"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


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
class EmbeddingAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["paper", "model_name", "dimension", "created_at"]
    list_filter = [EmbeddingModelFilter]
    raw_id_fields = ["paper"]
    list_select_related = ["paper"]
    exclude = ["vector"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


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
class DuplicateCandidateAdmin(QuickListMixin, admin.ModelAdmin):  # type: ignore[type-arg]
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
            duplicate_candidate_reject(candidate, request.user)  # type: ignore[arg-type]
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
            duplicate_candidate_reject(candidate, request.user)  # type: ignore[arg-type]
            audit_log(request, [candidate], "Rejected: not duplicates")
            self.message_user(request, "Kept apart; this pair will not be proposed again.")
        elif decision in ("keep_a", "keep_b"):
            a, b = candidate.paper_a, candidate.paper_b
            survivor, merged = (a, b) if decision == "keep_a" else (b, a)
            try:
                merge = paper_merge(survivor, merged, request.user, candidate=candidate)  # type: ignore[arg-type]
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


@admin.register(PaperMerge)
class PaperMergeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["merged", "survivor", "merged_by", "merged_at", "undone_at"]
    list_filter = [("undone_at", admin.EmptyFieldListFilter)]
    list_select_related = ["survivor", "merged", "merged_by"]
    fields = [
        "survivor",
        "merged",
        "candidate",
        "merged_by",
        "merged_at",
        "moved_summary",
        "undone_by",
        "undone_at",
    ]
    readonly_fields = [*fields, "moved_pretty"]
    actions = ["undo"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The full record names other teams' ratings; curators get the counts.
        if request.user.is_superuser:
            return [*self.fields[:-3], "moved_pretty", *self.fields[-2:]]
        return list(self.fields)

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
                paper_merge_undo(merge, request.user)  # type: ignore[arg-type]
            except (MergeError, ValidationError, IntegrityError) as exc:
                # A clash the record cannot resolve (say, a new rating on the merged paper):
                # the service rolled back; the curator sees why.
                self.message_user(request, f"Merge {merge.pk}: {exc}", messages.ERROR)
                continue
            audit_log(request, [merge, merge.survivor, merge.merged], f"Undid merge {merge.pk}")
            self.message_user(request, f"Merge {merge.pk} undone.")


@admin.register(AuthorLab)
class AuthorLabAdmin(admin.ModelAdmin):
    """The author → lab table that gives arXiv papers a lab (tracker.papers.labs).
    Suggestions come from lab posts; only confirmed rows count."""

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
