from django.apps import AppConfig


class ScoringConfig(AppConfig):
    """Rule sets, scores and the predictive model: built in the scoring issues."""

    name = "scoring"
