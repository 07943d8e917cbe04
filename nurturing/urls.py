"""Internal pages of nurturing (login and role required); the public links are in
``public_urls``."""

from .campaign_urls import urlpatterns as campaign_patterns
from .outbox_urls import urlpatterns as outbox_patterns
from .template_urls import urlpatterns as template_patterns

app_name = "nurturing"
urlpatterns = [*campaign_patterns, *template_patterns, *outbox_patterns]
