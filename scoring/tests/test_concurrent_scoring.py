"""Scoring under concurrency, on PostgreSQL with real threads and connections: events for
one lead arriving at the same moment lose no points, and a bulk rescore running while
events arrive loses none of them either. Either way the stored score is the one a fresh
bulk rescore gives."""

import random
import threading
from datetime import timedelta
from functools import partial

import pytest
from django.db import connection, transaction
from django.utils import timezone

from conftest import requires_postgres
from leads import services as lead_services
from leads.models import Activity, Lead
from leads.services import EventIn
from scoring import services
from scoring.engine import ScoreQuery
from scoring.models import FitRule, LeadScore, RuleSet, ScoreChange, ScoringJob
from scoring.tests.factories import engagement_rule, fit_group, fit_rule, published_rule_set
from scoring.tests.helpers import queued_jobs  # noqa: F401

pytestmark = [
    requires_postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("queued_jobs"),
]


def in_threads(target, args_list, *, timeout: float = 120) -> list[Exception]:
    """Run ``target(*args)`` for each args in threads that start together; each thread has its
    own database connection, closed at its end. Returns what the threads raised."""
    barrier = threading.Barrier(len(args_list))
    errors: list[Exception] = []

    def run(*args):
        try:
            barrier.wait(timeout=30)
            target(*args)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=args) for args in args_list]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return errors


def stored_scores() -> dict[int, tuple]:
    return {
        s.lead_id: (s.fit, s.engagement, s.total, s.grade, s.temperature, s.rule_set_id)
        for s in LeadScore.objects.all()
    }


def assert_a_fresh_bulk_rescore_changes_nothing(rule_set: RuleSet) -> None:
    before = stored_scores()
    history = ScoreChange.objects.count()
    ids = list(Lead.objects.values_list("pk", flat=True))
    with transaction.atomic():
        leads, changed = services.rescore_range(
            ScoreQuery(rule_set, as_of=timezone.now()), min(ids), max(ids), reason="Check"
        )
    assert (leads, changed) == (len(ids), 0)
    assert stored_scores() == before
    assert ScoreChange.objects.count() == history


def downloads_rule_set() -> RuleSet:
    # No decay, no caps: a lead's engagement is exactly the number of its downloads.
    return published_rule_set(
        fit=[fit_group("Title", rules=[fit_rule("job_title", "contains", "director", 20)])],
        engagement=[engagement_rule("Downloads", "download", 1)],
        warm_threshold=10,
        hot_threshold=100,
    )


@pytest.mark.parametrize("late", [False, True], ids=["events-happening-now", "late-events"])
def test_events_for_one_lead_at_the_same_moment_lose_no_points(late):
    """``late``: the events happened a while ago (a queue or another system catching up),
    so they do not move the lead's last activity."""
    rule_set = downloads_rule_set()
    lead = lead_services.create_lead(email="busy@example.com", data={"job_title": "Director"})
    lead_services.record_activity(lead, kind="email_open")
    threads, rounds = 8, 5

    def record(n):
        for _ in range(rounds):
            when = timezone.now() - timedelta(days=2, seconds=n) if late else None
            lead_services.record_activity(lead, kind="download", occurred_at=when, properties={"n": n})

    errors = in_threads(record, [(n,) for n in range(threads)])

    assert not errors
    assert Activity.objects.filter(lead=lead, kind="download").count() == threads * rounds
    stored = LeadScore.objects.get(lead=lead)
    assert (stored.fit, stored.engagement, stored.total) == (20, threads * rounds, 20 + threads * rounds)
    assert sum(ScoreChange.objects.filter(lead=lead).values_list("delta", flat=True)) == stored.total
    assert_a_fresh_bulk_rescore_changes_nothing(rule_set)


def test_event_batches_for_the_same_leads_at_the_same_moment_lose_no_points():
    rule_set = downloads_rule_set()
    leads = [lead_services.create_lead(email=f"lead{i}@example.com") for i in range(4)]
    batches = 6

    def send(n):
        rng = random.Random(n)
        events = [
            EventIn(
                kind="download",
                occurred_at=timezone.now() - timedelta(hours=rng.randint(1, 48)),
                lead_id=lead.pk,
            )
            for lead in leads
            for _ in range(3)
        ]
        lead_services.ingest_events(events)

    errors = in_threads(send, [(n,) for n in range(batches)])

    assert not errors
    for lead in leads:
        assert LeadScore.objects.get(lead=lead).engagement == batches * 3
    assert_a_fresh_bulk_rescore_changes_nothing(rule_set)


def test_a_bulk_rescore_running_while_events_arrive_loses_none_of_them(monkeypatch):
    downloads_rule_set()
    leads = [
        lead_services.create_lead(email=f"lead{i}@example.com", data={"job_title": "Director"})
        for i in range(30)
    ]
    draft = services.start_draft()
    FitRule.objects.filter(group__rule_set=draft).update(points=35)
    job = services.publish(draft)
    monkeypatch.setattr("scoring.services.lead_chunks", partial(services.lead_chunks, size=4))
    senders, events_each = 4, 15

    def work(role, n):
        if role == "job":
            services.run_job(job.pk)
            return
        rng = random.Random(n)
        for _ in range(events_each):
            lead = rng.choice(leads)
            when = timezone.now() - timedelta(minutes=rng.randint(0, 600))
            lead_services.record_activity(lead, kind="download", occurred_at=when)

    errors = in_threads(work, [("job", 0)] + [("events", n) for n in range(senders)])

    assert not errors
    job.refresh_from_db()
    assert job.status == ScoringJob.Status.DONE
    for lead in leads:
        downloads = Activity.objects.filter(lead=lead, kind="download").count()
        stored = LeadScore.objects.get(lead=lead)
        assert (stored.fit, stored.engagement, stored.rule_set_id) == (35, downloads, draft.pk), lead.pk
    assert Activity.objects.filter(kind="download").count() == senders * events_each
    assert_a_fresh_bulk_rescore_changes_nothing(RuleSet.objects.get(pk=draft.pk))
