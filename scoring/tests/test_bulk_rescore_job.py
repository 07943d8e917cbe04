"""The bulk rescore job: every lead in id-range chunks, resumable after a crash without
doing a chunk twice, a no-op when run again, requeued by the sweeper when its worker stops
reporting, and never taking away points an event brought while it ran."""

from datetime import timedelta
from functools import partial

import pytest
from django.db import OperationalError, transaction

from scoring import services, tasks
from scoring.models import FitRule, LeadScore, RuleSet, ScoreChange, ScoringJob
from scoring.tests.factories import engagement_rule, fit_group, fit_rule, published_rule_set
from scoring.tests.helpers import T0, act, history, make_lead, queued_jobs, run_now, score  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_jobs")]


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(T0, tick=False)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of two lead ids, so that a handful of leads makes several chunks."""
    monkeypatch.setattr("scoring.services.lead_chunks", partial(services.lead_chunks, size=2))


def rules():
    return published_rule_set(
        fit=[fit_group("Title", rules=[fit_rule("job_title", "contains", "director", 20)])],
        engagement=[engagement_rule("Demo", "demo_requested", 40)],
    )


def publish_director_at(points: int) -> ScoringJob:
    """Publish a new version in which a director is worth ``points``; the job is not run yet."""
    draft = services.start_draft()
    FitRule.objects.filter(group__rule_set=draft).update(points=points)
    with transaction.atomic():
        return services.publish(draft)


def make_leads(n: int = 7):
    return [make_lead(job_title="Director" if i % 2 == 0 else "Analyst") for i in range(n)]


def test_a_job_scores_every_lead_and_reports_its_progress(small_chunks):
    rules()
    leads = make_leads()
    job = publish_director_at(30)

    run_now(job)

    assert job.status == ScoringJob.Status.DONE
    assert (job.total, job.done, job.percent) == (7, 7, 100)
    assert job.position >= max(lead.pk for lead in leads)
    assert job.finished_at == T0 and job.error == ""
    assert [score(lead).fit for lead in leads] == [30, 0, 30, 0, 30, 0, 30]
    assert {score(lead).rule_set_id for lead in leads} == {job.rule_set_id}


def test_a_job_counts_the_leads_whose_score_changed(small_chunks):
    """What the job page reports as "N leads changed score": not every lead that merely
    moved to the new version with the same score."""
    rules()
    make_leads()  # four directors, three analysts
    job = run_now(publish_director_at(30))

    assert job.changed == 4


def test_a_job_counts_leads_scored_for_the_first_time_as_changed(small_chunks):
    RuleSet.objects.filter(status="published").update(status="archived")
    unscored = make_leads(3)  # nothing was published when they came in
    assert not LeadScore.objects.exists()

    job = run_now(services.restore(RuleSet.objects.filter(status="archived").first()))

    assert job.changed == 3
    assert LeadScore.objects.filter(lead__in=unscored, rule_set=job.rule_set).count() == 3


def test_a_job_interrupted_after_a_chunk_resumes_where_it_stopped(small_chunks, monkeypatch):
    rules()
    leads = make_leads()
    job = publish_director_at(30)
    calls = []
    real_rescore_range = services.rescore_range

    def dies_on_the_second_chunk(*args, **kwargs):
        calls.append(args[1:3])
        if len(calls) == 2:
            raise OperationalError("server closed the connection unexpectedly")
        return real_rescore_range(*args, **kwargs)

    monkeypatch.setattr("scoring.services.rescore_range", dies_on_the_second_chunk)
    with pytest.raises(OperationalError):
        services.run_job(job.pk)

    job.refresh_from_db()
    assert job.status == ScoringJob.Status.RUNNING  # the sweeper will requeue it
    _, first_hi = calls[0]
    assert job.position == first_hi
    done_first = [lead for lead in leads if lead.pk <= first_hi]
    assert 0 < len(done_first) < len(leads)

    monkeypatch.setattr("scoring.services.rescore_range", real_rescore_range)
    run_now(job)

    assert job.status == ScoringJob.Status.DONE
    assert [score(lead).fit for lead in leads] == [30, 0, 30, 0, 30, 0, 30]
    # Each director's score moved once: one line of history each, none twice.
    published_lines = ScoreChange.objects.filter(reason=job.reason)
    assert sorted(published_lines.values_list("lead_id", flat=True)) == [lead.pk for lead in leads[::2]]


def test_running_a_finished_job_again_changes_nothing(small_chunks):
    rules()
    make_leads()
    job = run_now(publish_director_at(30))
    scores = list(LeadScore.objects.order_by("lead_id").values())
    lines = ScoreChange.objects.count()

    services.run_job(job.pk)

    assert list(LeadScore.objects.order_by("lead_id").values()) == scores
    assert ScoreChange.objects.count() == lines
    job_after = ScoringJob.objects.get(pk=job.pk)
    assert (job_after.status, job_after.done, job_after.position, job_after.finished_at) == (
        job.status,
        job.done,
        job.position,
        job.finished_at,
    )


def test_a_job_replaced_by_a_newer_version_stops_and_leaves_the_scores_to_the_newer_one(small_chunks):
    rules()
    leads = make_leads(3)
    old_job = publish_director_at(30)
    new_job = publish_director_at(35)

    run_now(old_job)

    assert old_job.status == ScoringJob.Status.DONE
    assert "newer version" in old_job.error
    assert score(leads[0]).fit == 20  # untouched by the replaced version
    run_now(new_job)
    assert (score(leads[0]).fit, score(leads[0]).rule_set_id) == (35, new_job.rule_set_id)


def test_an_event_that_arrives_after_the_job_started_keeps_its_points(time_machine):
    """The job scores as of its start; a lead's newer real-time score must not be rolled back."""
    rules()
    lead = make_lead(job_title="Director")
    job = publish_director_at(30)

    time_machine.move_to(T0 + timedelta(minutes=5), tick=False)
    act(lead, "demo_requested")
    assert score(lead).total == 70
    run_now(job)

    assert (score(lead).fit, score(lead).engagement, score(lead).total) == (30, 40, 70)
    assert [line.total for line in history(lead)][-1] == 70
    assert not ScoreChange.objects.filter(lead_id=lead.pk, delta__lt=0).exists()


