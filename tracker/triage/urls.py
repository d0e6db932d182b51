from django.urls import path

from tracker.triage import views

app_name = "triage"

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/next/", views.next_paper, name="next"),
    path("inbox/papers/<int:pk>/rate/", views.rate, name="rate"),
    path("inbox/papers/<int:pk>/skip/", views.skip, name="skip"),
    path("inbox/papers/<int:pk>/undo/", views.undo, name="undo"),
    path("inbox/papers/<int:pk>/not-interested/", views.not_interested, name="not_interested"),
    path("inbox/picks/", views.picks, name="picks"),
    path("inbox/share/", views.share, name="share"),
    path("inbox/share/readers/", views.share_readers, name="share_readers"),
    path("inbox/share/rebalance/", views.share_rebalance, name="share_rebalance"),
    path("inbox/share/<int:pk>/reassign/", views.share_reassign, name="share_reassign"),
    path("inbox/share/away/", views.days_away, name="days_away"),
    path("inbox/papers/<int:pk>/comment/", views.comment, name="comment"),
    path("inbox/topics/<int:pk>/follow/", views.follow, name="follow"),
    path("comments/<int:pk>/", views.comment_update, name="comment_update"),
]
