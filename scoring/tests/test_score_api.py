"""GET /api/leads/<id>/score/: a lead's score rule by rule with its history; the score object of
GET/POST/PATCH /api/leads/."""

import pytest
from django.contrib.auth.models import Permission
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from leads import services as lead_services
from leads.models import Lead
from leads.tests.factories import LeadFactory
from scoring.tests.factories import engagement_rule, fit_group, fit_rule, published_rule_set

pytestmark = pytest.mark.django_db


def director_and_pricing(**settings):
    return published_rule_set(
        fit=[
            fit_group("Job title", [fit_rule("job_title", "contains", "director", 20)], max_points=30),
            fit_group("Industry", [fit_rule("industry", "equals", "education", -10)]),
        ],
        engagement=[engagement_rule("Pricing page", "page_view", 10, property_name="url", value="/pricing")],
        **settings,
    )


def new_lead(**data) -> Lead:
    return lead_services.create_lead(email=f"lead{Lead.objects.count()}@example.com", data=data)


def view_pricing(lead: Lead) -> None:
    lead_services.record_activity(lead, kind="page_view", properties={"url": "/pricing"})


def test_the_score_endpoint_explains_the_score_rule_by_rule(api_as, sdr):
    rule_set = director_and_pricing()
    lead = new_lead(job_title="Marketing Director")
    view_pricing(lead)
    view_pricing(lead)

    response = api_as(sdr).get(f"/api/leads/{lead.pk}/score/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["lead"] == lead.pk
    assert body["score"] == {
        "total": 40,
        "fit": 20,
        "engagement": 20,
        "grade": "C",
        "temperature": "warm",
        "rule_set_version": rule_set.version,
        "scored_at": body["score"]["scored_at"],
        "chance": None,  # no predictive model trained
        "model_version": None,
    }
    explanation = body["explanation"]
    assert explanation["rule_set_version"] == rule_set.version
    assert (explanation["fit"], explanation["engagement"], explanation["total"]) == (20, 20, 40)
    assert (explanation["grade"], explanation["temperature"]) == ("C", "warm")
    assert explanation["fit_groups"] == [
        {
            "name": "Job title",
            "points": 20.0,
            "note": "",
            "rules": [{"label": "Job title contains “director”", "points": 20.0}],
        },
        {"name": "Industry", "points": 0.0, "note": "", "rules": []},
    ]
    assert explanation["engagement_lines"] == [{"label": "Pricing page", "points": 20.0, "detail": "2 × +10"}]


def test_the_score_endpoint_lists_the_latest_changes_newest_first_with_their_reasons(api_as, manager):
    rule_set = director_and_pricing()
    lead = new_lead(job_title="Director")
    view_pricing(lead)

    history = api_as(manager).get(f"/api/leads/{lead.pk}/score/").json()["history"]

    assert [(h["total"], h["delta"], h["reason"]) for h in history] == [
        (30, 10, "Page view (LeadApp user)"),
        (20, 20, "Lead created"),
    ]
    assert history[0]["details"] == [{"rule": "Pricing page", "delta": 10.0}]
    assert history[0]["rule_set_version"] == rule_set.version
    assert history[0]["changed_at"]


def test_the_history_stops_at_the_latest_twenty_changes(api_as, sdr):
    director_and_pricing()
    lead = new_lead()
    for _ in range(25):
        view_pricing(lead)

    history = api_as(sdr).get(f"/api/leads/{lead.pk}/score/").json()["history"]

    assert len(history) == 20
    assert history[0]["total"] == 250


def test_a_lead_not_scored_yet_has_no_score_and_no_explanation(api_as, sdr):
    director_and_pricing()
    lead = LeadFactory()  # stored without going through scoring

    body = api_as(sdr).get(f"/api/leads/{lead.pk}/score/").json()

    assert body == {"lead": lead.pk, "score": None, "explanation": None, "history": []}


@pytest.mark.parametrize("role", ["marketer", "sdr", "manager", "admin_user"])
def test_every_role_may_read_scores(api_as, request, role):
    lead = LeadFactory()

    response = api_as(request.getfixturevalue(role)).get(f"/api/leads/{lead.pk}/score/")

    assert response.status_code == 200


def test_a_user_without_a_role_is_forbidden(api_as, nobody):
    lead = new_lead(job_title="Director")

    response = api_as(nobody).get(f"/api/leads/{lead.pk}/score/")

    assert response.status_code == 403
    assert response.json()["error"]["status"] == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_an_anonymous_client_must_authenticate(client):
    lead = LeadFactory()

    response = client.get(f"/api/leads/{lead.pk}/score/")

    assert response.status_code == 401
    assert response.json()["error"]["status"] == 401


def test_an_unknown_lead_is_not_found(api_as, sdr):
    response = api_as(sdr).get("/api/leads/999999/score/")

    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (404, "not_found")


def test_the_lead_api_has_the_score_object(api_as, sdr):
    rule_set = director_and_pricing(warm_threshold=10, hot_threshold=20)
    lead = new_lead(job_title="Director")
    view_pricing(lead)
    view_pricing(lead)

    score = api_as(sdr).get(f"/api/leads/{lead.pk}/").json()["score"]

    assert {k: v for k, v in score.items() if k != "scored_at"} == {
        "total": 40,
        "fit": 20,
        "engagement": 20,
        "grade": "C",
        "temperature": "hot",
        "rule_set_version": rule_set.version,
        "chance": None,
        "model_version": None,
    }
    assert score["scored_at"]


def test_creating_and_editing_a_lead_answers_with_its_new_score(api_as, sdr):
    director_and_pricing()
    client = api_as(sdr)

    created = client.post("/api/leads/", {"email": "new@example.com", "job_title": "Analyst"}, format="json")
    lead_id = created.json()["id"]
    edited = client.patch(f"/api/leads/{lead_id}/", {"job_title": "Director"}, format="json")

    assert created.status_code == 201, created.content
    assert created.json()["score"]["total"] == 0
    assert edited.status_code == 200, edited.content
    assert edited.json()["score"]["total"] == 20


def test_the_lead_api_leaves_out_scores_for_a_user_who_may_not_read_them(api_as, make_user):
    reader = make_user("reader")
    reader.user_permissions.add(Permission.objects.get(content_type__app_label="leads", codename="view_lead"))
    director_and_pricing()
    lead = new_lead(job_title="Director")

    response = api_as(reader).get(f"/api/leads/{lead.pk}/")

    assert response.status_code == 200
    assert response.json()["score"] is None


def test_the_schema_documents_the_score_endpoint_without_warnings():
    GENERATOR_STATS.reset()

    schema = SchemaGenerator().get_schema(request=None, public=True)

    operation = schema["paths"]["/api/leads/{id}/score/"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LeadScoreDetail"
    }
    assert "score" in schema["components"]["schemas"]["Lead"]["properties"]
    assert not GENERATOR_STATS, [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
