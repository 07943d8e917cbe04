from django.apps import AppConfig


class LeadAppConfig(AppConfig):
    name = "leadapp"
    verbose_name = "LeadApp"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from .roles import sync_roles

        post_migrate.connect(sync_roles, sender=self)
