from django.urls import path

from tracker.papers import views

app_name = "papers"

# The paper page and Sources are in tracker.portal.urls, under this same namespace.
urlpatterns = [
    path("papers/<int:pk>/bibtex/", views.paper_bibtex_view, name="bibtex"),
    path("papers/add/", views.paper_add_view, name="add"),
]
