"""Only an Admin sees and changes webhooks."""

import pytest

from leadapp import webhooks
from leadapp.models import WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def urls(subscription):
    webhooks.emit("lead.created", [{"lead": {"id": 1}}])
    delivery = WebhookDelivery.objects.get()
    base = f"/settings/webhooks/{subscription.pk}"
    return {
        "get": ["/settings/webhooks/", "/settings/webhooks/new/", f"{base}/"],
        "post": [
            "/settings/webhooks/new/",
            f"{base}/test/",
            f"{base}/enable/",
            f"{base}/rotate/",
            f"{base}/deliveries/{delivery.pk}/redeliver/",
        ],
    }


@pytest.mark.parametrize("role", ["nobody", "marketer", "sdr", "manager"])
def test_other_roles_are_refused(page_as, request, role, urls, subscription):
    client = page_as(request.getfixturevalue(role))
    secret = subscription.secret

    for url in urls["get"]:
        assert client.get(url).status_code == 403, url
    for url in urls["post"]:
        assert client.post(url).status_code == 403, url
    subscription.refresh_from_db()
    assert subscription.secret == secret
    assert WebhookDelivery.objects.count() == 1
    assert 'data-testid="nav-webhooks"' not in client.get("/").content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client, urls):
    for url in urls["get"] + urls["post"]:
        response = client.post(url) if url in urls["post"] else client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/"), url


def test_an_admin_sees_the_pages_and_the_nav_link(page_as, admin_user, urls):
    client = page_as(admin_user)

    for url in urls["get"]:
        assert client.get(url).status_code == 200, url
    assert 'data-testid="nav-webhooks"' in client.get("/").content.decode()
