"""Campaign e-mails already sent, for the tests of what happens after: opens, clicks,
unsubscribes, bounces, and the outbox pages.

``sent_message()`` enrolls a consenting lead in an active campaign and writes the outbox
row as the sender leaves it: rendered by ``sending.compose`` (tracked links, pixel,
unsubscribe footer), status sent.
"""

import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from django.utils import timezone

from leads.models import Activity, Lead
from leads.tests.factories import LeadFactory
from nurturing import sending, services
from nurturing.models import Campaign, Enrollment, Message

from . import factories


def consenting_lead(**fields) -> Lead:
    return LeadFactory(marketing_consent=True, **fields)


def nurture(name: str = "Nurture") -> Campaign:
    template = factories.template(
        name=f"{name} welcome",
        html_body='<p>Hi {{ first_name or "there" }},</p>'
        '<p><a href="https://example.com/guide?utm_source=leadapp&amp;x=1">The guide</a></p>'
        '<p><a href="https://example.com/pricing">Pricing</a></p>',
    )
    return factories.campaign(name=name, steps=[factories.send(template), factories.wait(wait_days=3)])


def sent_message(lead: Lead | None = None, *, campaign: Campaign | None = None, **fields) -> Message:
    lead = lead or consenting_lead()
    campaign = campaign or nurture()
    first, wait = campaign.steps.order_by("position")[:2]
    # Where the dispatcher leaves it after the e-mail step: waiting for the next one.
    enrollment = Enrollment.objects.create(
        campaign=campaign, lead=lead, step=wait, due_at=timezone.now() + timedelta(days=3)
    )
    step = first
    token = uuid.uuid4()
    message = Message.objects.create(
        key=f"e{enrollment.pk}:s{step.pk}:{token.hex[:6]}",
        token=token,
        campaign=campaign,
        step=step,
        enrollment=enrollment,
        lead=lead,
        to_email=lead.email,
        message_id=services.message_id_for(token),
    )
    content = sending.compose(message)
    values = {
        "subject": content.subject,
        "html": content.html,
        "text": content.text,
        "status": Message.Status.SENT,
        "attempts": 1,
        "sent_at": timezone.now(),
        **fields,
    }
    Message.objects.filter(pk=message.pk).update(**values)
    message.refresh_from_db()
    return message


def activities(lead: Lead, kind: str) -> list[Activity]:
    return list(Activity.objects.filter(lead=lead, kind=kind).order_by("pk"))


def enrollment_of(message: Message) -> Enrollment:
    return Enrollment.objects.get(pk=message.enrollment_id)


def path_of(url: str) -> str:
    """The path of one of our absolute links (the test client speaks to the app directly)."""
    return urlsplit(url).path
