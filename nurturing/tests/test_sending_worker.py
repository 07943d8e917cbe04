"""A real Celery worker sends campaign e-mail to a real SMTP server on loopback."""

import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from conftest import requires_postgres, start_worker, stop_worker
from leads.models import Activity, ActivityKind, Lead
from leads.tests.factories import LeadFactory
from nurturing import sending, services
from nurturing.models import Message

from .factories import campaign, send, template

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BODY = (
    '<p>Hi {{ first_name or "there" }},</p>'
    '{% if industry == "software" %}<p>How SaaS teams grow pipeline.</p>{% endif %}'
    '<p><a href="https://example.com/guide">Read the guide</a></p>'
)


def wait_until(condition, timeout: float = 30, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def run_campaign(leads, *, hand_over: bool = True, **template_fields) -> list[int]:
    """Enroll ``leads`` in a one-e-mail campaign and run the dispatcher, which commits the
    outbox rows and (with ``hand_over``) hands them to the workers through the broker."""
    made = campaign(steps=[send(template(html_body=BODY, **template_fields))])
    services.enroll(made, Lead.objects.filter(pk__in=[lead.pk for lead in leads]))
    services.dispatch(hand_over=hand_over)
    return list(Message.objects.order_by("pk").values_list("pk", flat=True))


def test_the_worker_sends_personalized_messages_with_both_parts_and_unsubscribe_headers(
    celery_worker_process, smtp_sink
):
    ada = LeadFactory(first_name="Ada", industry="software", marketing_consent=True, email="ada@example.com")
    anon = LeadFactory(first_name="", industry="retail", marketing_consent=True, email="anon@example.com")
    LeadFactory(marketing_consent=False, email="nope@example.com")
    run_campaign(Lead.objects.all(), subject='Hello {{ first_name or "there" }}')

    wait_until(lambda: len(smtp_sink.to("ada@example.com")) + len(smtp_sink.to("anon@example.com")) == 2)
    (to_ada,) = smtp_sink.to("ada@example.com")
    (to_anon,) = smtp_sink.to("anon@example.com")
    assert to_ada["Subject"] == "Hello Ada"
    assert to_anon["Subject"] == "Hello there"

    html = to_ada.get_body(("html",)).get_content()
    text = to_ada.get_body(("plain",)).get_content()
    assert "Hi Ada," in html and "How SaaS teams grow pipeline." in html
    assert "Hi Ada," in text and "How SaaS teams" in text
    assert "How SaaS teams" not in to_anon.get_body(("html",)).get_content()
    # Links are tracked (signed redirect through LeadApp), never sent raw.
    assert "/e/c/" in html and 'href="https://example.com/guide"' not in html

    row = Message.objects.get(lead=ada)
    assert to_ada["Message-ID"] == row.message_id
    assert to_ada["List-Unsubscribe"].strip() == f"<{settings.LEADAPP_BASE_URL}/e/u/{row.token}/>"
    assert to_ada["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"/e/u/{row.token}/" in html and f"/e/u/{row.token}/" in text

    wait_until(
        lambda: Message.objects.filter(status=Message.Status.SENT).count() == 2, what="rows marked sent"
    )
    assert not smtp_sink.to("nope@example.com")
    assert Message.objects.get(lead__email="nope@example.com").status == Message.Status.SKIPPED
    # Each lead's timeline says what was sent.
    sent_activities = Activity.objects.filter(kind=ActivityKind.EMAIL_SENT)
    wait_until(lambda: sent_activities.count() == 2, what="the e-mail sent activities")
    assert set(sent_activities.values_list("lead", flat=True)) == {ada.pk, anon.pk}


def test_a_send_task_delivered_twice_sends_each_message_once(celery_worker_process, smtp_sink):
    leads = [LeadFactory(marketing_consent=True, email=f"twice{i}@example.com") for i in range(3)]
    ids = run_campaign(leads, hand_over=False)

    from nurturing.tasks import send_messages

    send_messages.delay(ids)
    send_messages.delay(ids)  # a duplicate delivery of the same task
    wait_until(lambda: Message.objects.filter(status=Message.Status.SENT).count() == 3, what="3 sent")
    time.sleep(2)  # give the duplicate time to run: it must find nothing to send
    for lead in leads:
        assert len(smtp_sink.to(lead.email)) == 1


@requires_postgres
def test_two_workers_claiming_the_same_messages_send_each_once(smtp_sink, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_sink.port
    leads = [LeadFactory(marketing_consent=True, email=f"race{i}@example.com") for i in range(20)]
    ids = run_campaign(leads, hand_over=False)

    from django.db import connection

    def worker():
        try:
            sending.send_messages(ids)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Message.objects.filter(status=Message.Status.SENT).count() == 20
    for lead in leads:
        assert len(smtp_sink.to(lead.email)) == 1


def test_a_worker_killed_mid_send_leaves_the_message_to_the_sweeper_which_sends_it_once(
    celery_worker_process, smtp_sink, tmp_path
):
    lead = LeadFactory(marketing_consent=True, email="killed@example.com")
    smtp_sink.hold.add(lead.email)
    smtp_sink.release.clear()
    smtp_sink.holding.clear()
    # A worker of its own, on a queue nobody else reads, so that it is the one sending.
    doomed = start_worker(
        tmp_path / "doomed.log",
        smtp_url=smtp_sink.url,
        extra_args=["--pool", "solo", "-Q", "doomed", "-n", "doomed@%h"],
    )
    try:
        ids = run_campaign([lead], hand_over=False)
        from nurturing.tasks import send_messages

        send_messages.apply_async((ids,), queue="doomed")
        assert smtp_sink.holding.wait(30), "the worker never reached the SMTP DATA step"
        assert Message.objects.get().status == Message.Status.SENDING
        doomed.kill()  # SIGKILL mid-send: no clean-up of any kind
        doomed.wait(10)
    finally:
        if doomed.poll() is None:
            stop_worker(doomed)
    smtp_sink.hold.discard(lead.email)
    smtp_sink.release.set()

    assert Message.objects.get().status == Message.Status.SENDING  # stuck: its worker is dead
    assert services.sweep_outbox(now=timezone.now() + timedelta(minutes=11)) == 1
    wait_until(lambda: Message.objects.get().status == Message.Status.SENT, what="the resend")
    time.sleep(1)
    assert len(smtp_sink.to(lead.email)) == 1
    assert Message.objects.get().attempts == 2


def test_with_the_broker_down_nothing_is_lost_and_the_sweeper_sends_later(
    celery_worker_process, smtp_sink, broker_down
):
    lead = LeadFactory(marketing_consent=True, email="outage@example.com")

    with broker_down():
        run_campaign([lead])  # enrollment and dispatch commit; handing over fails quietly
    message = Message.objects.get()
    assert (message.status, message.enqueued_at) == (Message.Status.QUEUED, None)
    time.sleep(1)
    assert not smtp_sink.to(lead.email)

    assert services.sweep_outbox(now=timezone.now() + timedelta(minutes=2)) == 1
    wait_until(lambda: Message.objects.get().status == Message.Status.SENT, what="the late send")
    assert len(smtp_sink.to(lead.email)) == 1
