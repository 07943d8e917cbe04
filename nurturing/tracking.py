"""What a campaign e-mail's recipient does with it: opens, clicks, unsubscribes, comes back;
and what the provider reports about it: bounces and complaints (``nurturing.webhooks``).

Each is recorded once however often it arrives: a conditional UPDATE of the message's
timestamp decides which of two concurrent requests is first, and every activity carries an
``external_id`` (``open:<message>``, ``click:<message>:<url hash>``) that the database keeps
unique, so a pixel loaded twice or a webhook delivered twice adds nothing the second time.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from leads.models import Activity, ActivityKind, ActivitySource, Consent, Lead, normalize_email
from leads.services import activities_added, activity_marker
from leads.signals import leads_changed

from . import services
from .models import Message, Suppression

log = logging.getLogger(__name__)

MAX_URL_LENGTH = 2000
MAX_USER_AGENT_LENGTH = 300
# A stronger reason replaces a weaker one on an address already suppressed: an address that
# bounced or complained cannot be resubscribed from the preference page.
_REASON_RANK = {
    Suppression.Reason.UNSUBSCRIBED: 0,
    Suppression.Reason.MANUAL: 1,
    Suppression.Reason.BOUNCED: 2,
    Suppression.Reason.COMPLAINED: 3,
}


class CannotResubscribe(Exception):
    """The address is suppressed for a reason its owner cannot undo (a bounce, a complaint,
    or a marketer's decision)."""


def message_for_token(token) -> Message | None:
    return Message.objects.select_related("campaign", "lead").filter(token=token).first()


# --- Opens and clicks -------------------------------------------------------------------


def record_open(token, meta: Mapping[str, Any] | None = None) -> bool:
    """The open pixel was loaded: the first time sets ``opened_at`` and records an "e-mail
    opened" activity; returns whether this was the first open."""
    message = message_for_token(token)
    if message is None:
        return False
    now = timezone.now()
    with transaction.atomic():
        first = _set_once(message, "opened_at", now)
        if first:
            _record(message, ActivityKind.EMAIL_OPEN, f"open:{message.pk}", now, _meta(meta))
    return first


def record_click(token, url: str, meta: Mapping[str, Any] | None = None) -> bool:
    """A tracked link was followed: sets ``clicked_at`` (and ``opened_at``: images may be
    blocked, but a click means the e-mail was read) and records one "link clicked" activity
    per message and address; returns whether this click was new."""
    message = message_for_token(token)
    if message is None:
        return False
    url = url[:MAX_URL_LENGTH]
    now = timezone.now()
    with transaction.atomic():
        _set_once(message, "clicked_at", now)
        if _set_once(message, "opened_at", now):
            _record(message, ActivityKind.EMAIL_OPEN, f"open:{message.pk}", now, {"via": "click"})
        url_hash = hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()[:16]
        return _record(
            message,
            ActivityKind.EMAIL_CLICK,
            f"click:{message.pk}:{url_hash}",
            now,
            {"url": url, **_meta(meta)},
        )


# --- Unsubscribing and coming back ------------------------------------------------------


def unsubscribe(
    *, token=None, email: str = "", how: str, message: Message | None = None
) -> Suppression | None:
    """The person asked for no more marketing e-mail (by the link in an e-mail, one-click in
    their mail client, the preference page, or their provider): the address is suppressed,
    the lead's consent withdrawn and recorded, and the lead leaves its campaigns. Safe to
    repeat: a second request records nothing new. Returns the suppression (``None`` for an
    unknown token)."""
    if token is not None:
        message = message_for_token(token)
        if message is None:
            return None
    email = normalize_email(email or (message.to_email if message else ""))
    if not email:
        return None
    lead = _lead_for(email, message)
    now = timezone.now()
    with transaction.atomic():
        suppression, created = _suppress_row(email, Suppression.Reason.UNSUBSCRIBED, how, message)
        if message is not None:
            _set_once(message, "unsubscribed_at", now)
        if lead is None:
            return suppression
        if lead.email != email:  # the lead changed address since: the person is who asked
            _suppress_row(lead.email, Suppression.Reason.UNSUBSCRIBED, how, message)
        withdrawn = bool(
            Lead.objects.filter(pk=lead.pk, marketing_consent=True).update(
                marketing_consent=False, consent_at=now, consent_method=how[:200], updated_at=now
            )
        )
        if withdrawn or created:
            Consent.objects.create(lead=lead, given=False, method=how[:200])
            properties = {"how": how, **_message_properties(message)} if message else {"how": how}
            _record_for_lead(lead.pk, ActivityKind.UNSUBSCRIBED, "", now, properties, reason="Unsubscribed")
        services.exit_leads([lead.pk])
    return suppression


def resubscribe(token, how: str = "Preference page") -> bool:
    """The person asked for marketing e-mail again on the preference page: only an address
    they unsubscribed themselves comes back (``CannotResubscribe`` otherwise). Returns
    ``False`` for an unknown token."""
    message = message_for_token(token)
    if message is None:
        return False
    lead = _lead_for(normalize_email(message.to_email), message)
    addresses = _addresses(message, lead)
    now = timezone.now()
    with transaction.atomic():
        reasons = set(Suppression.objects.filter(email__in=addresses).values_list("reason", flat=True))
        if reasons - {Suppression.Reason.UNSUBSCRIBED}:
            raise CannotResubscribe(", ".join(sorted(reasons)))
        Suppression.objects.filter(email__in=addresses, reason=Suppression.Reason.UNSUBSCRIBED).delete()
        if lead is not None:
            given = Lead.objects.filter(pk=lead.pk, marketing_consent=False).update(
                marketing_consent=True, consent_at=now, consent_method=how[:200], updated_at=now
            )
            if given or reasons:
                Consent.objects.create(lead=lead, given=True, method=how[:200])
                leads_changed.send(sender=Lead, lead_ids={lead.pk}, reason="Subscribed again")
    return True


def subscription_state(message: Message) -> str:
    """What the preference page shows: "subscribed", "unsubscribed" (they can come back)
    or "blocked" (bounced, complained or suppressed by hand: they cannot)."""
    lead = _lead_for(normalize_email(message.to_email), message)
    reasons = set(
        Suppression.objects.filter(email__in=_addresses(message, lead)).values_list("reason", flat=True)
    )
    if reasons - {Suppression.Reason.UNSUBSCRIBED}:
        return "blocked"
    if reasons or lead is None or not lead.marketing_consent:
        return "unsubscribed"
    return "subscribed"


def _addresses(message: Message, lead: Lead | None) -> set[str]:
    """The address the e-mail went to, and the lead's address now if it changed since."""
    return {normalize_email(message.to_email)} | ({lead.email} if lead is not None else set())


# --- Bounces, complaints and the hand-kept list ------------------------------------------


def suppress(email: str, reason: str, detail: str = "", message: Message | None = None) -> Suppression | None:
    """Never send marketing e-mail to ``email`` again (a bounce, a complaint, or a marketer's
    decision): the message's ``bounced_at``/``complained_at`` is set when it is known, a
    bounce goes on the lead's timeline, and the lead leaves its campaigns."""
    email = normalize_email(email or (message.to_email if message else ""))
    if not email:
        return None
    lead = _lead_for(email, message)
    now = timezone.now()
    with transaction.atomic():
        suppression, created = _suppress_row(email, reason, detail, message)
        newly_bounced = False
        if message is not None and reason == Suppression.Reason.BOUNCED:
            newly_bounced = _set_once(message, "bounced_at", now)
        elif message is not None and reason == Suppression.Reason.COMPLAINED:
            _set_once(message, "complained_at", now)
        if lead is None:
            return suppression
        if reason == Suppression.Reason.BOUNCED and (created or newly_bounced):
            properties = {"detail": detail[:500], **(_message_properties(message) if message else {})}
            external_id = f"bounce:{message.pk}" if message is not None else ""
            _record_for_lead(
                lead.pk, ActivityKind.EMAIL_BOUNCE, external_id, now, properties, reason="Bounced"
            )
        services.exit_leads([lead.pk])
    return suppression


def _suppress_row(email: str, reason: str, detail: str, message: Message | None) -> tuple[Suppression, bool]:
    # get_or_create retries the read when a concurrent request inserted the address first.
    suppression, created = Suppression.objects.get_or_create(
        email=email, defaults={"reason": reason, "detail": detail[:500], "message": message}
    )
    if not created and _REASON_RANK.get(reason, 0) > _REASON_RANK.get(suppression.reason, 0):
        Suppression.objects.filter(pk=suppression.pk).update(reason=reason, detail=detail[:500])
        suppression.reason, suppression.detail = reason, detail[:500]
    return suppression, created


# --- Helpers ------------------------------------------------------------------------------


def _set_once(message: Message, column: str, now) -> bool:
    """Set a timestamp of the message if it has none; of two concurrent requests only one
    updates the row (the second waits for the first's lock, then finds it set)."""
    done = bool(Message.objects.filter(pk=message.pk, **{f"{column}__isnull": True}).update(**{column: now}))
    if done:
        setattr(message, column, now)
    return done


def _lead_for(email: str, message: Message | None) -> Lead | None:
    if message is not None and message.lead_id and message.kind == Message.Kind.MARKETING:
        return message.lead
    return Lead.objects.filter(email=email).first()


def _message_properties(message: Message) -> dict[str, Any]:
    return {
        "campaign": message.campaign.name if message.campaign else "",
        "campaign_id": message.campaign_id,
        "message_id": message.pk,
        "step_id": message.step_id,
    }


def _meta(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    user_agent = str((meta or {}).get("user_agent") or "")[:MAX_USER_AGENT_LENGTH]
    return {"user_agent": user_agent} if user_agent else {}


def _record(message: Message, kind: str, external_id: str, now, extra: dict[str, Any]) -> bool:
    """An activity of the message's lead (marketing e-mails only: a notification goes to a
    user, not to the lead); returns whether it was new."""
    if message.kind != Message.Kind.MARKETING or not message.lead_id:
        return False
    label = ActivityKind(kind).label
    return _record_for_lead(
        message.lead_id, kind, external_id, now, {**_message_properties(message), **extra}, reason=label
    )


def _record_for_lead(
    lead_id: int, kind: str, external_id: str, now, properties: dict, *, reason: str
) -> bool:
    marker = activity_marker()
    try:
        with transaction.atomic():
            Activity.objects.create(
                lead_id=lead_id,
                kind=kind,
                occurred_at=now,
                properties=properties,
                source=ActivitySource.EMAIL,
                external_id=external_id,
            )
    except IntegrityError:
        return False  # recorded before: a reload, a retry, or a concurrent request came first
    activities_added([lead_id], after=marker, reason=f"{reason} (E-mail)")
    return True
