"""The embedded form is posted from the customer's site (another origin): its endpoints answer
cross-origin requests. LeadApp's own pages do not: a cross-origin post to them is refused."""

import json

import pytest
from django.test import Client

from leads.models import CaptureForm, Lead, Submission
from leads.tests.capture import token
from leads.tests.factories import CaptureFormFactory, LeadFactory

pytestmark = pytest.mark.django_db
CUSTOMER = "https://customer.example"


@pytest.fixture
def form():
    return CaptureFormFactory(slug="embed", fields=[{"name": "company", "maps_to": "company_name"}])


def test_the_script_loads_the_form_from_another_origin(form):
    response = Client().get("/f/embed/embed.json", HTTP_ORIGIN=CUSTOMER)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    body = response.json()
    assert body["submit_url"] == "http://testserver/f/embed/submit"
    assert '<form method="post" action="http://testserver/f/embed/"' in body["html"]
    assert 'name="company"' in body["html"]
    assert body["token"]
    assert [f["name"] for f in body["fields"]] == ["email", "company"]
    assert "no-store" in response["Cache-Control"]


def test_the_preflight_of_the_json_post_is_allowed(form):
    response = Client().options(
        "/f/embed/submit",
        HTTP_ORIGIN=CUSTOMER,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "content-type" in response["Access-Control-Allow-Headers"].lower()


def test_the_embedded_form_posts_from_another_origin(form):
    client = Client(enforce_csrf_checks=True)  # as a browser: no CSRF token from another site

    response = client.post(
        "/f/embed/submit",
        json.dumps({"email": "ada@example.com", "company": "Engines", "la_token": token(form)}),
        content_type="application/json",
        HTTP_ORIGIN=CUSTOMER,
        HTTP_REFERER=f"{CUSTOMER}/pricing",
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response.json()["ok"] is True
    assert "Set-Cookie" not in response  # no session or CSRF cookie of LeadApp's
    assert Lead.objects.get().company_name == "Engines"


def test_field_errors_reach_the_other_origin_too(form):
    response = Client(enforce_csrf_checks=True).post(
        "/f/embed/submit",
        json.dumps({"email": "nope", "la_token": token(form)}),
        content_type="application/json",
        HTTP_ORIGIN=CUSTOMER,
    )

    assert response.status_code == 400
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response.json()["errors"] == {"email": ["Enter a valid email address."]}


def test_the_plain_html_form_posts_from_another_origin(form):
    response = Client(enforce_csrf_checks=True).post(
        "/f/embed/", {"email": "ada@example.com", "la_token": token(form)}, HTTP_ORIGIN=CUSTOMER
    )

    assert response.status_code == 303
    assert Lead.objects.filter(email="ada@example.com").exists()


def test_the_lead_edit_page_refuses_a_cross_origin_post(sdr):
    lead = LeadFactory(first_name="Kept")
    client = Client(enforce_csrf_checks=True)
    client.force_login(sdr)

    response = client.post(
        f"/leads/{lead.pk}/edit/",
        {"email": lead.email, "first_name": "Hacked", "source": lead.source, "stage": lead.stage},
        HTTP_ORIGIN="https://evil.example",
    )

    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.first_name == "Kept"


def test_the_form_builder_refuses_a_cross_origin_post(marketer):
    form = CaptureFormFactory(name="Kept", status=CaptureForm.Status.DRAFT)
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)

    created = client.post("/leads/forms/new/", {"name": "Forged"}, HTTP_ORIGIN="https://evil.example")
    published = client.post(
        f"/leads/forms/{form.pk}/status/", {"action": "publish"}, HTTP_ORIGIN="https://evil.example"
    )

    assert (created.status_code, published.status_code) == (403, 403)
    assert list(CaptureForm.objects.values_list("name", "status")) == [("Kept", "draft")]


def test_internal_pages_do_not_answer_cross_origin_requests(sdr):
    client = Client()
    client.force_login(sdr)

    response = client.get("/leads/", HTTP_ORIGIN=CUSTOMER)

    assert "Access-Control-Allow-Origin" not in response
    preflight = client.options(
        "/leads/forms/new/", HTTP_ORIGIN=CUSTOMER, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert "Access-Control-Allow-Origin" not in preflight
    assert not Submission.objects.exists()


def test_the_embed_script_is_served(client):
    response = client.get("/static/js/leadapp-form.js")

    assert response.status_code == 200
    script = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"data-leadapp-form" in script
    assert b"/embed.json" in script
