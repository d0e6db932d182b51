from django.urls import path

from tracker.reproductions import views

app_name = "reproductions"

urlpatterns = [
    path("reproductions/", views.board, name="board"),
    path("reproductions/<int:pk>/", views.reproduction_detail, name="detail"),
    path("reproductions/<int:pk>/assign/", views.assign, name="assign"),
    path("reproductions/<int:pk>/status/", views.transition, name="transition"),
    path("reproductions/<int:pk>/plan/", views.plan, name="plan"),
    path("reproductions/<int:pk>/claims/", views.add_claim, name="add_claim"),
    path("reproductions/<int:pk>/results/", views.add_result, name="add_result"),
    path("papers/<int:paper_pk>/reproduce/", views.propose, name="propose"),
    path("claim-drafts/<int:pk>/accept/", views.accept_draft, name="accept_draft"),
    path("claim-drafts/<int:pk>/reject/", views.reject_draft, name="reject_draft"),
    path("claims/<int:pk>/rechecked/", views.claim_rechecked, name="claim_rechecked"),
    path("stats/", views.stats, name="stats"),
]
