"""Beat re-queues imports whose run stopped reporting (a worker died, the broker lost the
message); fresh and finished ones are left alone."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from leads import imports
from leads.models import LeadImport

pytestmark = pytest.mark.django_db


def make(status: str, heartbeat_age: timedelta | None) -> LeadImport:
    heartbeat = timezone.now() - heartbeat_age if heartbeat_age is not None else None
    return LeadImport.objects.create(
        content=b"email\na@example.com\n", filename="a.csv", status=status, heartbeat_at=heartbeat
    )


def test_stale_queued_and_running_imports_are_queued_again(django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("leads.tasks.run_import.delay", sent.append)
    stale_running = make("running", timedelta(minutes=10))
    stale_queued = make("queued", timedelta(minutes=6))
    make("running", timedelta(seconds=20))
    make("done", timedelta(hours=1))
    make("uploaded", None)

    with django_capture_on_commit_callbacks(execute=True):
        count = imports.requeue_stale_imports()

    assert count == 2
    assert sorted(sent) == sorted([stale_running.pk, stale_queued.pk])
    stale_running.refresh_from_db()
    assert timezone.now() - stale_running.heartbeat_at < timedelta(seconds=5)  # not again next minute


def test_the_sweep_is_on_beats_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["requeue-stale-imports"]

    assert entry["task"] == "leads.requeue_stale_imports"
    assert entry["schedule"] <= 60
