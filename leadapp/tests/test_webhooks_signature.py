"""A receiver can tell a LeadApp delivery from a forged or replayed one."""

import json
import time

import pytest

from leadapp.models import WebhookDelivery
from leadapp.webhooks import emit, verify_signature

pytestmark = pytest.mark.django_db

LEAD = {"lead": {"id": 7, "email": "ada@example.com", "stage": "new"}}


@pytest.fixture
def delivered(subscription, receiver, tasks_run_inline, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        emit("lead.created", [LEAD])
    [request] = receiver.wait_for(1)
    return request


def test_the_delivery_carries_the_event_and_verifies_with_the_subscriptions_secret(delivered, subscription):
    headers = delivered.headers
    delivery = WebhookDelivery.objects.get()

    assert headers["Content-Type"] == "application/json"
    assert headers["X-LeadApp-Event"] == "lead.created"
    assert headers["X-LeadApp-Delivery"] == str(delivery.pk)
    assert abs(int(headers["X-LeadApp-Timestamp"]) - time.time()) < 5
    assert headers["X-LeadApp-Signature"].startswith("sha256=")
    assert verify_signature(
        subscription.secret,
        headers["X-LeadApp-Timestamp"],
        delivered.body,
        headers["X-LeadApp-Signature"],
        now=time.time(),
    )
    body = json.loads(delivered.body)
    assert body["id"] == str(delivery.event_id)
    assert body["type"] == "lead.created"
    assert body["data"] == LEAD
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.last_status_code == 200
    assert delivery.attempts == 1


def test_another_secret_does_not_verify(delivered):
    headers = delivered.headers

    assert not verify_signature(
        "whsec_someone-else",
        headers["X-LeadApp-Timestamp"],
        delivered.body,
        headers["X-LeadApp-Signature"],
        now=time.time(),
    )


def test_a_tampered_body_does_not_verify(delivered, subscription):
    headers = delivered.headers
    tampered = delivered.body.replace(b"ada@example.com", b"eve@example.com")

    assert tampered != delivered.body
    assert not verify_signature(
        subscription.secret,
        headers["X-LeadApp-Timestamp"],
        tampered,
        headers["X-LeadApp-Signature"],
        now=time.time(),
    )


def test_an_old_request_is_rejected_even_with_a_valid_signature(delivered, subscription):
    headers = delivered.headers
    sent_at = int(headers["X-LeadApp-Timestamp"])

    def verify(timestamp, *, now):
        return verify_signature(
            subscription.secret, timestamp, delivered.body, headers["X-LeadApp-Signature"], now=now
        )

    assert verify(sent_at, now=sent_at + 299)
    assert not verify(sent_at, now=sent_at + 301)  # a replay, minutes later
    assert not verify(sent_at, now=sent_at - 301)  # from the future
    # Replaying with a fresh timestamp header breaks the signature instead.
    assert not verify(sent_at + 600, now=sent_at + 600)
