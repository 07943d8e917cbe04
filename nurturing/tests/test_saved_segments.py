"""Saved segments: the lead list's filters saved under a name, and listed on the lead list as
quick links."""

import re
from html import unescape

import pytest

from leads.models import SavedSegment
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def save(client, name: str, query: str, **kwargs):
    return client.post("/leads/segments/", {"name": name, "query": query}, **kwargs)


def test_the_save_form_carries_the_filters_without_page_and_sort(page_as, marketer):
    html = page_as(marketer).get("/leads/?stage=mql&country=DE&sort=name&page=2").content.decode()

    form = re.search(
        r'<form method="post" action="/leads/segments/" data-testid="save-segment-form">.*?</form>',
        html,
        re.S,
    )
    assert form, "no segment form on the lead list"
    assert '<input type="hidden" name="query" value="stage=mql&amp;country=DE">' in form.group(0)


def test_a_marketer_saves_the_filters_as_a_segment(page_as, marketer):
    LeadFactory(email="mql-de@example.com", stage="mql", country="DE")
    LeadFactory(email="new-de@example.com", stage="new", country="DE")

    response = save(page_as(marketer), "German MQLs", "stage=mql&country=DE&sort=name&page=3", follow=True)

    segment = SavedSegment.objects.get()
    assert (segment.name, segment.query, segment.created_by) == (
        "German MQLs",
        "stage=mql&country=DE",
        marketer,
    )
    assert response.redirect_chain == [("/leads/?stage=mql&country=DE", 302)]
    html = response.content.decode()
    assert "Segment “German MQLs” saved." in html
    assert "mql-de@example.com" in html and "new-de@example.com" not in html
    assert [lead.email for lead in segment.leads()] == ["mql-de@example.com"]


def test_segments_are_quick_links_on_the_lead_list(page_as, sdr):
    SavedSegment.objects.create(name="Customers", query="stage=customer")
    SavedSegment.objects.create(name="German MQLs", query="stage=mql&country=DE")

    html = page_as(sdr).get("/leads/").content.decode()

    nav = re.search(r'<nav class="segments"[^>]*>(.*?)</nav>', html, re.S).group(1)
    links = [(unescape(href), name) for href, name in re.findall(r'<a href="([^"]*)">([^<]*)</a>', nav)]
    assert links == [("/leads/?stage=customer", "Customers"), ("/leads/?stage=mql&country=DE", "German MQLs")]


def test_htmx_results_leave_the_segment_links_out(page_as, sdr):
    SavedSegment.objects.create(name="Customers", query="stage=customer")

    html = page_as(sdr).get("/leads/", headers=HTMX).content.decode()

    assert "Customers" not in html


def test_invalid_filters_are_not_saved(page_as, marketer):
    response = save(page_as(marketer), "Broken", "stage=bogus", follow=True)

    assert "The segment was not saved: These filters are not valid." in response.content.decode()
    assert not SavedSegment.objects.exists()


def test_a_parameter_that_is_no_filter_is_not_saved(page_as, marketer):
    response = save(page_as(marketer), "Odd", "stage=mql&colour=red", follow=True)

    assert "Not a filter of the lead list: colour." in response.content.decode()
    assert not SavedSegment.objects.exists()


def test_segment_names_are_unique(page_as, marketer):
    SavedSegment.objects.create(name="Customers", query="stage=customer")

    response = save(page_as(marketer), "Customers", "stage=mql", follow=True)

    assert "A segment with this name exists already." in response.content.decode()
    assert SavedSegment.objects.get().query == "stage=customer"


def test_a_segment_needs_a_name(page_as, marketer):
    response = save(page_as(marketer), "", "stage=mql", follow=True)

    assert "The segment was not saved: This field is required." in response.content.decode()
    assert not SavedSegment.objects.exists()


def test_sales_see_segments_but_may_not_save_one(page_as, sdr):
    html = page_as(sdr).get("/leads/?stage=mql").content.decode()

    assert 'data-testid="save-segment-form"' not in html
    assert save(page_as(sdr), "Mine", "stage=mql").status_code == 403
    assert not SavedSegment.objects.exists()


def test_blank_filters_are_left_out_and_no_filter_offers_no_segment(page_as, marketer):
    client = page_as(marketer)

    blank = client.get("/leads/?q=&stage=&sort=newest").content.decode()
    some = client.get("/leads/?q=&stage=mql&country=").content.decode()

    assert 'data-testid="save-segment-form"' not in blank
    assert '<input type="hidden" name="query" value="stage=mql">' in some
