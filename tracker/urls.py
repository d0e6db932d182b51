from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from tracker.papers import urls as papers_urls
from tracker.portal import urls as portal_urls
from tracker.portal import views as portal_views
from tracker.topics import urls as topics_urls

urlpatterns = [
    path("", portal_views.home, name="home"),
    path("health/", portal_views.health, name="health"),
    path("favicon.ico", portal_views.favicon, name="favicon"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("team/", portal_views.team_switch, name="team_switch"),
    path("help/offline/", portal_views.offline_help, name="offline_help"),
    path("progress/", portal_views.progress, name="progress"),
    path("tokens/", portal_views.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", portal_views.token_revoke, name="token_revoke"),
    path("api/", include("tracker.reproductions.api_urls")),
    path("admin/", admin.site.urls),
    # The papers and topics namespaces each join the app's own pages and the portal's (a
    # paper, Sources, one topic), which sit above every app because they show them all.
    path(
        "",
        include((papers_urls.urlpatterns + portal_urls.paper_urlpatterns, papers_urls.app_name)),
    ),
    path(
        "",
        include((topics_urls.urlpatterns + portal_urls.topic_urlpatterns, topics_urls.app_name)),
    ),
    path("", include("tracker.search.urls")),
    path("", include("tracker.triage.urls")),
    path("", include("tracker.follows.urls")),
    path("", include("tracker.reproductions.urls")),
    path("", include("tracker.digests.urls")),
    path("", include("tracker.teams.urls")),
]

admin.site.site_header = "Paper tracker admin"
admin.site.site_title = "Paper tracker"
admin.site.index_title = "Curation"
