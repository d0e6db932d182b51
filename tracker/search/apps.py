from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "tracker.search"
    label = "search"

    def ready(self) -> None:
        # Papers cannot import search (search is above it): it signals a finished run.
        from tracker.papers.signals import embedding_run_finished
        from tracker.search.index import similar_lists_after_embedding_run

        embedding_run_finished.connect(
            similar_lists_after_embedding_run, dispatch_uid="search-similar-lists"
        )
