"""Where a form's leads came from: the page's UTM parameters, its URL and referrer travel with
the submission; the lead's source is worked out from them (or the form's default) once, when
the lead is created."""

import re

import pytest
from django.test import override_settings

from leads.models import Lead, Source, Submission
from leads.submissions import source_from_utm
from leads.tests.capture import post_hosted, post_json, token
from leads.tests.factories import CaptureFormFactory, LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def form():
    return CaptureFormFactory(slug="demo", default_source=Source.EVENT)


def hidden_inputs(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([\w-]+)" value="([^"]*)"', html))


def test_the_hosted_page_carries_the_utm_parameters_page_url_and_referrer(client, form):
    page = client.get(
        "/f/demo/?utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=lead+scoring&utm_content=ad-2",
        HTTP_REFERER="https://www.google.com/",
    )
    posted = hidden_inputs(page.content.decode())
    assert posted["la_referrer"] == "https://www.google.com/"
    posted.update({"email": "ada@example.com", "la_token": token(form)})

    response = client.post("/f/demo/", posted)

    assert response.status_code == 303
    lead = Lead.objects.get()
    assert (lead.utm_source, lead.utm_medium, lead.utm_campaign, lead.utm_term, lead.utm_content) == (
        "google",
        "cpc",
        "spring",
        "lead scoring",
        "ad-2",
    )
    assert lead.source == Source.PAID_SEARCH
    assert lead.referrer == "https://www.google.com/"
    submission = Submission.objects.get()
    assert submission.page_url.startswith("http://testserver/f/demo/?utm_source=google")
    assert submission.referrer == "https://www.google.com/"


def test_utm_parameters_are_read_from_the_page_url_the_script_sends(client, form):
    post_json(
        client,
        form,
        {
            "email": "ada@example.com",
            "la_page_url": "https://customer.example/webinar?utm_source=newsletter&utm_medium=email&utm_campaign=may",
            "la_referrer": "https://mail.example.com/",
        },
    )

    lead = Lead.objects.get()
    assert (lead.utm_source, lead.utm_medium, lead.utm_campaign) == ("newsletter", "email", "may")
    assert lead.source == Source.EMAIL


def test_without_utm_the_new_lead_gets_the_forms_default_source(client, form):
    post_hosted(client, form, {"email": "ada@example.com"})

    assert Lead.objects.get().source == Source.EVENT


def test_the_source_is_set_only_when_the_lead_is_created(client, form):
    lead = LeadFactory(email="ada@example.com", source=Source.REFERRAL, utm_campaign="old")

    post_hosted(client, form, {"email": "ada@example.com", "utm_source": "linkedin", "utm_campaign": "new"})

    lead.refresh_from_db()
    assert lead.source == Source.REFERRAL
    assert (lead.utm_source, lead.utm_campaign) == ("linkedin", "new")


def test_the_activity_carries_the_utm_parameters(client, form):
    post_hosted(
        client, form, {"email": "ada@example.com", "utm_source": "linkedin", "utm_medium": "paid_social"}
    )

    activity = Lead.objects.get().activities.get(kind="form_submitted")
    assert activity.properties["utm_source"] == "linkedin"
    assert activity.properties["utm_medium"] == "paid_social"
    assert Lead.objects.get().source == Source.PAID_SOCIAL


@pytest.mark.parametrize(
    ("utm", "source"),
    [
        ({"utm_source": "google", "utm_medium": "cpc"}, Source.PAID_SEARCH),
        ({"utm_source": "google", "utm_medium": "organic"}, Source.ORGANIC_SEARCH),
        ({"utm_source": "facebook", "utm_medium": "cpc"}, Source.PAID_SOCIAL),
        ({"utm_source": "linkedin"}, Source.ORGANIC_SOCIAL),
        ({"utm_source": "weekly", "utm_medium": "email"}, Source.EMAIL),
        ({"utm_source": "blog.example", "utm_medium": "referral"}, Source.REFERRAL),
        ({"utm_source": "acme", "utm_medium": "affiliate"}, Source.PARTNER),
        ({"utm_source": "summit", "utm_medium": "webinar"}, Source.EVENT),
        ({"utm_source": "something-else"}, None),
        ({}, None),
    ],
)
def test_how_utm_parameters_map_to_a_source(utm, source):
    assert source_from_utm(utm) == source


def test_a_referrer_that_is_not_a_web_address_is_dropped(client, form):
    post_hosted(client, form, {"email": "ada@example.com", "la_referrer": "javascript:alert(1)"})

    assert Submission.objects.get().referrer == ""
    assert Lead.objects.get().referrer == ""


@override_settings(LEADAPP_CLIENT_IP_HEADER="HTTP_X_FORWARDED_FOR")
def test_behind_a_proxy_the_client_ip_comes_from_the_configured_header(client, form):
    post_hosted(client, form, {"email": "ada@example.com"}, HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9")

    assert Submission.objects.get().ip == "203.0.113.9"
