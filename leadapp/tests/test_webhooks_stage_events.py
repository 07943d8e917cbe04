"""Stage changes and conversions reach the subscribed CRM: one delivery per move."""

import pytest

from leadapp.models import WebhookDelivery, WebhookSubscription
from leads.models import Lead, Stage
from leads.services import change_stage, change_stages
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def crm():
    return WebhookSubscription.objects.create(
        name="CRM",
        target_url="https://crm.example.com/hooks",
        event_types=["lead.stage_changed", "lead.converted"],
    )


def events() -> list[tuple[str, str, str]]:
    return [
        (d.event_type, d.payload["stage_change"]["from"], d.payload["stage_change"]["to"])
        for d in WebhookDelivery.objects.order_by("pk")
    ]


def test_each_move_is_a_stage_changed_event_and_winning_is_a_conversion(crm):
    lead = LeadFactory(stage=Stage.OPPORTUNITY)
    change_stage(Lead.objects.get(pk=lead.pk), to_stage=Stage.CUSTOMER, reason="Won")

    assert events() == [
        ("lead.stage_changed", "opportunity", "customer"),
        ("lead.converted", "opportunity", "customer"),
    ]
    delivery = WebhookDelivery.objects.first()
    assert delivery.payload["lead"]["email"] == lead.email
    assert delivery.payload["stage_change"]["reason"] == "Won"


def test_a_bulk_move_is_one_event_per_lead(crm):
    leads = [LeadFactory() for _ in range(3)]
    change_stages([lead.pk for lead in leads], from_stage=Stage.NEW, to_stage=Stage.MQL, reason="Score")
    assert events() == [("lead.stage_changed", "new", "mql")] * 3
    assert {d.payload["lead"]["id"] for d in WebhookDelivery.objects.all()} == {lead.pk for lead in leads}


def test_a_refused_move_sends_nothing(crm):
    from leads.lifecycle import TransitionNotAllowed

    lead = LeadFactory()
    with pytest.raises(TransitionNotAllowed):
        change_stage(lead, to_stage=Stage.CUSTOMER)
    assert not WebhookDelivery.objects.exists()
