"""A submission that carries the visitor id of the tracking cookie (``la_vid``) makes that
visitor's earlier anonymous page views part of the lead's timeline."""

from unittest import mock

import pytest
from django.utils import timezone

from leads.models import ActivityKind, AnonymousPageView, Lead, Submission, Visitor
from leads.tests.capture import post_hosted, post_json
from leads.tests.factories import CaptureFormFactory

pytestmark = pytest.mark.django_db
VID = "0f8b4a52-3c1d-4e6f-9a7b-2c3d4e5f6a7b"


@pytest.fixture
def form():
    return CaptureFormFactory(slug="trial")


@pytest.fixture
def visitor():
    visitor = Visitor.objects.create(id=VID)
    for path in ["/pricing", "/features"]:
        AnonymousPageView.objects.create(
            visitor=visitor, occurred_at=timezone.now(), properties={"url": f"https://customer.example{path}"}
        )
    return visitor


def test_the_visitor_id_sent_by_the_script_is_identified(client, form):
    with mock.patch("leads.tracking.identify_visitor") as identify:
        post_json(client, form, {"email": "ada@example.com", "la_vid": VID})

    lead = Lead.objects.get()
    identify.assert_called_once_with(VID, lead)
    assert Submission.objects.get().visitor_id == VID


def test_the_visitors_earlier_page_views_join_the_leads_timeline(client, form, visitor):
    post_json(client, form, {"email": "ada@example.com", "la_vid": VID})

    lead = Lead.objects.get()
    urls = set(lead.activities.filter(kind=ActivityKind.PAGE_VIEW).values_list("properties__url", flat=True))
    assert urls == {"https://customer.example/pricing", "https://customer.example/features"}
    visitor.refresh_from_db()
    assert visitor.lead == lead


def test_on_the_hosted_page_the_cookie_is_read(client, form, visitor):
    client.cookies["la_vid"] = VID

    post_hosted(client, form, {"email": "ada@example.com"})

    assert Submission.objects.get().visitor_id == VID
    assert Lead.objects.get().activities.filter(kind=ActivityKind.PAGE_VIEW).count() == 2


def test_a_malformed_visitor_id_is_not_stored_nor_identified(client, form):
    with mock.patch("leads.tracking.identify_visitor") as identify:
        post_json(client, form, {"email": "ada@example.com", "la_vid": "'; drop table"})

    identify.assert_not_called()
    assert Submission.objects.get().visitor_id == ""
    assert Lead.objects.count() == 1


def test_without_a_visitor_id_nothing_is_identified(client, form):
    with mock.patch("leads.tracking.identify_visitor") as identify:
        post_json(client, form, {"email": "ada@example.com"})

    identify.assert_not_called()
