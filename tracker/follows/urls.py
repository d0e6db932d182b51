from django.urls import path

from tracker.follows import views

app_name = "follows"

urlpatterns = [
    path("follows/", views.settings_page, name="settings"),
    path("follows/add/", views.add, name="add"),
    path("follows/unfollow/", views.unfollow, name="unfollow"),
    path("follows/<int:pk>/remove/", views.remove, name="remove"),
    path("follows/webhooks/add/", views.webhook_create, name="webhook_add"),
    path("follows/webhooks/<int:pk>/remove/", views.webhook_delete, name="webhook_remove"),
    path("follows/deliveries/<int:pk>/retry/", views.delivery_resend, name="delivery_retry"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/unread/", views.unread, name="unread"),
]
