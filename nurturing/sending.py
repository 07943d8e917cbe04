"""Sending outbox rows: at most once each, and none lost.

A worker *claims* rows (queued → sending, under ``SKIP LOCKED``), so a duplicate task or a
second worker finds nothing to do. It renders each message, stores what it will send, sends
it over one SMTP connection per batch, and marks it sent straight after the server accepted
it. A worker killed before the server accepted a message leaves its row "sending": the
sweeper (``services.sweep_outbox``) puts it back after ten minutes and it is sent then. The
one window left — killed after the server accepted but before the row says so — is closed
as far as SMTP allows: the message keeps its Message-ID, so a resend is recognisable.
"""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.html import escape

from leadapp.db import insert_rows
from leads.models import Activity, ActivityKind, ActivitySource
from leads.services import ACTIVITY_COLUMNS, activities_added, activity_marker

from . import links, rendering, services
from .models import Campaign, Enrollment, Message, Suppression

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


@dataclass
class SendResult:
    sent: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)  # a temporary failure: send again later
    failed: list[int] = field(default_factory=list)
    rate_limited: bool = False


def claim(message_ids: list[int]) -> list[Message]:
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Message.objects.filter(pk__in=message_ids, status=Message.Status.QUEUED)
            .exclude(campaign__status=Campaign.Status.PAUSED)
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)
        )
        Message.objects.filter(pk__in=ids).update(
            status=Message.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
    return list(
        Message.objects.filter(pk__in=ids)
        .select_related("lead", "lead__owner", "lead__score", "campaign", "step__template", "enrollment")
        .order_by("pk")
    )


def send_messages(message_ids: list[int]) -> SendResult:
    """Claim the rows of ``message_ids`` that are still queued, and send them."""
    return deliver(claim(message_ids))


def deliver(messages: list[Message]) -> SendResult:
    """Send claimed rows over one SMTP connection."""
    result = SendResult()
    if not messages:
        return result
    suppressed = dict(
        Suppression.objects.filter(email__in={m.to_email for m in messages}).values_list("email", "reason")
    )
    connection = get_connection()
    try:
        try:
            connection.open()  # one connection for the batch
        except (smtplib.SMTPException, OSError) as error:
            _later(messages, f"The mail server cannot be reached: {error}", result)
            return result
        for index, message in enumerate(messages):
            if not _rate_allows():
                result.rate_limited = True
                _release([m.pk for m in messages[index:]])
                result.retry += [m.pk for m in messages[index:]]
                break
            try:
                _send_one(message, connection, result, suppressed)
            except Exception as error:  # noqa: BLE001 - one bad message must not hold back the rest
                log.exception("Message %s could not be sent", message.pk)
                _fail(message, f"Could not be sent: {error}", result)
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - closing a broken connection must not hide the result
            log.warning("Closing the SMTP connection failed", exc_info=True)
    _record_sent([m for m in messages if m.pk in set(result.sent)])
    return result


def _send_one(message: Message, connection, result: SendResult, suppressed: dict[str, str]) -> None:
    why_not = _why_not_send(message, suppressed)
    if why_not:
        Message.objects.filter(pk=message.pk).update(status=Message.Status.SKIPPED, error=why_not)
        result.skipped.append(message.pk)
        return
    try:
        email, stored = build_email(message)
    except rendering.TemplateError as error:
        _fail(message, f"The template cannot be rendered: {error}", result)
        return
    if not _still_ours(message):
        return  # a slow batch: the sweeper gave this row to another worker meanwhile
    try:
        connection.send_messages([email])
    except smtplib.SMTPRecipientsRefused as error:
        code, reply = next(iter(error.recipients.values()), (0, b""))
        reply = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        if 400 <= code < 500:  # greylisting, a full mailbox: try again later
            _later([message], f"The server said later: {code} {reply}", result)
        else:  # the address does not exist: a hard bounce
            _fail(message, f"The server refused the recipient: {code} {reply}", result)
            from .tracking import suppress

            suppress(message.to_email, Suppression.Reason.BOUNCED, f"{code} {reply}"[:500], message)
        return
    except (smtplib.SMTPException, OSError) as error:
        # Nothing was accepted: send again later (with backoff), over a fresh connection.
        _later([message], str(error), result)
        with contextlib.suppress(Exception):
            connection.close()
        with contextlib.suppress(smtplib.SMTPException, OSError):
            connection.open()
        return
    # What went out is stored with the "sent" mark, in one statement. Should the worker die
    # before it, a resend renders the same content again.
    Message.objects.filter(pk=message.pk, claimed_at=message.claimed_at).update(
        status=Message.Status.SENT, sent_at=timezone.now(), error="", **stored
    )
    result.sent.append(message.pk)


# A row claimed longer ago than this is checked again before it is sent (the sweeper takes
# rows back only after ``services.STUCK_SENDING``; the margin allows for clock differences).
RECHECK_AFTER = timedelta(minutes=5)


def _still_ours(message: Message) -> bool:
    now = timezone.now()
    if now - message.claimed_at < RECHECK_AFTER:
        return True
    mine = Message.objects.filter(pk=message.pk, status=Message.Status.SENDING, claimed_at=message.claimed_at)
    if not mine.update(claimed_at=now):
        return False
    message.claimed_at = now
    return True


def _later(messages: list[Message], error: str, result: SendResult) -> None:
    """Nothing was accepted: queued again for a retry, or failed after ``MAX_ATTEMPTS``."""
    done = [m.pk for m in messages if m.attempts >= MAX_ATTEMPTS]
    again = [m.pk for m in messages if m.attempts < MAX_ATTEMPTS]
    Message.objects.filter(pk__in=done).update(
        status=Message.Status.FAILED, error=f"Gave up after {MAX_ATTEMPTS} attempts: {error}"[:2000]
    )
    Message.objects.filter(pk__in=again).update(status=Message.Status.QUEUED, error=error[:2000])
    result.failed += done
    result.retry += again


def _fail(message: Message, error: str, result: SendResult) -> None:
    Message.objects.filter(pk=message.pk).update(status=Message.Status.FAILED, error=error[:2000])
    result.failed.append(message.pk)


def _release(message_ids: list[int]) -> None:
    Message.objects.filter(pk__in=message_ids, status=Message.Status.SENDING).update(
        status=Message.Status.QUEUED, attempts=F("attempts") - 1
    )


def _why_not_send(message: Message, suppressed: dict[str, str]) -> str:
    if message.kind != Message.Kind.MARKETING:
        return ""
    lead = message.lead
    if lead is None:
        return "The lead was deleted."
    suppression = suppressed.get(lead.email) or suppressed.get(message.to_email)
    refusal = services.mail_refusal(
        email=message.to_email, consent=lead.marketing_consent, suppression=suppression
    )
    if refusal:
        return refusal
    enrollment = message.enrollment
    if enrollment and enrollment.status == Enrollment.Status.EXITED:
        return f"Left the campaign ({enrollment.get_exit_reason_display().lower()})."
    return ""


def _rate_allows() -> bool:
    limit = settings.NURTURING_RATE_PER_MINUTE
    if not limit:
        return True
    key = f"nurturing:sent:{int(timezone.now().timestamp() // 60)}"
    cache.add(key, 0, timeout=120)
    try:
        return cache.incr(key) <= limit
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=120)
        return True


