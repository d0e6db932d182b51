from django.contrib import admin

from tracker.topics.models import ClusteringRun, PaperTopic, Topic, TopicFollow


@admin.register(ClusteringRun)
class ClusteringRunAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "status",
        "model_name",
        "paper_count",
        "topic_count",
        "duration_seconds",
    ]
    list_filter = ["status"]
    readonly_fields = [f.name for f in ClusteringRun._meta.fields]


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["label", "label_locked", "size", "active", "last_run"]
    list_filter = ["active", "label_locked"]
    search_fields = ["label"]
    exclude = ["centroid"]
    raw_id_fields = ["merged_into", "created_run", "last_run"]


@admin.register(PaperTopic)
class PaperTopicAdmin(admin.ModelAdmin):
    list_display = ["paper", "topic", "similarity", "assigned_at"]
    raw_id_fields = ["paper", "topic", "run"]
    list_select_related = ["paper", "topic"]
    show_full_result_count = False


@admin.register(TopicFollow)
class TopicFollowAdmin(admin.ModelAdmin):
    list_display = ["user", "topic", "created_at"]
    list_select_related = ["user", "topic"]
