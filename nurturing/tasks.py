"""Celery tasks of the nurturing app: thin, idempotent wrappers around services."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from . import sending, services
from .models import Message

# Temporary SMTP failures are retried with backoff: 1, 2, 4, 8 … minutes.
RETRY_BASE_SECONDS = 60


@shared_task(name="nurturing.dispatch")
def dispatch() -> int:
    """Beat, every 15 s (and after enrollments): run the campaign steps that are due."""
    return services.dispatch().steps_run


@shared_task(name="nurturing.enroll_triggered")
def enroll_triggered() -> int:
    """Beat, every minute: enroll the leads that the active campaigns' triggers match."""
    return services.enroll_triggered()


@shared_task(name="nurturing.sweep_outbox")
def sweep_outbox() -> int:
    """Beat, every minute: send again what a dead worker or a lost task left behind."""
    return services.sweep_outbox()


@shared_task(name="nurturing.send_messages", bind=True, acks_late=True, max_retries=None)
def send_messages(self, message_ids: list[int]) -> int:
    """Send outbox rows. Safe to run twice: a row is claimed before it is sent."""
    result = sending.send_messages(message_ids)
    if result.retry:
        backoff = min(RETRY_BASE_SECONDS * 2**self.request.retries, 3600)
        countdown = 60 if result.rate_limited else backoff
        # When the retry is due, so that the sweeper does not hand the rows over before it.
        Message.objects.filter(pk__in=result.retry, status=Message.Status.QUEUED).update(
            enqueued_at=timezone.now() + timedelta(seconds=countdown)
        )
        raise self.retry(args=(result.retry,), countdown=countdown)
    return len(result.sent)
