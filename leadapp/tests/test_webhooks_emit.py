"""Events become one delivery per interested subscription, once, with the change that made them."""

import uuid

import pytest
from django.db import transaction

from leadapp import webhooks
from leadapp.models import WebhookDelivery, WebhookSubscription
from leads.services import create_lead
from leads.signals import leads_changed

pytestmark = pytest.mark.django_db


def test_the_same_event_id_twice_is_one_delivery(subscription):
    event_id = uuid.uuid4()

    webhooks.emit("lead.created", [{"lead": {"id": 1}}], event_ids=[event_id])
    webhooks.emit("lead.created", [{"lead": {"id": 1}}], event_ids=[str(event_id)])

    delivery = WebhookDelivery.objects.get()
    assert delivery.event_id == event_id


def test_only_active_subscriptions_that_want_the_event_get_it(subscription):
    converted = WebhookSubscription.objects.create(
        name="Billing", target_url="https://billing.example.com/hooks", event_types=["lead.converted"]
    )
    WebhookSubscription.objects.create(
        name="Old", target_url="https://old.example.com/hooks", event_types=["lead.created"], active=False
    )

    offered = webhooks.emit("lead.created", [{"lead": {"id": n}} for n in range(3)])

    assert offered == 3
    assert set(WebhookDelivery.objects.values_list("subscription", flat=True)) == {subscription.pk}
    assert webhooks.emit("lead.converted", [{"lead": {"id": 1}}]) == 1
    assert WebhookDelivery.objects.filter(subscription=converted).count() == 1


def test_an_unknown_event_type_is_refused(subscription):
    with pytest.raises(ValueError, match="Unknown webhook event type"):
        webhooks.emit("lead.deleted", [{}])


def test_an_event_rolls_back_with_the_change_that_made_it(subscription):
    with pytest.raises(RuntimeError), transaction.atomic():
        webhooks.emit("lead.created", [{"lead": {"id": 1}}])
        raise RuntimeError("the change failed")

    assert not WebhookDelivery.objects.exists()


def test_a_new_lead_is_announced_once(subscription, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        lead = create_lead(email="Ada@Example.com", data={"first_name": "Ada", "company_name": "Analytical"})
    # The same signal again (a retried caller) is the same event.
    leads_changed.send(sender=type(lead), lead_ids={lead.pk}, reason="Lead created")

    delivery = WebhookDelivery.objects.get()
    assert delivery.event_type == "lead.created"
    assert delivery.payload["lead"]["id"] == lead.pk
    assert delivery.payload["lead"]["email"] == "ada@example.com"
    assert delivery.payload["lead"]["company_name"] == "Analytical"
    assert callbacks, "the delivery is handed to a worker when the lead commits"


def test_other_lead_changes_send_nothing_yet(subscription):
    lead = create_lead(email="ada@example.com")
    leads_changed.send(sender=type(lead), lead_ids={lead.pk}, reason="Lead updated")

    assert WebhookDelivery.objects.count() == 1


def test_with_no_subscription_a_new_lead_costs_one_small_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        webhooks.on_leads_changed(None, lead_ids={1}, reason="Lead created")
    with django_assert_num_queries(0):
        webhooks.on_leads_changed(None, lead_ids={1}, reason="Lead updated")
