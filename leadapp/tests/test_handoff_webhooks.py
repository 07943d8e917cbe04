"""The CRM hears of handoffs: ``lead.assigned`` when a lead is routed, claimed from the pool or
reassigned, with its new owner; ``lead.score_changed`` when an activity moves a lead's score
in real time, never for a bulk rescore (a CRM reads those through the API). Delivered for
real, by the hand-over on commit, to a receiver on loopback."""

import json
import time

import pytest

from leadapp import roles, webhooks
from leadapp.models import WebhookDelivery, WebhookSubscription
from leads import handoff
from leads.models import Handoff, Lead, RoutingRule, Stage, Team
from leads.services import change_stage, record_activity
from leads.tests.factories import LeadFactory
from scoring import services as scoring
from scoring.models import EngagementRule, LeadScore, ScoreChange
from scoring.tests.factories import engagement_rule, published_rule_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana(make_user):
    return make_user("ana", roles.SALES, email="ana@example.com")


@pytest.fixture
def bob(make_user):
    return make_user("bob", roles.SALES, email="bob@example.com")


@pytest.fixture
def delivered(receiver, tasks_run_inline, django_capture_on_commit_callbacks):
    """``with delivered():`` runs a change and what its commit hands over (the deliveries)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def subscribe(receiver, *events) -> WebhookSubscription:
    return WebhookSubscription.objects.create(name="CRM", target_url=receiver.url, event_types=list(events))


def events(receiver, subscription) -> list[dict]:
    """What the receiver got, each checked to be signed by LeadApp."""
    bodies = []
    for request in receiver.requests:
        assert webhooks.verify_signature(
            subscription.secret,
            request.headers["X-LeadApp-Timestamp"],
            request.body,
            request.headers["X-LeadApp-Signature"],
            now=time.time(),
        )
        bodies.append(json.loads(request.body))
    return bodies


def assignment(event: dict) -> tuple:
    data = event["data"]
    a = data["assignment"]
    return (event["type"], data["lead"]["id"], data["lead"]["owner_id"], a["owner"], a["pool"], a["via"])


def owner(user) -> dict:
    return {"id": user.pk, "username": user.username, "email": user.email}


# --- lead.assigned ----------------------------------------------------------------------------


def test_a_routed_lead_is_announced_with_its_owner_rule_and_team(receiver, delivered, ana):
    crm = subscribe(receiver, "lead.assigned")
    team = Team.objects.create(name="DACH")
    team.members.set([ana])
    RoutingRule.objects.create(name="German-speaking", countries=["DE"], team=team)
    lead = LeadFactory(email="grace@example.com", country="DE")

    with delivered():
        change_stage(lead, to_stage=Stage.MQL, reason="Score")

    receiver.wait_for(1)
    [event] = events(receiver, crm)
    assert assignment(event) == ("lead.assigned", lead.pk, ana.pk, owner(ana), False, "routing")
    assert event["data"]["lead"]["email"] == "grace@example.com"
    assert event["data"]["lead"]["stage"] == "mql"
    assert (event["data"]["assignment"]["rule"], event["data"]["assignment"]["team"]) == (
        "German-speaking",
        "DACH",
    )
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.DELIVERED


def test_a_pool_lead_is_announced_unowned_and_again_with_the_sdr_who_claims_it(receiver, delivered, bob):
    crm = subscribe(receiver, "lead.assigned")
    lead = LeadFactory()

    with delivered():
        change_stage(lead, to_stage=Stage.MQL, reason="Score")
    receiver.wait_for(1)
    with delivered():
        handoff.claim(Handoff.objects.get(lead=lead), by=bob)
    receiver.wait_for(2)

    routed, claimed = events(receiver, crm)
    assert assignment(routed) == ("lead.assigned", lead.pk, None, None, True, "routing")
    assert assignment(claimed) == ("lead.assigned", lead.pk, bob.pk, owner(bob), False, "claim")
    assert routed["id"] != claimed["id"]


def test_a_reassigned_lead_is_announced_with_the_new_owner(receiver, delivered, ana, bob, manager):
    crm = subscribe(receiver, "lead.assigned")
    RoutingRule.objects.create(name="Ana's", user=ana)
    lead = LeadFactory()
    with delivered():
        change_stage(lead, to_stage=Stage.MQL, reason="Score")

    with delivered():
        handoff.reassign(Handoff.objects.get(lead=lead), to=bob, by=manager)
    receiver.wait_for(2)

    routed, reassigned = events(receiver, crm)
    assert assignment(routed)[2:4] == (ana.pk, owner(ana))
    assert assignment(reassigned) == ("lead.assigned", lead.pk, bob.pk, owner(bob), False, "reassign")


def test_nothing_is_sent_to_a_crm_that_did_not_ask_for_assignments(receiver, delivered, ana):
    subscribe(receiver, "lead.created")
    RoutingRule.objects.create(name="Ana's", user=ana)

    with delivered():
        change_stage(LeadFactory(), to_stage=Stage.MQL, reason="Score")

    assert Lead.objects.get().owner == ana
    assert not WebhookDelivery.objects.exists()
    assert receiver.requests == []


# --- lead.score_changed -----------------------------------------------------------------------


@pytest.fixture
def demo_rules():
    return published_rule_set(
        engagement=[engagement_rule("Demo requested", "demo_requested", 40)], mql_threshold=100
    )


def test_an_activity_that_moves_the_score_is_announced(receiver, delivered, demo_rules):
    crm = subscribe(receiver, "lead.score_changed")
    lead = LeadFactory(email="ada@example.com")

    with delivered():
        record_activity(lead, kind="demo_requested")

    receiver.wait_for(1)
    [event] = events(receiver, crm)
    assert event["type"] == "lead.score_changed"
    assert event["data"]["lead"]["email"] == "ada@example.com"
    score = event["data"]["score"]
    assert (score["total"], score["engagement"], score["delta"]) == (40, 40, 40)
    assert "Demo requested" in score["reason"]


def test_an_activity_worth_nothing_is_not_announced(receiver, delivered, demo_rules):
    subscribe(receiver, "lead.score_changed")
    lead = LeadFactory()
    with delivered():
        record_activity(lead, kind="demo_requested")
    receiver.wait_for(1)

    with delivered():
        record_activity(lead, kind="page_view", properties={"url": "/blog"})

    assert WebhookDelivery.objects.filter(event_type="lead.score_changed").count() == 1
    assert len(receiver.requests) == 1


def test_a_bulk_rescore_moves_scores_without_announcing_them(receiver, delivered, demo_rules):
    crm = subscribe(receiver, "lead.score_changed")
    lead = LeadFactory()
    with delivered():
        record_activity(lead, kind="demo_requested")
    receiver.wait_for(1)

    # Marketing publishes a version in which a demo request is worth 60; every lead is rescored.
    draft = scoring.start_draft()
    EngagementRule.objects.filter(rule_set=draft).update(points=60)
    with delivered():
        job = scoring.publish(draft, enqueue=False)
        scoring.run_job(job.pk)
    webhooks.sweep()  # anything left queued would go now

    assert LeadScore.objects.get(lead=lead).total == 60
    assert ScoreChange.objects.filter(lead=lead).order_by("-id").first().total == 60
    assert WebhookDelivery.objects.filter(event_type="lead.score_changed").count() == 1
    assert [event["data"]["score"]["total"] for event in events(receiver, crm)] == [40]
