from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "tracker.triage"
    label = "triage"

    def ready(self) -> None:
        # Papers sit below this app, so a merge of two papers learns here what to do with
        # this app's rows.
        from tracker.papers.merge import merge_step_register
        from tracker.triage.merge import MERGE_STEP

        merge_step_register(MERGE_STEP)

        # Papers cannot import triage: a finished embedding run tells it what to share.
        from tracker.papers.signals import embedding_run_finished
        from tracker.triage.sharing import share_after_embedding_run

        embedding_run_finished.connect(share_after_embedding_run, dispatch_uid="triage-share")