# --- Building the e-mail ------------------------------------------------------------------

_HREF = re.compile(r'(<a\b[^>]*?\bhref=")(https?://[^"]+)(")', re.I)


def compose(message: Message) -> rendering.Rendered:
    """What a campaign message says, for its lead: the template rendered with the merge
    fields, links tracked, the unsubscribe footer and the open pixel added."""
    token = message.token
    unsubscribe, preferences = links.unsubscribe_url(token), links.preferences_url(token)
    context = rendering.merge_context(message.lead, unsubscribe_url=unsubscribe, preferences_url=preferences)
    template = message.step.template
    content = rendering.render(template, context)
    keep = {unsubscribe, preferences}

    def track(match):
        url = match.group(2).replace("&amp;", "&")
        # Only the addresses the marketer wrote are tracked (and so signed): a link built from
        # lead data, say a website a form visitor typed, is left as it is, never made into a
        # redirect through LeadApp.
        written = url in template.html_body or url.replace("&", "&amp;") in template.html_body
        if url in keep or not written:
            return match.group(0)
        return f"{match.group(1)}{escape(links.click_url(token, url))}{match.group(3)}"

    body = _HREF.sub(track, content.html)
    footer_html = footer_text = ""
    # Judged on what this lead gets: a link inside a block the lead does not see does not count.
    if unsubscribe not in content.html:
        footer_html = (
            '<p style="font-size:12px;color:#666;margin-top:24px">You receive this e-mail because you '
            f'agreed to hear from us. <a href="{escape(unsubscribe)}">Unsubscribe</a> · '
            f'<a href="{escape(preferences)}">Preferences</a></p>'
        )
    if unsubscribe not in content.text:
        footer_text = f"\n--\nUnsubscribe: {unsubscribe}\nPreferences: {preferences}\n"
    hidden = (
        '<div style="display:none;max-height:0;overflow:hidden">' + escape(content.preheader) + "</div>"
        if content.preheader
        else ""
    )
    pixel = f'<img src="{escape(links.open_url(token))}" width="1" height="1" alt="" style="display:block">'
    html = (
        '<!doctype html><html><head><meta charset="utf-8"></head><body>'
        f"{hidden}{body}{footer_html}{pixel}</body></html>"
    )
    return rendering.Rendered(
        subject=content.subject, preheader=content.preheader, html=html, text=content.text + footer_text
    )


