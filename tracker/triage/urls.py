from django.urls import path

from tracker.triage import views

app_name = "triage"

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
]
