"""A valid submission: stored as received, then the lead is created or updated, with a
``form_submitted`` activity on its timeline."""

import pytest

from leads.models import Activity, ActivityKind, CreatedVia, Lead, Submission
from leads.tests.capture import post_hosted, post_json
from leads.tests.factories import CaptureFormFactory, LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def form():
    return CaptureFormFactory(
        name="Pricing guide",
        slug="pricing",
        success_message="Thanks, the guide is on its way.",
        fields=[
            {"name": "first_name", "maps_to": "first_name"},
            {"name": "company", "maps_to": "company_name"},
            {"name": "country", "maps_to": "country"},
            {
                "name": "industry",
                "kind": "select",
                "maps_to": "industry",
                "options": ["Software / SaaS", "Retail / e-commerce"],
            },
            {"name": "team_size", "kind": "number"},
            {"name": "interests", "kind": "multiselect", "options": ["Scoring", "Nurturing", "Reports"]},
            {"name": "newsletter", "kind": "checkbox"},
            {"name": "campaign", "kind": "hidden", "default_value": "spring-launch"},
        ],
    )


def test_a_valid_submission_creates_the_lead_and_thanks_the_person(client, form):
    response = post_hosted(
        client,
        form,
        {
            "email": "  Ada@Example.COM ",
            "first_name": "Ada",
            "company": "Analytical Engines",
            "country": "GB",
            "industry": "Software / SaaS",
            "team_size": "12",
            "interests": ["Scoring", "Reports"],
            "newsletter": "on",
            "la_page_url": "https://www.example.com/pricing",
            "la_referrer": "https://news.example.org/",
        },
        HTTP_USER_AGENT="Mozilla/5.0 (test)",
        REMOTE_ADDR="203.0.113.7",
    )

    assert response.status_code == 303
    assert response["Location"] == "/f/pricing/thanks/"
    assert "Thanks, the guide is on its way." in client.get(response["Location"]).content.decode()
    lead = Lead.objects.get()
    assert (lead.email, lead.first_name, lead.company_name, lead.country.code, lead.industry) == (
        "ada@example.com",
        "Ada",
        "Analytical Engines",
        "GB",
        "software",
    )
    assert lead.created_via == CreatedVia.FORM
    assert lead.custom == {
        "team_size": 12,
        "interests": ["Scoring", "Reports"],
        "newsletter": True,
        "campaign": "spring-launch",
    }
    assert lead.referrer == "https://news.example.org/"
    submission = Submission.objects.get()
    assert submission.lead == lead
    assert submission.processed_at is not None
    assert submission.error == ""
    assert (submission.ip, submission.user_agent) == ("203.0.113.7", "Mozilla/5.0 (test)")
    assert (submission.page_url, submission.referrer) == (
        "https://www.example.com/pricing",
        "https://news.example.org/",
    )
    assert submission.payload["fields"]["email"] == "ada@example.com"
    assert submission.payload["fields"]["interests"] == ["Scoring", "Reports"]


def test_the_submission_is_on_the_leads_timeline(client, form):
    post_hosted(client, form, {"email": "ada@example.com", "la_page_url": "https://www.example.com/pricing"})

    lead = Lead.objects.get()
    [activity] = Activity.objects.filter(lead=lead, kind=ActivityKind.FORM_SUBMITTED)
    assert activity.properties["form"] == "Pricing guide"
    assert activity.properties["form_id"] == form.pk
    assert activity.properties["page_url"] == "https://www.example.com/pricing"
    assert activity.source == "web"
    assert lead.last_activity.at == activity.occurred_at
    assert activity.occurred_at == Submission.objects.get().submitted_at


def test_a_second_submission_updates_the_lead_blanks_never_overwrite_and_custom_merges(client, form):
    lead = LeadFactory(
        email="ada@example.com",
        first_name="Ada",
        company_name="Old Co",
        custom={"plan": "pro", "team_size": 3},
    )

    post_hosted(
        client, form, {"email": "ADA@example.com", "first_name": "", "company": "New Co", "team_size": "40"}
    )

    lead.refresh_from_db()
    assert Lead.objects.count() == 1
    assert (lead.first_name, lead.company_name) == ("Ada", "New Co")
    assert lead.custom == {"plan": "pro", "team_size": 40, "campaign": "spring-launch"}
    assert lead.created_via != CreatedVia.FORM  # it was not created by the form
    assert Submission.objects.get().lead == lead


def test_an_unticked_checkbox_does_not_clear_a_custom_attribute(client, form):
    lead = LeadFactory(email="ada@example.com", custom={"newsletter": True})

    post_hosted(client, form, {"email": "ada@example.com"})

    lead.refresh_from_db()
    assert lead.custom["newsletter"] is True


def test_each_submission_is_stored_and_on_the_timeline(client, form):
    for _ in range(3):
        post_hosted(client, form, {"email": "ada@example.com"})

    lead = Lead.objects.get()
    assert Submission.objects.filter(lead=lead).count() == 3
    assert Activity.objects.filter(lead=lead, kind=ActivityKind.FORM_SUBMITTED).count() == 3


def test_a_form_with_a_redirect_url_redirects_there(client, form):
    form.redirect_url = "https://www.example.com/thank-you"
    form.save()

    response = post_hosted(client, form, {"email": "ada@example.com"})

    assert response.status_code == 303
    assert response["Location"] == "https://www.example.com/thank-you"


def test_the_json_endpoint_answers_with_the_success_message(client, form):
    response = post_json(
        client, form, {"email": "ada@example.com", "interests": ["Nurturing"], "newsletter": True}
    )

    assert response.status_code == 200
    assert response.json() == {"ok": True, "message": "Thanks, the guide is on its way."}
    lead = Lead.objects.get()
    assert lead.custom["interests"] == ["Nurturing"]
    assert lead.custom["newsletter"] is True


def test_the_json_endpoint_answers_with_the_redirect(client, form):
    form.redirect_url = "https://www.example.com/thank-you"
    form.save()

    response = post_json(client, form, {"email": "ada@example.com"})

    assert response.json() == {"ok": True, "redirect": "https://www.example.com/thank-you"}


def test_a_zero_is_an_answer_and_reaches_the_lead(client, form):
    response = post_hosted(client, form, {"email": "zero@example.com", "team_size": "0"})

    assert response.status_code == 303
    assert Lead.objects.get().custom["team_size"] == 0


def test_a_nul_character_in_a_field_is_dropped_not_a_server_error(client, form):
    response = post_hosted(client, form, {"email": "nul@example.com", "first_name": "Ad\x00a"})

    assert response.status_code == 303
    assert Lead.objects.get().first_name == "Ada"
