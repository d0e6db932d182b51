from django.urls import path

from tracker.papers import views

app_name = "papers"

urlpatterns = [
    path("papers/<int:pk>/", views.paper_detail, name="detail"),
    path("search/", views.paper_search, name="search"),
]
