from django.apps import AppConfig


class DigestsConfig(AppConfig):
    name = "tracker.digests"
    label = "digests"
