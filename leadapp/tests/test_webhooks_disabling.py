"""A receiver that keeps failing is switched off, and the admin sees it and why."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from leadapp import webhooks
from leadapp.models import WebhookDelivery

pytestmark = pytest.mark.django_db

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def fail_for_good(count: int, receiver) -> None:
    """``count`` events, each tried ``MAX_ATTEMPTS`` times against a receiver answering 500."""
    receiver.default = 500
    with time_machine.travel(START, tick=False) as traveller:
        webhooks.emit("lead.created", [{"lead": {"id": n}} for n in range(count)])
        minutes = 0
        for attempt in range(1, webhooks.MAX_ATTEMPTS + 1):
            traveller.move_to(START + timedelta(minutes=minutes))
            webhooks.sweep()
            minutes += 2 ** (attempt - 1)


def test_repeated_failures_disable_the_subscription_with_a_notice(
    subscription, receiver, tasks_run_inline, page_as, admin_user
):
    fail_for_good(webhooks.DISABLE_AFTER, receiver)

    subscription.refresh_from_db()
    assert not subscription.active
    assert subscription.consecutive_failures == webhooks.DISABLE_AFTER
    assert f"{webhooks.DISABLE_AFTER} deliveries in a row failed" in subscription.disabled_reason
    assert "500" in subscription.disabled_reason
    assert len(receiver.requests) == webhooks.DISABLE_AFTER * webhooks.MAX_ATTEMPTS
    assert WebhookDelivery.objects.filter(status="failed").count() == webhooks.DISABLE_AFTER

    client = page_as(admin_user)
    listing = client.get("/settings/webhooks/").content.decode()
    assert 'data-testid="disabled-notice"' in listing
    assert "CRM is disabled" in listing
    assert subscription.disabled_reason in listing
    assert "1 disabled" in client.get("/").content.decode()  # the nav link, on every page
    detail = client.get(f"/settings/webhooks/{subscription.pk}/").content.decode()
    assert "This subscription is disabled" in detail
    assert subscription.disabled_reason in detail


def test_a_disabled_subscription_gets_nothing_until_enabled_again(
    subscription, receiver, tasks_run_inline, page_as, admin_user, django_capture_on_commit_callbacks
):
    fail_for_good(webhooks.DISABLE_AFTER, receiver)
    sent = len(receiver.requests)
    receiver.default = 200

    webhooks.emit("lead.created", [{"lead": {"id": 99}}])
    assert webhooks.sweep() == 0
    assert len(receiver.requests) == sent

    client = page_as(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/settings/webhooks/{subscription.pk}/enable/")
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.active
    assert (subscription.consecutive_failures, subscription.disabled_reason) == (0, "")
    assert "disabled" not in client.get("/settings/webhooks/").content.decode().lower().split("<main")[1]

    failed = WebhookDelivery.objects.filter(status="failed").first()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/settings/webhooks/{subscription.pk}/deliveries/{failed.pk}/redeliver/")
    failed.refresh_from_db()
    assert failed.status == WebhookDelivery.Status.DELIVERED
    assert len(receiver.requests) == sent + 1


def test_a_success_in_between_resets_the_count(subscription, receiver, tasks_run_inline):
    fail_for_good(webhooks.DISABLE_AFTER - 1, receiver)
    receiver.default = 200
    ping = webhooks.send_test(subscription)
    assert webhooks.deliver([ping.pk]).delivered == [ping.pk]

    subscription.refresh_from_db()
    assert subscription.active
    assert subscription.consecutive_failures == 0
