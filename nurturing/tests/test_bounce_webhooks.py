"""Bounces, complaints and unsubscribes reported by the e-mail provider through anymail's
tracking webhooks (/anymail/<provider>/tracking/): the address is suppressed and the lead
leaves its campaigns."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from django.test import override_settings

from leads.models import ActivityKind, Lead
from nurturing.models import Enrollment, Message, Suppression

from .sent import activities, consenting_lead, enrollment_of, nurture, sent_message

pytestmark = pytest.mark.django_db

SECRET = "anymail:s3cret-webhook-pass"
SIGNING_KEY = "key-mailgun-signing"
with_secret = override_settings(
    ANYMAIL={"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
)


def basic_auth(credentials: str = SECRET) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


def postmark_bounce(email: str, *, kind: str = "HardBounce", record_type: str = "Bounce") -> dict:
    """As Postmark posts it (its "MessageID" is Postmark's own id, not our header)."""
    return {
        "RecordType": record_type,
        "MessageStream": "outbound",
        "ID": 4323372036854775807,
        "Type": kind,
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": {},
        "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email,
        "From": "news@leadapp.example",
        "BouncedAt": "2026-03-02T16:33:54.9070259Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Welcome",
    }


def post_postmark(client, payload: dict, **extra):
    return client.post(
        "/anymail/postmark/tracking/", json.dumps(payload), content_type="application/json", **extra
    )


def mailgun_event(message: Message, *, event: str = "failed", severity: str = "permanent") -> dict:
    """Mailgun's webhook, signed; it reports our Message-ID header, without the brackets."""
    timestamp, token = str(int(time.time())), "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    signature = hmac.new(SIGNING_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": {
            "event": event,
            "severity": severity,
            "reason": "bounce",
            "id": "G9Bn5sl1TC6ZbqJxZwkFQw",
            "timestamp": time.time(),
            "log-level": "error",
            "recipient": message.to_email,
            "recipient-domain": message.to_email.split("@")[1],
            "message": {
                "headers": {
                    "to": message.to_email,
                    "message-id": message.message_id.strip("<>"),
                    "from": "news@leadapp.example",
                    "subject": message.subject,
                },
                "attachments": [],
                "size": 2012,
            },
            "delivery-status": {
                "attempt-no": 1,
                "message": "No Such User Here",
                "code": 550,
                "description": "",
                "session-seconds": 0.4,
            },
            "flags": {"is-routed": False, "is-authenticated": True, "is-system-test": False},
            "tags": [],
            "user-variables": {},
        },
    }


@with_secret
def test_a_postmark_hard_bounce_suppresses_the_address_and_ends_the_campaigns(client):
    message = sent_message(consenting_lead(email="gone@example.com"))

    response = post_postmark(client, postmark_bounce("Gone@Example.com"), **basic_auth())

    assert response.status_code == 200
    suppression = Suppression.objects.get(email="gone@example.com")
    assert suppression.reason == Suppression.Reason.BOUNCED
    assert "550 5.1.1" in suppression.detail
    enrollment = enrollment_of(message)
    assert enrollment.status == Enrollment.Status.EXITED
    assert enrollment.exit_reason == Enrollment.ExitReason.BOUNCED
    # Matched by the recipient's newest campaign e-mail.
    assert Message.objects.get(pk=message.pk).bounced_at is not None
    [bounce] = activities(message.lead, ActivityKind.EMAIL_BOUNCE)
    assert bounce.properties["message_id"] == message.pk


@with_secret
def test_a_bounce_delivered_twice_is_recorded_once(client):
    message = sent_message()

    post_postmark(client, postmark_bounce(message.to_email), **basic_auth())
    post_postmark(client, postmark_bounce(message.to_email), **basic_auth())

    assert Suppression.objects.count() == 1
    assert len(activities(message.lead, ActivityKind.EMAIL_BOUNCE)) == 1


