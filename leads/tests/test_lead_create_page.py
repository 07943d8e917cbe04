"""The new-lead page."""

import re

import pytest

from leads.models import Lead, StageChange
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def new_lead(**fields) -> dict:
    """The form as posted from the page: defaults the page shows, then what the user typed."""
    return {"email": "", "source": "other", "stage": "new", "custom": "", **fields}


def field_error(html: str, field: str) -> str:
    match = re.search(rf'<small class="error" id="id_{field}-error">(.*?)</small>', html, re.S)
    assert match, f"no error shown beside {field}"
    return match.group(1)


def test_the_page_shows_an_empty_form(page_as, marketer):
    response = page_as(marketer).get("/leads/new/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>New lead</h1>" in html
    assert 'name="email"' in html


def test_a_valid_post_creates_the_lead_and_redirects_to_it(page_as, marketer):
    response = page_as(marketer).post(
        "/leads/new/",
        new_lead(email=" Ada@Example.com ", first_name="Ada", company_name="Engines", source="referral"),
    )

    lead = Lead.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/leads/{lead.pk}/"
    assert (lead.email, lead.first_name, lead.company_name, lead.source) == (
        "ada@example.com",
        "Ada",
        "Engines",
        "referral",
    )
    assert lead.created_via == "manual"
    assert lead.custom == {}


def test_the_initial_stage_is_recorded_with_the_user(page_as, marketer):
    page_as(marketer).post("/leads/new/", new_lead(email="staged@example.com", stage="mql"))

    lead = Lead.objects.get()
    [change] = StageChange.objects.filter(lead=lead)
    assert (change.from_stage, change.to_stage, change.changed_by) == ("", "mql", marketer)


def test_custom_attributes_are_saved(page_as, marketer):
    page_as(marketer).post("/leads/new/", new_lead(email="c@example.com", custom='{"plan": "pro"}'))

    assert Lead.objects.get().custom == {"plan": "pro"}


def test_custom_attributes_that_are_not_an_object_are_refused(page_as, marketer):
    response = page_as(marketer).post("/leads/new/", new_lead(email="c@example.com", custom="[1, 2]"))

    assert response.status_code == 400
    assert field_error(response.content.decode(), "custom")
    assert not Lead.objects.exists()


def test_a_bad_email_is_400_with_the_error_beside_the_field_and_nothing_created(page_as, marketer):
    response = page_as(marketer).post("/leads/new/", new_lead(email="not-an-email", first_name="Typed"))

    assert response.status_code == 400
    html = response.content.decode()
    assert "valid email" in field_error(html, "email")
    assert 'value="Typed"' in html
    assert not Lead.objects.exists()


def test_a_taken_email_is_400_with_the_error_beside_the_field_and_nothing_created(page_as, marketer):
    LeadFactory(email="taken@example.com")

    response = page_as(marketer).post("/leads/new/", new_lead(email="TAKEN@example.com"))

    assert response.status_code == 400
    assert "already" in field_error(response.content.decode(), "email")
    assert Lead.objects.count() == 1


def test_an_unknown_stage_is_400(page_as, marketer):
    response = page_as(marketer).post("/leads/new/", new_lead(email="s@example.com", stage="promoted"))

    assert response.status_code == 400
    assert field_error(response.content.decode(), "stage")
    assert not Lead.objects.exists()
