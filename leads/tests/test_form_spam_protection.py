"""Robots are kept out without bothering people: a honeypot field, a minimum fill time (a
signed timestamp in each rendered form) and a per-IP rate limit. Each refusal has its status
and stores nothing."""

import time
from unittest import mock

import pytest
from django.core import signing
from django.test import override_settings

from leads import submissions
from leads.models import Lead, Submission
from leads.tests.capture import post_hosted, post_json, rendered_token
from leads.tests.factories import CaptureFormFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def form():
    return CaptureFormFactory(slug="contact")


def assert_nothing_stored():
    assert not Submission.objects.exists()
    assert not Lead.objects.exists()


def expired_token(form) -> str:
    two_days_ago = time.time() - 2 * 24 * 3600
    with mock.patch("django.core.signing.time.time", return_value=two_days_ago):
        return submissions.issue_token(form, rendered_at=two_days_ago)


# --- honeypot ---


def test_a_filled_honeypot_is_400_with_a_clear_message(client, form):
    response = post_hosted(client, form, {"email": "bot@example.com", "la_hp": "http://spam.example"})

    assert response.status_code == 400
    assert "automated submission" in response.content.decode()
    assert_nothing_stored()


def test_a_filled_honeypot_on_the_json_endpoint_is_400(client, form):
    response = post_json(client, form, {"email": "bot@example.com", "la_hp": "x"})

    assert response.status_code == 400
    assert response.json()["code"] == "spam"
    assert_nothing_stored()


def test_the_honeypot_is_hidden_from_people(client, form):
    html = client.get("/f/contact/").content.decode()

    honeypot = html[html.index("Leave this empty") - 300 : html.index("Leave this empty") + 200]
    assert 'aria-hidden="true"' in honeypot
    assert "left:-10000px" in honeypot
    assert 'tabindex="-1"' in honeypot


# --- minimum fill time ---


def test_submitting_right_after_the_page_was_shown_is_too_quick(client, form):
    page = client.get("/f/contact/").content.decode()

    response = client.post("/f/contact/", {"email": "fast@example.com", "la_token": rendered_token(page)})

    assert response.status_code == 400
    assert "That was quick — please try again." in response.content.decode()
    assert_nothing_stored()
    # The same form, sent again a moment later, counts from when it was first shown.
    assert rendered_token(response.content.decode()) == rendered_token(page)


def test_too_quick_on_the_json_endpoint(client, form):
    token = client.get("/f/contact/embed.json").json()["token"]

    response = client.post(
        "/f/contact/submit", {"email": "fast@example.com", "la_token": token}, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "too_quick"
    assert response.json()["message"] == "That was quick — please try again."
    assert_nothing_stored()


def test_a_person_filling_at_human_speed_gets_through(client, form):
    response = post_hosted(client, form, {"email": "human@example.com"}, age=5)

    assert response.status_code == 303
    assert Lead.objects.filter(email="human@example.com").exists()


def test_a_missing_token_is_refused_and_the_page_offers_a_fresh_one(client, form):
    response = client.post("/f/contact/", {"email": "ada@example.com"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "open for a long time" in html
    assert 'value="ada@example.com"' in html
    signing.loads(rendered_token(html), salt=submissions.TOKEN_SALT)  # a good one
    assert_nothing_stored()


def test_an_expired_token_on_the_json_endpoint_asks_the_script_for_a_fresh_one(client, form):
    response = client.post(
        "/f/contact/submit",
        {"email": "ada@example.com", "la_token": expired_token(form)},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "stale_token"
    assert_nothing_stored()
    fresh = client.get("/f/contact/embed.json").json()
    assert fresh["min_fill_seconds"] == 3
    # The script waits the minimum fill time with the fresh token, then sends again.
    later = time.time() + fresh["min_fill_seconds"] + 0.3
    with mock.patch("leads.submissions.time.time", return_value=later):
        retried = client.post(
            "/f/contact/submit",
            {"email": "ada@example.com", "la_token": fresh["token"]},
            content_type="application/json",
        )
    assert retried.status_code == 200
    assert Lead.objects.filter(email="ada@example.com").exists()


def test_a_token_of_another_form_is_refused(client, form):
    other = CaptureFormFactory(slug="other")

    response = client.post(
        "/f/contact/submit",
        {
            "email": "ada@example.com",
            "la_token": submissions.issue_token(other, rendered_at=time.time() - 60),
        },
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "stale_token"
    assert_nothing_stored()


def test_a_forged_token_is_refused(client, form):
    response = post_json(
        client, form, {"email": "ada@example.com", "la_token": "eyJmIjoxLCJ0IjoxfQ:forged:sig"}
    )

    assert response.status_code == 400
    assert_nothing_stored()


# --- rate limit ---


@override_settings(LEADAPP_FORM_RATE="3/m")
def test_over_the_rate_an_ip_gets_429_with_retry_after_and_nothing_is_stored(client, form):
    for n in range(3):
        assert post_hosted(client, form, {"email": f"p{n}@example.com"}).status_code == 303

    response = post_hosted(client, form, {"email": "p4@example.com"})

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "Please wait a minute" in response.content.decode()
    assert Submission.objects.count() == 3
    assert not Lead.objects.filter(email="p4@example.com").exists()


@override_settings(LEADAPP_FORM_RATE="2/m")
def test_the_json_endpoint_shares_the_limit(client, form):
    post_hosted(client, form, {"email": "a@example.com"})
    post_json(client, form, {"email": "b@example.com"})

    response = post_json(client, form, {"email": "c@example.com"})

    assert response.status_code == 429
    assert response["Retry-After"]
    assert response.json()["code"] == "rate_limited"
    assert Submission.objects.count() == 2


@override_settings(LEADAPP_FORM_RATE="1/m")
def test_the_limit_is_per_ip(client, form):
    assert (
        post_hosted(client, form, {"email": "a@example.com"}, REMOTE_ADDR="198.51.100.1").status_code == 303
    )
    assert (
        post_hosted(client, form, {"email": "b@example.com"}, REMOTE_ADDR="198.51.100.2").status_code == 303
    )
    assert (
        post_hosted(client, form, {"email": "c@example.com"}, REMOTE_ADDR="198.51.100.1").status_code == 429
    )


@override_settings(LEADAPP_FORM_RATE="3/m")
def test_showing_the_form_does_not_count(client, form):
    for _ in range(10):
        assert client.get("/f/contact/").status_code == 200
        assert client.get("/f/contact/embed.json").status_code == 200

    assert post_hosted(client, form, {"email": "a@example.com"}).status_code == 303