@with_secret
def test_a_postmark_spam_complaint_suppresses_the_address(client):
    message = sent_message()

    payload = postmark_bounce(message.to_email, kind="SpamComplaint", record_type="SpamComplaint")
    post_postmark(client, payload, **basic_auth())

    assert Suppression.objects.get(email=message.to_email).reason == Suppression.Reason.COMPLAINED
    assert Message.objects.get(pk=message.pk).complained_at is not None
    assert enrollment_of(message).exit_reason == Enrollment.ExitReason.BOUNCED


@with_secret
def test_a_postmark_unsubscribe_withdraws_consent(client):
    message = sent_message()
    payload = {
        "RecordType": "SubscriptionChange",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "ServerID": 23,
        "MessageStream": "outbound",
        "ChangedAt": "2026-03-02T16:33:54Z",
        "Recipient": message.to_email,
        "Origin": "Recipient",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "Tag": "",
        "Metadata": {},
    }

    post_postmark(client, payload, **basic_auth())

    assert Suppression.objects.get(email=message.to_email).reason == Suppression.Reason.UNSUBSCRIBED
    assert not Lead.objects.get(pk=message.lead_id).marketing_consent
    assert enrollment_of(message).exit_reason == Enrollment.ExitReason.UNSUBSCRIBED


@with_secret
def test_a_delivery_or_a_soft_delay_changes_nothing(client):
    message = sent_message()
    delivery = {
        "RecordType": "Delivery",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Recipient": message.to_email,
        "DeliveredAt": "2026-03-02T16:33:54Z",
        "Details": "Test delivery webhook details",
        "Tag": "",
        "ServerID": 23,
        "Metadata": {},
    }

    post_postmark(client, delivery, **basic_auth())
    post_postmark(client, postmark_bounce(message.to_email, kind="Transient"), **basic_auth())

    assert not Suppression.objects.exists()
    assert enrollment_of(message).status == Enrollment.Status.ACTIVE


@with_secret
def test_a_webhook_without_the_secret_is_refused(client):
    message = sent_message()

    assert post_postmark(client, postmark_bounce(message.to_email)).status_code == 400
    wrong = basic_auth("anymail:guess")
    assert post_postmark(client, postmark_bounce(message.to_email), **wrong).status_code == 400

    assert not Suppression.objects.exists()


@override_settings(ANYMAIL={"WEBHOOK_SECRET": ""})
@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailInsecureWebhookWarning")
def test_with_no_secret_configured_a_posted_bounce_is_ignored(client):
    message = sent_message()

    post_postmark(client, postmark_bounce(message.to_email))

    assert not Suppression.objects.exists()
    assert enrollment_of(message).status == Enrollment.Status.ACTIVE


@with_secret
def test_a_mailgun_failure_is_matched_by_our_message_id(client):
    lead = consenting_lead()
    first = sent_message(lead)
    sent_message(lead, campaign=nurture("Second"))  # newer: matching by recipient would pick it

    response = client.post(
        "/anymail/mailgun/tracking/",
        json.dumps(mailgun_event(first)),
        content_type="application/json",
        **basic_auth(),
    )

    assert response.status_code == 200
    assert Suppression.objects.get(email=lead.email).reason == Suppression.Reason.BOUNCED
    assert list(Message.objects.exclude(bounced_at=None).values_list("pk", flat=True)) == [first.pk]
    assert set(Enrollment.objects.filter(lead=lead).values_list("status", flat=True)) == {
        Enrollment.Status.EXITED
    }


@with_secret
def test_a_mailgun_temporary_failure_changes_nothing(client):
    message = sent_message()

    client.post(
        "/anymail/mailgun/tracking/",
        json.dumps(mailgun_event(message, severity="temporary")),
        content_type="application/json",
        **basic_auth(),
    )

    assert not Suppression.objects.exists()


@with_secret
def test_a_bounce_for_an_address_we_never_wrote_to_is_still_suppressed(client):
    post_postmark(client, postmark_bounce("stranger@example.com"), **basic_auth())

    assert Suppression.objects.get(email="stranger@example.com").reason == Suppression.Reason.BOUNCED
