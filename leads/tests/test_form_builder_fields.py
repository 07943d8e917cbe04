"""Adding, editing, reordering and removing fields in the builder, with errors beside the
fields. htmx requests get the field list back; without htmx the page works the same way."""

import re

import pytest

from leads.models import FieldKind, FormField
from leads.tests.factories import CaptureFormFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def form():
    return CaptureFormFactory(slug="guide", fields=[{"name": "company", "maps_to": "company_name"}])


def new_field(**values) -> dict:
    return {f"new-{key}": value for key, value in {"kind": "text", **values}.items()}


def names(form) -> list[str]:
    return list(form.fields.order_by("position", "id").values_list("name", flat=True))


def shown_order(html: str) -> list[str]:
    return re.findall(r'data-testid="field-row-([\w-]+)"', html)


def error_beside(html: str, field_id: str) -> str:
    match = re.search(rf'<small class="error" id="{field_id}-error" role="alert">(.*?)</small>', html, re.S)
    assert match, f"no error beside {field_id}"
    return match.group(1)


def test_adding_a_custom_field_returns_the_field_list_and_refreshes_the_preview(page_as, marketer, form):
    response = page_as(marketer).post(
        f"/leads/forms/{form.pk}/fields/", new_field(label="Team size", kind="number"), **HTMX
    )

    assert response.status_code == 200
    assert response["HX-Trigger"] == "capture-form-changed"
    html = response.content.decode()
    assert shown_order(html) == ["email", "company", "team_size"]
    assert "custom attribute" in html
    field = form.fields.get(name="team_size")
    assert (field.label, field.kind, field.maps_to, field.position) == ("Team size", FieldKind.NUMBER, "", 2)


def test_without_htmx_adding_a_field_redirects_back_to_the_builder(page_as, marketer, form):
    response = page_as(marketer).post(f"/leads/forms/{form.pk}/fields/", new_field(label="Role"))

    assert response.status_code == 302
    assert response["Location"] == f"/leads/forms/{form.pk}/#form-fields"
    assert names(form) == ["email", "company", "role"]


def test_a_field_mapped_to_a_lead_column_says_so(page_as, marketer, form):
    response = page_as(marketer).post(
        f"/leads/forms/{form.pk}/fields/",
        new_field(label="Your role", name="role", maps_to="job_title"),
        **HTMX,
    )

    assert response.status_code == 200
    assert form.fields.get(name="role").maps_to == "job_title"
    assert "Job title" in response.content.decode()


def test_a_duplicate_field_name_is_refused_beside_the_name(page_as, marketer, form):
    response = page_as(marketer).post(
        f"/leads/forms/{form.pk}/fields/", new_field(label="Company again", name="company"), **HTMX
    )

    assert response.status_code == 400
    assert "already has a field named" in error_beside(response.content.decode(), "id_new-name")
    assert names(form) == ["email", "company"]


def test_a_select_without_options_is_refused_beside_the_options(page_as, marketer, form):
    response = page_as(marketer).post(
        f"/leads/forms/{form.pk}/fields/", new_field(label="Plan", kind="select", options=" \n "), **HTMX
    )

    assert response.status_code == 400
    assert "at least one option" in error_beside(response.content.decode(), "id_new-options")
    assert names(form) == ["email", "company"]


