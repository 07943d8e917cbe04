"""The list page's "N leads": exact when it costs nothing, "1,000+" past the cap, and for a
filtered list of more than a page loaded in a request of its own once the page shows."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads import filters
from leads.models import Lead
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

COUNT_REQUEST = {"HX-Request": "true", "HX-Target": "lead-count"}


def count_text(html: str) -> str:
    """The text of the count element (what it says before any count request)."""
    return re.search(r'<span id="lead-count"[^>]*>([^<]*)</span>', html).group(1)


def count_url(html: str) -> str | None:
    """Where the page loads its count from (None: the page says it already)."""
    match = re.search(r'<span id="lead-count"[^>]*hx-get="([^"]*)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def many_leads(n: int, **fields) -> None:
    """``n`` leads in one statement (a thousand through the factory would take a while)."""
    start = Lead.objects.count()
    Lead.objects.bulk_create(Lead(email=f"bulk{start + i}@example.com", **fields) for i in range(n))


def counting_queries(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"] and "leads_lead" in q["sql"]]


def test_a_list_of_one_page_shows_its_exact_count_without_counting(page_as, manager):
    LeadFactory.create_batch(3)
    client = page_as(manager)
    client.get("/leads/")  # warm-up

    with CaptureQueriesContext(connection) as captured:
        html = client.get("/leads/", {"q": "example"}).content.decode()

    assert count_text(html) == "3 leads"
    assert count_url(html) is None
    assert counting_queries(captured) == []


def test_one_lead_is_one_lead(page_as, sdr):
    LeadFactory()

    assert count_text(page_as(sdr).get("/leads/").content.decode()) == "1 lead"


def test_the_last_page_of_several_shows_the_exact_count(page_as, sdr):
    LeadFactory.create_batch(53, stage="mql")

    html = page_as(sdr).get("/leads/", {"stage": "mql", "page": 2}).content.decode()

    assert count_text(html) == "53 leads"
    assert count_url(html) is None


def test_the_whole_list_counts_up_to_a_thousand(page_as, manager):
    many_leads(1001)

    html = page_as(manager).get("/leads/").content.decode()

    assert count_text(html) == "1,000+ leads"
    assert count_url(html) is None


def test_a_filtered_list_of_more_than_a_page_loads_its_count_afterwards(page_as, manager):
    LeadFactory.create_batch(51, stage="mql", country="DE")
    LeadFactory.create_batch(3, stage="mql", country="FR")
    LeadFactory.create_batch(2, stage="new", country="DE")
    client = page_as(manager)

    with CaptureQueriesContext(connection) as captured:
        html = client.get("/leads/", {"stage": "mql", "country": "DE", "sort": "oldest"}).content.decode()

    assert count_text(html) == "More than 50 leads"
    assert counting_queries(captured) == []
    url = count_url(html)
    assert url.startswith("/leads/?")
    assert 'hx-trigger="load"' in html
    count = client.get(url, headers=COUNT_REQUEST).content.decode().strip()
    assert count_text(count) == "51 leads"
    assert "<tr>" not in count and "<html" not in count


def test_the_count_that_comes_afterwards_stops_at_a_thousand(page_as, manager):
    many_leads(1001, stage="mql")
    client = page_as(manager)

    html = client.get("/leads/", {"stage": "mql"}).content.decode()
    count = client.get(count_url(html), headers=COUNT_REQUEST).content.decode()

    assert count_text(html) == "More than 50 leads"
    assert count_text(count) == "1,000+ leads"


def test_a_page_further_on_says_more_than_the_leads_before_it(page_as, manager):
    many_leads(120, stage="mql")

    html = page_as(manager).get("/leads/", {"stage": "mql", "page": 2}).content.decode()

    assert count_text(html) == "More than 100 leads"
    assert "page=" not in count_url(html)  # the count is of the list, whatever the page


def test_a_search_alone_takes_its_count_from_the_matches(page_as, manager):
    LeadFactory.create_batch(55, company_name="Acme Rockets")
    LeadFactory.create_batch(3, company_name="Globex")
    client = page_as(manager)
    client.get("/leads/")  # warm-up

    with CaptureQueriesContext(connection) as captured:
        html = client.get("/leads/", {"q": "acme"}).content.decode()

    assert count_text(html) == "55 leads"
    assert counting_queries(captured) == []


def test_a_search_matching_more_than_the_lookup_limit_says_1000_plus(page_as, manager):
    many_leads(1001, company_name="Acme Rockets")
    LeadFactory(company_name="Globex")

    html = page_as(manager).get("/leads/", {"q": "acme"}).content.decode()

    assert count_text(html) == "1,000+ leads"


def test_a_search_below_the_cap_but_past_a_smaller_lookup_limit_is_counted_afterwards(
    page_as, manager, monkeypatch
):
    monkeypatch.setattr(filters, "SEARCH_ID_LIMIT", 10)
    LeadFactory.create_batch(55, company_name="Acme Rockets")
    client = page_as(manager)

    html = client.get("/leads/", {"q": "acme"}).content.decode()
    count = client.get(count_url(html), headers=COUNT_REQUEST).content.decode()

    assert count_text(html) == "More than 50 leads"
    assert count_text(count) == "55 leads"


def test_a_search_and_a_filter_count_what_both_match(page_as, manager):
    LeadFactory.create_batch(52, company_name="Acme Rockets", stage="mql")
    LeadFactory.create_batch(4, company_name="Acme Rockets", stage="new")
    LeadFactory.create_batch(4, company_name="Globex", stage="mql")
    client = page_as(manager)

    html = client.get("/leads/", {"q": "acme", "stage": "mql"}).content.decode()
    count = client.get(count_url(html), headers=COUNT_REQUEST).content.decode()

    assert count_text(count) == "52 leads"


def test_sorted_by_score_a_search_counts_the_scored_matches_only(page_as, manager):
    from scoring.models import LeadScore

    leads = LeadFactory.create_batch(53, company_name="Acme Rockets")
    LeadScore.objects.bulk_create(LeadScore(lead=lead, total=10) for lead in leads[:51])
    client = page_as(manager)

    html = client.get("/leads/", {"q": "acme", "sort": "score"}).content.decode()
    count = client.get(count_url(html), headers=COUNT_REQUEST).content.decode()

    assert count_text(count) == "51 leads"


def test_an_sdr_s_count_is_of_the_leads_they_may_see(page_as, sdr, marketer):
    LeadFactory.create_batch(30, owner=sdr)
    LeadFactory.create_batch(25, owner=None)
    LeadFactory.create_batch(40, owner=marketer)  # a colleague's: not the SDR's to see
    client = page_as(sdr)

    html = client.get("/leads/").content.decode()
    count = client.get(count_url(html), headers=COUNT_REQUEST).content.decode()

    assert count_text(html) == "More than 50 leads"
    assert count_text(count) == "55 leads"


def test_the_count_of_an_invalid_filter_is_zero(page_as, manager):
    LeadFactory()

    count = page_as(manager).get("/leads/", {"stage": "promoted"}, headers=COUNT_REQUEST).content.decode()

    assert count_text(count) == "0 leads"


def test_an_htmx_swap_of_the_results_brings_its_own_count_request(page_as, manager):
    LeadFactory.create_batch(51, stage="mql")

    html = page_as(manager).get("/leads/", {"stage": "mql"}, headers={"HX-Request": "true"}).content.decode()

    assert html.strip().startswith('<section id="results">')
    assert count_text(html) == "More than 50 leads"
    assert "stage=mql" in count_url(html)
