"""A receiver that fails is tried again 1, 2, 4 … minutes later, until it answers 2xx."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from leadapp import webhooks
from leadapp.models import WebhookDelivery

pytestmark = pytest.mark.django_db

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def test_failures_are_retried_with_backoff_and_the_delivery_succeeds_in_the_end(
    subscription, receiver, settings, tasks_run_inline, django_capture_on_commit_callbacks
):
    settings.LEADAPP_WEBHOOK_TIMEOUT = 0.5
    receiver.slow_seconds = 2
    receiver.answers = [500, 503, "slow"]

    with time_machine.travel(START, tick=False) as traveller:
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.emit("lead.created", [{"lead": {"id": 1}}])
        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("queued", 1, 500)
        assert delivery.next_attempt_at == START + timedelta(minutes=1)

        traveller.move_to(START + timedelta(seconds=59))
        assert webhooks.sweep() == 0  # not due yet

        traveller.move_to(START + timedelta(minutes=1))
        assert webhooks.sweep() == 1
        delivery.refresh_from_db()
        assert (delivery.attempts, delivery.last_status_code) == (2, 503)
        assert delivery.next_attempt_at == START + timedelta(minutes=1 + 2)

        traveller.move_to(START + timedelta(minutes=3))
        assert webhooks.sweep() == 1
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("queued", 3, None)
        assert delivery.last_error == "No answer within 0.5 s."
        assert delivery.next_attempt_at == START + timedelta(minutes=3 + 4)

        traveller.move_to(START + timedelta(minutes=7))
        assert webhooks.sweep() == 1

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (4, 200, "")
    assert delivery.delivered_at == START + timedelta(minutes=7)
    assert len(receiver.requests) == 4
    # Every attempt sends the same event, signed anew at the time it is sent.
    assert len({r.body for r in receiver.requests}) == 1
    assert json.loads(receiver.requests[0].body)["id"] == str(delivery.event_id)
    for request, minute in zip(receiver.requests, [0, 1, 3, 7], strict=True):
        timestamp = int(request.headers["X-LeadApp-Timestamp"])
        assert timestamp == int((START + timedelta(minutes=minute)).timestamp())
        assert webhooks.verify_signature(
            subscription.secret,
            timestamp,
            request.body,
            request.headers["X-LeadApp-Signature"],
            now=timestamp,
        )


def test_a_delivery_gives_up_after_the_last_attempt(subscription, receiver, tasks_run_inline):
    receiver.default = 500
    with time_machine.travel(START, tick=False) as traveller:
        webhooks.emit("lead.created", [{"lead": {"id": 1}}])
        minutes = 0
        for attempt in range(1, webhooks.MAX_ATTEMPTS + 1):
            traveller.move_to(START + timedelta(minutes=minutes))
            assert webhooks.sweep() == 1
            minutes += 2 ** (attempt - 1)
        traveller.move_to(START + timedelta(days=1))
        assert webhooks.sweep() == 0

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == webhooks.MAX_ATTEMPTS
    assert delivery.last_error.startswith(f"Gave up after {webhooks.MAX_ATTEMPTS} attempts")
    assert len(receiver.requests) == webhooks.MAX_ATTEMPTS
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 1
    assert subscription.active


def test_a_delivery_its_worker_left_behind_is_sent_again_by_the_sweeper(
    subscription, receiver, tasks_run_inline
):
    with time_machine.travel(START, tick=False) as traveller:
        webhooks.emit("lead.created", [{"lead": {"id": 1}}])
        delivery = WebhookDelivery.objects.get()
        webhooks.claim([delivery.pk], START)  # a worker took it, then died

        traveller.move_to(START + timedelta(minutes=5))
        assert webhooks.sweep() == 0
        assert receiver.requests == []

        traveller.move_to(START + webhooks.STUCK_DELIVERING + timedelta(minutes=1))
        assert webhooks.sweep() == 1

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.attempts == 2
    assert len(receiver.requests) == 1


def test_a_task_sent_twice_delivers_once(subscription, receiver):
    webhooks.emit("lead.created", [{"lead": {"id": 1}}])
    delivery = WebhookDelivery.objects.get()

    first = webhooks.deliver([delivery.pk])
    second = webhooks.deliver([delivery.pk])

    assert first.delivered == [delivery.pk]
    assert second.delivered == []
    assert len(receiver.requests) == 1
