"""GET /api/leads/: filters, search and cursor pages."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import Lead
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def listed_emails(client, params=None) -> set[str]:
    response = client.get("/api/leads/", params or {})
    assert response.status_code == 200, response.content
    return {row["email"] for row in response.json()["results"]}


def test_list_returns_the_leads_newest_first(api_as, manager):
    older = LeadFactory(email="older@example.com")
    newer = LeadFactory(email="newer@example.com")
    Lead.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=1))

    response = api_as(manager).get("/api/leads/")

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [newer.pk, older.pk]


def test_filter_by_stage_source_and_country(api_as, sdr):
    LeadFactory(email="mql-de@example.com", stage="mql", source="paid_search", country="DE")
    LeadFactory(email="mql-fr@example.com", stage="mql", source="referral", country="FR")
    LeadFactory(email="new-de@example.com", stage="new", source="paid_search", country="DE")
    client = api_as(sdr)

    assert listed_emails(client, {"stage": "mql"}) == {"mql-de@example.com", "mql-fr@example.com"}
    assert listed_emails(client, {"source": "paid_search"}) == {"mql-de@example.com", "new-de@example.com"}
    assert listed_emails(client, {"country": "FR"}) == {"mql-fr@example.com"}
    assert listed_emails(client, {"stage": "mql", "country": "DE"}) == {"mql-de@example.com"}
    assert listed_emails(client, {"stage": ["new", "mql"], "source": "referral"}) == {"mql-fr@example.com"}


def test_filter_by_owner_and_by_no_owner(api_as, sdr, marketer):
    LeadFactory(email="sams@example.com", owner=sdr)
    LeadFactory(email="marias@example.com", owner=marketer)
    LeadFactory(email="nobodys@example.com", owner=None)
    client = api_as(sdr)

    assert listed_emails(client, {"owner": sdr.username}) == {"sams@example.com"}
    assert listed_emails(client, {"owner": "none"}) == {"nobodys@example.com"}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("lovelace", {"ada@example.com"}),
        ("ADA@", {"ada@example.com"}),
        ("engines", {"ada@example.com"}),
        ("grace", {"grace@navy.example"}),
        ("navy.example", {"grace@navy.example"}),
        ("example", {"ada@example.com", "grace@navy.example"}),
        ("nothing-like-this", set()),
    ],
)
def test_q_searches_names_email_and_company(api_as, sdr, q, expected):
    LeadFactory(email="ada@example.com", first_name="Ada", last_name="Lovelace", company_name="Engines Ltd")
    LeadFactory(email="grace@navy.example", first_name="Grace", last_name="Hopper", company_name="US Navy")

    assert listed_emails(api_as(sdr), {"q": q}) == expected


def test_created_after_keeps_only_leads_created_at_or_after_the_time(api_as, sdr):
    now = timezone.now()
    old = LeadFactory(email="old@example.com")
    LeadFactory(email="recent@example.com")
    Lead.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=10))

    cutoff = (now - timedelta(days=1)).isoformat()

    assert listed_emails(api_as(sdr), {"created_after": cutoff}) == {"recent@example.com"}


def test_an_invalid_filter_value_is_400_with_the_field_named(api_as, sdr):
    LeadFactory()

    response = api_as(sdr).get("/api/leads/", {"stage": "promoted"})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "stage" in error["fields"]


def test_cursor_pages_cover_every_lead_once_in_order(api_as, sdr):
    leads = LeadFactory.create_batch(8)
    base = timezone.now() - timedelta(hours=1)
    # Three leads share one creation time: the cursor must still not repeat or skip them.
    times = [base, base, base, base + timedelta(minutes=1), base + timedelta(minutes=2)]
    times += [base + timedelta(minutes=3 + i) for i in range(3)]
    for lead, created_at in zip(leads, times, strict=True):
        Lead.objects.filter(pk=lead.pk).update(created_at=created_at)
    expected = [lead.pk for lead in sorted(leads, key=lambda x: (times[leads.index(x)], x.pk), reverse=True)]
    client = api_as(sdr)

    seen, pages = [], 0
    url = "/api/leads/?page_size=3"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        body = response.json()
        assert len(body["results"]) <= 3
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
        pages += 1
        assert pages < 10, "the next links never end"

    assert seen == expected
    assert pages == 3


def test_the_next_link_keeps_the_filters(api_as, sdr):
    for _ in range(3):
        LeadFactory(stage="mql")
    LeadFactory(stage="new")
    client = api_as(sdr)

    first = client.get("/api/leads/", {"stage": "mql", "page_size": 2}).json()
    second = client.get(first["next"]).json()

    ids = [row["id"] for row in first["results"] + second["results"]]
    assert len(ids) == len(set(ids)) == 3
    assert set(Lead.objects.filter(pk__in=ids).values_list("stage", flat=True)) == {"mql"}
    assert second["next"] is None
    assert second["previous"]


def test_each_listed_lead_has_its_score_object(api_as, sdr):
    from leads import services
    from scoring.tests.factories import engagement_rule, fit_group, fit_rule, published_rule_set

    rule_set = published_rule_set(
        fit=[fit_group("Job title", [fit_rule("job_title", "contains", "director", 20)])],
        engagement=[engagement_rule("Pricing page", "page_view", 10, property_name="url", value="/pricing")],
    )
    lead = services.create_lead(email="director@example.com", data={"job_title": "Director"})
    services.record_activity(lead, kind="page_view", properties={"url": "/pricing"})
    LeadFactory(email="unscored@example.com")  # stored without going through scoring

    rows = {row["email"]: row for row in api_as(sdr).get("/api/leads/").json()["results"]}

    score = rows["director@example.com"]["score"]
    assert {key: value for key, value in score.items() if key != "scored_at"} == {
        "total": 30,
        "fit": 20,
        "engagement": 10,
        "grade": "C",
        "temperature": "cold",
        "rule_set_version": rule_set.version,
        "chance": None,  # no predictive model trained
        "model_version": None,
    }
    assert score["scored_at"]
    assert rows["unscored@example.com"]["score"] is None


def test_the_scores_of_a_page_cost_no_query_per_lead(api_as, sdr):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from leads import services
    from scoring.tests.factories import fit_group, fit_rule, published_rule_set

    published_rule_set(fit=[fit_group("Job title", [fit_rule("job_title", "contains", "vp", 20)])])
    client = api_as(sdr)
    services.create_lead(email="first@example.com", data={"job_title": "VP Marketing"})
    client.get("/api/leads/")  # warm-up: token, permissions

    with CaptureQueriesContext(connection) as one:
        client.get("/api/leads/")
    for n in range(20):
        services.create_lead(email=f"more{n}@example.com", data={"job_title": "VP Sales"})
    with CaptureQueriesContext(connection) as many:
        results = client.get("/api/leads/").json()["results"]

    assert len(results) == 21
    assert all(row["score"] is not None for row in results)
    assert len(many.captured_queries) == len(one.captured_queries)


@pytest.mark.parametrize("limit", [1_000, 2])  # the ids of a rare term first, or the term's filter
def test_search_cursor_pages_cover_every_match_once_in_order(api_as, manager, monkeypatch, limit):
    monkeypatch.setattr("leads.filters.SEARCH_ID_LIMIT", limit)
    base = timezone.now() - timedelta(hours=1)
    matching = LeadFactory.create_batch(7, company_name="Acme Rockets")
    for n, lead in enumerate(matching):  # two share a creation time
        Lead.objects.filter(pk=lead.pk).update(created_at=base + timedelta(minutes=min(n, 5)))
    LeadFactory.create_batch(3, company_name="Globex")
    matches = Lead.objects.filter(company_name="Acme Rockets").order_by("-created_at", "-id")
    expected = list(matches.values_list("pk", flat=True))
    client = api_as(manager)

    seen, url = [], "/api/leads/?q=rocket&page_size=3"
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
        assert len(seen) < 20, "the next links never end"
    back = client.get(client.get("/api/leads/?q=rocket&page_size=3").json()["next"]).json()

    assert seen == expected
    assert [row["id"] for row in client.get(back["previous"]).json()["results"]] == expected[:3]


def test_a_search_page_has_each_match_s_score_owner_and_opportunity(api_as, manager, sdr):
    from datetime import date

    from leads.models import Opportunity
    from scoring.models import LeadScore

    lead = LeadFactory(email="acme@example.com", company_name="Acme", owner=sdr)
    LeadScore.objects.create(lead=lead, total=42, grade="B")
    Opportunity.objects.create(
        lead=lead, amount=1000, expected_close_date=date(2030, 1, 1), opened_at=timezone.now()
    )
    LeadFactory(email="bare@example.com", company_name="Acme Too")

    rows = {row["email"]: row for row in api_as(manager).get("/api/leads/", {"q": "acme"}).json()["results"]}

    assert rows["acme@example.com"]["owner"] == "sdr"
    assert rows["acme@example.com"]["score"]["total"] == 42
    assert rows["acme@example.com"]["opportunity"]["amount"] == "1000.00"
    assert rows["bare@example.com"]["score"] is None
    assert rows["bare@example.com"]["opportunity"] is None


def test_a_search_page_costs_no_query_per_match(api_as, manager):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api_as(manager)
    LeadFactory(company_name="Acme")
    client.get("/api/leads/", {"q": "acme"})  # warm-up: token, permissions

    with CaptureQueriesContext(connection) as one:
        client.get("/api/leads/", {"q": "acme"})
    LeadFactory.create_batch(20, company_name="Acme")
    with CaptureQueriesContext(connection) as many:
        results = client.get("/api/leads/", {"q": "acme"}).json()["results"]

    assert len(results) == 21
    assert len(many.captured_queries) == len(one.captured_queries)


def test_a_search_shows_an_sdr_only_the_leads_they_may_see(api_as, sdr, marketer):
    LeadFactory(email="mine@example.com", company_name="Acme", owner=sdr)
    LeadFactory(email="pool@example.com", company_name="Acme", owner=None)
    LeadFactory(email="theirs@example.com", company_name="Acme", owner=marketer)

    assert listed_emails(api_as(sdr), {"q": "acme"}) == {"mine@example.com", "pool@example.com"}


@pytest.mark.parametrize("params", [{"country": "XX"}, {"country": "de"}, {"industry": "mining"}])
def test_a_code_that_is_not_a_choice_is_400(api_as, sdr, params):
    response = api_as(sdr).get("/api/leads/", params)

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == set(params)
