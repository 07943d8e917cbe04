"""Searching leads (``?q=``) on GET /api/leads/, the /leads/ page and the SDR queue: one term
looked for in the e-mail, first and last name and company (``Lead.search_text``), any case."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.management import call_command

from leads import services
from leads.models import Handoff, Lead, Stage
from leads.tests.factories import LeadFactory, edit_form_data
from leads.tests.importing import import_csv

pytestmark = pytest.mark.django_db

POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def api_found(client, q: str) -> set[str]:
    response = client.get("/api/leads/", {"q": q})
    assert response.status_code == 200, response.content
    return {row["email"] for row in response.json()["results"]}


def page_found(client, q: str) -> set[str]:
    """The e-mails in the results table of /leads/?q=."""
    response = client.get("/leads/", {"q": q})
    assert response.status_code == 200
    html = response.content.decode()
    return set(re.findall(r"<td>([^<>\s]+@[^<>\s]+)</td>", html[html.index('id="results"') :]))


@pytest.fixture
def ada_and_grace():
    ada = LeadFactory(
        email="countess@analytical.example",
        first_name="Ada",
        last_name="Lovelace",
        company_name="Difference Engines",
    )
    grace = LeadFactory(
        email="hopper@navy.example", first_name="Grace", last_name="Hopper", company_name="US Navy"
    )
    return ada, grace


ADA = {"countess@analytical.example"}


@pytest.mark.parametrize(
    "q",
    [
        "countess",  # the e-mail
        "ANALYTICAL.EXAMPLE",
        "aDa",  # the first name
        "LOVElace",  # the last name
        "difference engines",  # the company
        "ENGINES",
        "  lovelace  ",  # blanks around the term do not count
    ],
)
def test_any_part_in_any_case_finds_the_lead_on_the_api_and_the_page(
    api_as, page_as, manager, ada_and_grace, q
):
    assert api_found(api_as(manager), q) == ADA
    assert page_found(page_as(manager), q) == ADA


def test_a_term_in_every_lead_finds_them_all(api_as, page_as, manager, ada_and_grace):
    everyone = {"countess@analytical.example", "hopper@navy.example"}

    assert api_found(api_as(manager), ".example") == everyone
    assert page_found(page_as(manager), ".example") == everyone


@pytest.mark.parametrize("q", ["ada lovelace", "Ada Lovelace", "ADA LOVELACE", "grace hopper"])
def test_first_and_last_name_together_find_that_lead(api_as, page_as, manager, ada_and_grace, q):
    expected = ADA if "ada" in q.lower() else {"hopper@navy.example"}

    assert api_found(api_as(manager), q) == expected
    assert page_found(page_as(manager), q) == expected


def test_a_term_matching_nothing_gives_an_empty_list(api_as, page_as, manager, ada_and_grace):
    assert api_found(api_as(manager), "babbage") == set()
    response = page_as(manager).get("/leads/", {"q": "babbage"})
    assert "No leads match these filters." in response.content.decode()


def test_the_search_follows_a_company_changed_through_the_api(api_as, sdr, ada_and_grace):
    ada, _ = ada_and_grace
    client = api_as(sdr)
    assert api_found(client, "difference") == ADA

    response = client.patch(f"/api/leads/{ada.pk}/", {"company_name": "Analytical Society"}, format="json")

    assert response.status_code == 200, response.content
    assert api_found(client, "analytical society") == ADA
    assert api_found(client, "difference") == set()


def test_the_search_follows_a_name_and_company_changed_on_the_edit_page(page_as, sdr, ada_and_grace):
    ada, _ = ada_and_grace
    client = page_as(sdr)
    assert page_found(client, "lovelace") == ADA

    response = client.post(
        f"/leads/{ada.pk}/edit/", edit_form_data(ada, last_name="King", company_name="Ockham Park")
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert page_found(client, "ockham") == ADA
    assert page_found(client, "ada king") == ADA
    assert page_found(client, "lovelace") == set()
    assert page_found(client, "difference") == set()


def test_the_search_follows_an_email_changed_by_an_update_of_many_rows(api_as, manager, ada_and_grace):
    ada, _ = ada_and_grace
    Lead.objects.filter(pk=ada.pk).update(email="ada@byron.example")

    assert api_found(api_as(manager), "byron") == {"ada@byron.example"}
    assert api_found(api_as(manager), "countess") == set()


@pytest.mark.parametrize("q", ["%", "_", "\\", "%%", "a%e", "_d_"])
def test_wildcards_are_plain_characters(api_as, page_as, manager, ada_and_grace, q):
    assert api_found(api_as(manager), q) == set()
    assert page_found(page_as(manager), q) == set()


@pytest.mark.parametrize("q", ["%", "_", "50%", "r_d"])
def test_a_wildcard_finds_only_the_lead_that_has_it(api_as, manager, ada_and_grace, q):
    LeadFactory(email="wild@example.com", company_name="50% off r_d\\labs")

    assert api_found(api_as(manager), q) == {"wild@example.com"}


# SQLite's upper() and LIKE fold ASCII letters only: "ü" and "Ü" stay different there (as they
# did with the icontains lookups before), so only the spellings that differ from the stored
# one in ASCII letters alone match on SQLite.
ASCII_ONLY = pytest.mark.skipif(not POSTGRES, reason="SQLite's upper() and LIKE fold ASCII letters only")


@pytest.mark.parametrize(
    "q",
    [
        "Müller",
        "müller",
        pytest.param("mÜller", marks=ASCII_ONLY),
        pytest.param("MÜLLER", marks=ASCII_ONLY),
        pytest.param("MÜL", marks=ASCII_ONLY),
        "bäckerei",
        pytest.param("BÄCKEREI SÜSS", marks=ASCII_ONLY),
    ],
)
def test_non_ascii_letters_match_in_any_case(api_as, page_as, manager, q):
    LeadFactory(email="jm@example.com", first_name="Jürgen", last_name="Müller", company_name="Bäckerei Süss")
    LeadFactory(email="other@example.com", first_name="Jurgen", last_name="Muller", company_name="Backerei")

    assert api_found(api_as(manager), q) == {"jm@example.com"}
    assert page_found(page_as(manager), q) == {"jm@example.com"}


@pytest.mark.parametrize(
    "q",
    ["ÖZTÜRK", "ÖZtÜrk", pytest.param("öztürk", marks=ASCII_ONLY), pytest.param("Öztürk", marks=ASCII_ONLY)],
)
def test_a_name_stored_in_capitals_is_found_in_small_letters(api_as, manager, q):
    LeadFactory(email="ayse@example.com", first_name="Ayşe", last_name="ÖZTÜRK")

    assert api_found(api_as(manager), q) == {"ayse@example.com"}


# --- the SDR queue -----------------------------------------------------------------------------


def handed_to_sales(**data) -> Lead:
    lead = LeadFactory(**data)
    services.change_stages([lead.pk], from_stage=lead.stage, to_stage=Stage.MQL, reason="Test")
    assert Handoff.objects.filter(lead=lead, closed_at__isnull=True).exists()
    return lead


def queue_html(client, q: str) -> str:
    response = client.get("/leads/queue/", {"q": q})
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("q", ["initech", "INITECH LLC", "peter gibbons", "gibbons@"])
def test_the_queue_search_finds_a_lead_in_the_queue(page_as, sdr, q):
    handed_to_sales(
        email="gibbons@example.com", first_name="Peter", last_name="Gibbons", company_name="Initech LLC"
    )
    handed_to_sales(
        email="lumbergh@example.com", first_name="Bill", last_name="Lumbergh", company_name="Globex"
    )
    client = page_as(sdr)
    assert "Peter Gibbons" in queue_html(client, "") and "Bill Lumbergh" in queue_html(client, "")

    html = queue_html(client, q)

    assert "Peter Gibbons" in html
    assert "Bill Lumbergh" not in html


@pytest.mark.parametrize("q", ["%", "_", "nobody at all"])
def test_the_queue_search_with_no_match_lists_nobody(page_as, sdr, q):
    handed_to_sales(first_name="Peter", last_name="Gibbons", company_name="Initech")

    assert "Peter Gibbons" not in queue_html(page_as(sdr), q)


def test_the_queue_search_leaves_out_a_matching_lead_not_in_the_queue(page_as, sdr):
    handed_to_sales(first_name="Peter", last_name="Gibbons", company_name="Initech")
    LeadFactory(first_name="Milton", last_name="Waddams", company_name="Initech")  # never handed over

    html = queue_html(page_as(sdr), "initech")

    assert "Peter Gibbons" in html
    assert "Milton Waddams" not in html


# --- leads written in bulk: found like any other -----------------------------------------------------


def test_a_lead_imported_from_a_csv_file_is_found(page_as, marketer, manager):
    import_csv(page_as(marketer), "email,first name,last name,company\nnia@example.com,Nia,Okafor,Nia Ltd\n")

    assert page_found(page_as(manager), "nia okafor") == {"nia@example.com"}
    assert page_found(page_as(manager), "NIA LTD") == {"nia@example.com"}


def test_demo_leads_are_found_by_their_company(api_as, manager):
    call_command("seed_demo", leads=60, now=datetime(2026, 6, 1, tzinfo=UTC))
    lead = Lead.objects.exclude(company_name="").order_by("pk").first()

    assert lead.email in api_found(api_as(manager), lead.company_name.lower())


def test_a_term_found_common_is_remembered_and_its_next_page_skips_the_lookup(page_as, manager, monkeypatch):
    """Paging through a common term's results asks again; the second time the lookup of its
    matches (a thousand leads read on a large list) is not repeated, and the page is the same."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from leads import filters

    monkeypatch.setattr(filters, "SEARCH_ID_LIMIT", 3)
    for n in range(5):
        Lead.objects.create(email=f"buyer{n}@common.example", last_name="Garcia")
    Lead.objects.create(email="other@else.example", last_name="Other")
    client = page_as(manager)

    first = client.get("/leads/", {"q": "garcia"}).content.decode()
    with CaptureQueriesContext(connection) as again:
        second = client.get("/leads/", {"q": "GARCIA"}).content.decode()

    for n in range(5):
        assert f"buyer{n}@common.example" in first
        assert f"buyer{n}@common.example" in second
    assert "other@else.example" not in second
    lookups = [q["sql"] for q in again.captured_queries if "LIMIT 4" in q["sql"]]
    assert lookups == []


