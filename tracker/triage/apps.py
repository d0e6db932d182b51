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
        from tracker.triage.sharing import share_after_embedding_run, shares_of_leaver

        embedding_run_finished.connect(share_after_embedding_run, dispatch_uid="triage-share")

        # Someone who leaves a team leaves their unread share to the others.
        from django.db.models.signals import post_delete

        from tracker.teams.models import Membership

        post_delete.connect(shares_of_leaver, sender=Membership, dispatch_uid="triage-leaver")
