"""Changing a lead's stage from the lead page, the edit page and the API: the lifecycle's
refusals show beside the stage and change nothing; only a manager may force."""

import re

import pytest

from leads.models import Lead, Stage, StageChange
from leads.tests.factories import LeadFactory, edit_form_data
from leads.tests.test_lead_edit_page import field_error

pytestmark = pytest.mark.django_db


def offered(html: str, select_name: str) -> list[str]:
    select = re.search(rf'<select name="{select_name}".*?</select>', html, re.S).group(0)
    return re.findall(r'<option value="([^"]*)"', select)


# --- The lead page's "Change stage" ---------------------------------------------------------


def test_the_lead_page_offers_only_the_allowed_next_stages(page_as, sdr):
    lead = LeadFactory(stage=Stage.SAL)

    html = page_as(sdr).get(f"/leads/{lead.pk}/").content.decode()

    assert offered(html, "to_stage") == ["sql", "recycled", "disqualified"]
    assert 'name="force"' not in html


def test_a_manager_is_offered_every_other_stage_and_a_force_checkbox(page_as, manager):
    lead = LeadFactory(stage=Stage.SAL)

    html = page_as(manager).get(f"/leads/{lead.pk}/").content.decode()

    assert set(offered(html, "to_stage")) == set(Stage.values) - {"sal"}
    assert 'name="force"' in html


def test_a_customer_offers_sales_no_move(page_as, sdr):
    lead = LeadFactory(stage=Stage.CUSTOMER)

    html = page_as(sdr).get(f"/leads/{lead.pk}/").content.decode()

    assert 'name="to_stage"' not in html


def test_an_sdr_makes_an_allowed_move_from_the_lead_page(page_as, sdr):
    lead = LeadFactory(stage=Stage.MQL)

    response = page_as(sdr).post(f"/leads/{lead.pk}/stage/", {"to_stage": "sal"}, follow=True)

    assert response.redirect_chain == [(f"/leads/{lead.pk}/", 302)]
    assert "Stage changed to SAL (sales accepted)." in response.content.decode()
    change = StageChange.objects.get(lead=lead)
    assert (change.from_stage, change.to_stage, change.changed_by, change.forced) == (
        "mql",
        "sal",
        sdr,
        False,
    )


def test_a_refused_move_on_the_lead_page_is_400_with_the_rule_beside_the_stage(page_as, sdr):
    lead = LeadFactory(stage=Stage.SAL)

    response = page_as(sdr).post(f"/leads/{lead.pk}/stage/", {"to_stage": "customer", "reason": "x"})

    assert response.status_code == 400
    assert field_error(response.content.decode(), "to_stage") == (
        "A lead in SAL can move to SQL, Recycled or Disqualified, not Customer."
    )
    assert Lead.objects.get(pk=lead.pk).stage == Stage.SAL
    assert not StageChange.objects.filter(lead=lead).exists()


def test_rejecting_without_a_reason_is_400(page_as, sdr):
    lead = LeadFactory(stage=Stage.MQL)

    response = page_as(sdr).post(f"/leads/{lead.pk}/stage/", {"to_stage": "recycled", "reason": ""})

    assert response.status_code == 400
    assert "Give a reason" in field_error(response.content.decode(), "to_stage")
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL


def test_rejecting_with_a_reason_recycles_and_keeps_the_reason(page_as, sdr):
    lead = LeadFactory(stage=Stage.MQL)

    page_as(sdr).post(f"/leads/{lead.pk}/stage/", {"to_stage": "recycled", "reason": "No budget this year"})

    change = StageChange.objects.get(lead=lead)
    assert (change.to_stage, change.reason) == ("recycled", "No budget this year")


def test_a_manager_forces_a_move_from_the_lead_page_and_it_is_recorded_as_forced(page_as, manager):
    lead = LeadFactory(stage=Stage.NEW)

    response = page_as(manager).post(
        f"/leads/{lead.pk}/stage/", {"to_stage": "customer", "reason": "Signed offline", "force": "on"}
    )

    assert response.status_code == 302
    change = StageChange.objects.get(lead=lead)
    assert (change.to_stage, change.changed_by, change.forced, change.reason) == (
        "customer",
        manager,
        True,
        "Signed offline",
    )
    html = page_as(manager).get(f"/leads/{lead.pk}/").content.decode()
    assert '<small class="badge">forced</small>' in html


def test_a_manager_who_does_not_tick_force_is_held_to_the_rules(page_as, manager):
    lead = LeadFactory(stage=Stage.NEW)

    response = page_as(manager).post(f"/leads/{lead.pk}/stage/", {"to_stage": "customer", "reason": "x"})

    assert response.status_code == 400
    assert "not Customer" in field_error(response.content.decode(), "to_stage")
    assert Lead.objects.get(pk=lead.pk).stage == Stage.NEW


def test_a_forced_move_without_a_reason_is_400(page_as, manager):
    lead = LeadFactory(stage=Stage.NEW)

    response = page_as(manager).post(f"/leads/{lead.pk}/stage/", {"to_stage": "customer", "force": "on"})

    assert response.status_code == 400
    assert "reason for forcing" in field_error(response.content.decode(), "to_stage")
    assert Lead.objects.get(pk=lead.pk).stage == Stage.NEW


def test_an_allowed_move_with_force_ticked_is_not_recorded_as_forced(page_as, manager):
    lead = LeadFactory(stage=Stage.MQL)

    page_as(manager).post(f"/leads/{lead.pk}/stage/", {"to_stage": "sal", "force": "on", "reason": "ok"})

    assert StageChange.objects.get(lead=lead).forced is False


