from django.contrib import admin

from tracker.digests.models import DigestPreference, DigestSend


@admin.register(DigestPreference)
class DigestPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "enabled", "weekday", "hour", "timezone", "next_send_at"]
    list_filter = ["enabled", "weekday"]
    list_select_related = ["user"]


@admin.register(DigestSend)
class DigestSendAdmin(admin.ModelAdmin):
    list_display = ["user", "week", "status", "attempts", "sent_at", "subject"]
    list_filter = ["status", "week"]
    list_select_related = ["user"]
