"""Nothing lost: when processing a submission fails, the submission stays stored with its
error, and the beat task ``leads.process_pending_submissions`` processes it later."""

from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.utils import timezone

from leads import tasks
from leads.models import Activity, ActivityKind, Lead, Submission
from leads.tests.capture import post_hosted
from leads.tests.factories import CaptureFormFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def form():
    return CaptureFormFactory(slug="ebook", fields=[{"name": "company", "maps_to": "company_name"}])


def broken_processing():
    return mock.patch("leads.services.upsert_lead", side_effect=RuntimeError("database hiccup"))


def age(submission: Submission, minutes: float) -> None:
    Submission.objects.filter(pk=submission.pk).update(
        submitted_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_a_failed_processing_keeps_the_submission_with_its_error(client, form):
    with broken_processing():
        response = post_hosted(client, form, {"email": "ada@example.com", "company": "Engines"})

    assert response.status_code == 303  # the person's part is done: it is stored
    submission = Submission.objects.get()
    assert submission.processed_at is None
    assert submission.lead is None
    assert "database hiccup" in submission.error
    assert submission.payload["fields"] == {"email": "ada@example.com", "company": "Engines"}
    assert not Lead.objects.exists()
    assert not Activity.objects.exists()


def test_the_beat_task_processes_it_later(client, form):
    with broken_processing():
        post_hosted(client, form, {"email": "ada@example.com", "company": "Engines"})
    submission = Submission.objects.get()
    age(submission, 2)

    processed = tasks.process_pending_submissions()

    assert processed == 1
    submission.refresh_from_db()
    lead = Lead.objects.get()
    assert (lead.email, lead.company_name) == ("ada@example.com", "Engines")
    assert (submission.lead, submission.error) == (lead, "")
    assert submission.processed_at is not None
    assert Activity.objects.filter(lead=lead, kind=ActivityKind.FORM_SUBMITTED).count() == 1


def test_running_the_task_again_changes_nothing(client, form):
    with broken_processing():
        post_hosted(client, form, {"email": "ada@example.com"})
    age(Submission.objects.get(), 2)
    tasks.process_pending_submissions()

    assert tasks.process_pending_submissions() == 0
    assert Activity.objects.filter(kind=ActivityKind.FORM_SUBMITTED).count() == 1


def test_the_task_leaves_submissions_of_the_last_minute_alone(client, form):
    with broken_processing():
        post_hosted(client, form, {"email": "ada@example.com"})

    assert tasks.process_pending_submissions() == 0
    assert Submission.objects.get().processed_at is None


def test_a_submission_that_keeps_failing_stays_pending_with_its_error(client, form):
    with broken_processing():
        post_hosted(client, form, {"email": "ada@example.com"})
        age(Submission.objects.get(), 2)
        assert tasks.process_pending_submissions() == 0

    submission = Submission.objects.get()
    assert submission.processed_at is None
    assert "database hiccup" in submission.error


def test_the_task_runs_every_minute():
    entry = next(
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "leads.process_pending_submissions"
    )

    assert entry["schedule"] == 60.0
