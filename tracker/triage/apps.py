from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "tracker.triage"
    label = "triage"
