"""Who may build forms: Marketing and Admin build them; Sales and Managers may look; no role
sees nothing; anonymous visitors are sent to log in."""

import pytest

from leads.models import CaptureForm, FormField
from leads.tests.factories import CaptureFormFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def form():
    return CaptureFormFactory(
        name="Kept", slug="kept", status=CaptureForm.Status.DRAFT, fields=[{"name": "company"}]
    )


def writes(form) -> list[tuple[str, dict]]:
    company = form.fields.get(name="company")
    return [
        ("/leads/forms/new/", {"name": "Sneaky"}),
        (f"/leads/forms/{form.pk}/", {"name": "Renamed", "slug": "kept", "submit_label": "Go"}),
        (f"/leads/forms/{form.pk}/status/", {"action": "publish"}),
        (f"/leads/forms/{form.pk}/fields/", {"new-label": "Extra", "new-kind": "text"}),
        (f"/leads/forms/{form.pk}/fields/{company.pk}/", {f"field-{company.pk}-label": "Changed"}),
        (f"/leads/forms/{form.pk}/fields/{company.pk}/move/", {"direction": "up"}),
        (f"/leads/forms/{form.pk}/fields/{company.pk}/delete/", {}),
    ]


def assert_unchanged(form):
    assert CaptureForm.objects.count() == 1
    form.refresh_from_db()
    assert (form.name, form.status) == ("Kept", CaptureForm.Status.DRAFT)
    assert list(form.fields.values_list("name", "label")) == [("email", "E-mail"), ("company", "Company")]


@pytest.mark.parametrize("role", ["sdr", "manager"])
def test_sales_and_managers_may_look_at_forms(page_as, request, role, form):
    client = page_as(request.getfixturevalue(role))

    listing = client.get("/leads/forms/")
    builder = client.get(f"/leads/forms/{form.pk}/")

    assert listing.status_code == 200
    assert "Kept" in listing.content.decode()
    assert 'href="/leads/forms/new/"' not in listing.content.decode()
    assert builder.status_code == 200
    html = builder.content.decode()
    assert 'data-testid="field-row-company"' in html
    assert 'data-testid="add-field-form"' not in html
    assert ">Publish<" not in html


@pytest.mark.parametrize("role", ["sdr", "manager"])
def test_sales_and_managers_get_403_on_every_builder_write(page_as, request, role, form):
    client = page_as(request.getfixturevalue(role))

    for url, data in writes(form):
        assert client.post(url, data).status_code == 403, url
    assert client.get("/leads/forms/new/").status_code == 403
    assert_unchanged(form)


def test_a_user_without_a_role_sees_no_form_page(page_as, nobody, form):
    client = page_as(nobody)

    assert client.get("/leads/forms/").status_code == 403
    assert client.get(f"/leads/forms/{form.pk}/").status_code == 403
    assert client.get(f"/leads/forms/{form.pk}/preview/").status_code == 403


def test_anonymous_visitors_are_sent_to_log_in_and_change_nothing(client, form):
    for url in ["/leads/forms/", f"/leads/forms/{form.pk}/", f"/leads/forms/{form.pk}/preview/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/login/?next={url}"
    for url, data in writes(form):
        response = client.post(url, data)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/")
    assert_unchanged(form)


@pytest.mark.parametrize("role", ["marketer", "admin_user"])
def test_marketing_and_admin_build_forms(page_as, request, role):
    client = page_as(request.getfixturevalue(role))

    response = client.post("/leads/forms/new/", {"name": "Built"})

    assert response.status_code == 302
    form = CaptureForm.objects.get(name="Built")
    assert (
        client.post(f"/leads/forms/{form.pk}/fields/", {"new-label": "Role", "new-kind": "text"}).status_code
        == 302
    )
    assert client.post(f"/leads/forms/{form.pk}/status/", {"action": "publish"}).status_code == 302
    form.refresh_from_db()
    assert form.status == CaptureForm.Status.LIVE
    assert FormField.objects.filter(form=form).count() == 2


def test_the_nav_shows_forms_to_those_who_may_see_them(page_as, sdr, nobody):
    assert 'data-testid="nav-forms"' in page_as(sdr).get("/").content.decode()
    assert 'data-testid="nav-forms"' not in page_as(nobody).get("/").content.decode()
