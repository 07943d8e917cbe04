"""Bounces and complaints reported by the e-mail provider, through django-anymail's
normalized tracking webhooks (/anymail/<provider>/tracking/): the address is suppressed.

Anymail checks the request (basic auth with ``ANYMAIL["WEBHOOK_SECRET"]``, or the provider's
signature) and sends the ``tracking`` signal; this receiver matches the event to our outbox
row by its Message-ID header when the provider reports it (Mailgun, SendGrid), else by the
recipient's newest campaign e-mail, and suppresses the address. An error here answers 500,
and providers deliver the event again later.
"""

import logging

from anymail.signals import AnymailTrackingEvent, EventType, tracking
from anymail.utils import get_anymail_setting
from django.dispatch import receiver

from leads.models import Lead, normalize_email

from . import tracking as tracking_service
from .models import Message, Suppression

log = logging.getLogger(__name__)

SUPPRESS = {
    EventType.BOUNCED: Suppression.Reason.BOUNCED,
    EventType.REJECTED: Suppression.Reason.BOUNCED,
    EventType.COMPLAINED: Suppression.Reason.COMPLAINED,
}


@receiver(tracking, dispatch_uid="nurturing.provider_event")
def provider_event(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    if event.event_type not in SUPPRESS and event.event_type != EventType.UNSUBSCRIBED:
        return  # deliveries, opens, clicks: LeadApp tracks those itself
    if not _authenticated(sender):
        # Without a secret anyone could post a "bounce" and silence any address.
        log.warning("Ignored a %s %s webhook: set ANYMAIL_WEBHOOK_SECRET", esp_name, event.event_type)
        return
    message = find_message(event.message_id, event.recipient)
    email = normalize_email(event.recipient or (message.to_email if message else ""))
    if not email:
        log.warning("Ignored a %s %s event without a recipient", esp_name, event.event_type)
        return
    if event.event_type == EventType.UNSUBSCRIBED:
        tracking_service.unsubscribe(email=email, how=f"{esp_name}: unsubscribed", message=message)
        return
    tracking_service.suppress(email, SUPPRESS[event.event_type], _detail(event, esp_name), message=message)


def find_message(message_id: str | None, recipient: str | None) -> Message | None:
    """Our outbox row for a provider's event: by the Message-ID header (``<uuid@domain>``,
    with or without its angle brackets), else the recipient's newest campaign e-mail sent."""
    bare = (message_id or "").strip().strip("<>").strip()
    if bare:
        found = Message.objects.filter(message_id__in=[f"<{bare}>", bare]).select_related("lead", "campaign")
        if message := found.first():
            return message
    email = normalize_email(recipient or "")
    lead_id = Lead.objects.filter(email=email).values_list("pk", flat=True).first() if email else None
    if lead_id is None:
        return None
    return (
        Message.objects.filter(lead_id=lead_id, to_email=email, kind=Message.Kind.MARKETING)
        .exclude(sent_at=None)
        .select_related("lead", "campaign")
        .order_by("-pk")
        .first()
    )


def _authenticated(sender) -> bool:
    """Anymail accepts requests to a basic-auth-only provider's webhook when no secret is
    set (it only warns); LeadApp does not act on them."""
    if get_anymail_setting("webhook_secret", default=None):
        return True
    return not getattr(sender, "warn_if_no_basic_auth", True)  # validated by a signature


def _detail(event: AnymailTrackingEvent, esp_name: str) -> str:
    parts = [esp_name, event.reject_reason or "", event.description or "", event.mta_response or ""]
    return " · ".join(str(p).strip() for p in parts if p and str(p).strip())[:500]
