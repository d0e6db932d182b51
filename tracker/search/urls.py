from django.urls import path

from tracker.search import views

app_name = "search"

urlpatterns = [
    path("search/", views.paper_search, name="search"),
]
