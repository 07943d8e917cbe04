"""What each role may do with leads, on the pages and through the API."""

import pytest

from leads.models import Lead, StageChange
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

ROLES = ["marketer", "sdr", "manager", "admin_user"]
WORKERS = ["marketer", "sdr", "admin_user"]  # may add and edit leads


def edit_form(lead, **changes):
    return {"email": lead.email, "source": lead.source, "stage": lead.stage, "custom": "{}", **changes}


# --- A logged-in user without a role -------------------------------------------------------


def test_a_user_without_a_role_can_see_no_lead_page(page_as, nobody):
    lead = LeadFactory()
    client = page_as(nobody)

    for url in ["/leads/", f"/leads/{lead.pk}/", f"/leads/{lead.pk}/timeline/", "/leads/new/"]:
        assert client.get(url).status_code == 403, url
    assert client.get(f"/leads/{lead.pk}/edit/").status_code == 403


def test_a_user_without_a_role_gets_403_from_the_api(api_as, nobody):
    lead = LeadFactory(first_name="Kept")
    client = api_as(nobody)

    listing = client.get("/api/leads/")
    assert listing.status_code == 403
    assert listing.json()["error"]["code"] == "permission_denied"
    assert client.get(f"/api/leads/{lead.pk}/").status_code == 403
    assert client.patch(f"/api/leads/{lead.pk}/", {"first_name": "X"}, format="json").status_code == 403
    assert client.post("/api/leads/", {"email": "n@example.com"}, format="json").status_code == 403
    assert client.post("/api/events/", {"lead": lead.pk, "kind": "call"}, format="json").status_code == 403
    lead.refresh_from_db()
    assert lead.first_name == "Kept"
    assert Lead.objects.count() == 1
    assert not lead.activities.exists()


def test_a_user_without_a_role_is_told_so_on_the_home_page(page_as, nobody):
    html = page_as(nobody).get("/").content.decode()

    assert "Your account has no role yet" in html
    assert 'href="/leads/"' not in html


# --- Every role reads -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_lead_list_and_the_lead(page_as, api_as, request, role):
    user = request.getfixturevalue(role)
    lead = LeadFactory(email="visible@example.com")

    assert "visible@example.com" in page_as(user).get("/leads/").content.decode()
    assert page_as(user).get(f"/leads/{lead.pk}/").status_code == 200
    assert api_as(user).get("/api/leads/").json()["results"][0]["email"] == "visible@example.com"
    assert api_as(user).get(f"/api/leads/{lead.pk}/activities/").status_code == 200


# --- Manager: read only ---------------------------------------------------------------------


def test_a_manager_cannot_open_or_post_the_edit_page(page_as, manager):
    lead = LeadFactory(first_name="Kept")
    client = page_as(manager)

    assert client.get(f"/leads/{lead.pk}/edit/").status_code == 403
    response = client.post(f"/leads/{lead.pk}/edit/", edit_form(lead, first_name="Changed", stage="sql"))

    assert response.status_code == 403
    lead.refresh_from_db()
    assert (lead.first_name, lead.stage) == ("Kept", "new")
    assert not StageChange.objects.exists()


def test_a_manager_cannot_create_on_the_new_lead_page(page_as, manager):
    client = page_as(manager)

    assert client.get("/leads/new/").status_code == 403
    response = client.post("/leads/new/", {"email": "m@example.com", "source": "other", "stage": "new"})

    assert response.status_code == 403
    assert not Lead.objects.exists()


def test_a_manager_cannot_change_create_or_delete_through_the_api(api_as, manager):
    lead = LeadFactory(first_name="Kept")
    client = api_as(manager)

    patch = client.patch(f"/api/leads/{lead.pk}/", {"first_name": "Changed", "stage": "sql"}, format="json")
    post = client.post("/api/leads/", {"email": "m@example.com"}, format="json")
    delete = client.delete(f"/api/leads/{lead.pk}/")

    assert (patch.status_code, post.status_code, delete.status_code) == (403, 403, 403)
    assert patch.json()["error"]["status"] == 403
    lead.refresh_from_db()
    assert (lead.first_name, lead.stage) == ("Kept", "new")
    assert list(Lead.objects.values_list("pk", flat=True)) == [lead.pk]
    assert not StageChange.objects.exists()


def test_a_manager_sees_no_new_lead_button(page_as, manager, sdr):
    assert 'href="/leads/new/"' not in page_as(manager).get("/leads/").content.decode()
    assert 'href="/leads/new/"' in page_as(sdr).get("/leads/").content.decode()


# --- Marketing, Sales, Admin: work on leads ------------------------------------------------


@pytest.mark.parametrize("role", WORKERS)
def test_working_roles_can_edit_on_the_page(page_as, request, role):
    user = request.getfixturevalue(role)
    lead = LeadFactory()

    response = page_as(user).post(f"/leads/{lead.pk}/edit/", edit_form(lead, first_name="Edited"))

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.first_name == "Edited"


@pytest.mark.parametrize("role", WORKERS)
def test_working_roles_can_create_and_patch_through_the_api(api_as, request, role):
    client = api_as(request.getfixturevalue(role))

    created = client.post("/api/leads/", {"email": "w@example.com"}, format="json")
    patched = client.patch(f"/api/leads/{created.json()['id']}/", {"first_name": "W"}, format="json")

    assert (created.status_code, patched.status_code) == (201, 200)
    assert Lead.objects.get().first_name == "W"


@pytest.mark.parametrize("role", ["marketer", "sdr"])
def test_marketing_and_sales_cannot_delete_through_the_api(api_as, request, role):
    lead = LeadFactory()

    response = api_as(request.getfixturevalue(role)).delete(f"/api/leads/{lead.pk}/")

    assert response.status_code == 403
    assert Lead.objects.filter(pk=lead.pk).exists()


def test_an_admin_can_delete_through_the_api(api_as, admin_user):
    lead = LeadFactory()

    response = api_as(admin_user).delete(f"/api/leads/{lead.pk}/")

    assert response.status_code == 204
    assert not Lead.objects.exists()
    assert api_as(admin_user).get(f"/api/leads/{lead.pk}/").status_code == 404
