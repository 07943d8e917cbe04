from django.apps import AppConfig


class LeadAppConfig(AppConfig):
    name = "leadapp"
    verbose_name = "LeadApp"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from leads.signals import leads_changed

        from .roles import sync_roles
        from .webhooks import on_leads_changed

        post_migrate.connect(sync_roles, sender=self)
        leads_changed.connect(on_leads_changed, dispatch_uid="leadapp.webhooks.lead_created")
