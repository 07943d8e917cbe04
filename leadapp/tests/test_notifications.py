"""Notifications: a row per user shown in the app at once, and an e-mail sent by a worker
through a real SMTP server on loopback. A mail server that does not answer leaves the e-mail
pending (attempts counted, the error kept) until it is given up after ``MAX_ATTEMPTS``; a
user without an address is told in the app only."""

import uuid

import pytest
from django.db import transaction

from leadapp import notifications, roles
from leadapp.models import Notification
from leadapp.notifications import MAX_ATTEMPTS
from leads.models import RoutingRule, Stage
from leads.services import change_stage
from leads.tests.factories import LeadFactory
from nurturing.tests.smtp import free_port

pytestmark = pytest.mark.django_db

Email = Notification.Email
SMTP = "django.core.mail.backends.smtp.EmailBackend"


@pytest.fixture
def smtp(smtp_sink, settings):
    """This process sends to the session's real SMTP server on loopback."""
    settings.EMAIL_BACKEND = SMTP
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.LEADAPP_BASE_URL = "https://leads.example.com/"
    return smtp_sink


@pytest.fixture
def mail_server_down(settings):
    """An SMTP address where nothing listens: the connection is refused."""
    settings.EMAIL_BACKEND = SMTP
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 2


def address(name: str) -> str:
    """An address of this test's own: the SMTP server is shared by the whole session."""
    return f"{name}.{uuid.uuid4().hex[:10]}@example.com"


@pytest.fixture
def ana(make_user):
    return make_user("ana", roles.SALES, email=address("ana"))


@pytest.fixture
def bob(make_user):
    return make_user("bob", roles.SALES, email=address("bob"))


@pytest.fixture
def no_address(make_user):
    return make_user("cid", roles.SALES, email="")


def note_of(user) -> Notification:
    return Notification.objects.get(user=user)


# --- Stored for the app -----------------------------------------------------------------------


def test_notify_stores_one_notice_per_user_to_show_in_the_app(ana, bob):
    notifications.notify(
        [ana, bob.pk, ana, None], kind="lead_assigned", text="New lead for you: Ada", url="/leads/7/"
    )

    rows = list(
        Notification.objects.order_by("user__username").values_list("user__username", "kind", "text", "url")
    )
    assert rows == [
        ("ana", "lead_assigned", "New lead for you: Ada", "/leads/7/"),
        ("bob", "lead_assigned", "New lead for you: Ada", "/leads/7/"),
    ]
    assert {note.email for note in Notification.objects.all()} == {Email.PENDING}
    assert notifications.unread_count(ana) == 1

    assert notifications.mark_read(ana) == 1
    assert notifications.unread_count(ana) == 0
    assert notifications.unread_count(bob) == 1


def test_a_long_text_is_cut_to_what_the_notice_holds(ana):
    notifications.notify([ana], kind="sla_breach", text="x" * 600)
    assert len(note_of(ana).text) == 500


def test_a_notice_exists_only_if_what_it_is_about_does(ana, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks() as handed_over,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        notifications.notify([ana], kind="lead_assigned", text="New lead for you: Ada")
        raise RuntimeError("the assignment failed")

    assert not Notification.objects.exists()
    assert handed_over == []  # no e-mail is queued for it either


def test_notify_without_email_is_shown_in_the_app_only(ana, smtp):
    received = smtp.count
    notifications.notify([ana], kind="reminder", text="Due: call back", email=False)

    assert note_of(ana).email == Email.NONE
    assert notifications.send_emails() == 0
    assert smtp.count == received


def test_a_user_without_an_address_is_told_in_the_app_only(
    no_address, ana, smtp, django_capture_on_commit_callbacks
):
    received = smtp.count
    with django_capture_on_commit_callbacks() as handed_over:
        notifications.notify(
            [no_address], kind="lead_assigned", text="New lead for you: Ada", url="/leads/7/"
        )

    assert note_of(no_address).email == Email.NONE
    assert notifications.unread_count(no_address) == 1
    assert handed_over == []  # nothing for the worker to do
    assert notifications.send_emails() == 0
    assert smtp.count == received
    assert note_of(no_address).email_attempts == 0


# --- E-mailed by the worker -------------------------------------------------------------------


def test_pending_notices_are_emailed_with_their_text_and_link(ana, bob, smtp):
    notifications.notify([ana], kind="lead_assigned", text="New lead for you: Ada Lovelace", url="/leads/7/")
    notifications.notify([bob], kind="sla_breach", text="SLA missed: Ada Lovelace was not accepted in time")

    assert notifications.send_emails() == 2

    [to_ana] = smtp.to(ana.email)
    assert to_ana["Subject"] == "LeadApp: New lead for you: Ada Lovelace"
    body = to_ana.get_content()
    assert "New lead for you: Ada Lovelace" in body
    assert "https://leads.example.com/leads/7/" in body
    [to_bob] = smtp.to(bob.email)
    assert "SLA missed: Ada Lovelace was not accepted in time" in to_bob.get_content()
    assert "https://" not in to_bob.get_content()  # no link to give
    sent = note_of(ana)
    assert (sent.email, sent.email_attempts, sent.email_error) == (Email.SENT, 1, "")

    # A second run (the sweep, a duplicate task) sends nothing again.
    assert notifications.send_emails() == 0
    assert len(smtp.to(ana.email)) == 1


def test_a_lead_routed_to_an_sdr_reaches_their_mailbox(
    ana, smtp, tasks_run_inline, django_capture_on_commit_callbacks
):
    RoutingRule.objects.create(name="Ana's", user=ana)
    lead = LeadFactory(first_name="Grace", last_name="Hopper")

    with django_capture_on_commit_callbacks(execute=True):
        change_stage(lead, to_stage=Stage.MQL, reason="Score")

    [mail] = smtp.to(ana.email)
    assert mail["Subject"] == "LeadApp: New lead for you: Grace Hopper"
    assert f"https://leads.example.com/leads/{lead.pk}/" in mail.get_content()
    assert note_of(ana).email == Email.SENT


def test_an_unreachable_mail_server_keeps_the_email_pending_until_it_gives_up(
    ana, bob, mail_server_down, smtp_sink, settings
):
    notifications.notify([ana], kind="lead_assigned", text="New lead for you: Ada", url="/leads/7/")
    notifications.notify([bob], kind="lead_assigned", text="New lead for you: Alan", url="/leads/8/")

    assert notifications.send_emails() == 0

    first = note_of(ana)
    assert (first.email, first.email_attempts) == (Email.PENDING, 1)
    assert "Connection refused" in first.email_error  # why, for the admin
    # The rest of the run waits for the next sweep rather than for another timeout.
    assert (note_of(bob).email, note_of(bob).email_attempts) == (Email.PENDING, 0)
    assert notifications.unread_count(ana) == 1  # the app does not wait for the mail

    for _ in range(MAX_ATTEMPTS - 1):
        notifications.send_emails()

    given_up = note_of(ana)
    assert (given_up.email, given_up.email_attempts) == (Email.FAILED, MAX_ATTEMPTS)
    assert given_up.email_error

    # The server is back: the one still pending goes out, the given-up one is not sent again.
    settings.EMAIL_PORT = smtp_sink.port
    assert notifications.send_emails() == 1
    assert len(smtp_sink.to(bob.email)) == 1
    assert smtp_sink.to(ana.email) == []
    assert note_of(ana).email == Email.FAILED