def envelope(message: Message) -> dict:
    """Sender, reply-to and the extra headers a message goes out with (the outbox page shows
    the same)."""
    headers = {"Message-ID": message.message_id}
    campaign = message.campaign if message.kind == Message.Kind.MARKETING else None
    if message.kind == Message.Kind.MARKETING:
        # RFC 8058 one-click unsubscribe: the mail client POSTs to the link, no login.
        headers["List-Unsubscribe"] = f"<{links.unsubscribe_url(message.token)}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return {
        "from_email": campaign.sender if campaign else settings.DEFAULT_FROM_EMAIL,
        "reply_to": [campaign.reply_to] if campaign and campaign.reply_to else [],
        "headers": headers,
    }


def build_email(message: Message) -> tuple[EmailMultiAlternatives, dict]:
    """The e-mail to send, and the fields of the outbox row that record what it says."""
    if message.kind == Message.Kind.NOTIFICATION:
        email = EmailMultiAlternatives(
            subject=message.subject, body=message.text, to=[message.to_email], **envelope(message)
        )
        return email, {}
    content = compose(message)
    stored = {"subject": content.subject[:500], "html": content.html, "text": content.text}
    email = EmailMultiAlternatives(
        subject=content.subject, body=content.text, to=[message.to_email], **envelope(message)
    )
    email.attach_alternative(content.html, "text/html")
    return email, stored


def _record_sent(messages: list[Message]) -> None:
    """An "e-mail sent" activity on each lead's timeline, in one insert."""
    rows = [
        (
            m.lead_id,
            ActivityKind.EMAIL_SENT,
            timezone.now(),
            {
                "campaign": m.campaign.name if m.campaign else "",
                "campaign_id": m.campaign_id,
                "message_id": m.pk,
            },
            ActivitySource.EMAIL,
            f"sent:{m.pk}",
            None,
        )
        for m in messages
        if m.kind == Message.Kind.MARKETING and m.lead_id
    ]
    if not rows:
        return
    with transaction.atomic():
        marker = activity_marker()
        insert_rows(Activity, ACTIVITY_COLUMNS, rows, ignore_conflicts=True)
        activities_added({r[0] for r in rows}, after=marker, reason="E-mail sent")
