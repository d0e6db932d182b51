from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from tracker.core.audit import acting_user_id, audit_log
from tracker.topics.curation import clustering_enqueue, topic_label_set, topic_merge
from tracker.topics.models import ClusteringRun, PaperTopic, Topic, TopicFollow


def _table(values: dict[str, Any]) -> str:
    if not values:
        return "-"
    rows = format_html_join(
        "",
        "<tr><th>{}</th><td>{}</td></tr>",
        (
            (key, f"{value:.4g}" if isinstance(value, float) else value)
            for key, value in sorted(values.items())
        ),
    )
    return format_html("<table>{}</table>", rows)


@admin.register(ClusteringRun)
class ClusteringRunAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "status",
        "model_name",
        "paper_count",
        "topic_count",
        "duration_seconds",
        "metrics_short",
    ]
    list_filter = ["status"]
    fields = readonly_fields = (
        "status",
        "model_name",
        "started_at",
        "finished_at",
        "duration_seconds",
        "paper_count",
        "topic_count",
        "metrics_table",
        "params_table",
        "error",
    )
    change_list_template = "admin/topics/recluster_change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="metrics")
    def metrics_short(self, run: ClusteringRun) -> str:
        return ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in sorted(run.metrics.items())
            if isinstance(v, int | float | str)
        )[:160]

    @admin.display(description="Metrics")
    def metrics_table(self, run: ClusteringRun) -> str:
        return _table(run.metrics)

    @admin.display(description="Parameters")
    def params_table(self, run: ClusteringRun) -> str:
        return _table(run.params)


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "label",
        "label_locked",
        "size",
        "papers",
        "active",
        "keywords_short",
        "last_run",
    ]
    list_display_links = ["id"]
    list_editable = ["label", "label_locked"]
    list_filter = ["active", "label_locked"]
    list_select_related = ["last_run"]
    search_fields = ["label"]
    fields = ["label", "label_locked", "keywords", "size", "active", "merged_into", "last_run"]
    readonly_fields = ["keywords", "size", "active", "merged_into", "last_run"]
    actions = ["merge_topics"]
    change_list_template = "admin/topics/recluster_change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="papers")
    def papers(self, topic: Topic) -> str:
        url = reverse("admin:papers_paper_changelist") + f"?topic={topic.pk}"
        return format_html('<a href="{}">papers</a>', url)

    @admin.display(description="keywords")
    def keywords_short(self, topic: Topic) -> str:
        return ", ".join(topic.keywords[:6])

    def save_model(self, request: HttpRequest, obj: Topic, form: Any, change: bool) -> None:
        # A curator's edit of the label is a decision that re-clustering must keep.
        if "label" in form.changed_data:
            topic_label_set(obj, obj.label, locked=True)
        else:
            topic_label_set(obj, obj.label, locked=obj.label_locked)

    @admin.action(description="Merge the selected topics into one", permissions=["change"])
    def merge_topics(self, request: HttpRequest, queryset: QuerySet[Topic]) -> HttpResponse | None:
        topics = list(queryset.filter(merged_into__isnull=True).order_by("-size"))
        if len(topics) < 2:
            self.message_user(request, "Select at least two topics.", messages.WARNING)
            return None
        survivor_id = request.POST.get("survivor")
        if survivor_id:
            survivor = next((t for t in topics if str(t.pk) == survivor_id), None)
            if survivor is None:
                raise PermissionDenied
            others = [t for t in topics if t.pk != survivor.pk]
            topic_merge(survivor, others)
            labels = ", ".join(t.label for t in others)
            audit_log(request, [survivor, *others], f"Merged topics {labels} into {survivor}")
            self.message_user(request, f"Merged {len(others)} topic(s) into {survivor}.")
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Merge topics",
            "opts": self.model._meta,
            "topics": topics,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/topics/topic/merge.html", context)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "recluster/",
                self.admin_site.admin_view(require_POST(self.recluster_view)),
                name="topics_recluster",
            ),
            *super().get_urls(),
        ]

    def recluster_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        clustering_enqueue()
        # The run does not exist until the worker starts it, so the entry names the model.
        LogEntry.objects.create(
            user_id=acting_user_id(request),
            content_type=ContentType.objects.get_for_model(ClusteringRun),
            object_repr="Re-run clustering",
            action_flag=ADDITION,
            change_message="Re-run clustering requested",
        )
        self.message_user(request, "Clustering queued; its run appears under Clustering runs.")
        return HttpResponseRedirect(
            request.POST.get("next") or reverse("admin:topics_clusteringrun_changelist")
        )


@admin.register(PaperTopic)
class PaperTopicAdmin(admin.ModelAdmin):
    list_display = ["paper", "topic", "similarity", "assigned_at"]
    raw_id_fields = ["paper", "topic", "run"]
    list_select_related = ["paper", "topic"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


@admin.register(TopicFollow)
class TopicFollowAdmin(admin.ModelAdmin):
    list_display = ["user", "topic", "created_at"]
    list_select_related = ["user", "topic"]
