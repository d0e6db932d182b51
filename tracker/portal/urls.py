"""The portal's pages under the namespaces of the apps they started in (tracker/urls.py
joins them to each app's own), so that `papers:detail` or `topics:detail` keep their names."""

from django.urls import path

from tracker.portal import views

paper_urlpatterns = [
    path("papers/<int:pk>/", views.paper_detail, name="detail"),
    path("sources/", views.sources, name="sources"),
]

topic_urlpatterns = [
    path("topics/<int:pk>/", views.topic_detail, name="detail"),
    path("topics/map/data/", views.topic_map_data, name="map_data"),
]
