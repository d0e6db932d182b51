"""System checks that stop start-up on bad configuration, naming the variable."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.compatibility, deploy=False)
def check_environment(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = [
        Error(f"Environment variable {name} is invalid: {message}", id="tracker.E001", obj=name)
        for name, message in settings.CONFIG_ERRORS
    ]
    if settings.ARXIV_DELAY_SECONDS < 0:
        errors.append(
            Error("Environment variable ARXIV_DELAY_SECONDS must be >= 0", id="tracker.E002")
        )
    if settings.EMBEDDING_BATCH_SIZE < 1:
        errors.append(
            Error("Environment variable EMBEDDING_BATCH_SIZE must be >= 1", id="tracker.E003")
        )
    return errors
