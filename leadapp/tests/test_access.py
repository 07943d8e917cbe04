"""A user's access as the pages and the API read it (leadapp.auth.RoleBackend): permissions from
their roles and given to them directly, and the role names in the menu."""

import re

import pytest
from django.contrib.auth.models import Group, Permission

from leadapp import roles
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def menu_roles(html: str) -> str:
    """The role names in the user menu."""
    return re.search(r'<li><span class="muted">([^<]*)</span></li>', html).group(1)


def test_a_permission_given_to_the_user_alone_opens_the_list_and_the_api(page_as, api_as, nobody):
    LeadFactory(email="seen@example.com")
    nobody.user_permissions.add(Permission.objects.get(codename="view_lead"))

    assert "seen@example.com" in page_as(nobody).get("/leads/").content.decode()
    assert api_as(nobody).get("/api/leads/").json()["results"][0]["email"] == "seen@example.com"
    assert page_as(nobody).get("/leads/new/").status_code == 403  # that one only


def test_the_menu_names_every_role_of_the_user_even_one_without_permissions(page_as, make_user):
    Group.objects.create(name="Trainee")
    user = make_user("two.hats", roles.SALES)
    user.groups.add(Group.objects.get(name=roles.MANAGER), Group.objects.get(name="Trainee"))

    html = page_as(user).get("/leads/").content.decode()

    assert sorted(menu_roles(html).split(", ")) == sorted([roles.SALES, roles.MANAGER, "Trainee"])
    assert 'data-testid="nav-reports"' in html and 'data-testid="nav-queue"' in html


def test_a_role_taken_away_applies_on_the_next_request(page_as, api_as, make_user):
    user = make_user("leaving", roles.SALES)
    page, api = page_as(user), api_as(user)
    assert page.get("/leads/").status_code == 200 and api.get("/api/leads/").status_code == 200

    user.groups.clear()

    assert page.get("/leads/").status_code == 403
    assert api.get("/api/leads/").status_code == 403
    assert menu_roles(page.get("/").content.decode()) == "No role"


def test_a_superuser_without_a_role_may_do_everything_and_is_named_admin(page_as, make_user):
    root = make_user("root", is_superuser=True)

    html = page_as(root).get("/leads/").content.decode()

    assert menu_roles(html) == roles.ADMIN
    assert 'data-testid="nav-webhooks"' in html and 'data-testid="nav-scoring"' in html
    assert page_as(root).get("/leads/new/").status_code == 200
    every = {
        f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")
    }
    assert root.get_all_permissions() == every


def test_a_login_on_the_login_page_and_a_session_begun_before_this_backend_open_the_pages(client, sdr):
    from django.contrib.auth import BACKEND_SESSION_KEY

    modelbackend = "django.contrib.auth.backends.ModelBackend"
    response = client.post("/login/", {"username": "sdr", "password": "pw"})
    assert response.status_code == 302
    assert client.session[BACKEND_SESSION_KEY] == modelbackend  # logins stay with ModelBackend
    assert client.get("/leads/").status_code == 200

    client.logout()
    client.force_login(sdr, backend=modelbackend)  # a session from before leadapp.auth
    assert client.get("/leads/").status_code == 200
    assert client.get("/leads/new/").status_code == 200
    assert client.get("/settings/webhooks/").status_code == 403  # for the Admin role only


def test_a_page_reads_the_users_permissions_and_roles_in_one_query(page_as, sdr):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = page_as(sdr)
    with CaptureQueriesContext(connection) as page:
        html = client.get("/leads/").content.decode()

    assert menu_roles(html) == roles.SALES
    access = [
        q["sql"] for q in page.captured_queries if '"auth_group"' in q["sql"] or "auth_permission" in q["sql"]
    ]
    assert len(access) == 1, access
