"""End to end: a new lead reaches the CRM's receiver through the broker and a real worker."""

import time

import pytest

from leadapp.models import WebhookDelivery, WebhookSubscription
from leadapp.webhooks import verify_signature
from leads.services import create_lead


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_new_lead_is_delivered_by_the_worker(celery_worker_process, receiver):
    subscription = WebhookSubscription.objects.create(
        name="CRM", target_url=receiver.url, event_types=["lead.created"]
    )

    lead = create_lead(email="grace@example.com", data={"first_name": "Grace"})

    [request] = receiver.wait_for(1)
    assert request.headers["X-LeadApp-Event"] == "lead.created"
    assert verify_signature(
        subscription.secret,
        request.headers["X-LeadApp-Timestamp"],
        request.body,
        request.headers["X-LeadApp-Signature"],
        now=time.time(),
    )
    assert b'"email":"grace@example.com"' in request.body
    deadline = time.monotonic() + 30
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    while delivery.status != WebhookDelivery.Status.DELIVERED:
        assert time.monotonic() < deadline, f"the delivery is still {delivery.status}"
        time.sleep(0.1)
        delivery.refresh_from_db()
    assert delivery.payload["lead"]["id"] == lead.pk
    assert delivery.last_status_code == 200
    assert request.headers["X-LeadApp-Delivery"] == str(delivery.pk)
