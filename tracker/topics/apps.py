from django.apps import AppConfig


class TopicsConfig(AppConfig):
    name = "tracker.topics"
    label = "topics"