def zetterbergs() -> list[str]:
    """60 leads a search for "zetter" finds, created on days with ties, and one it does not;
    their e-mails newest first (then the higher id)."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    days = [17, 3, 42, 3, 58, 9, 25, 3, 60, 1] * 6  # ties on the day: the higher id first
    for n, day in enumerate(days):
        lead = Lead.objects.create(email=f"zeta{n}@example.com", last_name="Zetterberg")
        Lead.objects.filter(pk=lead.pk).update(created_at=base + timedelta(days=day))
    LeadFactory(email="other@example.com", last_name="Other")
    newest_first = Lead.objects.filter(last_name="Zetterberg").order_by("-created_at", "-id")
    return list(newest_first.values_list("email", flat=True))


def test_a_search_pages_through_its_matches_newest_first(page_as, manager):
    """A search alone takes its page from the matches' ids, which the lookup sorts: the pages
    are the database's order of them (newest first, then the higher id)."""
    from leads.tests.test_lead_list_filters import emails_in_order

    expected = zetterbergs()
    client = page_as(manager)

    first = emails_in_order(client.get("/leads/", {"q": "zetter"}))
    second = emails_in_order(client.get("/leads/", {"q": "zetter", "page": 2}))

    assert first == expected[:50]
    assert second == expected[50:]


