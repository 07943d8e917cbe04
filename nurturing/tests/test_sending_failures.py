"""What the sender does when the SMTP server says "later", a rate limit is reached, or a
lead withdrew consent between the dispatcher and the worker."""

import pytest

from leads.models import Lead
from leads.tests.factories import LeadFactory
from nurturing import sending, services
from nurturing.models import Message, Suppression

from .factories import campaign, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(smtp_sink, settings):
    """This process sends to the session's real SMTP server on loopback."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    return smtp_sink


def outbox_for(*emails) -> list[int]:
    leads = [LeadFactory(marketing_consent=True, email=email) for email in emails]
    made = campaign(steps=[send()])
    services.enroll(made, Lead.objects.filter(pk__in=[lead.pk for lead in leads]))
    return services.dispatch(hand_over=False).messages


def test_a_temporary_smtp_refusal_keeps_the_message_queued_for_a_retry(smtp):
    ids = outbox_for("grey@example.com", "fine@example.com")
    smtp.greylist.add("grey@example.com")

    result = sending.send_messages(ids)
    grey = Message.objects.get(to_email="grey@example.com")
    assert grey.status == Message.Status.QUEUED and "Greylisted" in grey.error
    assert Message.objects.get(to_email="fine@example.com").status == Message.Status.SENT
    assert result.retry == [grey.pk]

    sending.send_messages(result.retry)  # the retry the task schedules with backoff
    grey.refresh_from_db()
    assert (grey.status, grey.attempts) == (Message.Status.SENT, 2)
    assert len(smtp.to("grey@example.com")) == 1


def test_the_per_minute_rate_limit_holds_the_rest_back(smtp, settings):
    settings.NURTURING_RATE_PER_MINUTE = 2
    from django.core.cache import cache

    cache.clear()
    ids = outbox_for("r1@example.com", "r2@example.com", "r3@example.com")
    result = sending.send_messages(ids)
    assert result.rate_limited
    assert len(result.sent) == 2 and len(result.retry) == 1
    held = Message.objects.get(pk=result.retry[0])
    assert (held.status, held.attempts) == (Message.Status.QUEUED, 0)


def test_consent_withdrawn_or_suppressed_after_dispatch_is_still_not_sent(smtp):
    ids = outbox_for("changed@example.com", "bounced@example.com")
    Lead.objects.filter(email="changed@example.com").update(marketing_consent=False)
    Suppression.objects.create(email="bounced@example.com", reason=Suppression.Reason.BOUNCED)

    result = sending.send_messages(ids)
    assert result.sent == [] and len(result.skipped) == 2
    assert not smtp.to("changed@example.com") and not smtp.to("bounced@example.com")
    errors = dict(Message.objects.values_list("to_email", "error"))
    assert errors == {
        "changed@example.com": "No marketing consent.",
        "bounced@example.com": "Suppressed (bounced).",
    }
