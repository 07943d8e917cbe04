from django.apps import AppConfig


class ScoringConfig(AppConfig):
    """Rule sets, scores and their history; the predictive model comes later."""

    name = "scoring"

    def ready(self):
        from . import receivers  # noqa: F401