def api_pages(client, params: dict) -> list[list[str]]:
    """The e-mails of each page of ``GET /api/leads/``, following the ``next`` links."""
    pages, response = [], client.get("/api/leads/", params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append([row["email"] for row in body["results"]])
        if not body["next"]:
            return pages
        response = client.get(body["next"])


@pytest.mark.parametrize("page_size", [None, 7, 55])
def test_the_api_pages_through_a_searchs_matches_newest_first(api_as, manager, page_size):
    """The API's first page of a search alone is taken from the first ids the lookup found;
    the next pages follow its cursor."""
    expected = zetterbergs()
    size = page_size or 50
    params = {"q": "zetter", **({"page_size": page_size} if page_size else {})}

    pages = api_pages(api_as(manager), params)

    assert pages == [expected[i : i + size] for i in range(0, len(expected), size)]


def test_the_api_pages_through_a_search_with_another_filter_in_full(api_as, manager):
    """With another filter the first ids found may not qualify: the first page is still full."""
    expected = zetterbergs()
    newest_mqls = expected[1::2]  # every other one, the newest among them
    Lead.objects.filter(email__in=newest_mqls).update(stage=Stage.MQL)

    pages = api_pages(api_as(manager), {"q": "zetter", "stage": "mql", "page_size": 7})

    assert [email for page in pages for email in page] == newest_mqls
    assert [len(page) for page in pages] == [7, 7, 7, 7, 2]


def test_the_api_pages_through_a_search_of_an_sdr_who_sees_some_leads(api_as, make_user):
    """An SDR sees their own leads and the unowned pool: the first page is still full."""
    from leadapp import roles

    expected = zetterbergs()
    sdr, other = make_user("sdr.zeta", roles.SALES), make_user("other.sdr", roles.SALES)
    theirs = expected[::3]
    Lead.objects.filter(email__in=expected).exclude(email__in=theirs).update(owner=other)
    Lead.objects.filter(email__in=theirs).update(owner=sdr)

    pages = api_pages(api_as(sdr), {"q": "zetter", "page_size": 7})

    assert [email for page in pages for email in page] == theirs
    assert [len(page) for page in pages] == [7, 7, 6]
