from django.urls import path

from tracker.digests import views

app_name = "digests"

urlpatterns = [
    path("digest/settings/", views.digest_settings, name="settings"),
    path("digest/preview/", views.digest_preview_page, name="preview"),
    path("digest/preview/email/", views.digest_preview_email, name="preview_email"),
    path("digest/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
