from django.urls import path

from tracker.reproductions import views

app_name = "reproductions"

urlpatterns = [
    path("reproductions/", views.board, name="board"),
    path("reproductions/<int:pk>/", views.reproduction_detail, name="detail"),
]
