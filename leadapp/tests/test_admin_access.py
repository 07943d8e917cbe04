"""Only an Admin (a staff user) reaches the Django admin."""

import pytest

pytestmark = pytest.mark.django_db

ADMIN_INDEX_TITLE = "Site administration"


@pytest.mark.parametrize("role", ["nobody", "marketer", "sdr", "manager"])
def test_other_roles_cannot_see_the_admin(page_as, request, role):
    client = page_as(request.getfixturevalue(role))

    response = client.get("/admin/", follow=True)

    assert ADMIN_INDEX_TITLE not in response.content.decode()
    assert response.redirect_chain
    assert response.redirect_chain[-1][0].startswith("/admin/login/")
    assert client.get("/admin/leads/lead/").status_code in (302, 403)


def test_anonymous_users_are_sent_to_a_login_page(client):
    response = client.get("/admin/")

    assert response.status_code == 302
    assert "login" in response["Location"]
    assert ADMIN_INDEX_TITLE not in client.get("/admin/", follow=True).content.decode()


def test_an_admin_sees_the_admin_and_the_leads_in_it(page_as, admin_user):
    client = page_as(admin_user)

    index = client.get("/admin/")
    leads = client.get("/admin/leads/lead/")

    assert index.status_code == 200
    assert ADMIN_INDEX_TITLE in index.content.decode()
    assert leads.status_code == 200


def test_only_staff_see_the_admin_link(page_as, admin_user, sdr):
    assert 'href="/admin/"' in page_as(admin_user).get("/").content.decode()
    assert 'href="/admin/"' not in page_as(sdr).get("/").content.decode()
