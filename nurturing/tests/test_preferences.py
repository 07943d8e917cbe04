"""/e/p/<token>/: the preference page. It shows whether the person gets our e-mails and lets
them unsubscribe or come back; only an address they unsubscribed themselves can come back
(not one that bounced, complained or was suppressed by hand)."""

import pytest
from django.test import Client

from leads.models import Consent, Lead
from nurturing import links, tracking
from nurturing.models import Enrollment, Suppression

from .sent import consenting_lead, enrollment_of, path_of, sent_message

pytestmark = pytest.mark.django_db


def preferences(message) -> str:
    return path_of(links.preferences_url(message.token))


def state(client, message) -> str:
    response = client.get(preferences(message))
    assert response.status_code == 200
    page = response.content.decode()
    for word in ("subscribed", "unsubscribed"):
        if f"You are <strong>{word}</strong>" in page:
            return word
    return "blocked" if "We no longer send" in page else "?"


def test_the_page_shows_the_masked_address_and_that_it_is_subscribed(client):
    message = sent_message(consenting_lead(email="jane@example.com"))

    response = client.get(preferences(message))

    assert b"j***@example.com" in response.content
    assert b"jane@" not in response.content
    assert state(client, message) == "subscribed"


def test_unsubscribe_then_subscribe_again(client):
    message = sent_message()

    client.post(preferences(message), {"action": "unsubscribe"})
    assert state(client, message) == "unsubscribed"
    assert Suppression.objects.filter(email=message.to_email).exists()

    response = client.post(preferences(message), {"action": "resubscribe"})

    assert response.status_code == 200
    assert b"Welcome back" in response.content
    assert b"You are <strong>subscribed</strong>" in response.content
    assert state(client, message) == "subscribed"
    assert not Suppression.objects.filter(email=message.to_email).exists()
    lead = Lead.objects.get(pk=message.lead_id)
    assert lead.marketing_consent
    given, withdrawn = Consent.objects.filter(lead=lead).order_by("-pk")
    assert (given.given, given.method) == (True, "Preference page")
    assert (withdrawn.given, withdrawn.method) == (False, "Preference page")


@pytest.mark.parametrize(
    "reason", [Suppression.Reason.BOUNCED, Suppression.Reason.COMPLAINED, Suppression.Reason.MANUAL]
)
def test_an_address_that_bounced_complained_or_was_blocked_cannot_come_back(client, reason):
    message = sent_message()
    tracking.suppress(message.to_email, reason, "by the test")

    assert state(client, message) == "blocked"
    response = client.post(preferences(message), {"action": "resubscribe"})

    assert response.status_code == 409
    assert Suppression.objects.get(email=message.to_email).reason == reason
    assert not Consent.objects.filter(lead=message.lead, given=True).exists()


def test_the_page_form_needs_its_csrf_token():
    message = sent_message()
    browser = Client(enforce_csrf_checks=True)

    assert browser.post(preferences(message), {"action": "unsubscribe"}).status_code == 403
    assert not Suppression.objects.exists()

    page = browser.get(preferences(message))
    token = page.cookies["csrftoken"].value
    response = browser.post(preferences(message), {"action": "unsubscribe", "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert Suppression.objects.filter(email=message.to_email).exists()


def test_an_unknown_link_shows_a_plain_error(client):
    response = client.get("/e/p/00000000-0000-4000-8000-000000000000/")

    assert response.status_code == 404
    assert b"This link is not valid" in response.content


def test_a_lead_that_changed_address_since_is_unsubscribed_and_resubscribed_as_a_person(client):
    message = sent_message(consenting_lead(email="old@example.com"))
    Lead.objects.filter(pk=message.lead_id).update(email="new@example.com")

    client.post(preferences(message), {"action": "unsubscribe"})

    assert set(Suppression.objects.values_list("email", flat=True)) == {"old@example.com", "new@example.com"}
    assert enrollment_of(message).status == Enrollment.Status.EXITED

    client.post(preferences(message), {"action": "resubscribe"})

    assert not Suppression.objects.exists()
    assert Lead.objects.get(pk=message.lead_id).marketing_consent
