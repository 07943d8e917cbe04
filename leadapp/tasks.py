from celery import shared_task
from django.utils import timezone

from .models import WorkerHeartbeat


@shared_task(bind=True, name="leadapp.record_heartbeat")
def record_heartbeat(self) -> None:
    """Beat runs this every minute; the home page shows the last one per worker."""
    import os

    WorkerHeartbeat.objects.update_or_create(
        hostname=self.request.hostname or "eager",
        defaults={"pid": os.getpid(), "seen_at": timezone.now()},
    )
