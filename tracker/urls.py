from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from tracker.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("health/", core_views.health, name="health"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("tracker.papers.urls")),
    path("", include("tracker.topics.urls")),
    path("", include("tracker.triage.urls")),
    path("", include("tracker.reproductions.urls")),
]

admin.site.site_header = "Paper tracker admin"
admin.site.site_title = "Paper tracker"
admin.site.index_title = "Curation"
