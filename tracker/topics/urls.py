from django.urls import path

from tracker.topics import views

app_name = "topics"

urlpatterns = [
    path("topics/", views.topic_index, name="index"),
    path("topics/map/", views.topic_map, name="map"),
    path("topics/map/data/", views.topic_map_data, name="map_data"),
    path("topics/<int:pk>/", views.topic_detail, name="detail"),
]
