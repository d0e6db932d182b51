from django.apps import AppConfig


class FollowsConfig(AppConfig):
    name = "tracker.follows"
    label = "follows"

    def ready(self) -> None:
        # Papers sit below this app and cannot call it: it signals arrivals, new vectors
        # and code events, and this app queues the matching of follows after commit.
        from tracker.follows.services import (
            alerts_enqueue_for_code_events,
            alerts_enqueue_for_papers,
        )
        from tracker.papers.signals import code_events_recorded, embeddings_stored, papers_arrived

        papers_arrived.connect(alerts_enqueue_for_papers, dispatch_uid="follows-arrived")
        embeddings_stored.connect(alerts_enqueue_for_papers, dispatch_uid="follows-embedded")
        code_events_recorded.connect(alerts_enqueue_for_code_events, dispatch_uid="follows-code")
