import os

from celery import shared_task
from celery.signals import worker_ready
from django.utils import timezone

from . import webhooks
from .models import WorkerHeartbeat


@shared_task(bind=True, name="leadapp.record_heartbeat")
def record_heartbeat(self) -> None:
    """Beat sends this every minute; the home page shows the last one per worker."""
    WorkerHeartbeat.objects.update_or_create(
        hostname=self.request.hostname or "eager",
        defaults={"pid": os.getpid(), "seen_at": timezone.now()},
    )


@worker_ready.connect
def report_in_when_ready(sender, **kwargs) -> None:
    # Through the broker, not a direct write: the first heartbeat proves the round trip. On a
    # queue this worker reads, so that it is this worker that reports.
    queues = list(sender.app.amqp.queues.consume_from or {})
    record_heartbeat.apply_async(queue=queues[0] if queues else None)


@shared_task(name="leadapp.deliver_webhooks", acks_late=True)
def deliver_webhooks(delivery_ids: list[int]) -> int:
    """POST webhook deliveries. Safe to run twice: a row is claimed before it is sent; a
    failure is put back with its next attempt time, which the sweeper honours."""
    return len(webhooks.deliver(delivery_ids).delivered)


@shared_task(name="leadapp.sweep_webhooks")
def sweep_webhooks() -> int:
    """Beat, every minute: hand over the webhook deliveries that are due again or were lost."""
    return webhooks.sweep()


@shared_task(name="leadapp.send_notification_emails", acks_late=True)
def send_notification_emails() -> int:
    """E-mail the pending notifications (on commit of each, and by beat every minute for
    those a failure, a dead worker or a lost task left)."""
    from . import notifications

    return notifications.send_emails()
