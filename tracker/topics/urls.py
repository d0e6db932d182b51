from django.urls import path

from tracker.topics import views

app_name = "topics"

# One topic's page and the map's data are in tracker.portal.urls, under this namespace.
urlpatterns = [
    path("topics/", views.topic_index, name="index"),
    path("topics/map/", views.topic_map, name="map"),
]
