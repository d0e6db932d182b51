from django.contrib.admin.apps import AdminConfig


class TrackerAdminConfig(AdminConfig):
    """The admin app with our site as `admin.site`, so every ModelAdmin registers on it."""

    default_site = "tracker.teams.admin_site.TrackerAdminSite"
