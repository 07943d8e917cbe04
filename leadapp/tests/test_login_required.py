"""Anonymous visitors: pages send them to log in, the API answers 401, /healthz is public."""

import pytest
from rest_framework.test import APIClient

from leads.models import Lead
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead():
    return LeadFactory()


@pytest.mark.parametrize(
    "path",
    ["/", "/leads/", "/leads/new/", "/leads/{pk}/", "/leads/{pk}/edit/", "/leads/{pk}/timeline/"],
)
def test_pages_redirect_anonymous_visitors_to_the_login_page(client, lead, path):
    path = path.format(pk=lead.pk)

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_an_anonymous_post_to_the_edit_page_changes_nothing(client, lead):
    name = lead.first_name

    response = client.post(f"/leads/{lead.pk}/edit/", {"email": lead.email, "first_name": "Anon"})

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    lead.refresh_from_db()
    assert lead.first_name == name


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/leads/"),
        ("get", "/api/leads/{pk}/"),
        ("patch", "/api/leads/{pk}/"),
        ("post", "/api/leads/"),
        ("delete", "/api/leads/{pk}/"),
        ("get", "/api/leads/{pk}/activities/"),
        ("post", "/api/events/"),
        ("post", "/api/events/batch/"),
    ],
)
def test_the_api_answers_401_with_a_token_challenge(lead, method, path):
    response = getattr(APIClient(), method)(path.format(pk=lead.pk), {}, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (401, "not_authenticated")
    assert Lead.objects.count() == 1


def test_a_wrong_token_is_401(lead):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = client.get("/api/leads/")

    assert response.status_code == 401
    assert response.json()["error"]["status"] == 401


def test_healthz_is_public(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_the_login_page_is_public(client):
    response = client.get("/login/")

    assert response.status_code == 200
    assert 'name="password"' in response.content.decode()


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_the_api_schema_and_docs_are_not_shown_to_anonymous_visitors(client, path):
    response = client.get(path)

    assert response.status_code in (302, 401, 403)
    if response.status_code == 302:
        assert response["Location"].startswith("/login/")
    assert b"openapi" not in response.content
    assert b"redoc" not in response.content.lower()


@pytest.mark.parametrize("role", ["nobody", "manager", "sdr"])
def test_logged_in_users_can_read_the_api_schema_and_docs(page_as, request, role):
    client = page_as(request.getfixturevalue(role))

    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert schema.content.startswith(b"openapi: 3")
    assert b"/api/leads/" in schema.content
    assert docs.status_code == 200
    assert b"redoc" in docs.content.lower()
