"""GET /api/leads/{id}/activities/: the lead's timeline for other systems."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_activities_are_the_leads_own_newest_first(api_as, manager):
    lead = LeadFactory()
    now = timezone.now()
    offsets = [5, 1, 30, 2, 10]  # minutes ago, created out of order
    activities = [ActivityFactory(lead=lead, occurred_at=now - timedelta(minutes=m)) for m in offsets]
    ActivityFactory()  # another lead's

    response = api_as(manager).get(f"/api/leads/{lead.pk}/activities/")

    assert response.status_code == 200
    ids = [row["id"] for row in response.json()["results"]]
    by_time = sorted(activities, key=lambda a: a.occurred_at, reverse=True)
    assert ids == [a.pk for a in by_time]
    assert {row["lead"] for row in response.json()["results"]} == {lead.pk}


def test_activities_page_through_without_repeats(api_as, manager):
    lead = LeadFactory()
    same_time = timezone.now() - timedelta(hours=1)
    activities = ActivityFactory.create_batch(7, lead=lead, occurred_at=same_time)
    client = api_as(manager)

    seen, url = [], f"/api/leads/{lead.pk}/activities/?page_size=3"
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
        assert len(seen) <= 7

    assert seen == sorted((a.pk for a in activities), reverse=True)


def test_activities_of_an_unknown_lead_is_404(api_as, manager):
    lead = LeadFactory()

    response = api_as(manager).get(f"/api/leads/{lead.pk + 1000}/activities/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
