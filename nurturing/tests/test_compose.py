"""What a lead gets: tracked links only where the marketer wrote them, and an unsubscribe
link always — judged on this lead's e-mail, not on the template's source."""

import pytest

from leads.models import Lead
from leads.tests.factories import LeadFactory
from nurturing import links, sending, services
from nurturing.models import Message

from .factories import campaign, send, template

pytestmark = pytest.mark.django_db


def composed(html_body: str, **lead_fields):
    lead = LeadFactory(marketing_consent=True, **lead_fields)
    made = campaign(steps=[send(template(html_body=html_body))])
    services.enroll(made, Lead.objects.filter(pk=lead.pk))
    (message_id,) = services.dispatch(hand_over=False).messages
    message = Message.objects.select_related("lead", "step__template").get(pk=message_id)
    return message, sending.compose(message)


def test_an_unsubscribe_link_inside_a_block_this_lead_does_not_see_still_gets_the_footer():
    body = '<p>Hi</p>{% if industry == "software" %}<a href="{{ unsubscribe_url }}">Opt out</a>{% endif %}'
    message, content = composed(body, industry="retail")
    unsubscribe = links.unsubscribe_url(message.token)
    assert content.html.count(unsubscribe) == 1  # the footer's
    assert unsubscribe in content.text

    message, content = composed(body, industry="software", email="soft@example.com")
    assert links.unsubscribe_url(message.token) in content.html


def test_links_written_by_the_marketer_are_tracked_and_links_from_lead_data_are_not():
    body = '<a href="https://example.com/pricing">Pricing</a> <a href="{{ custom.site }}">Your site</a>'
    message, content = composed(body, custom={"site": "https://evil.example.net/"})
    assert 'href="https://evil.example.net/"' in content.html  # left as it is: never a signed redirect
    assert 'href="https://example.com/pricing"' not in content.html
    assert "/e/c/" in content.html
