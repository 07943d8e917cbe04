"""Start, pause, resume and archive from the campaign page; what the campaign's state does not
allow is said plainly."""

import pytest

from leads.models import Lead
from leads.tests.factories import LeadFactory
from nurturing import services
from nurturing.models import Campaign, Enrollment, Step

from .factories import campaign, send, wait

pytestmark = pytest.mark.django_db


def press(client, made: Campaign, action: str, **kwargs):
    return client.post(f"/nurturing/campaigns/{made.pk}/status/", {"action": action}, follow=True, **kwargs)


def buttons(html: str) -> list[str]:
    return [action for action in ("start", "pause", "resume", "archive") if f'data-testid="{action}"' in html]


def test_a_draft_offers_start_and_archive(page_as, marketer):
    made = campaign(status=Campaign.Status.DRAFT)

    html = page_as(marketer).get(f"/nurturing/campaigns/{made.pk}/").content.decode()

    assert buttons(html) == ["start", "archive"]


def test_a_draft_without_steps_does_not_start_and_says_why(page_as, marketer):
    made = campaign(name="Empty", status=Campaign.Status.DRAFT)

    response = press(page_as(marketer), made, "start")

    assert response.redirect_chain == [(f"/nurturing/campaigns/{made.pk}/", 302)]
    html = response.content.decode()
    assert "“Empty” was not started: Add at least one step before starting the campaign." in html
    made.refresh_from_db()
    assert made.status == Campaign.Status.DRAFT


def test_an_incomplete_step_keeps_the_campaign_from_starting(page_as, marketer):
    made = campaign(status=Campaign.Status.DRAFT)
    Step.objects.create(campaign=made, position=1, kind=Step.Kind.SEND_EMAIL)  # no e-mail chosen

    html = press(page_as(marketer), made, "start").content.decode()

    assert "Step 1 is not complete" in html
    assert "Choose the e-mail to send." in html
    made.refresh_from_db()
    assert made.status == Campaign.Status.DRAFT


def test_start_pause_resume(page_as, marketer):
    made = campaign(status=Campaign.Status.DRAFT, steps=[send(), wait(wait_days=1)])
    client = page_as(marketer)

    started = press(client, made, "start").content.decode()
    made.refresh_from_db()
    assert made.status == Campaign.Status.ACTIVE and made.activated_at
    assert "Started" in started and buttons(started) == ["pause", "archive"]

    paused = press(client, made, "pause").content.decode()
    made.refresh_from_db()
    assert made.status == Campaign.Status.PAUSED
    assert "Paused" in paused and buttons(paused) == ["resume", "archive"]

    resumed = press(client, made, "resume").content.decode()
    made.refresh_from_db()
    assert made.status == Campaign.Status.ACTIVE
    assert "Resumed" in resumed


def test_pausing_a_paused_campaign_is_refused(page_as, marketer):
    made = campaign(status=Campaign.Status.PAUSED, steps=[send()])

    html = press(page_as(marketer), made, "pause").content.decode()

    assert "Only an active campaign can be paused." in html


def test_archiving_ends_every_enrollment(page_as, marketer):
    made = campaign(steps=[send(), wait(wait_days=2)])
    services.enroll(made, Lead.objects.filter(pk__in=[lead.pk for lead in LeadFactory.create_batch(3)]))

    html = press(page_as(marketer), made, "archive").content.decode()

    made.refresh_from_db()
    assert made.status == Campaign.Status.ARCHIVED
    assert "Archived: 3 leads left the campaign." in html
    assert set(Enrollment.objects.values_list("status", "exit_reason")) == {("exited", "campaign_ended")}
    assert buttons(html) == []


def test_an_archived_campaign_cannot_start_again(page_as, marketer):
    made = campaign(status=Campaign.Status.ARCHIVED, steps=[send()])

    html = press(page_as(marketer), made, "start").content.decode()

    assert "An archived campaign cannot start again; copy it instead." in html
    made.refresh_from_db()
    assert made.status == Campaign.Status.ARCHIVED


def test_htmx_buttons_get_a_redirect_to_the_page(page_as, marketer):
    made = campaign(status=Campaign.Status.DRAFT, steps=[send()])

    response = page_as(marketer).post(
        f"/nurturing/campaigns/{made.pk}/status/", {"action": "start"}, headers={"HX-Request": "true"}
    )

    assert response["HX-Redirect"] == f"/nurturing/campaigns/{made.pk}/"
    made.refresh_from_db()
    assert made.status == Campaign.Status.ACTIVE
