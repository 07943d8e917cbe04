"""Helpers for the scoring tests: leads and activities go through ``leads.services`` (so that
real-time scoring runs as it does for users), scores are read back from the database."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from leads import services as lead_services
from leads.models import Lead
from scoring import services
from scoring.models import LeadScore, ScoreChange, ScoringJob

# A fixed moment the tests freeze the clock at (``time_machine.move_to(T0, tick=False)``).
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)

_emails = iter(range(10**9))


def make_lead(*, email: str = "", custom: dict | None = None, **data) -> Lead:
    return lead_services.create_lead(
        email=email or f"lead{next(_emails)}@example.com", data=data, custom=custom
    )


def act(lead: Lead, kind: str, *, at: datetime | None = None, **properties):
    """Record one activity as a user or the tracking would (``at``: when it happened)."""
    return lead_services.record_activity(lead, kind=kind, occurred_at=at, properties=properties)


def score(lead: Lead) -> LeadScore:
    return LeadScore.objects.get(lead_id=lead.pk)


def history(lead: Lead) -> list[ScoreChange]:
    """The lead's score changes, oldest first."""
    return list(ScoreChange.objects.filter(lead_id=lead.pk).order_by("changed_at", "id"))


def run_refresh() -> ScoringJob:
    """The nightly refresh, run here instead of by a worker."""
    job = services.refresh_scores()
    assert job is not None
    run_now(job)
    return job


def run_now(job: ScoringJob) -> ScoringJob:
    services.run_job(job.pk)
    job.refresh_from_db()
    return job


def publish_and_run(rule_set, **kwargs) -> ScoringJob:
    with transaction.atomic():
        job = services.publish(rule_set, **kwargs)
    return run_now(job)


@pytest.fixture
def queued_jobs(monkeypatch):
    """Scoring jobs queued for a worker (their ids), kept here instead of reaching the broker;
    the test runs a job itself with ``services.run_job``."""
    queued = []
    monkeypatch.setattr("scoring.tasks.run_scoring_job.delay", queued.append)
    return queued
