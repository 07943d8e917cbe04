"""Every API error has one shape: {"error": {"status", "code", "detail", ["fields"]}}."""

import pytest
from rest_framework.test import APIClient

from leads.models import Lead
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str, *, fields: bool = False) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"]
    error = body["error"]
    assert error["status"] == status
    assert error["code"] == code
    assert isinstance(error["detail"], str)
    assert error["detail"]
    if fields:
        assert set(error) == {"status", "code", "detail", "fields"}
        assert isinstance(error["fields"], dict)
    else:
        assert set(error) == {"status", "code", "detail"}
    return error


def test_validation_errors_name_the_fields(api_as, sdr):
    response = api_as(sdr).post("/api/leads/", {"email": "nope", "stage": "promoted"}, format="json")

    error = assert_error(response, 400, "invalid", fields=True)
    assert set(error["fields"]) == {"email", "stage"}
    assert all(isinstance(messages, list) and messages for messages in error["fields"].values())


def test_a_duplicate_email_is_a_field_error(api_as, sdr):
    LeadFactory(email="dup@example.com")

    response = api_as(sdr).post("/api/leads/", {"email": "dup@example.com"}, format="json")

    error = assert_error(response, 400, "invalid", fields=True)
    assert list(error["fields"]) == ["email"]


def test_an_object_level_error_is_under_its_own_key(api_as, sdr):
    response = api_as(sdr).post("/api/events/", {"kind": "page_view"}, format="json")

    error = assert_error(response, 400, "invalid", fields=True)
    assert error["fields"]["lead"]


def test_a_body_that_is_not_an_object_is_a_400(api_as, sdr):
    response = api_as(sdr).post("/api/leads/", [1, 2], format="json")

    error = assert_error(response, 400, "invalid", fields=True)
    assert error["fields"]
    assert not Lead.objects.exists()


def test_malformed_json_is_a_parse_error(api_as, sdr):
    response = api_as(sdr).post("/api/leads/", '{"email": ', content_type="application/json")

    assert_error(response, 400, "parse_error")
    assert not Lead.objects.exists()


def test_not_authenticated(db):
    assert_error(APIClient().get("/api/leads/"), 401, "not_authenticated")


def test_permission_denied(api_as, nobody):
    assert_error(api_as(nobody).get("/api/leads/"), 403, "permission_denied")


def test_not_found(api_as, sdr):
    assert_error(api_as(sdr).get("/api/leads/987654/"), 404, "not_found")


def test_method_not_allowed(api_as, sdr):
    assert_error(api_as(sdr).get("/api/events/"), 405, "method_not_allowed")


def test_unsupported_media_type(api_as, sdr):
    response = api_as(sdr).post("/api/leads/", "email=a@b.co", content_type="text/plain")

    assert_error(response, 415, "unsupported_media_type")
    assert not Lead.objects.exists()


def test_batch_item_errors_keep_the_field_shape(api_as, sdr):
    lead = LeadFactory()

    response = api_as(sdr).post(
        "/api/events/batch/",
        {"events": [{"lead": lead.pk, "kind": "nope"}, {"lead": lead.pk, "kind": "call"}]},
        format="json",
    )

    assert response.status_code == 207
    [bad] = [item for item in response.json()["results"] if item["status"] == "error"]
    assert bad["index"] == 0
    assert isinstance(bad["errors"]["kind"], list)
