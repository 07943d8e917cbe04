"""/nurturing/outbox/: every e-mail, newest first, filtered by status and campaign, searched by
recipient, paged without counting the table; /nurturing/outbox/<pk>/ shows one as sent."""

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.models import ActivityKind
from nurturing import links
from nurturing.models import Message
from nurturing.outbox_views import PAGE_SIZE

from .sent import activities, consenting_lead, nurture, sent_message

pytestmark = pytest.mark.django_db


def listed(response) -> list[str]:
    """The recipients of the rows shown, in order."""
    assert response.status_code == 200
    return re.findall(
        r'<tr data-testid="message-row">\s*<td>.*?</td>\s*<td>([^<]*)</td>', response.content.decode()
    )


def test_anonymous_visitors_are_sent_to_log_in(client):
    message = sent_message()
    for url in ["/nurturing/outbox/", f"/nurturing/outbox/{message.pk}/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_a_user_without_a_role_may_not_see_the_outbox(page_as, nobody):
    message = sent_message()
    client = page_as(nobody)
    assert client.get("/nurturing/outbox/").status_code == 403
    assert client.get(f"/nurturing/outbox/{message.pk}/").status_code == 403


def test_sales_sees_the_emails_newest_first(page_as, sdr):
    first = sent_message(consenting_lead(email="first@example.com"))
    second = sent_message(consenting_lead(email="second@example.com"))

    response = page_as(sdr).get("/nurturing/outbox/")

    assert listed(response) == ["second@example.com", "first@example.com"]
    page = response.content.decode()
    assert f'href="/nurturing/outbox/{second.pk}/"' in page
    assert f'href="/nurturing/outbox/{first.pk}/"' in page


def test_filter_by_status_and_campaign_and_search_by_recipient(page_as, marketer):
    spring, autumn = nurture("Spring"), nurture("Autumn")
    sent_message(consenting_lead(email="ann@acme.example"), campaign=spring)
    sent_message(consenting_lead(email="bob@acme.example"), campaign=autumn)
    sent_message(consenting_lead(email="cid@other.example"), campaign=spring, status=Message.Status.FAILED)
    client = page_as(marketer)

    assert listed(client.get("/nurturing/outbox/?status=failed")) == ["cid@other.example"]
    assert listed(client.get(f"/nurturing/outbox/?campaign={spring.pk}")) == [
        "cid@other.example",
        "ann@acme.example",
    ]
    assert listed(client.get("/nurturing/outbox/?q=ACME")) == ["bob@acme.example", "ann@acme.example"]
    assert listed(client.get(f"/nurturing/outbox/?q=acme&campaign={autumn.pk}&status=sent")) == [
        "bob@acme.example"
    ]


def test_htmx_gets_only_the_results(page_as, marketer):
    sent_message()

    response = page_as(marketer).get("/nurturing/outbox/?status=sent", HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert page.lstrip().startswith('<section id="results">')
    assert "<html" not in page


def test_pages_without_counting_the_table(page_as, marketer):
    campaign = nurture()
    for n in range(PAGE_SIZE + 1):
        sent_message(consenting_lead(email=f"p{n:03}@example.com"), campaign=campaign)
    client = page_as(marketer)

    with CaptureQueriesContext(connection) as queries:
        first_page = client.get("/nurturing/outbox/")
    second_page = client.get("/nurturing/outbox/?page=2")

    assert len(listed(first_page)) == PAGE_SIZE
    assert "Older →" in first_page.content.decode()
    assert listed(second_page) == ["p000@example.com"]
    assert "Older →" not in second_page.content.decode()
    assert not [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def test_the_message_page_shows_headers_status_times_and_both_parts(page_as, sdr):
    message = sent_message(consenting_lead(email="jane@example.com", first_name="Jane"))
    Message.objects.filter(pk=message.pk).update(error="Temporary failure, sent on the 2nd try")

    response = page_as(sdr).get(f"/nurturing/outbox/{message.pk}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Welcome, Jane" in page
    assert "Sent" in page
    assert "Temporary failure, sent on the 2nd try" in page
    assert html.escape(message.message_id) in page
    assert "List-Unsubscribe-Post" in page
    assert html.escape(f"<{links.unsubscribe_url(message.token)}>") in page
    assert message.sent_at.strftime("%Y-%m-%d %H:%M") in page
    # The HTML part in a sandboxed frame, the text part as text.
    assert re.search(r'<iframe[^>]*sandbox=""[^>]*srcdoc="[^"]*Hi Jane', page)
    assert html.escape(message.text.split("\n")[0]) in page


def test_looking_at_the_message_does_not_count_as_the_leads_open_or_click(page_as, marketer):
    message = sent_message()

    page = page_as(marketer).get(f"/nurturing/outbox/{message.pk}/").content.decode()

    srcdoc = html.unescape(re.search(r'srcdoc="([^"]*)"', page).group(1))
    assert links.open_url(message.token) not in srcdoc
    assert "/e/c/" not in srcdoc
    assert 'href="https://example.com/guide?utm_source=leadapp&amp;x=1"' in srcdoc
    assert 'href="https://example.com/pricing"' in srcdoc
    assert Message.objects.get(pk=message.pk).opened_at is None
    assert not activities(message.lead, ActivityKind.EMAIL_OPEN)


def test_a_notification_is_shown_as_plain_text(page_as, marketer):
    lead = consenting_lead()
    message = Message.objects.create(
        key="n1",
        kind=Message.Kind.NOTIFICATION,
        lead=lead,
        to_email="owner@leadapp.example",
        subject="Ann reached a step",
        text="A lead of yours reached a step of a campaign.",
    )

    page = page_as(marketer).get(f"/nurturing/outbox/{message.pk}/").content.decode()

    assert "A lead of yours reached a step of a campaign." in page
    assert "<iframe" not in page
    assert "List-Unsubscribe" not in page
