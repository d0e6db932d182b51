from __future__ import annotations

from django.contrib import admin

from tracker.follows.models import Alert, Delivery, Follow, Webhook
from tracker.teams.admin_scope import ScopedModelAdmin


@admin.register(Follow)
class FollowAdmin(ScopedModelAdmin):
    list_display = ("label", "kind", "team", "user", "created_at")
    list_filter = ("kind", "team")
    search_fields = ("label", "value", "user__username")
    raw_id_fields = ("source", "topic", "paper", "user", "created_by")


@admin.register(Alert)
class AlertAdmin(ScopedModelAdmin):
    list_display = ("paper", "reason", "team", "user", "code_event", "created_at")
    list_filter = ("team",)
    raw_id_fields = ("follow", "paper", "code_event", "user")
    date_hierarchy = "created_at"


@admin.register(Webhook)
class WebhookAdmin(ScopedModelAdmin):
    list_display = ("url", "team", "user", "active", "created_at")
    list_filter = ("active", "team")
    exclude = ("secret",)


@admin.register(Delivery)
class DeliveryAdmin(ScopedModelAdmin):
    """The delivery log: what failed and why, in one plain line each."""

    list_display = ("alert", "webhook", "status", "attempts", "response_status", "last_error")
    list_select_related = ("alert__paper", "webhook")
    list_filter = ("status", "team")
    readonly_fields = (
        "alert",
        "webhook",
        "team",
        "attempts",
        "response_status",
        "last_error",
        "last_attempt_at",
        "delivered_at",
        "created_at",
        "claimed_until",
    )
    date_hierarchy = "created_at"