def test_without_htmx_an_error_shows_the_page_with_what_was_typed(page_as, marketer, form):
    response = page_as(marketer).post(
        f"/leads/forms/{form.pk}/fields/", new_field(label="Plan", kind="multiselect", options="")
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert error_beside(html, "id_new-options")
    assert 'value="Plan"' in html
    assert "<h1" in html  # the whole page


def test_a_select_is_saved_with_its_options(page_as, marketer, form):
    page_as(marketer).post(
        f"/leads/forms/{form.pk}/fields/",
        new_field(label="Plan", kind="select", options="Starter\nPro\n\nPro\nEnterprise"),
        **HTMX,
    )

    assert form.fields.get(name="plan").options == ["Starter", "Pro", "Enterprise"]


def test_a_select_mapped_to_industry_gets_the_industries_as_options(page_as, marketer, form):
    page_as(marketer).post(
        f"/leads/forms/{form.pk}/fields/",
        new_field(label="Industry", kind="select", maps_to="industry"),
        **HTMX,
    )

    options = form.fields.get(name="industry").options
    assert "Software / SaaS" in options
    assert "Healthcare" in options


def test_a_select_mapped_to_industry_refuses_an_unknown_industry(page_as, marketer, form):
    response = page_as(marketer).post(
        f"/leads/forms/{form.pk}/fields/",
        new_field(label="Industry", kind="select", maps_to="industry", options="Healthcare\nPirates"),
        **HTMX,
    )

    assert response.status_code == 400
    assert "Pirates" in error_beside(response.content.decode(), "id_new-options")


def test_two_fields_cannot_fill_the_same_lead_column(page_as, marketer, form):
    response = page_as(marketer).post(
        f"/leads/forms/{form.pk}/fields/", new_field(label="Organisation", maps_to="company_name"), **HTMX
    )

    assert response.status_code == 400
    assert "Another field already fills Company" in error_beside(response.content.decode(), "id_new-maps_to")


def test_a_reserved_name_is_refused(page_as, marketer, form):
    response = page_as(marketer).post(
        f"/leads/forms/{form.pk}/fields/", new_field(label="Source", name="utm_source"), **HTMX
    )

    assert response.status_code == 400
    assert "reserved" in error_beside(response.content.decode(), "id_new-name")


def test_moving_a_field_up_and_down_changes_the_order(page_as, marketer, form):
    client = page_as(marketer)
    client.post(f"/leads/forms/{form.pk}/fields/", new_field(label="Role"), **HTMX)
    role = form.fields.get(name="role")

    up = client.post(f"/leads/forms/{form.pk}/fields/{role.pk}/move/", {"direction": "up"}, **HTMX)

    assert up.status_code == 200
    assert shown_order(up.content.decode()) == ["email", "role", "company"]
    assert names(form) == ["email", "role", "company"]

    down = client.post(f"/leads/forms/{form.pk}/fields/{role.pk}/move/", {"direction": "down"}, **HTMX)

    assert shown_order(down.content.decode()) == ["email", "company", "role"]
    assert names(form) == ["email", "company", "role"]


def test_moving_the_last_field_down_changes_nothing(page_as, marketer, form):
    company = form.fields.get(name="company")

    page_as(marketer).post(f"/leads/forms/{form.pk}/fields/{company.pk}/move/", {"direction": "down"}, **HTMX)

    assert names(form) == ["email", "company"]


def test_removing_a_field(page_as, marketer, form):
    company = form.fields.get(name="company")

    response = page_as(marketer).post(f"/leads/forms/{form.pk}/fields/{company.pk}/delete/", **HTMX)

    assert response.status_code == 200
    assert shown_order(response.content.decode()) == ["email"]
    assert names(form) == ["email"]


def test_the_email_field_cannot_be_removed(page_as, marketer, form):
    email = form.fields.get(name="email")

    response = page_as(marketer).post(f"/leads/forms/{form.pk}/fields/{email.pk}/delete/", **HTMX)

    assert response.status_code == 400
    assert "cannot be removed" in response.content.decode()
    assert names(form) == ["email", "company"]


def test_editing_a_field_opens_its_form_in_the_list_and_saves_it(page_as, marketer, form):
    client = page_as(marketer)
    company = form.fields.get(name="company")

    opened = client.get(f"/leads/forms/{form.pk}/fields/{company.pk}/", **HTMX)

    assert opened.status_code == 200
    assert 'data-testid="edit-field-form"' in opened.content.decode()

    prefix = f"field-{company.pk}"
    saved = client.post(
        f"/leads/forms/{form.pk}/fields/{company.pk}/",
        {
            f"{prefix}-label": "Company name",
            f"{prefix}-kind": "text",
            f"{prefix}-name": "company",
            f"{prefix}-required": "on",
            f"{prefix}-placeholder": "Acme Inc.",
            f"{prefix}-help_text": "Where you work",
            f"{prefix}-maps_to": "company_name",
        },
        **HTMX,
    )

    assert saved.status_code == 200
    assert 'data-testid="edit-field-form"' not in saved.content.decode()
    company.refresh_from_db()
    assert (company.label, company.required, company.placeholder, company.help_text) == (
        "Company name",
        True,
        "Acme Inc.",
        "Where you work",
    )


def test_the_email_field_stays_required_and_mapped_whatever_is_posted(page_as, marketer, form):
    email = form.fields.get(name="email")
    prefix = f"field-{email.pk}"

    response = page_as(marketer).post(
        f"/leads/forms/{form.pk}/fields/{email.pk}/",
        {
            f"{prefix}-label": "Work e-mail",
            f"{prefix}-kind": "text",
            f"{prefix}-name": "mail",
            f"{prefix}-maps_to": "",
        },
        **HTMX,
    )

    assert response.status_code == 200
    email.refresh_from_db()
    assert (email.label, email.kind, email.name, email.required, email.maps_to) == (
        "Work e-mail",
        FieldKind.EMAIL,
        "email",
        True,
        "email",
    )


def test_a_field_of_another_form_is_404(page_as, marketer, form):
    other = FormField.objects.exclude(form=form).first() or CaptureFormFactory().fields.get()

    response = page_as(marketer).post(f"/leads/forms/{form.pk}/fields/{other.pk}/delete/", **HTMX)

    assert response.status_code == 404
    assert FormField.objects.filter(pk=other.pk).exists()


def test_a_hidden_field_mapped_to_a_choice_column_needs_a_valid_value(page_as, marketer, form):
    response = page_as(marketer).post(
        f"/leads/forms/{form.pk}/fields/",
        new_field(label="Country", kind="hidden", maps_to="country", default_value="Atlantis"),
        **HTMX,
    )

    assert response.status_code == 400
    assert "Atlantis" in error_beside(response.content.decode(), "id_new-default_value")
