from django.db import models


class WorkerHeartbeat(models.Model):
    """Written by a Celery worker; the home page shows whether background work is running."""

    hostname = models.CharField(max_length=200, primary_key=True)
    pid = models.PositiveIntegerField()
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.hostname} (pid {self.pid})"
