from django.urls import path

from tracker.teams import views

app_name = "teams"

urlpatterns = [
    path("invitations/", views.invitation_create_view, name="invite"),
    path("invitations/<str:token>/", views.invitation_accept_view, name="invitation_accept"),
]
