"""Versions of the rules: a draft is a copy of the published rule set that can be edited
without touching anyone's score; publishing archives the old version, numbers the new one
and rescores every lead with it; an archived version can be restored as it was."""

import pytest
from django.db import transaction

from scoring import services
from scoring.models import EngagementRule, FitRule, RuleSet, ScoreChange, ScoringJob
from scoring.tests.factories import engagement_rule, fit_group, fit_rule, published_rule_set
from scoring.tests.helpers import T0, act, history, make_lead, publish_and_run, queued_jobs, run_now, score  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_jobs")]


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(T0, tick=False)


def v1():
    return published_rule_set(
        fit=[
            fit_group(
                "Title",
                rules=[
                    fit_rule("job_title", "contains", "director", 20),
                    fit_rule("job_title", "contains", "vp", 25),
                ],
                max_points=25,
            )
        ],
        engagement=[engagement_rule("Demo", "demo_requested", 40, max_occurrences=1, window_days=180)],
        mql_threshold=100,
    )


def test_a_draft_starts_as_a_copy_of_the_published_rule_set():
    published = v1()

    draft = services.start_draft()

    assert (draft.status, draft.based_on, draft.version) == ("draft", published, None)
    assert draft.mql_threshold == published.mql_threshold
    assert [(g.name, g.max_points) for g in draft.fit_groups.all()] == [("Title", 25)]
    assert sorted(
        FitRule.objects.filter(group__rule_set=draft).values_list("field", "operator", "value", "points")
    ) == [
        ("job_title", "contains", "director", 20),
        ("job_title", "contains", "vp", 25),
    ]
    [rule] = draft.engagement_rules.all()
    assert (rule.name, rule.points, rule.max_occurrences, rule.window_days) == ("Demo", 40, 1, 180)
    assert rule.pk != published.engagement_rules.get().pk


def test_there_is_one_draft_at_a_time():
    v1()

    first = services.start_draft()

    assert services.start_draft() == first
    assert RuleSet.objects.filter(status="draft").count() == 1


def test_editing_the_draft_changes_no_score():
    published = v1()
    lead = make_lead(job_title="Director")
    draft = services.start_draft()

    FitRule.objects.filter(group__rule_set=draft, value="director").update(points=5)
    EngagementRule.objects.filter(rule_set=draft).update(points=1)
    act(lead, "demo_requested")  # scored in real time: with the published rules

    assert (score(lead).fit, score(lead).engagement, score(lead).rule_set) == (20, 40, published)
    assert FitRule.objects.get(group__rule_set=published, value="director").points == 20


def test_publishing_archives_the_old_version_numbers_the_new_one_and_queues_a_rescore(
    queued_jobs,  # noqa: F811 - the fixture from helpers
    django_capture_on_commit_callbacks,
):
    published = v1()
    draft = services.start_draft()

    with django_capture_on_commit_callbacks(execute=True):
        job = services.publish(draft)

    published.refresh_from_db()
    draft.refresh_from_db()
    assert published.status == "archived"
    assert (draft.status, draft.version) == ("published", published.version + 1)
    assert draft.published_at == T0
    assert (job.kind, job.status, job.rule_set, job.as_of) == ("rescore", "queued", draft, T0)
    assert queued_jobs == [job.pk]


def test_the_rescore_job_scores_everyone_with_the_new_version_and_writes_history_for_changes_only():
    published = v1()
    director = make_lead(job_title="Director")
    vp = make_lead(job_title="VP Sales")
    analyst = make_lead(job_title="Analyst")
    act(director, "demo_requested")
    draft = services.start_draft()
    FitRule.objects.filter(group__rule_set=draft, value="director").update(points=10)
    before = {lead.pk: len(history(lead)) for lead in (director, vp, analyst)}

    job = publish_and_run(draft)
    draft.refresh_from_db()

    assert job.status == ScoringJob.Status.DONE
    assert (job.total, job.done) == (3, 3)
    assert {s.lead_id: s.rule_set_id for s in map(score, (director, vp, analyst))} == {
        director.pk: draft.pk,
        vp.pk: draft.pk,
        analyst.pk: draft.pk,
    }
    assert (score(director).fit, score(director).total) == (10, 50)
    assert (score(vp).fit, score(analyst).fit) == (25, 0)
    # Only the director's score moved: one line of history, with the publish as its reason.
    assert len(history(director)) == before[director.pk] + 1
    assert len(history(vp)) == before[vp.pk]
    assert len(history(analyst)) == before[analyst.pk]
    last = history(director)[-1]
    assert (last.total, last.delta, last.rule_set) == (50, -10, draft)
    assert last.reason == f"Published {draft}" == f"Published Lead scoring v{published.version + 1}"


def test_restoring_an_archived_version_brings_its_scores_back():
    first = v1()
    lead = make_lead(job_title="Director")
    draft = services.start_draft()
    FitRule.objects.filter(group__rule_set=draft, value="director").update(points=0)
    publish_and_run(draft)
    assert score(lead).fit == 0

    first.refresh_from_db()
    version = first.version

    job = run_now(services.restore(first))

    first.refresh_from_db()
    draft.refresh_from_db()
    assert (first.status, first.version, draft.status) == ("published", version, "archived")
    assert job.reason == f"Restored {first}"
    assert (score(lead).fit, score(lead).rule_set) == (20, first)
    assert history(lead)[-1].reason == f"Restored {first}"


def test_only_an_archived_version_can_be_restored_and_a_published_one_not_published_again():
    published = v1()
    draft = services.start_draft()

    with pytest.raises(ValueError):
        services.restore(draft)
    with pytest.raises(ValueError):
        services.publish(published)
    assert RuleSet.objects.get(status="published") == published


def test_an_event_after_publishing_is_scored_with_the_new_version_before_the_job_runs():
    v1()
    lead = make_lead(job_title="Director")
    draft = services.start_draft()
    EngagementRule.objects.filter(rule_set=draft).update(points=10)
    with transaction.atomic():
        services.publish(draft)

    act(lead, "demo_requested")

    assert (score(lead).engagement, score(lead).rule_set) == (10, draft)


def test_a_copy_of_a_rule_set_is_independent_of_its_source():
    published = v1()

    copy = services.copy_rule_set(published, status=RuleSet.Status.ARCHIVED, name="Copy")
    FitRule.objects.filter(group__rule_set=copy).update(points=1)
    copy.fit_groups.update(max_points=None)

    assert copy.name == "Copy"
    assert sorted(FitRule.objects.filter(group__rule_set=published).values_list("points", flat=True)) == [
        20,
        25,
    ]
    assert published.fit_groups.get().max_points == 25
    assert ScoreChange.objects.filter(rule_set=copy).count() == 0
