"""The lead list page: htmx partial answers and pages of 50."""

import re
from html import unescape

import pytest

from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def emails(html: str) -> list[str]:
    return re.findall(r"<td>([^<>\s]+@[^<>\s]+)</td>", html)


def next_link(html: str) -> str | None:
    match = re.search(r'<a href="([^"]*)"[^>]*>Next', html)
    return unescape(match.group(1)) if match else None


def test_an_htmx_request_gets_only_the_results_fragment(page_as, sdr):
    LeadFactory(email="mql@example.com", stage="mql")
    LeadFactory(email="new@example.com", stage="new")

    response = page_as(sdr).get("/leads/", {"stage": "mql"}, headers={"HX-Request": "true"})

    assert response.status_code == 200
    html = response.content.decode().strip()
    assert html.startswith('<section id="results">')
    assert "<html" not in html
    assert 'id="lead-filters"' not in html
    assert emails(html) == ["mql@example.com"]


def test_a_plain_request_gets_the_whole_page(page_as, sdr):
    LeadFactory(email="x@example.com")

    html = page_as(sdr).get("/leads/").content.decode()

    assert "<html" in html
    assert 'id="lead-filters"' in html
    assert 'id="results"' in html


def test_fifty_leads_fit_on_one_page_without_a_next_link(page_as, sdr):
    LeadFactory.create_batch(50)

    html = page_as(sdr).get("/leads/").content.decode()

    assert len(emails(html)) == 50
    assert next_link(html) is None


def test_more_than_fifty_leads_show_next_and_the_next_page_has_the_rest(page_as, sdr):
    leads = LeadFactory.create_batch(53)
    client = page_as(sdr)

    first = client.get("/leads/").content.decode()
    link = next_link(first)
    assert link is not None
    second = client.get("/leads/" + link).content.decode()

    assert len(emails(first)) == 50
    assert len(emails(second)) == 3
    assert set(emails(first)).isdisjoint(emails(second))
    assert set(emails(first)) | set(emails(second)) == {lead.email for lead in leads}
    assert next_link(second) is None
    assert "Previous" in second


def test_the_next_link_keeps_the_filters(page_as, sdr):
    LeadFactory.create_batch(51, stage="mql")
    LeadFactory.create_batch(5, stage="new")
    client = page_as(sdr)

    first = client.get("/leads/", {"stage": "mql"}).content.decode()
    second = client.get("/leads/" + next_link(first)).content.decode()

    assert len(emails(first)) == 50
    assert len(emails(second)) == 1


def test_the_htmx_next_page_is_a_fragment_too(page_as, sdr):
    LeadFactory.create_batch(51)
    client = page_as(sdr)
    link = next_link(client.get("/leads/").content.decode())

    response = client.get("/leads/" + link, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert "<html" not in html
    assert len(emails(html)) == 1


def test_the_filters_chosen_stay_chosen_when_the_page_reloads(page_as, sdr):
    LeadFactory(email="mql@example.com", stage="mql", country="DE")

    html = page_as(sdr).get("/leads/", {"stage": "mql", "country": "DE", "owner": "sdr"}).content.decode()

    assert '<option value="mql" selected>MQL</option>' in html
    assert '<option value="DE" selected>Germany</option>' in html
    assert '<option value="sdr" selected>sdr</option>' in html
    assert '<option value="FR">France</option>' in html
    assert html.count(" selected>") == 4  # the three filters and the sort
