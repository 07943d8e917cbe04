"""The campaigns API: the list, enrolling leads by id or e-mail, removing one."""

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from leads.models import Lead
from leads.tests.factories import LeadFactory
from nurturing import services
from nurturing.models import Campaign, Enrollment

from .factories import campaign, send

pytestmark = pytest.mark.django_db


def test_the_list_shows_every_campaign(api_as, sdr):
    older = campaign(name="Older", steps=[send()])
    newer = campaign(name="Newer", status=Campaign.Status.DRAFT, trigger=Campaign.Trigger.STAGE)

    response = api_as(sdr).get("/api/campaigns/")

    assert response.status_code == 200
    assert response.json() == [
        {"id": newer.pk, "name": "Newer", "status": "draft", "trigger": "stage"},
        {"id": older.pk, "name": "Older", "status": "active", "trigger": "manual"},
    ]


def test_leads_are_enrolled_by_id_and_email_and_unknown_ones_reported(api_as, marketer):
    running = campaign(steps=[send()])
    by_id, by_email = LeadFactory(), LeadFactory(email="ada@example.com")

    response = api_as(marketer).post(
        f"/api/campaigns/{running.pk}/enrollments/",
        {"lead_ids": [by_id.pk, 999_999], "emails": ["ADA@example.com", "ghost@example.com"]},
        format="json",
    )

    assert response.status_code == 201
    assert response.json() == {
        "enrolled": 2,
        "skipped": 0,
        "unknown_lead_ids": [999_999],
        "unknown_emails": ["ghost@example.com"],
    }
    enrollments = Enrollment.objects.filter(campaign=running)
    assert set(enrollments.values_list("lead", flat=True)) == {by_id.pk, by_email.pk}
    assert set(enrollments.values_list("enrolled_via", "enrolled_by")) == {("api", marketer.pk)}


def test_a_lead_already_in_the_campaign_is_skipped(api_as, marketer):
    running = campaign(steps=[send()])
    leads = LeadFactory.create_batch(3)
    client = api_as(marketer)
    url = f"/api/campaigns/{running.pk}/enrollments/"

    client.post(url, {"lead_ids": [leads[0].pk]}, format="json")
    response = client.post(url, {"lead_ids": [lead.pk for lead in leads]}, format="json")

    assert response.status_code == 201
    assert response.json()["enrolled"] == 2
    assert response.json()["skipped"] == 1
    assert Enrollment.objects.filter(campaign=running).count() == 3


def test_a_draft_campaign_takes_no_leads_and_says_so(api_as, marketer):
    drafted = campaign(name="Not yet", status=Campaign.Status.DRAFT, steps=[send()])
    lead = LeadFactory()

    response = api_as(marketer).post(
        f"/api/campaigns/{drafted.pk}/enrollments/", {"lead_ids": [lead.pk]}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "status": 409,
            "code": "campaign_not_active",
            "detail": "“Not yet” is draft: start it first.",
        }
    }
    assert not Enrollment.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Send lead_ids or emails: a list of at least one lead."),
        ({"lead_ids": []}, "Send lead_ids or emails: a list of at least one lead."),
        ({"lead_ids": list(range(1, 1002))}, "At most 1000 leads per request (got 1001)."),
        (
            {"lead_ids": list(range(1, 600)), "emails": [f"x{n}@example.com" for n in range(402)]},
            "At most 1000",
        ),
    ],
)
def test_bad_requests_get_the_error_format(api_as, marketer, body, message):
    running = campaign(steps=[send()])

    response = api_as(marketer).post(f"/api/campaigns/{running.pk}/enrollments/", body, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (400, "invalid")
    assert error["fields"]["non_field_errors"][0].startswith(message)
    assert not Enrollment.objects.exists()


def test_a_malformed_email_is_a_field_error(api_as, marketer):
    running = campaign(steps=[send()])

    response = api_as(marketer).post(
        f"/api/campaigns/{running.pk}/enrollments/", {"emails": ["ok@example.com", "nope"]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"emails": {"1": ["Enter a valid email address."]}}


def test_an_unknown_campaign_is_404(api_as, marketer):
    response = api_as(marketer).post("/api/campaigns/999999/enrollments/", {"lead_ids": [1]}, format="json")

    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404


def test_a_lead_is_taken_out_of_a_campaign(api_as, marketer):
    running = campaign(steps=[send()])
    lead = LeadFactory()
    services.enroll(running, Lead.objects.filter(pk=lead.pk))
    client = api_as(marketer)
    url = f"/api/campaigns/{running.pk}/enrollments/{lead.pk}/"

    first = client.delete(url)
    second = client.delete(url)

    assert first.status_code == 204
    enrollment = Enrollment.objects.get()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "removed")
    assert second.status_code == 404
    assert second.json()["error"]["detail"] == "The lead is not in this campaign."


def test_sales_read_campaigns_but_may_not_enroll_or_remove(api_as, sdr):
    running = campaign(steps=[send()])
    lead = LeadFactory()
    services.enroll(running, Lead.objects.filter(pk=lead.pk))
    client = api_as(sdr)

    enroll = client.post(f"/api/campaigns/{running.pk}/enrollments/", {"lead_ids": [lead.pk]}, format="json")
    remove = client.delete(f"/api/campaigns/{running.pk}/enrollments/{lead.pk}/")

    assert client.get("/api/campaigns/").status_code == 200
    assert enroll.status_code == remove.status_code == 403
    assert enroll.json()["error"]["status"] == 403
    assert Enrollment.objects.get().status == Enrollment.Status.ACTIVE


def test_anonymous_callers_are_refused(client):
    running = campaign(steps=[send()])

    assert client.get("/api/campaigns/").status_code == 401
    assert client.post(f"/api/campaigns/{running.pk}/enrollments/", {}).status_code == 401


def test_the_schema_documents_the_campaign_endpoints_without_warnings():
    GENERATOR_STATS.reset()

    schema = SchemaGenerator().get_schema(request=None, public=True)

    paths = schema["paths"]
    assert "get" in paths["/api/campaigns/"]
    enroll = paths["/api/campaigns/{id}/enrollments/"]["post"]
    assert enroll["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EnrollRequestRequest"
    }
    assert set(enroll["responses"]) == {"201", "404", "409"}
    assert "delete" in paths["/api/campaigns/{id}/enrollments/{lead_id}/"]
    assert not GENERATOR_STATS, [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
