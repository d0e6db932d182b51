from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from tracker.digests.models import DigestPreference, DigestSend
from tracker.digests.services import digests_release_stuck


@admin.register(DigestPreference)
class DigestPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "enabled", "weekday", "hour", "timezone", "next_send_at"]
    list_filter = ["enabled", "weekday"]
    list_select_related = ["user"]


@admin.register(DigestSend)
class DigestSendAdmin(admin.ModelAdmin):
    list_display = ["user", "week", "status", "attempts", "claimed_at", "sent_at", "subject"]
    list_filter = ["status", "week"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    actions = ["release_stuck"]

    @admin.action(description="Release stuck sends so send_digests --now can retry them")
    def release_stuck(self, request: HttpRequest, queryset: QuerySet[DigestSend]) -> None:
        released = digests_release_stuck(queryset)
        self.message_user(request, f"{released} send(s) released.", messages.SUCCESS)
