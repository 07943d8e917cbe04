import os

from celery import shared_task
from celery.signals import worker_ready
from django.utils import timezone

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
