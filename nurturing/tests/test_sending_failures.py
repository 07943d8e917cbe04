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


def test_a_temporary_refusal_of_the_recipient_is_retried_and_a_permanent_one_bounces(smtp):
    ids = outbox_for("busy@example.com", "gone@example.com")
    smtp.refuse_rcpt.update({"busy@example.com": 450, "gone@example.com": 550})

    result = sending.send_messages(ids)
    busy = Message.objects.get(to_email="busy@example.com")
    gone = Message.objects.get(to_email="gone@example.com")
    assert (busy.status, result.retry) == (Message.Status.QUEUED, [busy.pk])
    assert gone.status == Message.Status.FAILED and "550" in gone.error
    # A hard bounce suppresses the address: it is never mailed again.
    assert Suppression.objects.get(email="gone@example.com").reason == Suppression.Reason.BOUNCED

    sending.send_messages(result.retry)
    assert len(smtp.to("busy@example.com")) == 1 and not smtp.to("gone@example.com")


def test_a_mail_server_that_cannot_be_reached_keeps_the_batch_for_later_then_gives_up(settings, smtp):
    from nurturing.tests.smtp import free_port

    settings.EMAIL_PORT = free_port()  # nothing listens there
    ids = outbox_for("a@example.com", "b@example.com")
    for attempt in range(1, sending.MAX_ATTEMPTS + 1):
        result = sending.send_messages(ids)
        statuses = set(Message.objects.values_list("status", flat=True))
        if attempt < sending.MAX_ATTEMPTS:
            assert statuses == {Message.Status.QUEUED} and sorted(result.retry) == sorted(ids)
            assert "cannot be reached" in Message.objects.first().error
    assert statuses == {Message.Status.FAILED}


def test_a_batch_so_slow_that_the_sweeper_gave_its_rows_to_another_worker_sends_nothing_twice(smtp):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    ids = outbox_for("slow1@example.com", "slow2@example.com")
    slow = sending.claim(ids)  # the first worker claims, then stalls
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert services.sweep_outbox() == 2  # its rows look abandoned: handed over again
        sending.send_messages(ids)  # another worker sends them
        sending.deliver(slow)  # the first worker wakes up and carries on with its batch
    assert len(smtp.to("slow1@example.com")) == 1 and len(smtp.to("slow2@example.com")) == 1
    assert set(Message.objects.values_list("status", flat=True)) == {Message.Status.SENT}


def test_a_message_that_cannot_be_built_fails_alone_and_the_rest_of_the_batch_goes_out(smtp):
    ids = outbox_for("ok@example.com", "broken@example.com")
    # Its step was deleted (say, in the admin) after the row was written: nothing to render.
    Message.objects.filter(to_email="broken@example.com").update(step=None)

    result = sending.send_messages(ids)

    broken = Message.objects.get(to_email="broken@example.com")
    assert broken.status == Message.Status.FAILED and "Could not be sent" in broken.error
    assert len(result.sent) == 1 and len(smtp.to("ok@example.com")) == 1
