"""Notifications: telling a user something in the app and by e-mail.

``notify`` writes the rows in the caller's transaction (the notice exists exactly when what it
is about does) and hands them to a worker on commit. ``send_emails`` claims pending rows
(``SKIP LOCKED`` on PostgreSQL: a duplicate task finds nothing to do) and e-mails them; a
failure stays pending and is tried again by the sweep (beat, every minute) up to
``MAX_ATTEMPTS`` times. The in-app list does not wait for any of it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from .db import insert_rows
from .models import Notification

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
CHUNK = 50


def notify(users: Iterable, *, kind: str, text: str, url: str = "", email: bool = True) -> None:
    """Tell each user (objects or ids) ``text``, linking to ``url``; e-mail it too unless
    ``email`` is false or the user has no address."""
    ids = sorted({getattr(user, "pk", user) for user in users if user is not None})
    if not ids:
        return
    addresses = dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "email"))
    now = timezone.now()
    rows = []
    for pk in ids:
        if pk in addresses:
            mailed = email and addresses[pk]
            rows.append((pk, kind, text[:500], url[:300], now, "pending" if mailed else "none", 0, ""))
    columns = ["user", "kind", "text", "url", "created_at", "email", "email_attempts", "email_error"]
    insert_rows(Notification, columns, rows)
    if any(row[5] == "pending" for row in rows):
        transaction.on_commit(_hand_over, robust=True)


def _hand_over() -> None:
    from .tasks import send_notification_emails

    try:
        send_notification_emails.delay()
    except Exception:  # noqa: BLE001 - the broker is down: the sweep sends them
        log.warning("notification e-mails not queued; the sweep will send them", exc_info=True)


def unread_count(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def mark_read(user, ids: Iterable[int] | None = None) -> int:
    notes = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        notes = notes.filter(pk__in=list(ids))
    return notes.update(read_at=timezone.now())


def send_emails() -> int:
    """E-mail pending notifications, a chunk at a time; returns how many were sent. A failed one
    waits for the next run (the sweep, a minute later) rather than being retried at once, and so
    does the rest of its chunk: the mail server is likely down, and each would wait its timeout."""
    sent, tried = 0, set()
    while True:
        with transaction.atomic():
            batch = list(
                Notification.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("user")
                .filter(email=Notification.Email.PENDING)
                .exclude(pk__in=tried)
                .order_by("id")[:CHUNK]
            )
            if not batch:
                return sent
            tried.update(note.pk for note in batch)
            sent += _send(batch)


def _send(batch: list[Notification]) -> int:
    sent = 0
    base = settings.LEADAPP_BASE_URL.rstrip("/")
    connection = get_connection(fail_silently=False)
    try:
        for note in batch:
            link = f"\n\n{base}{note.url}" if note.url else ""
            message = EmailMessage(
                subject=f"LeadApp: {note.text[:120]}",
                body=f"{note.text}{link}\n\n— LeadApp",
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[note.user.email],
                connection=connection,
            )
            try:
                message.send()
            except Exception as exc:  # noqa: BLE001 - kept pending and tried again later
                log.warning("notification %s not e-mailed: %s", note.pk, exc)
                attempts = note.email_attempts + 1
                status = Notification.Email.FAILED if attempts >= MAX_ATTEMPTS else Notification.Email.PENDING
                Notification.objects.filter(pk=note.pk).update(
                    email=status, email_attempts=attempts, email_error=str(exc)[:500]
                )
                break  # the server is likely down: the rest of the batch waits for the sweep
            else:
                Notification.objects.filter(pk=note.pk).update(
                    email=Notification.Email.SENT, email_attempts=note.email_attempts + 1, email_error=""
                )
                sent += 1
    finally:
        connection.close()
    return sent
