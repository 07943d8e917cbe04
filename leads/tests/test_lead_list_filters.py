"""The lead list page: filters, search and sort from the GET parameters."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import LastActivity, Lead
from leads.tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db


def emails_in_order(response) -> list[str]:
    """The e-mail column of the results table, top to bottom."""
    assert response.status_code == 200
    html = response.content.decode()
    results = html[html.index('id="results"') :]
    return re.findall(r"<td>([^<>\s]+@[^<>\s]+)</td>", results)


def listed(client, params) -> set[str]:
    return set(emails_in_order(client.get("/leads/", params)))


def test_the_list_shows_the_leads(page_as, manager):
    LeadFactory(email="ada@example.com", first_name="Ada", last_name="Lovelace", company_name="Engines")
    LeadFactory(email="grace@example.com")

    response = page_as(manager).get("/leads/")

    assert set(emails_in_order(response)) == {"ada@example.com", "grace@example.com"}
    html = response.content.decode()
    assert "Ada Lovelace" in html
    assert "Engines" in html


def test_filter_by_stage_source_and_country(page_as, sdr):
    LeadFactory(email="mql-de@example.com", stage="mql", source="paid_search", country="DE")
    LeadFactory(email="mql-fr@example.com", stage="mql", source="referral", country="FR")
    LeadFactory(email="new-de@example.com", stage="new", source="paid_search", country="DE")
    client = page_as(sdr)

    assert listed(client, {"stage": "mql"}) == {"mql-de@example.com", "mql-fr@example.com"}
    assert listed(client, {"source": "paid_search"}) == {"mql-de@example.com", "new-de@example.com"}
    assert listed(client, {"country": "FR"}) == {"mql-fr@example.com"}
    assert listed(client, {"stage": "mql", "country": "DE"}) == {"mql-de@example.com"}


def form_submission(html: str, **chosen) -> dict[str, str]:
    """What the browser sends for the filter form: every field, "" where nothing is chosen."""
    form = re.search(r'<form id="lead-filters".*?</form>', html, re.S).group(0)
    names = re.findall(r'<(?:input|select)[^>]*name="([^"]+)"', form)
    assert {"q", "stage", "source", "country", "owner", "sort"} <= set(names)
    data = {name: "" for name in names}
    data["sort"] = "newest"
    data.update(chosen)
    return data


def test_submitting_the_filter_form_with_only_a_sort_chosen_lists_every_lead(page_as, sdr):
    LeadFactory(email="one@example.com", stage="mql")
    LeadFactory(email="two@example.com", stage="new")
    client = page_as(sdr)
    params = form_submission(client.get("/leads/").content.decode(), sort="oldest")

    response = client.get("/leads/", params)

    assert "Some filters are not valid" not in response.content.decode()
    assert emails_in_order(response) == ["one@example.com", "two@example.com"]


def test_submitting_the_filter_form_with_one_stage_chosen_lists_that_stage(page_as, sdr):
    LeadFactory(email="one@example.com", stage="mql")
    LeadFactory(email="two@example.com", stage="new")
    client = page_as(sdr)
    params = form_submission(client.get("/leads/").content.decode(), stage="mql")

    assert listed(client, params) == {"one@example.com"}


def test_filter_by_owner_and_unassigned(page_as, sdr, marketer):
    LeadFactory(email="sams@example.com", owner=sdr)
    LeadFactory(email="marias@example.com", owner=marketer)
    LeadFactory(email="nobodys@example.com", owner=None)
    client = page_as(sdr)

    assert listed(client, {"owner": sdr.username}) == {"sams@example.com"}
    assert listed(client, {"owner": "none"}) == {"nobodys@example.com"}


def test_the_owner_choice_offered_on_the_page_filters_by_that_owner(page_as, sdr, marketer):
    LeadFactory(email="sams@example.com", owner=sdr)
    LeadFactory(email="marias@example.com", owner=marketer)
    client = page_as(sdr)
    html = client.get("/leads/").content.decode()
    owner_select = re.search(r'<select name="owner".*?</select>', html, re.S).group(0)
    [value] = re.findall(r'<option value="([^"]*)"\s*>\s*sdr\s*</option>', owner_select)

    assert listed(client, {"owner": value}) == {"sams@example.com"}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("lovelace", {"ada@example.com"}),
        ("ENGINES", {"ada@example.com"}),
        ("grace@", {"grace@navy.example"}),
        ("example", {"ada@example.com", "grace@navy.example"}),
        ("zzz", set()),
    ],
)
def test_search_by_name_email_and_company(page_as, sdr, q, expected):
    LeadFactory(email="ada@example.com", first_name="Ada", last_name="Lovelace", company_name="Engines Ltd")
    LeadFactory(email="grace@navy.example", first_name="Grace", last_name="Hopper", company_name="US Navy")

    assert listed(page_as(sdr), {"q": q}) == expected


def test_no_match_says_so(page_as, sdr):
    LeadFactory()

    response = page_as(sdr).get("/leads/", {"q": "zzz"})

    assert "No leads match these filters." in response.content.decode()


def test_sort_by_oldest_and_newest(page_as, sdr):
    now = timezone.now()
    for days, email in [(3, "old@example.com"), (2, "mid@example.com"), (1, "new@example.com")]:
        lead = LeadFactory(email=email)
        Lead.objects.filter(pk=lead.pk).update(created_at=now - timedelta(days=days))
    client = page_as(sdr)

    assert emails_in_order(client.get("/leads/")) == ["new@example.com", "mid@example.com", "old@example.com"]
    assert emails_in_order(client.get("/leads/", {"sort": "oldest"})) == [
        "old@example.com",
        "mid@example.com",
        "new@example.com",
    ]


def test_sort_by_name_and_by_company(page_as, sdr):
    LeadFactory(email="b@example.com", first_name="Ann", last_name="Baker", company_name="Zeta")
    LeadFactory(email="c@example.com", first_name="Bob", last_name="Adams", company_name="Alpha")
    LeadFactory(email="a@example.com", first_name="Amy", last_name="Adams", company_name="Mu")
    client = page_as(sdr)

    assert emails_in_order(client.get("/leads/", {"sort": "name"})) == [
        "a@example.com",
        "c@example.com",
        "b@example.com",
    ]
    assert emails_in_order(client.get("/leads/", {"sort": "company"})) == [
        "c@example.com",
        "a@example.com",
        "b@example.com",
    ]


def test_sort_by_recent_activity_puts_the_never_active_last(page_as, sdr):
    now = timezone.now()
    never = LeadFactory(email="never@example.com")
    yesterday = LeadFactory(email="yesterday@example.com")
    today = LeadFactory(email="today@example.com")
    for lead, when in [(yesterday, now - timedelta(days=1)), (today, now - timedelta(minutes=5))]:
        ActivityFactory(lead=lead, occurred_at=when)
        LastActivity.objects.filter(lead=lead).update(at=when)
    assert never.last_activity.at is None

    response = page_as(sdr).get("/leads/", {"sort": "recent_activity"})

    assert emails_in_order(response) == ["today@example.com", "yesterday@example.com", "never@example.com"]


def test_the_chosen_filters_stay_selected(page_as, sdr):
    LeadFactory(stage="mql")

    html = page_as(sdr).get("/leads/", {"stage": "mql", "sort": "oldest", "q": "acme"}).content.decode()

    assert re.search(r'<option value="mql"\s+selected>', html)
    assert re.search(r'<option value="oldest"\s+selected>', html)
    assert 'name="q" value="acme"' in html


def test_an_invalid_filter_says_so_and_lists_nothing(page_as, sdr):
    LeadFactory()

    response = page_as(sdr).get("/leads/", {"stage": "promoted"})

    assert response.status_code == 200
    assert "Some filters are not valid" in response.content.decode()
    assert emails_in_order(response) == []


def sortable_leads() -> None:
    """Leads in one company with different names, creation times, activity and scores."""
    from scoring.models import LeadScore

    now = timezone.now()
    rows = [
        ("b@example.com", "Ann", "Baker", "Zeta Acme", 3, 2, 40),
        ("c@example.com", "Bob", "Adams", "Alpha Acme", 1, None, 70),
        ("a@example.com", "Amy", "Adams", "Mu Acme", 2, 1, None),
        ("d@example.com", "Dan", "Cole", "Beta Acme", 4, 3, 10),
    ]
    for email, first, last, company, days_old, active_days_ago, score in rows:
        lead = LeadFactory(email=email, first_name=first, last_name=last, company_name=company)
        last_activity = now - timedelta(days=active_days_ago) if active_days_ago is not None else None
        Lead.objects.filter(pk=lead.pk).update(created_at=now - timedelta(days=days_old))
        LastActivity.objects.filter(lead=lead).update(at=last_activity)
        if score is not None:
            LeadScore.objects.create(lead=lead, total=score)
    LeadFactory(email="other@example.com", company_name="Globex")


@pytest.mark.parametrize("limit", [1_000, 2])  # the ids of a rare term first, or the term's filter
@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("newest", ["c@example.com", "a@example.com", "b@example.com", "d@example.com"]),
        ("oldest", ["d@example.com", "b@example.com", "a@example.com", "c@example.com"]),
        ("name", ["a@example.com", "c@example.com", "b@example.com", "d@example.com"]),
        ("company", ["c@example.com", "d@example.com", "a@example.com", "b@example.com"]),
        ("recent_activity", ["a@example.com", "b@example.com", "d@example.com", "c@example.com"]),
        ("score", ["c@example.com", "b@example.com", "d@example.com"]),
    ],
)
def test_a_search_keeps_every_sort(page_as, manager, monkeypatch, limit, sort, expected):
    monkeypatch.setattr("leads.filters.SEARCH_ID_LIMIT", limit)
    sortable_leads()

    response = page_as(manager).get("/leads/", {"q": "acme", "sort": sort})

    assert emails_in_order(response) == expected


@pytest.mark.parametrize("limit", [1_000, 2])
def test_a_search_pages_through_its_matches_in_order(page_as, manager, monkeypatch, limit):
    monkeypatch.setattr("leads.filters.SEARCH_ID_LIMIT", limit)
    now = timezone.now()
    matching = LeadFactory.create_batch(53, company_name="Acme Rockets")
    for n, lead in enumerate(matching):
        Lead.objects.filter(pk=lead.pk).update(created_at=now - timedelta(minutes=n % 7))
    LeadFactory.create_batch(5, company_name="Globex")
    expected = [
        lead.email for lead in Lead.objects.filter(company_name="Acme Rockets").order_by("-created_at", "-id")
    ]
    client = page_as(manager)

    first = emails_in_order(client.get("/leads/", {"q": "rocket"}))
    second = emails_in_order(client.get("/leads/", {"q": "rocket", "page": 2}))

    assert first + second == expected


def test_a_search_shows_the_score_and_owner_of_each_match(page_as, manager, sdr):
    from scoring.models import LeadScore

    lead = LeadFactory(email="acme@example.com", company_name="Acme", owner=sdr)
    LeadScore.objects.create(lead=lead, total=42, grade="B")

    html = page_as(manager).get("/leads/", {"q": "acme"}).content.decode()

    assert "<strong>42</strong>" in html
    assert "<td>sdr</td>" in html


def test_a_search_shows_an_sdr_only_the_leads_they_may_see(page_as, sdr, marketer):
    LeadFactory(email="mine@example.com", company_name="Acme", owner=sdr)
    LeadFactory(email="pool@example.com", company_name="Acme", owner=None)
    LeadFactory(email="theirs@example.com", company_name="Acme", owner=marketer)

    assert listed(page_as(sdr), {"q": "acme"}) == {"mine@example.com", "pool@example.com"}


@pytest.mark.parametrize("q", ["100%", "a_b", "back\\slash"])
def test_search_wildcards_are_plain_characters(page_as, manager, q):
    LeadFactory(email="hit@example.com", company_name=f"The {q} company")
    LeadFactory(email="miss@example.com", company_name="The 1000 company a-b backslash")

    assert listed(page_as(manager), {"q": q}) == {"hit@example.com"}


def test_several_countries_and_stages_at_once(page_as, manager):
    LeadFactory(email="de@example.com", country="DE", stage="mql")
    LeadFactory(email="fr@example.com", country="FR", stage="sql")
    LeadFactory(email="it@example.com", country="IT", stage="mql")

    client = page_as(manager)

    assert listed(client, {"country": ["DE", "FR"]}) == {"de@example.com", "fr@example.com"}
    assert listed(client, {"country": ["DE", "FR"], "stage": ["mql"]}) == {"de@example.com"}


@pytest.mark.parametrize("params", [{"country": "XX"}, {"country": "de"}, {"stage": "MQL"}, {"source": "tv"}])
def test_a_code_that_is_not_a_choice_is_an_invalid_filter(page_as, manager, params):
    LeadFactory(country="DE", stage="mql")

    response = page_as(manager).get("/leads/", params)

    assert "Some filters are not valid" in response.content.decode()
    assert emails_in_order(response) == []
