"""A hand-raise (a demo request) hands the lead to sales at once, whatever its score; a
recycled lead qualifies again by a new hand-raise or by its score."""

import pytest
from django.utils import timezone

from leads.models import Lead, Stage
from leads.services import change_stage, record_activity
from leads.tests.factories import LeadFactory
from scoring import services

from .factories import engagement_rule, published_rule_set

pytestmark = pytest.mark.django_db(transaction=True)  # promotion runs on commit


@pytest.fixture
def rules():
    return published_rule_set(
        mql_threshold=100,
        engagement=[
            engagement_rule("Demo requested", "demo_requested", 5, hand_raise=True),
            engagement_rule("Page view", "page_view", 1),
        ],
    )


def stage_of(lead) -> str:
    return Lead.objects.get(pk=lead.pk).stage


def test_a_demo_request_makes_a_low_scoring_lead_an_mql_at_once(rules):
    lead, browser = LeadFactory(), LeadFactory()
    record_activity(lead, kind="demo_requested")
    record_activity(browser, kind="page_view")

    assert stage_of(lead) == Stage.MQL
    assert stage_of(browser) == Stage.NEW
    change = Lead.objects.get(pk=lead.pk).stage_changes.get(to_stage=Stage.MQL)
    assert change.reason == "Hand-raise: Demo requested"


def test_a_recycled_lead_needs_a_new_hand_raise(rules):
    lead = LeadFactory()
    record_activity(lead, kind="demo_requested")
    change_stage(Lead.objects.get(pk=lead.pk), to_stage=Stage.RECYCLED, reason="Not now")
    services.promote_qualified([lead.pk])
    assert stage_of(lead) == Stage.RECYCLED  # the old demo request does not count again

    record_activity(lead, kind="demo_requested", occurred_at=timezone.now())
    assert stage_of(lead) == Stage.MQL


def test_without_the_hand_raise_mark_a_demo_request_only_adds_its_points():
    published_rule_set(mql_threshold=100, engagement=[engagement_rule("Demo requested", "demo_requested", 5)])
    lead = LeadFactory()
    record_activity(lead, kind="demo_requested")
    assert stage_of(lead) == Stage.NEW


@pytest.mark.django_db  # the starter as migrations installed it (a transactional test flushes it)
def test_the_starter_rule_set_marks_demo_requests_as_hand_raises():
    from scoring.models import RuleSet

    starter = RuleSet.objects.get(status=RuleSet.Status.PUBLISHED)
    assert [rule.name for rule in starter.engagement_rules.all() if rule.hand_raise] == ["Demo requested"]
