"""The lead list page: htmx partial answers and pages of 50."""

import re
from html import unescape

import pytest
from django.utils import timezone

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


# --- the score column and the sort by score --------------------------------------------------


def scored_lead(email: str, job_title: str = "", pricing_views: int = 0):
    """A lead created and visited through the services, so that real-time scoring runs."""
    from leads import services

    lead = services.create_lead(email=email, data={"job_title": job_title})
    for _ in range(pricing_views):
        services.record_activity(lead, kind="page_view", properties={"url": "/pricing"})
    return lead


def director_and_pricing(**settings):
    from scoring.tests.factories import engagement_rule, fit_group, fit_rule, published_rule_set

    return published_rule_set(
        fit=[
            fit_group(
                "Job title",
                [
                    fit_rule("job_title", "contains", "director", 20),
                    fit_rule("job_title", "contains", "manager", 10),
                ],
            )
        ],
        engagement=[engagement_rule("Pricing page", "page_view", 10, property_name="url", value="/pricing")],
        **settings,
    )


def score_cells(html: str) -> dict[str, str]:
    """Each listed lead's e-mail and the text of its score cell."""
    cells = {}
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        email = re.search(r"<td>([^<>\s]+@[^<>\s]+)</td>", row)
        cell = re.search(r'<td class="score-cell">(.*?)</td>', row, re.S)
        if email and cell:
            cells[email.group(1)] = " ".join(unescape(re.sub(r"<[^>]+>", " ", cell.group(1))).split())
    return cells


def test_the_score_column_shows_the_total_with_grade_and_temperature(page_as, sdr):
    director_and_pricing(warm_threshold=10, hot_threshold=20)
    scored_lead("hot@example.com", "Sales Director", pricing_views=2)
    scored_lead("cold@example.com", "Analyst")
    LeadFactory(email="unscored@example.com")  # stored without going through scoring

    html = page_as(sdr).get("/leads/").content.decode()

    assert "<th>Score</th>" in html
    assert score_cells(html) == {
        "hot@example.com": "40 C·hot",
        "cold@example.com": "0 D·cold",
        "unscored@example.com": "—",
    }


def test_sorting_by_score_puts_the_highest_first_and_leaves_out_the_unscored(page_as, sdr):
    director_and_pricing()
    unscored = LeadFactory(email="unscored@example.com")
    scored_lead("manager@example.com", "Manager")
    scored_lead("director@example.com", "Director")
    scored_lead("visitor@example.com", pricing_views=1)  # 10, like the manager but newer
    scored_lead("nobody@example.com")

    html = page_as(sdr).get("/leads/", {"sort": "score"}, headers={"HX-Request": "true"}).content.decode()

    assert emails(html) == [
        "director@example.com",
        "visitor@example.com",
        "manager@example.com",
        "nobody@example.com",
    ]
    assert unscored.email not in html


def test_the_sort_menu_offers_score_highest_first(page_as, sdr):
    html = page_as(sdr).get("/leads/", {"sort": "score"}).content.decode()

    assert '<option value="score" selected>Sort: Score (highest first)</option>' in html


def test_the_score_column_reads_the_scores_in_the_query_of_the_leads(page_as, sdr):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    director_and_pricing()
    client = page_as(sdr)
    scored_lead("first@example.com", "Director")
    client.get("/leads/")  # warm-up: sessions, permissions, filter choices

    with CaptureQueriesContext(connection) as one:
        client.get("/leads/", {"sort": "score"})
    for n in range(20):
        scored_lead(f"more{n}@example.com", "Manager", pricing_views=n % 3)
    with CaptureQueriesContext(connection) as many:
        html = client.get("/leads/", {"sort": "score"}).content.decode()

    assert len(score_cells(html)) == 21
    assert len(many.captured_queries) == len(one.captured_queries)
    [page_query] = [q["sql"] for q in many.captured_queries if "LIMIT 51" in q["sql"]]
    assert 'JOIN "scoring_leadscore"' in page_query


def test_a_user_who_may_not_read_scores_sees_no_score_column(page_as, make_user):
    from django.contrib.auth.models import Permission

    reader = make_user("reader")
    reader.user_permissions.add(Permission.objects.get(content_type__app_label="leads", codename="view_lead"))
    LeadFactory()

    html = page_as(reader).get("/leads/").content.decode()

    assert "<th>Score</th>" not in html
    assert 'class="score-cell"' not in html
    assert "Score (highest first)" not in html


@pytest.mark.parametrize("params", [{}, {"q": "owned"}], ids=["plain", "searched"])
def test_a_row_with_its_owner_score_and_last_activity_costs_no_query_of_its_own(
    page_as, manager, make_user, params
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from leads.models import Lead

    director_and_pricing()
    owner = make_user("ana.owner", "Sales")
    client = page_as(manager)

    def owned_leads(start: int, n: int) -> None:
        for i in range(start, start + n):
            scored_lead(f"owned{i}@example.com", "Director", pricing_views=1)
        Lead.objects.filter(email__startswith="owned").update(owner=owner)

    owned_leads(0, 1)
    client.get("/leads/", params)  # warm-up: sessions, permissions, filter choices
    with CaptureQueriesContext(connection) as one:
        client.get("/leads/", params)
    owned_leads(1, 19)
    with CaptureQueriesContext(connection) as many:
        html = client.get("/leads/", params).content.decode()

    rows = [row for row in re.findall(r"<tr>(.*?)</tr>", html, re.S) if "<td>" in row]
    assert len(rows) == 20
    assert all("<td>ana.owner</td>" in row for row in rows)
    assert [cell.split()[0] for cell in score_cells(html).values()] == ["30"] * 20  # director + pricing
    today = f"{timezone.localdate():%Y-%m-%d}"
    assert all(row.count(today) == 2 for row in rows)  # created, and last active, today
    assert len(many.captured_queries) == len(one.captured_queries)
