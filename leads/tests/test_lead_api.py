"""REST API for single leads: create, read, update, delete."""

import pytest

from leads.models import Activity, ActivityKind, Lead, Stage, StageChange
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def detail_url(lead_or_pk) -> str:
    pk = getattr(lead_or_pk, "pk", lead_or_pk)
    return f"/api/leads/{pk}/"


def test_create_returns_201_with_the_normalized_email_and_stores_the_lead(api_as, sdr):
    response = api_as(sdr).post(
        "/api/leads/",
        {"email": "  Ada@Example.COM ", "first_name": "Ada", "company_name": "Analytical Engines"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "ada@example.com"
    lead = Lead.objects.get()
    assert body["id"] == lead.pk
    assert (lead.email, lead.first_name, lead.company_name) == (
        "ada@example.com",
        "Ada",
        "Analytical Engines",
    )
    assert lead.created_via == "api"


def test_create_records_the_initial_stage_by_the_api_user(api_as, sdr):
    response = api_as(sdr).post("/api/leads/", {"email": "new@example.com", "stage": "mql"}, format="json")

    assert response.status_code == 201
    [change] = StageChange.objects.filter(lead_id=response.json()["id"])
    assert (change.from_stage, change.to_stage, change.changed_by) == ("", Stage.MQL, sdr)


def test_create_with_a_taken_email_is_400_in_the_error_format_and_creates_nothing(api_as, sdr):
    existing = LeadFactory(email="taken@example.com")

    response = api_as(sdr).post("/api/leads/", {"email": "TAKEN@example.com "}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400
    assert error["code"] == "invalid"
    assert error["detail"]
    assert list(error["fields"]) == ["email"]
    [message] = error["fields"]["email"]
    assert str(existing.pk) in message
    assert Lead.objects.count() == 1
    assert StageChange.objects.count() == 0


def test_read_returns_the_lead(api_as, manager):
    lead = LeadFactory(email="read@example.com", first_name="Grace", country="GB", owner=manager)

    response = api_as(manager).get(detail_url(lead))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == lead.pk
    assert body["email"] == "read@example.com"
    assert body["first_name"] == "Grace"
    assert body["country"] == "GB"
    assert body["owner"] == "manager"


def test_unknown_id_is_404_in_the_error_format(api_as, sdr, admin_user):
    lead = LeadFactory()
    missing = detail_url(lead.pk + 1000)

    responses = [
        api_as(sdr).get(missing),
        api_as(sdr).patch(missing, {"first_name": "X"}, format="json"),
        api_as(admin_user).delete(missing),
    ]

    for response in responses:
        assert response.status_code == 404
        error = response.json()["error"]
        assert (error["status"], error["code"]) == (404, "not_found")
        assert "fields" not in error
    assert Lead.objects.count() == 1


def test_patch_changes_only_the_given_fields(api_as, sdr):
    lead = LeadFactory(first_name="Old", last_name="Name", phone="+1 555 0000")

    response = api_as(sdr).patch(detail_url(lead), {"first_name": "New", "country": "FR"}, format="json")

    assert response.status_code == 200
    assert response.json()["first_name"] == "New"
    lead.refresh_from_db()
    assert (lead.first_name, lead.last_name, lead.phone, lead.country.code) == (
        "New",
        "Name",
        "+1 555 0000",
        "FR",
    )


def test_patch_normalizes_a_new_email(api_as, sdr):
    lead = LeadFactory(email="before@example.com")

    response = api_as(sdr).patch(detail_url(lead), {"email": " After@Example.com"}, format="json")

    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.email == "after@example.com"


def test_patch_to_another_leads_email_is_400_and_changes_nothing(api_as, sdr):
    LeadFactory(email="other@example.com")
    lead = LeadFactory(email="mine@example.com", first_name="Kept")

    response = api_as(sdr).patch(
        detail_url(lead), {"email": "Other@example.com", "first_name": "Changed"}, format="json"
    )

    assert response.status_code == 400
    assert "email" in response.json()["error"]["fields"]
    lead.refresh_from_db()
    assert (lead.email, lead.first_name) == ("mine@example.com", "Kept")


def test_patch_of_the_stage_is_recorded_in_the_history_and_the_timeline(api_as, sdr):
    lead = LeadFactory(stage=Stage.SAL)

    response = api_as(sdr).patch(detail_url(lead), {"stage": "sql"}, format="json")

    assert response.status_code == 200
    assert response.json()["stage"] == "sql"
    lead.refresh_from_db()
    assert lead.stage == Stage.SQL
    assert lead.stage_changed_at is not None
    [change] = StageChange.objects.filter(lead=lead)
    assert (change.from_stage, change.to_stage, change.changed_by) == (Stage.SAL, Stage.SQL, sdr)
    [activity] = Activity.objects.filter(lead=lead, kind=ActivityKind.STAGE_CHANGED)
    assert activity.created_by == sdr
    assert activity.properties["from"] == "sal"
    assert activity.properties["to"] == "sql"


def test_patch_with_the_same_stage_records_no_change(api_as, sdr):
    lead = LeadFactory(stage=Stage.MQL)

    response = api_as(sdr).patch(detail_url(lead), {"stage": "mql", "first_name": "X"}, format="json")

    assert response.status_code == 200
    assert not StageChange.objects.filter(lead=lead).exists()
    assert not Activity.objects.filter(lead=lead).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"stage": "promoted"}, "stage"),
        ({"custom": ["not", "an", "object"]}, "custom"),
        ({"custom": "plan=pro"}, "custom"),
        ({"country": "XX"}, "country"),
        ({"owner": "no-such-user"}, "owner"),
    ],
)
def test_patch_with_a_bad_value_is_400_with_the_field_error_and_changes_nothing(api_as, sdr, payload, field):
    lead = LeadFactory(email="keep@example.com", first_name="Kept", custom={"plan": "pro"})

    response = api_as(sdr).patch(detail_url(lead), {**payload, "first_name": "Changed"}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == [field]
    assert error["fields"][field]
    lead.refresh_from_db()
    assert (lead.email, lead.first_name, lead.stage, lead.custom) == (
        "keep@example.com",
        "Kept",
        Stage.NEW,
        {"plan": "pro"},
    )
    assert not StageChange.objects.filter(lead=lead).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({}, "email"),
        ({"email": "ok@example.com", "stage": "promoted"}, "stage"),
        ({"email": "ok@example.com", "custom": [1, 2]}, "custom"),
    ],
)
def test_create_with_a_bad_payload_is_400_and_creates_nothing(api_as, sdr, payload, field):
    response = api_as(sdr).post("/api/leads/", payload, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Lead.objects.exists()


def test_admin_can_delete_a_lead(api_as, admin_user):
    lead = LeadFactory()

    response = api_as(admin_user).delete(detail_url(lead))

    assert response.status_code == 204
    assert not Lead.objects.filter(pk=lead.pk).exists()


@pytest.mark.parametrize("role", ["marketer", "sdr", "manager"])
def test_only_an_admin_may_delete_a_lead(api_as, request, role):
    user = request.getfixturevalue(role)
    lead = LeadFactory()

    response = api_as(user).delete(detail_url(lead))

    assert response.status_code == 403
    assert response.json()["error"]["status"] == 403
    assert Lead.objects.filter(pk=lead.pk).exists()
