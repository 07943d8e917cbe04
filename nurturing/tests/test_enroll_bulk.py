"""Every lead matching the lead list's filters enrolled in a campaign at once, from the lead
list: set-based, only the matching leads, never twice."""

import re
from html import unescape
from urllib.parse import urlencode

import pytest

from leads.tests.factories import LeadFactory
from nurturing.models import Campaign, Enrollment

from .factories import campaign, send, wait

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def enroll_all(client, made: Campaign, query: str, **kwargs):
    return client.post("/nurturing/enroll/", {"query": query, "campaign": made.pk}, **kwargs)


def test_the_lead_list_offers_to_enroll_the_matching_leads_to_marketers(page_as, marketer, sdr):
    html = page_as(marketer).get("/leads/", {"stage": "mql", "sort": "name", "page": "2"}).content.decode()

    details = re.search(r'<details data-testid="enroll-bulk" hx-get="([^"]*)"', html)
    assert details, "no bulk enrollment on the lead list"
    assert unescape(details.group(1)) == "/nurturing/enroll/?query=stage%3Dmql"
    assert 'data-testid="enroll-bulk"' not in page_as(sdr).get("/leads/").content.decode()


def test_the_offer_follows_the_filters_in_the_htmx_results(page_as, marketer):
    html = page_as(marketer).get("/leads/", {"country": "DE"}, headers=HTMX).content.decode()

    assert html.strip().startswith('<section id="results">')
    assert "/nurturing/enroll/?query=country%3DDE" in unescape(html)


def test_the_form_says_how_many_leads_match_and_lists_active_campaigns(page_as, marketer):
    LeadFactory.create_batch(3, stage="mql")
    LeadFactory(stage="new")
    campaign(name="Running", steps=[send()])
    campaign(name="Drafted", status=Campaign.Status.DRAFT, steps=[send()])

    html = page_as(marketer).get("/nurturing/enroll/", {"query": "stage=mql"}, headers=HTMX).content.decode()

    assert 'data-testid="enroll-bulk-form"' in html
    assert "3 leads match the filters." in html
    assert '<input type="hidden" name="query" value="stage=mql">' in html
    assert re.findall(r'<option value="\d+">([^<]*)</option>', html) == ["Running"]


def test_only_the_leads_matching_the_filters_are_enrolled(page_as, marketer):
    matching = [LeadFactory(stage="mql", country="DE") for _ in range(4)]
    LeadFactory(stage="mql", country="FR")
    LeadFactory(stage="new", country="DE")
    running = campaign(name="Running", steps=[send(), wait(wait_days=1)])

    response = enroll_all(page_as(marketer), running, "stage=mql&country=DE", follow=True)

    assert response.redirect_chain == [("/leads/?stage=mql&country=DE", 302)]
    assert "4 leads enrolled in “Running”" in response.content.decode()
    enrolled = Enrollment.objects.filter(campaign=running)
    assert set(enrolled.values_list("lead", flat=True)) == {lead.pk for lead in matching}
    assert set(enrolled.values_list("enrolled_via", "enrolled_by")) == {("bulk", marketer.pk)}


def test_enrolling_the_same_filter_again_enrolls_nobody_twice(page_as, marketer):
    LeadFactory.create_batch(3, stage="mql")
    running = campaign(name="Running", steps=[send()])
    client = page_as(marketer)

    enroll_all(client, running, "stage=mql")
    LeadFactory(stage="mql")  # a newcomer matches now
    again = enroll_all(client, running, "stage=mql", follow=True)

    assert "1 lead enrolled in “Running”" in again.content.decode()
    assert Enrollment.objects.filter(campaign=running).count() == 4
    assert Enrollment.objects.values("lead").distinct().count() == 4


def test_the_enrollment_is_one_statement_however_many_leads_match(
    page_as, marketer, django_assert_max_num_queries
):
    LeadFactory.create_batch(60, stage="mql")
    running = campaign(steps=[send()])
    client = page_as(marketer)
    client.get("/leads/")  # the session and the permission cache

    with django_assert_max_num_queries(12):
        enroll_all(client, running, "stage=mql")

    assert Enrollment.objects.count() == 60


def test_a_search_filter_is_applied_too(page_as, marketer):
    LeadFactory(email="ada@engines.example", company_name="Engines")
    LeadFactory(email="bob@other.example", company_name="Other")
    running = campaign(steps=[send()])

    enroll_all(page_as(marketer), running, urlencode({"q": "engines"}))

    assert list(Enrollment.objects.values_list("lead__email", flat=True)) == ["ada@engines.example"]


def test_invalid_filters_enroll_nobody(page_as, marketer):
    LeadFactory.create_batch(2)
    running = campaign(steps=[send()])

    response = enroll_all(page_as(marketer), running, "stage=bogus", follow=True)

    assert "The filters are not valid; nobody was enrolled." in response.content.decode()
    assert not Enrollment.objects.exists()


def test_a_draft_campaign_takes_no_leads(page_as, marketer):
    LeadFactory.create_batch(2)
    drafted = campaign(status=Campaign.Status.DRAFT, steps=[send()])

    response = enroll_all(page_as(marketer), drafted, "", follow=True)

    assert "Choose an active campaign; nobody was enrolled." in response.content.decode()
    assert not Enrollment.objects.exists()


def test_sales_may_not_enroll_in_bulk(page_as, sdr):
    LeadFactory.create_batch(2)
    running = campaign(steps=[send()])

    assert enroll_all(page_as(sdr), running, "").status_code == 403
    assert page_as(sdr).get("/nurturing/enroll/").status_code == 403
    assert not Enrollment.objects.exists()