def test_stale_jobs_are_queued_again_and_fresh_or_finished_ones_are_not(
    queued_jobs,  # noqa: F811 - the fixture from helpers
    django_capture_on_commit_callbacks,
):
    rs = rules()

    def job(status, heartbeat_age):
        heartbeat = T0 - heartbeat_age if heartbeat_age is not None else None
        return ScoringJob.objects.create(
            kind="rescore", rule_set=rs, status=status, as_of=T0, heartbeat_at=heartbeat
        )

    stale_running = job("running", timedelta(minutes=10))
    stale_queued = job("queued", timedelta(minutes=6))
    never_reported = job("queued", None)
    job("running", timedelta(seconds=30))
    job("done", timedelta(hours=1))
    job("failed", timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=True):
        count = services.requeue_stale_jobs()

    assert count == 3
    assert sorted(queued_jobs) == sorted([stale_running.pk, stale_queued.pk, never_reported.pk])
    stale_running.refresh_from_db()
    assert stale_running.heartbeat_at == T0  # not requeued again at the next sweep


def test_a_job_whose_worker_died_is_requeued_by_the_sweeper_and_finishes(
    small_chunks,
    monkeypatch,
    time_machine,
    queued_jobs,  # noqa: F811 - the fixture from helpers
    django_capture_on_commit_callbacks,
):
    rules()
    leads = make_leads()
    job = publish_director_at(30)
    working = services.rescore_range
    monkeypatch.setattr("scoring.services.rescore_range", _dies)
    with pytest.raises(OperationalError):
        services.run_job(job.pk)
    monkeypatch.setattr("scoring.services.rescore_range", working)

    time_machine.move_to(T0 + timedelta(minutes=6), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.requeue_stale_jobs()
    assert queued_jobs == [job.pk]
    tasks.run_scoring_job(job.pk)  # what the worker that takes the requeued task runs

    job.refresh_from_db()
    assert job.status == ScoringJob.Status.DONE
    assert [score(lead).fit for lead in leads] == [30, 0, 30, 0, 30, 0, 30]


def _dies(*args, **kwargs):
    raise OperationalError("the database went away")


def test_the_nightly_refresh_does_not_start_while_a_rescore_is_pending():
    rules()
    publish_director_at(30)

    assert services.refresh_scores() is None
    assert ScoringJob.objects.filter(kind="rescore").count() == 1


def test_a_job_picks_up_a_lead_scored_with_the_old_version_while_it_ran(small_chunks):
    """A request that still saw the old version scored a lead the job had done already."""
    old = rules()
    leads = make_leads(5)
    job = run_now(publish_director_at(30))
    straggler = leads[0]
    LeadScore.objects.filter(lead_id=straggler.pk).update(rule_set=old, fit=20, total=20, scored_at=T0)
    ScoringJob.objects.filter(pk=job.pk).update(status="running")  # as if the job were still running

    services.run_job(job.pk)

    assert (score(straggler).fit, score(straggler).rule_set_id) == (30, job.rule_set_id)
