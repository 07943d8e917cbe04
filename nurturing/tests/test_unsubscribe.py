"""/e/u/<token>/: the unsubscribe link. GET asks; a POST unsubscribes, including the RFC 8058
one-click POST that mail clients send with no CSRF token and no cookies. The address is
suppressed, the lead's consent withdrawn (and recorded), and it leaves its campaigns."""

import uuid

import pytest
from django.test import Client, override_settings

from leads.models import ActivityKind, Consent, Lead
from nurturing import links, sending, services
from nurturing.models import Enrollment, Message, Suppression

from .sent import (
    activities,
    consenting_lead,
    enrollment_of,
    nurture,
    path_of,
    sent_message,
)

pytestmark = pytest.mark.django_db


def one_click(message: Message):
    """What Gmail or Apple Mail sends: a POST of the List-Unsubscribe-Post body, no cookies."""
    mail_client = Client(enforce_csrf_checks=True)
    return mail_client.post(
        path_of(links.unsubscribe_url(message.token)),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )


def test_the_link_asks_first_with_the_address_masked(client):
    message = sent_message(consenting_lead(email="jane.doe@example.com"))

    response = client.get(path_of(links.unsubscribe_url(message.token)))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Unsubscribe j***@example.com from our e-mails?" in page
    assert "jane.doe" not in page
    assert message.campaign.name not in page
    assert 'method="post"' in page
    # Asking changes nothing (link scanners follow links with GET).
    assert not Suppression.objects.exists()
    assert Lead.objects.get(pk=message.lead_id).marketing_consent


def test_one_click_unsubscribes_without_cookies_or_csrf_token():
    message = sent_message(consenting_lead(email="jane@example.com"))
    enrollment = enrollment_of(message)
    assert enrollment.status == Enrollment.Status.ACTIVE

    response = one_click(message)

    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    assert path_of(links.preferences_url(message.token)).encode() in response.content
    suppression = Suppression.objects.get(email="jane@example.com")
    assert suppression.reason == Suppression.Reason.UNSUBSCRIBED
    lead = Lead.objects.get(pk=message.lead_id)
    assert not lead.marketing_consent
    [withdrawn] = Consent.objects.filter(lead=lead)
    assert not withdrawn.given
    assert "One-click" in withdrawn.method
    [unsubscribed] = activities(lead, ActivityKind.UNSUBSCRIBED)
    assert unsubscribed.properties["campaign_id"] == message.campaign_id
    assert Message.objects.get(pk=message.pk).unsubscribed_at is not None
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.EXITED
    assert enrollment.exit_reason == Enrollment.ExitReason.UNSUBSCRIBED


def test_the_lead_leaves_every_campaign_it_is_in():
    message = sent_message()
    other = nurture("Product news")
    assert services.enroll(other, Lead.objects.filter(pk=message.lead_id)) == 1

    one_click(message)

    assert set(Enrollment.objects.filter(lead=message.lead).values_list("status", "exit_reason")) == {
        (Enrollment.Status.EXITED, Enrollment.ExitReason.UNSUBSCRIBED)
    }


def test_the_button_on_the_page_unsubscribes(client):
    message = sent_message()

    response = client.post(path_of(links.unsubscribe_url(message.token)))

    assert response.status_code == 200
    assert Suppression.objects.filter(email=message.to_email).exists()
    assert "Unsubscribe link" in Consent.objects.get(lead=message.lead).method


def test_unsubscribing_twice_records_it_once(client):
    message = sent_message()

    one_click(message)
    one_click(message)
    response = client.get(path_of(links.unsubscribe_url(message.token)))

    assert Suppression.objects.count() == 1
    assert Consent.objects.filter(lead=message.lead).count() == 1
    assert len(activities(message.lead, ActivityKind.UNSUBSCRIBED)) == 1
    assert b"is unsubscribed" in response.content


def test_the_next_email_of_the_campaign_is_not_sent():
    message = sent_message()
    queued = Message.objects.create(
        key="next", campaign=message.campaign, step=message.step, lead=message.lead, to_email=message.to_email
    )
    one_click(message)

    result = sending.send_messages([queued.pk])

    assert result.skipped == [queued.pk]
    assert Message.objects.get(pk=queued.pk).status == Message.Status.SKIPPED


def test_an_unknown_link_changes_nothing():
    response = one_click(Message(token=uuid.uuid4()))

    assert response.status_code == 404
    assert b"This link is not valid" in response.content
    assert not Suppression.objects.exists()


@override_settings(NURTURING_LINK_RATE="2/m")
def test_too_many_page_loads_from_one_address_are_refused_but_never_the_unsubscribe_itself(client):
    message = sent_message()
    url = path_of(links.unsubscribe_url(message.token))

    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 429
    # Mail providers post one-click unsubscribes from a few shared addresses: never refused.
    response = client.post(url, {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert Suppression.objects.filter(email=message.to_email, reason=Suppression.Reason.UNSUBSCRIBED).exists()
