from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tracker.core"
    label = "core"

    def ready(self) -> None:
        from django.db.models import CharField, ForeignObject, IntegerField, TextField

        from tracker.core import checks  # noqa: F401  (registers the system checks)
        from tracker.core.db import Among

        for field in (IntegerField, CharField, TextField, ForeignObject):
            field.register_lookup(Among)
