from django.urls import path

from tracker.papers import views

app_name = "papers"

urlpatterns = [
    path("papers/<int:pk>/", views.paper_detail, name="detail"),
    path("papers/<int:pk>/bibtex/", views.paper_bibtex_view, name="bibtex"),
    path("papers/add/", views.paper_add_view, name="add"),
    path("sources/", views.sources, name="sources"),
]
