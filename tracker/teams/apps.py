from django.apps import AppConfig


class TeamsConfig(AppConfig):
    name = "tracker.teams"
    label = "teams"
