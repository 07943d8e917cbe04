"""GET /e/c/<signed>/: a tracked link. It lands on the address signed into it and records the
click; a link LeadApp did not sign (forged, altered, or stitched from two real ones) is
refused and redirects nowhere, so /e/c/ is no open redirect."""

import re

import pytest
from django.core import signing

from leads.models import ActivityKind, ActivitySource
from nurturing import links
from nurturing.models import Message

from .sent import activities, path_of, sent_message

pytestmark = pytest.mark.django_db

GUIDE = "https://example.com/guide?utm_source=leadapp&x=1"


def tracked_links(message: Message) -> list[str]:
    """The click links in the e-mail as sent."""
    return [href.replace("&amp;", "&") for href in re.findall(r'href="([^"]*/e/c/[^"]+)"', message.html)]


def assert_refused(response) -> None:
    assert response.status_code in (400, 404)
    assert "Location" not in response
    assert b"This link is not valid" in response.content


def test_a_click_lands_on_the_link_and_goes_on_the_lead_timeline(client):
    message = sent_message()
    [guide, _pricing] = tracked_links(message)

    response = client.get(path_of(guide), HTTP_USER_AGENT="Mail/1.0")

    assert response.status_code == 302
    assert response["Location"] == GUIDE
    assert response["Referrer-Policy"] == "no-referrer"
    message.refresh_from_db()
    assert message.clicked_at is not None
    assert message.opened_at is not None  # images were blocked, but a click means it was read
    [clicked] = activities(message.lead, ActivityKind.EMAIL_CLICK)
    assert clicked.source == ActivitySource.EMAIL
    assert clicked.properties["url"] == GUIDE
    assert clicked.properties["campaign"] == message.campaign.name
    assert clicked.properties["message_id"] == message.pk
    assert clicked.properties["step_id"] == message.step_id
    assert len(activities(message.lead, ActivityKind.EMAIL_OPEN)) == 1


def test_each_link_counts_once_per_message(client):
    message = sent_message()
    guide, pricing = tracked_links(message)

    for _ in range(3):
        assert client.get(path_of(guide)).status_code == 302
    assert client.get(path_of(pricing))["Location"] == "https://example.com/pricing"

    urls = [a.properties["url"] for a in activities(message.lead, ActivityKind.EMAIL_CLICK)]
    assert urls == [GUIDE, "https://example.com/pricing"]
    # The pixel loading later does not add a second open either.
    client.get(path_of(links.open_url(message.token)))
    assert len(activities(message.lead, ActivityKind.EMAIL_OPEN)) == 1


def test_a_forged_link_does_not_redirect(client):
    sent_message()

    assert_refused(client.get("/e/c/https:evil.example/"))
    # Slashes in the address: no such link at all.
    response = client.get("/e/c/https%3A%2F%2Fevil.example%2F/")
    assert response.status_code == 404
    assert "Location" not in response
    assert_refused(client.get("/e/c/not-a-signed-value/"))


def test_a_link_signed_with_another_key_or_salt_does_not_redirect(client):
    message = sent_message()
    payload = [str(message.token), "https://evil.example/"]
    unsalted = signing.dumps(payload, compress=True)
    other_key = signing.dumps(payload, key="not-our-secret", salt="nurturing.click", compress=True)

    assert_refused(client.get(f"/e/c/{unsalted}/"))
    assert_refused(client.get(f"/e/c/{other_key}/"))
    assert not activities(message.lead, ActivityKind.EMAIL_CLICK)


def test_an_altered_link_does_not_redirect(client):
    message = sent_message()
    [guide, _] = tracked_links(message)
    signed = path_of(guide).split("/")[3]
    flipped = signed[:-1] + ("A" if signed[-1] != "A" else "B")

    assert_refused(client.get(f"/e/c/{flipped}/"))


def test_a_link_stitched_from_two_signed_links_does_not_redirect(client):
    """The address part of one link with the signature of another (or another message's
    token with this link's signature) is refused."""
    message, other = sent_message(), sent_message()
    [guide, pricing] = [path_of(link).split("/")[3] for link in tracked_links(message)]
    [other_guide, _] = [path_of(link).split("/")[3] for link in tracked_links(other)]
    payload_of = lambda signed: signed.split(":", 1)[0]  # noqa: E731
    signature_of = lambda signed: signed.split(":", 1)[1]  # noqa: E731

    # Pricing's destination with the guide's signature.
    assert_refused(client.get(f"/e/c/{payload_of(pricing)}:{signature_of(guide)}/"))
    # The other message's token (same destination) with this message's signature.
    assert_refused(client.get(f"/e/c/{payload_of(other_guide)}:{signature_of(guide)}/"))
    # An evil destination, encoded as LeadApp would, under a real signature.
    evil = signing.dumps([str(message.token), "https://evil.example/"], salt="x", compress=True)
    assert_refused(client.get(f"/e/c/{payload_of(evil)}:{signature_of(guide)}/"))

    assert not activities(message.lead, ActivityKind.EMAIL_CLICK)
    assert not activities(other.lead, ActivityKind.EMAIL_CLICK)


def test_a_signed_link_to_something_other_than_http_is_refused(client):
    message = sent_message()
    script = links.click_url(message.token, "javascript:alert(document.cookie)")

    assert_refused(client.get(path_of(script)))
    assert not activities(message.lead, ActivityKind.EMAIL_CLICK)


def test_the_link_of_a_deleted_message_still_lands_on_its_page(client):
    message = sent_message()
    [guide, _] = tracked_links(message)
    Message.objects.filter(pk=message.pk).delete()

    response = client.get(path_of(guide))

    assert response.status_code == 302
    assert response["Location"] == GUIDE
