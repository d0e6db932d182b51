from django.urls import path

from tracker.reproductions import api

app_name = "api"

urlpatterns = [
    path("openapi.json", api.openapi, name="openapi"),
    path("reproductions/<int:pk>/", api.reproduction_get, name="reproduction"),
    path("reproductions/<int:pk>/results/", api.result_create, name="results"),
    path("reproductions/<int:pk>/status/", api.status_change, name="status"),
]
