"""Who sees which leads: an SDR their own and the unowned ones (the pool), never a colleague's,
on every page and API call; marketing and managers see every lead. A colleague's lead is
"not found" (404), as if it did not exist, and is missing from the lists."""

import re

import pytest

from leadapp import roles
from leads.models import Lead, Stage
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana(make_user):
    return make_user("ana", roles.SALES)


@pytest.fixture
def bob(make_user):
    return make_user("bob", roles.SALES)


@pytest.fixture
def leads(ana, bob):
    return {
        "anas": LeadFactory(email="anas@example.com", stage=Stage.MQL, owner=ana),
        "bobs": LeadFactory(email="bobs@example.com", stage=Stage.MQL, owner=bob),
        "pool": LeadFactory(email="pool@example.com", stage=Stage.MQL),
    }


ALL = {"anas@example.com", "bobs@example.com", "pool@example.com"}


def listed_on_page(client, params=None) -> set[str]:
    response = client.get("/leads/", params or {})
    assert response.status_code == 200
    return set(re.findall(r"<td>([^<>\s]+@[^<>\s]+)</td>", response.content.decode()))


def listed_by_api(client, params=None) -> set[str]:
    response = client.get("/api/leads/", params or {})
    assert response.status_code == 200, response.content
    return {row["email"] for row in response.json()["results"]}


# --- An SDR -----------------------------------------------------------------------------------


def test_an_sdr_lists_their_own_and_the_pool_leads_not_a_colleagues(leads, ana, page_as, api_as):
    assert listed_on_page(page_as(ana)) == {"anas@example.com", "pool@example.com"}
    assert listed_by_api(api_as(ana)) == {"anas@example.com", "pool@example.com"}
    # Filtering or searching does not bring it back either.
    assert listed_by_api(api_as(ana), {"stage": "mql"}) == {"anas@example.com", "pool@example.com"}
    for params in ({"q": "bobs"}, {"owner": "bob"}):
        assert listed_on_page(page_as(ana), params) == set()
        assert listed_by_api(api_as(ana), params) == set()


@pytest.mark.parametrize(
    "url",
    ["/leads/{pk}/", "/leads/{pk}/edit/", "/leads/{pk}/timeline/", "/scoring/leads/{pk}/"],
    ids=["lead-page", "edit-page", "timeline", "score-page"],
)
def test_a_colleagues_lead_page_is_not_found_for_an_sdr(leads, ana, page_as, url):
    client = page_as(ana)

    assert client.get(url.format(pk=leads["bobs"].pk)).status_code == 404
    assert client.get(url.format(pk=leads["anas"].pk)).status_code == 200
    assert client.get(url.format(pk=leads["pool"].pk)).status_code == 200


def test_the_lead_page_of_an_own_lead_shows_it(leads, ana, page_as):
    response = page_as(ana).get(f"/leads/{leads['anas'].pk}/")
    assert "anas@example.com" in response.content.decode()


@pytest.mark.parametrize("url", ["/api/leads/{pk}/", "/api/leads/{pk}/score/"], ids=["lead", "score"])
def test_a_colleagues_lead_is_not_found_in_the_api_for_an_sdr(leads, ana, api_as, url):
    client = api_as(ana)

    missing = client.get(url.format(pk=leads["bobs"].pk))
    assert missing.status_code == 404
    assert "bobs@example.com" not in missing.content.decode()
    assert client.get(url.format(pk=leads["anas"].pk)).status_code == 200
    assert client.get(url.format(pk=leads["pool"].pk)).status_code == 200


def test_an_sdr_cannot_change_a_colleagues_lead(leads, ana, page_as, api_as):
    bobs = leads["bobs"]

    page = page_as(ana).post(f"/leads/{bobs.pk}/stage/", {"to_stage": Stage.SAL})
    api = api_as(ana).patch(f"/api/leads/{bobs.pk}/", {"job_title": "Hacked"}, format="json")

    assert (page.status_code, api.status_code) == (404, 404)
    unchanged = Lead.objects.get(pk=bobs.pk)
    assert (unchanged.stage, unchanged.job_title, unchanged.owner.username) == (
        Stage.MQL,
        bobs.job_title,
        "bob",
    )


def test_a_lead_claimed_by_a_colleague_leaves_the_sdrs_view(leads, ana, bob, api_as):
    Lead.objects.filter(pk=leads["pool"].pk).update(owner=bob)

    assert listed_by_api(api_as(ana)) == {"anas@example.com"}
    assert api_as(ana).get(f"/api/leads/{leads['pool'].pk}/").status_code == 404


# --- Managers and marketing -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["manager", "marketer"])
def test_managers_and_marketing_see_every_lead(leads, request, page_as, api_as, role):
    user = request.getfixturevalue(role)

    assert listed_on_page(page_as(user)) == ALL
    assert listed_by_api(api_as(user)) == ALL
    assert listed_by_api(api_as(user), {"owner": "bob"}) == {"bobs@example.com"}
    for lead in leads.values():
        assert page_as(user).get(f"/leads/{lead.pk}/").status_code == 200
        assert page_as(user).get(f"/scoring/leads/{lead.pk}/").status_code == 200
        assert api_as(user).get(f"/api/leads/{lead.pk}/").status_code == 200


# --- Known leaks --------------------------------------------------------------------------------

TEMPLATE_LEAK = (
    "nurturing/template_views.py reads leads with Lead.objects, not visible_to(user): an SDR (who may "
    "view e-mail templates and leads) finds a colleague's lead in the template editor's lead chooser "
    "and sees its name, e-mail and company in the preview (_preview_lead, _lead_choices)"
)


def test_the_email_template_lead_chooser_does_not_offer_an_sdr_a_colleagues_lead(leads, ana, page_as):
    response = page_as(ana).get("/nurturing/templates/preview/leads/", {"q": "example.com"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "anas@example.com" in html and "pool@example.com" in html
    assert "bobs@example.com" not in html


def test_the_email_template_preview_does_not_show_an_sdr_a_colleagues_lead(leads, ana, page_as):
    from nurturing.tests.factories import template

    Lead.objects.filter(pk=leads["bobs"].pk).update(first_name="Bobbinette")
    welcome = template(subject="Welcome, {{ first_name }}")

    response = page_as(ana).get(
        f"/nurturing/templates/{welcome.pk}/", {"preview": "1", "preview_lead": leads["bobs"].pk}
    )

    assert response.status_code in (200, 404)
    assert "Bobbinette" not in response.content.decode()


def mql_count_on_home(client) -> int:
    html = client.get("/").content.decode()
    match = re.search(r'\?stage=mql">\s*<span class="stage-count">([\d,]+)</span>', html)
    assert match, "the home page shows leads by stage"
    return int(match.group(1).replace(",", ""))


def test_the_home_pages_stage_counts_are_of_the_leads_one_may_see(leads, ana, manager, page_as):
    assert mql_count_on_home(page_as(ana)) == 2  # her own and the pool's, not Bob's
    assert mql_count_on_home(page_as(manager)) == 3
