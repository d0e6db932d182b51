from django.apps import AppConfig


class TopicsConfig(AppConfig):
    name = "tracker.topics"
    label = "topics"

    def ready(self) -> None:
        # Papers sit below this app, so a merge of two papers learns here what to do with
        # this app's rows.
        from tracker.papers.merge import merge_step_register
        from tracker.topics.merge import MERGE_STEP

        merge_step_register(MERGE_STEP)

        # Papers cannot import topics (topics is above it): it signals new vectors instead.
        from tracker.papers.signals import embeddings_stored
        from tracker.topics.services import topics_join_embedded

        embeddings_stored.connect(topics_join_embedded, dispatch_uid="topics-join-embedded")
