"""Marketing and Admin import; Manager and Sales do not (Manager exports, see test_lead_export)."""

import pytest

from leads.models import LeadImport
from leads.tests.importing import upload

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", ["marketer", "admin_user"])
def test_marketing_and_admin_upload_files_and_see_the_nav_link(page_as, request, role):
    client = page_as(request.getfixturevalue(role))

    assert client.get("/leads/imports/").status_code == 200
    assert upload(client, "email\na@example.com\n").status_code == 302
    assert 'href="/leads/imports/"' in client.get("/").content.decode()


@pytest.mark.parametrize("role", ["sdr", "manager", "nobody"])
def test_other_roles_cannot_see_or_upload_imports(page_as, request, role, marketer):
    lead_import = LeadImport.objects.create(
        content=b"email\na@example.com\n", filename="a.csv", headers=["email"]
    )
    client = page_as(request.getfixturevalue(role))

    assert client.get("/leads/imports/").status_code == 403
    assert upload(client, "email\nb@example.com\n").status_code == 403
    assert client.get(f"/leads/imports/{lead_import.pk}/").status_code == 403
    assert client.post(f"/leads/imports/{lead_import.pk}/", {"col_0": "email"}).status_code == 403
    assert 'href="/leads/imports/"' not in client.get("/").content.decode()
    assert LeadImport.objects.count() == 1


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/leads/imports/")

    assert response.status_code == 302
    assert response.url.startswith("/login/")
