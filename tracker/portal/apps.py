from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The top layer: pages that show every app at once (home, a paper, Sources, progress)
    and the commands that set a whole installation up. Nothing below imports it."""

    name = "tracker.portal"
    label = "portal"
