"""Background work really runs in a worker process, fed through the real broker."""

import os
import time

import pytest
from django.utils import timezone

from leadapp.models import WorkerHeartbeat
from leadapp.tasks import record_heartbeat


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_task_sent_through_the_broker_is_executed_by_the_worker_process(
    celery_worker_process, page_as, manager
):
    sent_at = timezone.now()
    record_heartbeat.delay()

    deadline = time.monotonic() + 30
    while not WorkerHeartbeat.objects.filter(seen_at__gt=sent_at).exists():
        assert time.monotonic() < deadline, "the worker did not run the task within 30 s"
        time.sleep(0.2)

    heartbeat = WorkerHeartbeat.objects.get(seen_at__gt=sent_at)
    assert heartbeat.pid == celery_worker_process.pid
    assert heartbeat.pid != os.getpid()

    home = page_as(manager).get("/").content.decode()
    assert f"(pid {heartbeat.pid}) last reported" in home
