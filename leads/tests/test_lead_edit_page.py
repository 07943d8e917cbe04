"""The lead edit page: saves, records stage changes, shows errors beside the field."""

import json
import re

import pytest
from django.test import Client

from leads.models import Activity, Stage, StageChange
from leads.tests.factories import LeadFactory, edit_form_data

pytestmark = pytest.mark.django_db


def field_error(html: str, field: str) -> str:
    match = re.search(rf'<small class="error" id="id_{field}-error">(.*?)</small>', html, re.S)
    assert match, f"no error shown beside {field}"
    return match.group(1)


def test_the_edit_page_shows_the_leads_values(page_as, sdr):
    lead = LeadFactory(email="shown@example.com", first_name="Ada")

    response = page_as(sdr).get(f"/leads/{lead.pk}/edit/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="shown@example.com"' in html
    assert 'value="Ada"' in html


def test_a_valid_post_saves_and_redirects_to_the_lead(page_as, sdr):
    lead = LeadFactory(first_name="Old", phone="")

    response = page_as(sdr).post(
        f"/leads/{lead.pk}/edit/",
        edit_form_data(lead, first_name="New", phone="+44 20 7946 0000", country="GB"),
    )

    assert response.status_code == 302
    assert response["Location"] == f"/leads/{lead.pk}/"
    lead.refresh_from_db()
    assert (lead.first_name, lead.phone, lead.country.code) == ("New", "+44 20 7946 0000", "GB")


def test_saving_shows_a_confirmation_on_the_lead_page(page_as, sdr):
    lead = LeadFactory()

    response = page_as(sdr).post(
        f"/leads/{lead.pk}/edit/", edit_form_data(lead, job_title="CTO"), follow=True
    )

    assert response.status_code == 200
    assert "Lead saved." in response.content.decode()


def test_the_email_is_saved_normalized(page_as, sdr):
    lead = LeadFactory(email="before@example.com")

    page_as(sdr).post(f"/leads/{lead.pk}/edit/", edit_form_data(lead, email="  After@Example.COM "))

    lead.refresh_from_db()
    assert lead.email == "after@example.com"


def test_a_stage_change_is_recorded_with_the_user(page_as, sdr):
    lead = LeadFactory(stage=Stage.MQL)

    response = page_as(sdr).post(f"/leads/{lead.pk}/edit/", edit_form_data(lead, stage="sal"))

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.stage == Stage.SAL
    [change] = StageChange.objects.filter(lead=lead)
    assert (change.from_stage, change.to_stage, change.changed_by) == (Stage.MQL, Stage.SAL, sdr)
    [activity] = Activity.objects.filter(lead=lead, kind="stage_changed")
    assert activity.created_by == sdr


def test_saving_without_changing_the_stage_records_no_stage_change(page_as, sdr):
    lead = LeadFactory(stage=Stage.MQL)

    page_as(sdr).post(f"/leads/{lead.pk}/edit/", edit_form_data(lead, first_name="Other"))

    assert not StageChange.objects.filter(lead=lead).exists()


def test_custom_attributes_are_saved_from_json(page_as, sdr):
    lead = LeadFactory()

    response = page_as(sdr).post(
        f"/leads/{lead.pk}/edit/", edit_form_data(lead, custom=json.dumps({"plan": "pro", "seats": 5}))
    )

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.custom == {"plan": "pro", "seats": 5}


def test_clearing_the_custom_attributes_box_saves_no_attributes(page_as, sdr):
    lead = LeadFactory(custom={"plan": "pro"})

    response = page_as(sdr).post(f"/leads/{lead.pk}/edit/", edit_form_data(lead, custom=""))

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.custom == {}


def test_custom_attributes_that_are_not_an_object_are_refused(page_as, sdr):
    lead = LeadFactory(custom={"plan": "pro"})

    response = page_as(sdr).post(f"/leads/{lead.pk}/edit/", edit_form_data(lead, custom="[1, 2]"))

    assert response.status_code == 400
    assert field_error(response.content.decode(), "custom")
    lead.refresh_from_db()
    assert lead.custom == {"plan": "pro"}


def test_a_bad_email_is_400_with_the_error_beside_the_field_and_nothing_saved(page_as, sdr):
    lead = LeadFactory(email="keep@example.com", first_name="Kept")

    response = page_as(sdr).post(
        f"/leads/{lead.pk}/edit/",
        edit_form_data(lead, email="not-an-email", first_name="Changed", stage="mql"),
    )

    assert response.status_code == 400
    assert "valid email" in field_error(response.content.decode(), "email")
    lead.refresh_from_db()
    assert (lead.email, lead.first_name, lead.stage) == ("keep@example.com", "Kept", Stage.NEW)
    assert not StageChange.objects.filter(lead=lead).exists()


def test_another_leads_email_is_400_with_the_error_beside_the_field_and_nothing_saved(page_as, sdr):
    LeadFactory(email="taken@example.com")
    lead = LeadFactory(email="mine@example.com", first_name="Kept")

    response = page_as(sdr).post(
        f"/leads/{lead.pk}/edit/", edit_form_data(lead, email="Taken@Example.com", first_name="Changed")
    )

    assert response.status_code == 400
    assert "already" in field_error(response.content.decode(), "email")
    lead.refresh_from_db()
    assert (lead.email, lead.first_name) == ("mine@example.com", "Kept")


def test_a_missing_required_field_is_400_and_keeps_what_was_typed(page_as, sdr):
    lead = LeadFactory(first_name="Kept")

    response = page_as(sdr).post(
        f"/leads/{lead.pk}/edit/", edit_form_data(lead, email="", first_name="Typed")
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert field_error(html, "email")
    assert 'value="Typed"' in html
    lead.refresh_from_db()
    assert lead.first_name == "Kept"


def test_a_post_without_the_csrf_token_is_refused(sdr):
    lead = LeadFactory(first_name="Kept")
    client = Client(enforce_csrf_checks=True)
    client.force_login(sdr)

    response = client.post(f"/leads/{lead.pk}/edit/", edit_form_data(lead, first_name="Forged"))

    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.first_name == "Kept"


def test_a_post_with_the_csrf_token_from_the_page_is_accepted(sdr):
    lead = LeadFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(sdr)
    page = client.get(f"/leads/{lead.pk}/edit/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    response = client.post(
        f"/leads/{lead.pk}/edit/", {**edit_form_data(lead, first_name="Real"), "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.first_name == "Real"


def test_editing_an_unknown_lead_is_404(page_as, sdr):
    lead = LeadFactory()

    assert page_as(sdr).get(f"/leads/{lead.pk + 1000}/edit/").status_code == 404
