"""The admin's webhook pages: create (the secret shown once), test, rotate, the delivery log."""

import pytest

from leadapp.models import WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db


def test_an_admin_creates_a_subscription_and_sees_its_secret_once(page_as, admin_user, receiver):
    client = page_as(admin_user)
    assert client.get("/settings/webhooks/new/").status_code == 200

    response = client.post(
        "/settings/webhooks/new/",
        {"name": "Our CRM", "target_url": receiver.url, "event_types": ["lead.created", "lead.converted"]},
    )

    subscription = WebhookSubscription.objects.get()
    assert response.status_code == 200
    assert subscription.secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert (subscription.name, subscription.target_url) == ("Our CRM", receiver.url)
    assert subscription.event_types == ["lead.created", "lead.converted"]
    assert subscription.active
    assert subscription.secret not in client.get(f"/settings/webhooks/{subscription.pk}/").content.decode()
    assert subscription.secret not in client.get("/settings/webhooks/").content.decode()


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://crm.example.com/hooks", True),
        ("http://localhost:8080/hooks", True),
        ("http://127.0.0.1:9000/hooks", True),
        ("http://crm.example.com/hooks", False),
        ("ftp://crm.example.com/hooks", False),
    ],
)
def test_the_target_must_be_https_or_local_http(page_as, admin_user, url, accepted):
    response = page_as(admin_user).post(
        "/settings/webhooks/new/", {"name": "CRM", "target_url": url, "event_types": ["lead.created"]}
    )

    assert WebhookSubscription.objects.exists() == accepted
    if not accepted:
        assert response.status_code == 200
        assert (
            "Use an https:// address" in response.content.decode() or "valid URL" in response.content.decode()
        )


def test_at_least_one_known_event_type_is_required(page_as, admin_user):
    response = page_as(admin_user).post(
        "/settings/webhooks/new/", {"name": "CRM", "target_url": "https://crm.example.com", "event_types": []}
    )
    bogus = page_as(admin_user).post(
        "/settings/webhooks/new/",
        {"name": "CRM", "target_url": "https://crm.example.com", "event_types": ["lead.deleted"]},
    )

    assert response.status_code == bogus.status_code == 200
    assert not WebhookSubscription.objects.exists()


def test_rotating_shows_a_new_secret_that_signs_from_then_on(page_as, admin_user, subscription):
    old = subscription.secret

    response = page_as(admin_user).post(f"/settings/webhooks/{subscription.pk}/rotate/")

    subscription.refresh_from_db()
    assert subscription.secret != old
    page = response.content.decode()
    assert subscription.secret in page
    assert old not in page


def test_the_test_button_sends_a_ping_that_shows_in_the_delivery_log(
    page_as, admin_user, subscription, receiver, tasks_run_inline, django_capture_on_commit_callbacks
):
    client = page_as(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/settings/webhooks/{subscription.pk}/test/", follow=True)

    [request] = receiver.wait_for(1)
    assert request.headers["X-LeadApp-Event"] == "ping"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event_type, delivery.status, delivery.last_status_code) == ("ping", "delivered", 200)
    log = response.content.decode()
    assert f'data-testid="delivery-{delivery.pk}"' in log
    assert "Delivered" in log
    fragment = client.get(f"/settings/webhooks/{subscription.pk}/", headers={"HX-Request": "true"})
    assert fragment.content.decode().lstrip().startswith('<section id="delivery-log"')


def test_the_log_shows_the_latest_fifty_with_their_errors(page_as, admin_user, subscription, receiver):
    from leadapp import webhooks

    receiver.default = 500
    webhooks.emit("lead.created", [{"lead": {"id": n}} for n in range(55)])
    webhooks.deliver(WebhookDelivery.objects.values_list("pk", flat=True))

    page = page_as(admin_user).get(f"/settings/webhooks/{subscription.pk}/").content.decode()

    assert page.count('data-testid="delivery-') == 50
    assert "The receiver answered 500" in page
