"""The campaign pages: the overview, a new campaign, its settings and its enrollments."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from leads.models import Lead
from leads.tests.factories import LeadFactory
from nurturing import services
from nurturing.models import Campaign, Enrollment, Message

from .factories import campaign, send, wait

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def cell(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">([^<]*)<', html)
    assert match, f"no {testid} in the page"
    return match.group(1).strip()


def row(html: str, campaign: Campaign) -> str:
    match = re.search(rf'<tr data-testid="campaign-row-{campaign.pk}">(.*?)</tr>', html, re.S)
    assert match, f"{campaign} is not listed"
    return match.group(1)


def enroll(made: Campaign, *leads: Lead) -> int:
    return services.enroll(made, Lead.objects.filter(pk__in=[lead.pk for lead in leads]))


def sent_message(made: Campaign, lead: Lead, n: int, status=Message.Status.SENT) -> Message:
    step = made.steps.first()
    return Message.objects.create(
        key=f"test-{made.pk}-{lead.pk}-{n}",
        campaign=made,
        step=step,
        lead=lead,
        to_email=lead.email,
        status=status,
        sent_at=timezone.now() if status == Message.Status.SENT else None,
    )


# --- the overview --------------------------------------------------------------------------------


def test_the_overview_lists_campaigns_with_status_trigger_and_counts(page_as, manager):
    welcome = campaign(name="Welcome", steps=[send(), wait(wait_days=1)])
    draft = campaign(name="Later", status=Campaign.Status.DRAFT, trigger=Campaign.Trigger.STAGE)
    a, b, c = LeadFactory.create_batch(3)
    enroll(welcome, a, b, c)
    services.unenroll(Enrollment.objects.filter(lead=c))
    sent_message(welcome, a, 1)
    sent_message(welcome, b, 2)
    sent_message(welcome, c, 3, status=Message.Status.SKIPPED)

    response = page_as(manager).get("/nurturing/")

    assert response.status_code == 200
    html = response.content.decode()
    welcome_row, draft_row = row(html, welcome), row(html, draft)
    assert "Welcome" in welcome_row and "Active" in welcome_row
    assert cell(welcome_row, "active-count") == "2"
    assert cell(welcome_row, "sent-count") == "2"
    assert "Draft" in draft_row and "A lead reaches a stage" in draft_row
    assert cell(draft_row, "active-count") == "0"
    assert cell(draft_row, "sent-count") == "0"


def test_the_overview_costs_the_same_queries_for_many_campaigns(page_as, manager, django_assert_num_queries):
    client = page_as(manager)
    campaign(name="One", steps=[send()])
    with CaptureQueriesContext(connection) as one:
        client.get("/nurturing/")
    for n in range(5):
        enroll(campaign(name=f"More {n}", steps=[send()]), LeadFactory())
    with django_assert_num_queries(len(one)):
        response = client.get("/nurturing/")
    assert response.content.decode().count('data-testid="campaign-row-') == 6


def test_the_overview_links_the_other_nurturing_pages(page_as, sdr):
    html = page_as(sdr).get("/nurturing/").content.decode()

    nav = re.search(r'data-testid="nurturing-links">(.*?)</ul>', html, re.S).group(1)
    links = re.findall(r'<a href="([^"]*)">([^<]*)</a>', nav)
    assert links == [
        (reverse("nurturing:template_list"), "E-mail templates"),
        (reverse("nurturing:outbox"), "Outbox"),
        (reverse("nurturing:suppressions"), "Suppression list"),
        (reverse("nurturing:audiences"), "Audiences"),
    ]


def test_the_overview_links_a_new_campaign_for_marketers_only(page_as, marketer, sdr):
    assert 'data-testid="new-campaign"' in page_as(marketer).get("/nurturing/").content.decode()
    assert 'data-testid="new-campaign"' not in page_as(sdr).get("/nurturing/").content.decode()


# --- a new campaign and its settings ---------------------------------------------------------------


def test_a_marketer_creates_a_campaign_as_a_draft(page_as, marketer):
    client = page_as(marketer)

    response = client.post(
        "/nurturing/campaigns/new/", {"name": "Trial follow-up", "description": "After signup"}
    )

    made = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/nurturing/campaigns/{made.pk}/"
    assert (made.name, made.status, made.created_by) == ("Trial follow-up", Campaign.Status.DRAFT, marketer)
    page = client.get(response["Location"]).content.decode()
    assert '<h1 id="campaign-name">Trial follow-up</h1>' in page
    assert "Campaign created as a draft" in page


def test_a_campaign_needs_a_name(page_as, marketer):
    response = page_as(marketer).post("/nurturing/campaigns/new/", {"name": ""})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not Campaign.objects.exists()


def settings_data(**changes) -> dict:
    data = {
        "name": "Nurture",
        "description": "",
        "trigger": "manual",
        "trigger_form": "",
        "trigger_grade": "",
        "trigger_stage": "",
        "trigger_segment": "",
        "goal_activity": "",
        "from_name": "",
        "from_email": "",
        "reply_to": "",
        **changes,
    }
    return {f"settings-{key}": value for key, value in data.items()}


def test_settings_show_the_campaigns_own_errors(page_as, marketer):
    made = campaign(status=Campaign.Status.DRAFT)

    response = page_as(marketer).post(
        f"/nurturing/campaigns/{made.pk}/settings/", settings_data(trigger="grade"), headers=HTMX
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert html.strip().startswith('<section id="campaign-settings"')
    assert 'id="id_settings-trigger_grade_error"' in html
    assert "Choose what starts the campaign." in html
    made.refresh_from_db()
    assert made.trigger == Campaign.Trigger.MANUAL


def test_settings_are_saved_and_only_the_chosen_triggers_field_is_kept(page_as, marketer):
    made = campaign(status=Campaign.Status.DRAFT, trigger_grade="A")

    response = page_as(marketer).post(
        f"/nurturing/campaigns/{made.pk}/settings/",
        settings_data(
            name="Renamed",
            trigger="stage",
            trigger_stage="mql",
            trigger_grade="B",
            reenroll="on",
            goal_activity="meeting",
            from_name="Ada at Acme",
            from_email="ada@acme.example",
            reply_to="sales@acme.example",
        ),
    )

    assert response.status_code == 302
    made.refresh_from_db()
    assert (made.name, made.trigger, made.trigger_stage, made.trigger_grade) == (
        "Renamed",
        "stage",
        "mql",
        "",
    )
    assert made.reenroll and made.goal_activity == "meeting"
    assert made.sender == "Ada at Acme <ada@acme.example>"
    assert made.reply_to == "sales@acme.example"


def test_viewers_see_the_settings_as_text(page_as, sdr):
    made = campaign(trigger=Campaign.Trigger.STAGE, trigger_stage="mql", steps=[send()])

    html = page_as(sdr).get(f"/nurturing/campaigns/{made.pk}/").content.decode()

    assert 'data-testid="settings-form"' not in html
    assert "A lead reaches a stage: MQL" in html


# --- enrollments ---------------------------------------------------------------------------------


def test_the_enrollments_section_counts_by_status_and_exit_reason(page_as, manager):
    made = campaign(steps=[send(), wait(wait_days=3)])
    leads = LeadFactory.create_batch(4)
    enroll(made, *leads)
    services.unenroll(Enrollment.objects.filter(lead__in=leads[:2]))
    Enrollment.objects.filter(lead=leads[2]).update(
        status=Enrollment.Status.EXITED, exit_reason=Enrollment.ExitReason.UNSUBSCRIBED
    )

    html = page_as(manager).get(f"/nurturing/campaigns/{made.pk}/").content.decode()

    assert re.search(r'data-testid="count-active"><strong>1</strong> active', html)
    assert re.search(r'data-testid="count-exited"><strong>3</strong> exited', html)
    assert re.search(r'data-testid="count-completed"><strong>0</strong> completed', html)
    assert '<span data-testid="reason-removed">removed by hand: 2</span>' in html
    assert '<span data-testid="reason-unsubscribed">unsubscribed: 1</span>' in html
    for lead in leads:
        assert lead.email in html


def test_the_latest_enrollments_show_the_next_step_and_when_it_is_due(page_as, manager):
    made = campaign(steps=[wait(wait_days=2), send()])
    lead = LeadFactory(email="due@example.com")
    enroll(made, lead)
    enrollment = Enrollment.objects.get()

    html = page_as(manager).get(f"/nurturing/campaigns/{made.pk}/").content.decode()

    latest = re.search(rf'<tr data-testid="enrollment-{enrollment.pk}">(.*?)</tr>', html, re.S).group(1)
    assert "due@example.com" in latest
    assert "Wait 2 d 0 h" in latest
    assert timezone.localtime(enrollment.due_at).strftime("%Y-%m-%d %H:%M") in latest
    assert "Active" in latest


def test_a_marketer_enrolls_a_lead_by_email_or_id(page_as, marketer):
    made = campaign(steps=[send()])
    by_email, by_id = LeadFactory(email="first@example.com"), LeadFactory()
    client = page_as(marketer)
    url = f"/nurturing/campaigns/{made.pk}/enrollments/"

    first = client.post(url, {"enroll-lead": "  FIRST@example.com "}, headers=HTMX)
    second = client.post(url, {"enroll-lead": str(by_id.pk)}, headers=HTMX)

    assert first.status_code == second.status_code == 200
    assert "first@example.com enrolled." in first.content.decode()
    assert f"{by_id.email} enrolled." in second.content.decode()
    enrollments = Enrollment.objects.filter(campaign=made)
    assert set(enrollments.values_list("lead", flat=True)) == {by_email.pk, by_id.pk}
    assert set(enrollments.values_list("enrolled_by", "enrolled_via")) == {(marketer.pk, "manual")}


def test_a_lead_is_never_twice_in_a_campaign_at_once(page_as, marketer):
    made = campaign(steps=[send()])
    lead = LeadFactory(email="once@example.com")
    client = page_as(marketer)
    url = f"/nurturing/campaigns/{made.pk}/enrollments/"

    client.post(url, {"enroll-lead": lead.email}, headers=HTMX)
    again = client.post(url, {"enroll-lead": lead.email}, headers=HTMX)

    assert again.status_code == 400
    assert "once@example.com is already in “Nurture”." in again.content.decode()
    assert Enrollment.objects.filter(campaign=made, lead=lead).count() == 1


def test_an_unknown_lead_is_an_error_of_the_form(page_as, marketer):
    made = campaign(steps=[send()])

    response = page_as(marketer).post(
        f"/nurturing/campaigns/{made.pk}/enrollments/", {"enroll-lead": "nobody@example.com"}, headers=HTMX
    )

    assert response.status_code == 400
    assert "No lead has this e-mail or ID." in response.content.decode()
    assert not Enrollment.objects.exists()


def test_enrolling_in_a_draft_campaign_is_refused_with_the_reason(page_as, marketer):
    made = campaign(name="Not yet", status=Campaign.Status.DRAFT, steps=[send()])
    lead = LeadFactory()
    client = page_as(marketer)

    page = client.get(f"/nurturing/campaigns/{made.pk}/").content.decode()
    response = client.post(
        f"/nurturing/campaigns/{made.pk}/enrollments/", {"enroll-lead": lead.email}, follow=True
    )

    assert 'data-testid="enroll-form"' not in page
    assert "Start the campaign to enroll leads." in page
    assert "“Not yet” is draft: start it first." in response.content.decode()
    assert not Enrollment.objects.exists()


def test_a_marketer_removes_a_lead_from_the_campaign(page_as, marketer):
    made = campaign(steps=[send()])
    lead = LeadFactory(email="leaving@example.com")
    enroll(made, lead)
    enrollment = Enrollment.objects.get()

    response = page_as(marketer).post(
        f"/nurturing/campaigns/{made.pk}/enrollments/{enrollment.pk}/remove/", headers=HTMX
    )

    assert response.status_code == 200
    assert "leaving@example.com removed from the campaign." in response.content.decode()
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "removed")
    assert enrollment.finished_at is not None


def test_without_htmx_an_enrollment_goes_back_to_the_page_with_a_message(page_as, marketer):
    made = campaign(steps=[send()])
    lead = LeadFactory(email="plain@example.com")

    response = page_as(marketer).post(
        f"/nurturing/campaigns/{made.pk}/enrollments/", {"enroll-lead": lead.email}, follow=True
    )

    assert response.redirect_chain == [(f"/nurturing/campaigns/{made.pk}/#campaign-enrollments", 302)]
    assert "plain@example.com enrolled." in response.content.decode()


def test_the_campaign_page_costs_the_same_queries_for_many_steps_and_enrollments(
    page_as, marketer, django_assert_num_queries
):
    made = campaign(steps=[send(), wait(wait_days=1)])
    client = page_as(marketer)
    enroll(made, LeadFactory())
    with CaptureQueriesContext(connection) as few:
        client.get(f"/nurturing/campaigns/{made.pk}/")
    for n in range(4):
        made.steps.create(position=100 + n, kind="wait", wait_days=n)
    enroll(made, *LeadFactory.create_batch(10))

    with django_assert_num_queries(len(few)):
        response = client.get(f"/nurturing/campaigns/{made.pk}/")

    assert len(re.findall(r'data-testid="enrollment-\d+"', response.content.decode())) == 11
