"""The lead page's "Campaigns" panel: the lead's enrollments, and enrolling it in an active
campaign (Marketing)."""

import re

import pytest

from leads.models import Lead
from leads.tests.factories import LeadFactory
from nurturing import services
from nurturing.models import Campaign, Enrollment

from .factories import campaign, send, wait

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def panel(client, lead: Lead) -> str:
    response = client.get(f"/nurturing/leads/{lead.pk}/campaigns/", headers=HTMX)
    assert response.status_code == 200
    return response.content.decode()


def test_the_lead_page_loads_the_campaigns_panel(page_as, sdr):
    lead = LeadFactory()

    html = page_as(sdr).get(f"/leads/{lead.pk}/").content.decode()

    assert f'hx-get="/nurturing/leads/{lead.pk}/campaigns/"' in html


def test_the_panel_lists_the_leads_enrollments(page_as, sdr):
    lead = LeadFactory()
    welcome = campaign(name="Welcome", steps=[wait(wait_days=2), send()])
    old = campaign(name="Old news", steps=[send()])
    services.enroll(welcome, Lead.objects.filter(pk=lead.pk))
    services.enroll(old, Lead.objects.filter(pk=lead.pk))
    services.unenroll(Enrollment.objects.filter(campaign=old))
    campaign(name="Someone else's", steps=[send()])

    html = panel(page_as(sdr), lead)

    assert html.strip().startswith('<article data-testid="lead-campaigns">')
    assert re.search(r"Welcome</a>:\s*<strong>active</strong>", html)
    assert "next: Wait 2 d 0 h" in html
    assert re.search(r"Old news</a>:\s*<strong>exited</strong> \(removed by hand\)", html)
    assert "Someone else" not in html


def test_marketers_get_an_enroll_form_listing_only_active_campaigns(page_as, marketer):
    lead = LeadFactory()
    campaign(name="Running", steps=[send()])
    campaign(name="Resting", status=Campaign.Status.PAUSED, steps=[send()])
    campaign(name="Drafted", status=Campaign.Status.DRAFT, steps=[send()])

    html = panel(page_as(marketer), lead)

    assert 'data-testid="enroll-lead-form"' in html
    names = re.findall(r'<option value="\d+">([^<]*)</option>', html)
    assert names == ["Running"]


def test_sales_see_the_enrollments_but_no_enroll_form(page_as, sdr):
    lead = LeadFactory()
    campaign(name="Running", steps=[send()])

    html = panel(page_as(sdr), lead)

    assert 'data-testid="enroll-lead-form"' not in html
    assert "Remove from the campaign" not in html


def test_a_marketer_enrolls_the_lead_from_its_page(page_as, marketer):
    lead = LeadFactory()
    running = campaign(name="Running", steps=[send()])
    client = page_as(marketer)

    response = client.post(f"/nurturing/leads/{lead.pk}/enroll/", {"campaign": running.pk}, follow=True)

    assert response.redirect_chain == [(f"/leads/{lead.pk}/", 302)]
    assert "Enrolled in “Running”." in response.content.decode()
    enrollment = Enrollment.objects.get()
    assert (enrollment.lead, enrollment.campaign, enrollment.enrolled_by) == (lead, running, marketer)
    assert re.search(r"Running</a>:\s*<strong>active</strong>", panel(client, lead))


def test_enrolling_the_lead_twice_says_it_is_already_in(page_as, marketer):
    lead = LeadFactory(email="twice@example.com")
    running = campaign(name="Running", steps=[send()])
    client = page_as(marketer)

    client.post(f"/nurturing/leads/{lead.pk}/enroll/", {"campaign": running.pk})
    again = client.post(f"/nurturing/leads/{lead.pk}/enroll/", {"campaign": running.pk}, follow=True)

    assert "twice@example.com is already in “Running”." in again.content.decode()
    assert Enrollment.objects.count() == 1


def test_a_finished_lead_is_not_enrolled_again_unless_the_campaign_allows_it(page_as, marketer):
    lead = LeadFactory(email="done@example.com")
    once = campaign(name="Once", steps=[send()])
    services.enroll(once, Lead.objects.filter(pk=lead.pk))
    services.unenroll(Enrollment.objects.all())

    response = page_as(marketer).post(
        f"/nurturing/leads/{lead.pk}/enroll/", {"campaign": once.pk}, follow=True
    )

    assert "done@example.com went through “Once” before, and it does not allow re-enrollment." in (
        response.content.decode()
    )
    assert Enrollment.objects.count() == 1


def test_a_draft_campaign_is_not_a_choice(page_as, marketer):
    lead = LeadFactory()
    drafted = campaign(name="Drafted", status=Campaign.Status.DRAFT, steps=[send()])

    response = page_as(marketer).post(
        f"/nurturing/leads/{lead.pk}/enroll/", {"campaign": drafted.pk}, follow=True
    )

    assert "Choose an active campaign to enroll the lead in." in response.content.decode()
    assert not Enrollment.objects.exists()


def test_a_marketer_removes_the_lead_from_a_campaign_on_its_page(page_as, marketer):
    lead = LeadFactory(email="out@example.com")
    running = campaign(name="Running", steps=[send()])
    services.enroll(running, Lead.objects.filter(pk=lead.pk))
    enrollment = Enrollment.objects.get()
    client = page_as(marketer)

    assert "Remove from the campaign" in panel(client, lead)
    response = client.post(
        f"/nurturing/campaigns/{running.pk}/enrollments/{enrollment.pk}/remove/",
        {"next": "lead"},
        follow=True,
    )

    assert response.redirect_chain == [(f"/leads/{lead.pk}/", 302)]
    assert "out@example.com removed from the campaign." in response.content.decode()
    enrollment.refresh_from_db()
    assert enrollment.exit_reason == Enrollment.ExitReason.REMOVED


def test_sales_may_not_enroll_a_lead(page_as, sdr):
    lead = LeadFactory()
    running = campaign(steps=[send()])

    response = page_as(sdr).post(f"/nurturing/leads/{lead.pk}/enroll/", {"campaign": running.pk})

    assert response.status_code == 403
    assert not Enrollment.objects.exists()


def test_on_its_own_the_panel_is_a_page(page_as, sdr):
    lead = LeadFactory(first_name="Ada", last_name="Lovelace")

    html = page_as(sdr).get(f"/nurturing/leads/{lead.pk}/campaigns/").content.decode()

    assert "<html" in html
    assert "Not in any campaign." in html
    assert "← Ada Lovelace" in html
