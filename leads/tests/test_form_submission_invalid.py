"""An invalid submission gets its field errors and stores nothing: no submission, no lead."""

import re

import pytest

from leads.models import Activity, Lead, Submission
from leads.tests.capture import post_hosted, post_json
from leads.tests.factories import CaptureFormFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def form():
    return CaptureFormFactory(
        slug="quote",
        fields=[
            {"name": "first_name", "maps_to": "first_name", "required": True},
            {"name": "phone", "kind": "phone", "maps_to": "phone"},
            {"name": "budget", "kind": "number"},
            {"name": "plan", "kind": "select", "options": ["Starter", "Pro"]},
            {"name": "topics", "kind": "multiselect", "options": ["Scoring", "Reports"]},
            {"name": "terms", "kind": "checkbox", "required": True, "label": "I accept the terms"},
            {"name": "website", "maps_to": "website"},
            {"name": "country", "maps_to": "country"},
            {"name": "message", "kind": "textarea"},
        ],
    )


GOOD = {"email": "ada@example.com", "first_name": "Ada", "terms": "on"}


def assert_nothing_stored():
    assert not Submission.objects.exists()
    assert not Lead.objects.exists()
    assert not Activity.objects.exists()


def error_beside(html: str, field: str) -> str:
    match = re.search(
        rf'id="la-quote-{field}-error" data-error-for="{field}" role="alert">(.*?)</small>', html, re.S
    )
    assert match, f"no error shown beside {field}"
    return match.group(1)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"email": ""}, "email", "This field is required."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"first_name": "  "}, "first_name", "This field is required."),
        ({"first_name": "A" * 101}, "first_name", "at most 100 characters"),
        ({"phone": "call me maybe"}, "phone", "Enter a valid phone number."),
        ({"budget": "lots"}, "budget", "Enter a number."),
        ({"budget": "1e999"}, "budget", "Enter a number."),
        ({"plan": "Platinum"}, "plan", "Select a valid choice."),
        ({"topics": ["Scoring", "Gossip"]}, "topics", "Gossip is not one of the options"),
        ({"terms": ""}, "terms", "Please tick this box."),
        ({"website": "not a site"}, "website", "Enter a valid web address."),
        ({"country": "Atlantis"}, "country", "Not a known country."),
        ({"message": "x" * 5001}, "message", "at most 5000 characters"),
    ],
)
def test_a_bad_value_is_400_with_the_error_beside_the_field_and_nothing_stored(
    client, form, changes, field, message
):
    response = post_hosted(client, form, {**GOOD, **changes})

    assert response.status_code == 400
    assert message in error_beside(response.content.decode(), field)
    assert_nothing_stored()


def test_the_page_keeps_what_was_typed(client, form):
    response = post_hosted(
        client, form, {**GOOD, "email": "oops", "first_name": "Ada", "plan": "Pro", "topics": ["Reports"]}
    )

    html = response.content.decode()
    assert 'value="oops"' in html
    assert 'value="Ada"' in html
    assert '<option value="Pro" selected>' in html
    assert 'value="Reports" checked' in html
    assert "checked required" in html  # the terms box stays ticked


def test_the_json_endpoint_answers_400_with_the_errors_by_field(client, form):
    response = post_json(client, form, {"email": "nope", "first_name": "", "budget": "ten", "terms": False})

    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False
    assert body["code"] == "invalid"
    assert body["errors"] == {
        "email": ["Enter a valid email address."],
        "first_name": ["This field is required."],
        "budget": ["Enter a number."],
        "terms": ["Please tick this box."],
    }
    assert_nothing_stored()


def test_a_body_that_is_not_json_is_400(client, form):
    response = client.post("/f/quote/submit", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"__all__": ["The body is not valid JSON."]}
    assert_nothing_stored()


def test_the_values_are_accepted_once_corrected(client, form):
    post_hosted(client, form, {**GOOD, "budget": "ten"})

    response = post_hosted(
        client, form, {**GOOD, "budget": "10.5", "country": "Germany", "website": "ada.dev"}
    )

    assert response.status_code == 303
    lead = Lead.objects.get()
    assert (lead.country.code, lead.website, lead.custom["budget"]) == ("DE", "https://ada.dev", 10.5)
