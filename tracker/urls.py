from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from tracker.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("health/", core_views.health, name="health"),
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("team/", core_views.team_switch, name="team_switch"),
    path("help/offline/", core_views.offline_help, name="offline_help"),
    path("progress/", core_views.progress, name="progress"),
    path("tokens/", core_views.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", core_views.token_revoke, name="token_revoke"),
    path("api/", include("tracker.reproductions.api_urls")),
    path("admin/", admin.site.urls),
    path("", include("tracker.papers.urls")),
    path("", include("tracker.topics.urls")),
    path("", include("tracker.search.urls")),
    path("", include("tracker.triage.urls")),
    path("", include("tracker.reproductions.urls")),
    path("", include("tracker.digests.urls")),
    path("", include("tracker.teams.urls")),
]

admin.site.site_header = "Paper tracker admin"
admin.site.site_title = "Paper tracker"
admin.site.index_title = "Curation"
