from django.apps import AppConfig


class PapersConfig(AppConfig):
    name = "tracker.papers"
    label = "papers"
