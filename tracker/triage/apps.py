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
