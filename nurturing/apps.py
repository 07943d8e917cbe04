from django.apps import AppConfig


class NurturingConfig(AppConfig):
    """E-mail templates, campaigns, enrollments, the outbox, tracking and suppression."""

    name = "nurturing"
    verbose_name = "Nurturing"

    def ready(self):
        from . import receivers, webhooks  # noqa: F401
