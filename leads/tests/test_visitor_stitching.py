"""Visitor stitching: page views before and after the form submission are on the lead's
timeline. The views go through the real /t/pv endpoint; the submission is simulated by
calling ``identify_visitor`` as the form submission service does."""

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import Activity, AnonymousPageView, Visitor
from leads.tests.factories import LeadFactory
from leads.tracking import identify_visitor

pytestmark = pytest.mark.django_db


def track(client, vid, url, **extra):
    body = {"vid": vid, "url": url, "title": "Page", "referrer": "", **extra}
    return client.post("/t/pv", data=json.dumps(body), content_type="text/plain")


def test_page_views_before_and_after_the_submission_are_on_the_leads_timeline(client, page_as, marketer):
    vid = str(uuid.uuid4())
    assert track(client, vid, "https://shop.example/?utm_source=news&utm_campaign=spring").status_code == 204
    assert track(client, vid, "https://shop.example/pricing").status_code == 204
    assert AnonymousPageView.objects.filter(visitor_id=vid).count() == 2

    lead = LeadFactory()
    identify_visitor(vid, lead)  # what the form submission does when it carries la_vid
    assert track(client, vid, "https://shop.example/thanks").status_code == 204

    views = Activity.objects.filter(lead=lead, kind="page_view").order_by("occurred_at", "id")
    assert [a.properties["url"] for a in views] == [
        "https://shop.example/?utm_source=news&utm_campaign=spring",
        "https://shop.example/pricing",
        "https://shop.example/thanks",
    ]
    assert {a.source for a in views} == {"web"}
    assert views[0].properties["utm"] == {"utm_source": "news", "utm_campaign": "spring"}
    assert not AnonymousPageView.objects.exists()
    lead.refresh_from_db()
    assert lead.last_activity.at == views.last().occurred_at
    html = page_as(marketer).get(f"/leads/{lead.pk}/").content.decode()
    assert "https://shop.example/pricing" in html and "https://shop.example/thanks" in html


def test_anonymous_views_keep_their_time_when_moved_to_the_lead():
    visitor = Visitor.objects.create(id=str(uuid.uuid4()))
    earlier = timezone.now() - timedelta(days=3)
    AnonymousPageView.objects.create(
        visitor=visitor, occurred_at=earlier, properties={"url": "https://a.example/"}
    )
    lead = LeadFactory()

    identify_visitor(visitor.id.upper(), lead)

    [view] = Activity.objects.filter(lead=lead)
    assert view.occurred_at == earlier
    visitor.refresh_from_db()
    assert visitor.lead == lead
    lead.refresh_from_db()
    assert lead.last_activity.at == earlier


def test_identifying_a_visitor_never_seen_links_it_for_later_views(client):
    vid = str(uuid.uuid4())
    lead = LeadFactory()

    identify_visitor(vid, lead)
    track(client, vid, "https://a.example/later")

    assert Visitor.objects.get(pk=vid).lead == lead
    assert Activity.objects.get(lead=lead).properties["url"] == "https://a.example/later"


def test_an_invalid_visitor_id_is_ignored():
    lead = LeadFactory()

    identify_visitor("not-a-uuid", lead)
    identify_visitor("", lead)

    assert not Visitor.objects.exists()


def test_a_visitor_identified_again_as_another_lead_keeps_earlier_views_on_the_first(client):
    vid = str(uuid.uuid4())
    first, second = LeadFactory(), LeadFactory()
    identify_visitor(vid, first)
    track(client, vid, "https://a.example/one")

    identify_visitor(vid, second)
    track(client, vid, "https://a.example/two")

    assert [a.properties["url"] for a in Activity.objects.filter(lead=first)] == ["https://a.example/one"]
    assert [a.properties["url"] for a in Activity.objects.filter(lead=second)] == ["https://a.example/two"]
