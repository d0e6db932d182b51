from django.apps import AppConfig


class ReproductionsConfig(AppConfig):
    name = "tracker.reproductions"
    label = "reproductions"
