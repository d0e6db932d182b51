from django.urls import path

from tracker.topics import views

app_name = "topics"

# One topic's page is in tracker.portal.urls, under this same namespace.
urlpatterns = [
    path("topics/", views.topic_index, name="index"),
    path("topics/map/", views.topic_map, name="map"),
    path("topics/map/data/", views.topic_map_data, name="map_data"),
]
