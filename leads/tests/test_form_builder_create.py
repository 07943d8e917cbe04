"""Creating a form in the builder: it starts as a draft with its required e-mail field."""

import pytest

from leads.models import CaptureForm, FieldKind, Submission
from leads.tests.factories import CaptureFormFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_the_forms_list_offers_a_new_form_to_a_marketer(page_as, marketer):
    response = page_as(marketer).get("/leads/forms/")

    assert response.status_code == 200
    assert 'href="/leads/forms/new/"' in response.content.decode()


def test_a_new_form_is_a_draft_with_a_required_email_field(page_as, marketer):
    response = page_as(marketer).post("/leads/forms/new/", {"name": "Pricing guide"})

    form = CaptureForm.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/leads/forms/{form.pk}/"
    assert (form.name, form.slug, form.status, form.created_by) == (
        "Pricing guide",
        "pricing-guide",
        CaptureForm.Status.DRAFT,
        marketer,
    )
    [field] = form.fields.all()
    assert (field.kind, field.name, field.required, field.maps_to) == (
        FieldKind.EMAIL,
        "email",
        True,
        "email",
    )


def test_the_builder_shows_the_email_field_without_a_remove_button(page_as, marketer):
    client = page_as(marketer)
    client.post("/leads/forms/new/", {"name": "Pricing guide"})
    form = CaptureForm.objects.get()

    html = client.get(f"/leads/forms/{form.pk}/").content.decode()

    assert 'data-testid="field-row-email"' in html
    assert "Remove E-mail" not in html
    assert 'id="la-pricing-guide-email"' in html  # in the preview


def test_a_taken_slug_is_refused_beside_the_field(page_as, marketer):
    CaptureFormFactory(slug="webinar")

    response = page_as(marketer).post("/leads/forms/new/", {"name": "Webinar", "slug": "webinar"})

    assert response.status_code == 400
    assert 'id="id_slug-error"' in response.content.decode()
    assert CaptureForm.objects.count() == 1


def test_a_name_already_used_gets_a_slug_of_its_own(page_as, marketer):
    CaptureFormFactory(slug="webinar")

    page_as(marketer).post("/leads/forms/new/", {"name": "Webinar"})

    assert CaptureForm.objects.filter(slug="webinar-2").exists()


def test_the_list_shows_status_submission_count_and_last_submission(page_as, marketer):
    form = CaptureFormFactory(name="Demo request", slug="demo")
    CaptureFormFactory(name="Old one", status=CaptureForm.Status.ARCHIVED)
    lead = LeadFactory()
    for _ in range(3):
        Submission.objects.create(form=form, lead=lead, payload={})
    last = Submission.objects.latest("submitted_at").submitted_at

    html = page_as(marketer).get("/leads/forms/").content.decode()

    row = html[html.index('data-testid="form-row-demo"') :].split("</tr>")[0]
    assert "Demo request" in row
    assert "Live" in row
    assert "<td>3</td>" in row
    assert last.strftime("%Y-%m-%d %H:%M") in row
    assert "Archived" in html
