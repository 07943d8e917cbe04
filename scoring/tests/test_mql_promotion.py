"""MQL: a new lead whose total reaches the MQL threshold becomes a marketing-qualified lead,
with the stage change in its history, and the handoff hears of it once the change is
committed; leads further along (or back in another stage) are left where they are."""

import pytest

from leads.models import Stage, StageChange
from scoring import services
from scoring.signals import leads_became_mql
from scoring.tests.factories import engagement_rule, fit_group, fit_rule, published_rule_set
from scoring.tests.helpers import T0, act, make_lead, publish_and_run, queued_jobs, score  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_jobs")]


@pytest.fixture
def became_mql():
    heard = []

    def listener(sender, lead_ids, rule_set, **kwargs):
        heard.append((sorted(lead_ids), rule_set.pk))

    leads_became_mql.connect(listener, dispatch_uid="test-mql-listener")
    yield heard
    leads_became_mql.disconnect(dispatch_uid="test-mql-listener")


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(T0, tick=False)


def rules(**settings):
    return published_rule_set(
        fit=[fit_group("Title", rules=[fit_rule("job_title", "contains", "director", 30)])],
        engagement=[engagement_rule("Demo", "demo_requested", 40), engagement_rule("Open", "email_open", 1)],
        mql_threshold=70,
        **settings,
    )


def test_a_new_lead_crossing_the_threshold_becomes_mql(became_mql, django_capture_on_commit_callbacks):
    rs = rules()
    lead = make_lead(job_title="Marketing Director")

    with django_capture_on_commit_callbacks(execute=True):
        act(lead, "demo_requested")

    lead.refresh_from_db()
    assert score(lead).total == 70
    assert lead.stage == Stage.MQL
    change = StageChange.objects.filter(lead=lead).order_by("-changed_at", "-id").first()
    assert (change.from_stage, change.to_stage) == (Stage.NEW, Stage.MQL)
    assert "MQL threshold" in change.reason
    assert became_mql == [([lead.pk], rs.pk)]


def test_the_handoff_hears_of_it_only_once_the_change_is_committed(
    became_mql, django_capture_on_commit_callbacks
):
    rules()
    lead = make_lead(job_title="Director")

    with django_capture_on_commit_callbacks(execute=False) as pending:
        act(lead, "demo_requested")

    lead.refresh_from_db()
    assert lead.stage == Stage.NEW
    assert became_mql == []
    assert pending  # promotion waits for the commit


def test_a_lead_below_the_threshold_stays_new(became_mql, django_capture_on_commit_callbacks):
    rules()
    lead = make_lead(job_title="Director")

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(39):
            act(lead, "email_open")

    lead.refresh_from_db()
    assert (score(lead).total, lead.stage) == (69, Stage.NEW)
    assert became_mql == []


@pytest.mark.parametrize("stage", [Stage.SAL, Stage.SQL, Stage.CUSTOMER, Stage.DISQUALIFIED, Stage.RECYCLED])
def test_a_lead_in_another_stage_is_not_moved(stage, became_mql, django_capture_on_commit_callbacks):
    rules()
    lead = make_lead(job_title="Director", stage=stage)

    with django_capture_on_commit_callbacks(execute=True):
        act(lead, "demo_requested")

    lead.refresh_from_db()
    assert (score(lead).total, lead.stage) == (70, stage)
    assert not StageChange.objects.filter(lead=lead, to_stage=Stage.MQL).exists()
    assert became_mql == []


def test_a_lead_already_mql_is_not_promoted_again(became_mql, django_capture_on_commit_callbacks):
    rules()
    lead = make_lead(job_title="Director")
    with django_capture_on_commit_callbacks(execute=True):
        act(lead, "demo_requested")
        act(lead, "demo_requested")
        act(lead, "email_open")

    assert StageChange.objects.filter(lead=lead, to_stage=Stage.MQL).count() == 1
    assert len(became_mql) == 1


def test_publishing_a_lower_threshold_promotes_the_leads_that_now_reach_it(
    became_mql, django_capture_on_commit_callbacks
):
    rules()
    director, analyst = make_lead(job_title="Director"), make_lead(job_title="Analyst")
    draft = services.start_draft()
    draft.mql_threshold = 30
    draft.save()

    with django_capture_on_commit_callbacks(execute=True):
        publish_and_run(draft)

    director.refresh_from_db()
    analyst.refresh_from_db()
    assert (director.stage, analyst.stage) == (Stage.MQL, Stage.NEW)
    assert became_mql == [([director.pk], draft.pk)]