@pytest.mark.parametrize("role", ["sdr", "marketer"])
def test_forcing_is_refused_for_sales_and_marketing(role, request, page_as):
    lead = LeadFactory(stage=Stage.NEW)

    response = page_as(request.getfixturevalue(role)).post(
        f"/leads/{lead.pk}/stage/", {"to_stage": "customer", "reason": "Please", "force": "on"}
    )

    assert response.status_code == 403
    assert Lead.objects.get(pk=lead.pk).stage == Stage.NEW
    assert not StageChange.objects.filter(lead=lead).exists()


def test_a_user_without_a_role_may_not_change_the_stage(page_as, nobody):
    lead = LeadFactory(stage=Stage.MQL)

    assert page_as(nobody).post(f"/leads/{lead.pk}/stage/", {"to_stage": "sal"}).status_code == 403
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL


# --- The edit page ----------------------------------------------------------------------------


def test_the_edit_page_offers_the_current_stage_and_its_next_stages(page_as, sdr):
    lead = LeadFactory(stage=Stage.OPPORTUNITY)

    html = page_as(sdr).get(f"/leads/{lead.pk}/edit/").content.decode()

    assert offered(html, "stage") == ["opportunity", "customer", "lost"]
    assert 'name="stage_reason"' in html
    assert 'name="force"' not in html


def test_the_edit_page_shows_a_refused_move_beside_the_stage_and_saves_nothing(page_as, sdr):
    lead = LeadFactory(stage=Stage.SAL, first_name="Kept")

    response = page_as(sdr).post(
        f"/leads/{lead.pk}/edit/", edit_form_data(lead, stage="customer", first_name="Changed")
    )

    assert response.status_code == 400
    assert field_error(response.content.decode(), "stage") == (
        "A lead in SAL can move to SQL, Recycled or Disqualified, not Customer."
    )
    lead.refresh_from_db()
    assert (lead.stage, lead.first_name) == (Stage.SAL, "Kept")
    assert not StageChange.objects.filter(lead=lead).exists()


def test_the_edit_page_needs_a_reason_to_disqualify(page_as, sdr):
    lead = LeadFactory(stage=Stage.SQL)

    response = page_as(sdr).post(f"/leads/{lead.pk}/edit/", edit_form_data(lead, stage="disqualified"))
    assert response.status_code == 400
    assert "Give a reason" in field_error(response.content.decode(), "stage")
    assert Lead.objects.get(pk=lead.pk).stage == Stage.SQL

    response = page_as(sdr).post(
        f"/leads/{lead.pk}/edit/", edit_form_data(lead, stage="disqualified", stage_reason="Student")
    )
    assert response.status_code == 302
    change = StageChange.objects.get(lead=lead)
    assert (change.to_stage, change.reason, change.changed_by) == ("disqualified", "Student", sdr)


def test_an_admin_may_force_from_the_edit_page(page_as, admin_user):
    lead = LeadFactory(stage=Stage.NEW)

    html = page_as(admin_user).get(f"/leads/{lead.pk}/edit/").content.decode()
    assert set(offered(html, "stage")) == set(Stage.values)
    assert 'name="force"' in html

    response = page_as(admin_user).post(
        f"/leads/{lead.pk}/edit/",
        edit_form_data(lead, stage="opportunity", stage_reason="Came in via a partner", force="on"),
    )

    assert response.status_code == 302
    change = StageChange.objects.get(lead=lead)
    assert (change.to_stage, change.forced, change.changed_by) == ("opportunity", True, admin_user)


def test_force_posted_to_the_edit_page_by_an_sdr_forces_nothing(page_as, sdr):
    lead = LeadFactory(stage=Stage.NEW)

    response = page_as(sdr).post(
        f"/leads/{lead.pk}/edit/", edit_form_data(lead, stage="customer", stage_reason="x", force="on")
    )

    assert response.status_code == 400
    assert "not Customer" in field_error(response.content.decode(), "stage")
    assert Lead.objects.get(pk=lead.pk).stage == Stage.NEW


# --- The API ----------------------------------------------------------------------------------


def test_the_api_answers_a_refused_move_with_400_on_stage_and_changes_nothing(api_as, sdr):
    lead = LeadFactory(stage=Stage.SAL, first_name="Kept")

    response = api_as(sdr).patch(
        f"/api/leads/{lead.pk}/", {"stage": "customer", "first_name": "Changed"}, format="json"
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (400, "invalid")
    assert error["fields"] == {
        "stage": ["A lead in SAL can move to SQL, Recycled or Disqualified, not Customer."]
    }
    lead.refresh_from_db()
    assert (lead.stage, lead.first_name) == (Stage.SAL, "Kept")
    assert not StageChange.objects.filter(lead=lead).exists()


def test_the_api_needs_a_stage_reason_to_mark_lost(api_as, sdr):
    lead = LeadFactory(stage=Stage.OPPORTUNITY)
    client = api_as(sdr)

    response = client.patch(f"/api/leads/{lead.pk}/", {"stage": "lost"}, format="json")
    assert response.status_code == 400
    assert "Give a reason" in response.json()["error"]["fields"]["stage"][0]
    assert Lead.objects.get(pk=lead.pk).stage == Stage.OPPORTUNITY

    response = client.patch(
        f"/api/leads/{lead.pk}/", {"stage": "lost", "stage_reason": "Chose a competitor"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["stage"] == "lost"
    assert "stage_reason" not in response.json()
    change = StageChange.objects.get(lead=lead)
    assert (change.to_stage, change.reason) == ("lost", "Chose a competitor")


def test_the_api_may_still_create_a_lead_in_any_stage(api_as, sdr):
    response = api_as(sdr).post(
        "/api/leads/",
        {"email": "won@example.com", "stage": "customer", "stage_reason": "Imported"},
        format="json",
    )

    assert response.status_code == 201
    assert Lead.objects.get(email="won@example.com").stage == Stage.CUSTOMER
