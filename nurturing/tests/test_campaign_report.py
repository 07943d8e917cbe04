"""The campaign report: per e-mail step, what happened to the e-mails sent, and which leads
became customers afterwards. The outbox rows are written by hand with known times."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from leads.models import Lead, Stage
from leads.tests.factories import LeadFactory
from nurturing import selectors
from nurturing.models import Campaign, Message, Step

from .factories import campaign, send, steps_of, template, wait

pytestmark = pytest.mark.django_db

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def message(made: Campaign, step: Step, lead: Lead, status=Message.Status.SENT, **fields) -> Message:
    message.count = getattr(message, "count", 0) + 1
    if status == Message.Status.SENT:
        fields.setdefault("sent_at", T)
    fields.setdefault("to_email", lead.email)
    return Message.objects.create(
        key=f"report-{message.count}", campaign=made, step=step, lead=lead, status=status, **fields
    )


def lead(name: str, stage: str = Stage.MQL, changed=None) -> Lead:
    return LeadFactory(email=f"{name}@example.com", stage=stage, stage_changed_at=changed)


@pytest.fixture
def reported():
    """Hello (step 1): sent 3, opened 2, clicked 1, unsubscribed 1, bounced 1, converted 1.
    Reminder (step 3): sent 3, opened 1, clicked 0, converted 2 (leads, not e-mails)."""
    made = campaign(
        name="Trial",
        steps=[send(template(name="Hello")), wait(wait_days=1), send(template(name="Reminder"))],
    )
    hello, _, reminder = steps_of(made)
    ada = lead("ada", Stage.CUSTOMER, changed=T + 2 * DAY)  # a customer after both e-mails
    bob = lead("bob", Stage.CUSTOMER, changed=T - DAY)  # a customer before: not thanks to it
    cy = lead("cy")
    fay = lead("fay", Stage.CUSTOMER, changed=T + DAY + timedelta(hours=1))
    message(made, hello, ada, opened_at=T + timedelta(hours=1), clicked_at=T + timedelta(hours=2))
    message(made, hello, bob, opened_at=T + timedelta(hours=3), unsubscribed_at=T + timedelta(hours=4))
    message(made, hello, cy, bounced_at=T + timedelta(minutes=5))
    message(made, hello, lead("dee"), status=Message.Status.SKIPPED, error="No marketing consent.")
    message(made, hello, lead("eve"), status=Message.Status.QUEUED)
    message(made, hello, ada, kind=Message.Kind.NOTIFICATION, to_email="owner@example.com")
    message(made, reminder, ada, sent_at=T + DAY, opened_at=T + DAY + timedelta(hours=1))
    message(made, reminder, fay, sent_at=T + DAY)
    message(made, reminder, fay, sent_at=T + 3 * DAY)  # re-enrolled: a second e-mail, the same lead
    other = campaign(name="Other", steps=[send()])
    message(other, steps_of(other)[0], ada, opened_at=T)
    return made, hello, reminder


def numbers(row: selectors.StepReport) -> tuple:
    return (row.sent, row.opened, row.clicked, row.unsubscribed, row.bounced, row.converted)


def test_the_report_counts_each_email_step(reported, django_assert_num_queries):
    made, hello, reminder = reported

    with django_assert_num_queries(2):
        report = selectors.campaign_report(made)

    assert [row.step for row in report] == [hello, reminder]
    assert numbers(report[0]) == (3, 2, 1, 1, 1, 1)
    assert numbers(report[1]) == (3, 1, 0, 0, 0, 2)
    assert (report[0].open_percent, report[0].click_percent) == ("66.7", "33.3")
    assert (report[1].open_percent, report[1].click_percent) == ("33.3", "0.0")


def test_the_report_page_shows_the_table(page_as, manager, reported):
    made, hello, reminder = reported

    html = page_as(manager).get(f"/nurturing/campaigns/{made.pk}/report/").content.decode()

    def cells(step: Step) -> dict:
        row = re.search(rf'<tr data-testid="report-step-{step.pk}">(.*?)</tr>', html, re.S).group(1)
        return dict(re.findall(r'<td data-testid="([\w-]+)">([^<]*)</td>', row))

    assert cells(hello) == {
        "sent": "3",
        "opened": "2",
        "clicked": "1",
        "unsubscribed": "1",
        "bounced": "1",
        "open-rate": "66.7 %",
        "click-rate": "33.3 %",
        "converted": "1",
    }
    assert cells(reminder)["converted"] == "2"
    assert "1. Send “Hello”" in html and "3. Send “Reminder”" in html


def test_a_step_that_sent_nothing_has_no_rates(page_as, manager):
    made = campaign(steps=[send(template(name="Quiet"))])

    html = page_as(manager).get(f"/nurturing/campaigns/{made.pk}/report/").content.decode()

    assert '<td data-testid="sent">0</td>' in html
    assert '<td data-testid="open-rate">—</td>' in html


def test_a_removed_step_stays_in_the_report_if_it_sent_something(reported):
    made, hello, reminder = reported
    gone = Step.objects.create(
        campaign=made, position=99, kind=Step.Kind.SEND_EMAIL, template=template(name="Gone"), removed=True
    )
    Step.objects.create(
        campaign=made, position=100, kind=Step.Kind.SEND_EMAIL, template=template(name="Never"), removed=True
    )
    message(made, gone, lead("gil"))

    report = selectors.campaign_report(made)

    assert [row.step for row in report] == [hello, reminder, gone]
    assert numbers(report[2]) == (1, 0, 0, 0, 0, 0)


def test_the_report_downloads_as_csv(client, page_as, manager, reported):
    made, hello, reminder = reported

    response = page_as(manager).get(f"/nurturing/campaigns/{made.pk}/report.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="campaign-{made.pk}-report-' in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows == [
        selectors.REPORT_COLUMNS,
        ["1", "Hello", "3", "2", "1", "1", "1", "66.7", "33.3", "1"],
        ["3", "Reminder", "3", "1", "0", "0", "0", "33.3", "0.0", "2"],
    ]


def test_the_csv_is_safe_to_open_in_a_spreadsheet(page_as, manager):
    made = campaign(steps=[send(template(name='=HYPERLINK("http://evil.example")'))])

    response = page_as(manager).get(f"/nurturing/campaigns/{made.pk}/report.csv")

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[1][1] == '\'=HYPERLINK("http://evil.example")'


def test_the_report_links_back_and_offers_the_csv(page_as, sdr):
    made = campaign(steps=[send()])

    html = page_as(sdr).get(f"/nurturing/campaigns/{made.pk}/report/").content.decode()

    assert f'href="/nurturing/campaigns/{made.pk}/report.csv"' in html
    assert f'href="/nurturing/campaigns/{made.pk}/"' in html
