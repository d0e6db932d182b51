from django.urls import path

from tracker.triage import views

app_name = "triage"

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/next/", views.next_paper, name="next"),
    path("inbox/papers/<int:pk>/rate/", views.rate, name="rate"),
    path("inbox/papers/<int:pk>/skip/", views.skip, name="skip"),
    path("inbox/papers/<int:pk>/undo/", views.undo, name="undo"),
    path("inbox/papers/<int:pk>/comment/", views.comment, name="comment"),
    path("inbox/topics/<int:pk>/follow/", views.follow, name="follow"),
    path("comments/<int:pk>/", views.comment_update, name="comment_update"),
]
