"""POST /api/events/batch/: many events at once, good ones kept even when others are bad."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import Activity, Lead
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def post_batch(client, events):
    return client.post("/api/events/batch/", {"events": events}, format="json")


def test_a_batch_of_good_events_is_201_with_counts(api_as, marketer):
    lead = LeadFactory()
    events = [
        {"lead": lead.pk, "kind": "page_view", "properties": {"url": "/a"}},
        {"lead": lead.pk, "kind": "download"},
        {"email": "new@example.com", "kind": "form_submitted"},
    ]

    response = post_batch(api_as(marketer), events)

    assert response.status_code == 201
    body = response.json()
    assert (body["created"], body["duplicates"], body["errors"]) == (3, 0, 0)
    assert body["results"] == [{"index": i, "status": "created"} for i in range(3)]
    assert sorted(lead.activities.values_list("kind", flat=True)) == ["download", "page_view"]
    assert Lead.objects.get(email="new@example.com").activities.get().kind == "form_submitted"


def test_a_partly_bad_batch_is_207_keeps_the_good_and_reports_the_bad_by_index(api_as, marketer):
    lead = LeadFactory()
    future = (timezone.now() + timedelta(days=1)).isoformat()
    events = [
        {"lead": lead.pk, "kind": "page_view", "external_id": "good-0"},
        {"lead": lead.pk, "kind": "teleported", "external_id": "bad-1"},
        {"lead": lead.pk, "kind": "download", "external_id": "good-2"},
        {"lead": lead.pk + 1000, "kind": "page_view", "external_id": "bad-3"},
        {"kind": "page_view", "external_id": "bad-4"},
        {"lead": lead.pk, "kind": "page_view", "occurred_at": future, "external_id": "bad-5"},
        {"email": "broken", "kind": "page_view", "external_id": "bad-6"},
    ]

    response = post_batch(api_as(marketer), events)

    assert response.status_code == 207
    body = response.json()
    assert (body["created"], body["duplicates"], body["errors"]) == (2, 0, 5)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(7))
    statuses = [r["status"] for r in results]
    assert statuses == ["created", "error", "created"] + ["error"] * 4
    assert "errors" not in results[0]
    assert "kind" in results[1]["errors"]
    assert "lead" in results[3]["errors"]
    assert "lead" in results[4]["errors"]
    assert "occurred_at" in results[5]["errors"]
    assert "email" in results[6]["errors"]
    assert set(Activity.objects.values_list("external_id", flat=True)) == {"good-0", "good-2"}
    assert Lead.objects.count() == 1


def test_malformed_items_are_reported_and_do_not_spoil_the_batch(api_as, marketer):
    lead = LeadFactory()
    events = [
        "page_view",
        {"lead": lead.pk, "kind": ["page_view"]},
        {"lead": lead.pk, "kind": "call", "properties": "not an object"},
        {"lead": lead.pk, "kind": "call", "occurred_at": "yesterday"},
        {"lead": lead.pk, "kind": "call", "external_id": "x" * 101},
        {"lead": lead.pk, "kind": "meeting"},
    ]

    response = post_batch(api_as(marketer), events)

    assert response.status_code == 207
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["error"] * 5 + ["created"]
    assert "kind" in body["results"][1]["errors"]
    assert "properties" in body["results"][2]["errors"]
    assert "occurred_at" in body["results"][3]["errors"]
    assert "external_id" in body["results"][4]["errors"]
    assert list(lead.activities.values_list("kind", flat=True)) == ["meeting"]


def test_more_than_the_maximum_is_400_and_nothing_is_stored(api_as, marketer, settings):
    lead = LeadFactory()
    events = [{"lead": lead.pk, "kind": "page_view"} for _ in range(settings.LEADAPP_EVENT_BATCH_MAX + 1)]

    response = post_batch(api_as(marketer), events)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "events" in error["fields"]
    assert not Activity.objects.exists()


def test_exactly_the_maximum_is_accepted(api_as, marketer, settings):
    lead = LeadFactory()
    events = [{"lead": lead.pk, "kind": "page_view"} for _ in range(settings.LEADAPP_EVENT_BATCH_MAX)]

    response = post_batch(api_as(marketer), events)

    assert response.status_code == 201
    assert response.json()["created"] == settings.LEADAPP_EVENT_BATCH_MAX
    assert lead.activities.count() == settings.LEADAPP_EVENT_BATCH_MAX


@pytest.mark.parametrize("body", [{"events": []}, {}, {"events": "page_view"}])
def test_an_empty_or_missing_list_is_400(api_as, marketer, body):
    response = api_as(marketer).post("/api/events/batch/", body, format="json")

    assert response.status_code == 400
    assert "events" in response.json()["error"]["fields"]
    assert not Activity.objects.exists()


def test_an_external_id_repeated_within_a_batch_is_stored_once(api_as, marketer):
    lead = LeadFactory()
    events = [
        {"lead": lead.pk, "kind": "email_open", "external_id": "esp-1"},
        {"lead": lead.pk, "kind": "email_open", "external_id": "esp-1"},
        {"lead": lead.pk, "kind": "email_click", "external_id": "esp-2"},
    ]

    response = post_batch(api_as(marketer), events)

    body = response.json()
    assert response.status_code == 201
    assert (body["created"], body["duplicates"], body["errors"]) == (2, 1, 0)
    assert [r["status"] for r in body["results"]] == ["created", "duplicate", "created"]
    assert Activity.objects.filter(external_id="esp-1").count() == 1
    assert lead.activities.count() == 2


def test_an_external_id_sent_in_an_earlier_batch_is_a_duplicate(api_as, marketer):
    lead = LeadFactory()
    client = api_as(marketer)
    post_batch(client, [{"lead": lead.pk, "kind": "email_open", "external_id": "esp-1"}])

    response = post_batch(
        client,
        [
            {"lead": lead.pk, "kind": "email_open", "external_id": "esp-1"},
            {"lead": lead.pk, "kind": "email_open", "external_id": "esp-3"},
        ],
    )

    body = response.json()
    assert response.status_code == 201
    assert [r["status"] for r in body["results"]] == ["duplicate", "created"]
    assert Activity.objects.filter(external_id="esp-1").count() == 1
    assert lead.activities.count() == 2


def test_events_without_external_id_are_never_duplicates(api_as, marketer):
    lead = LeadFactory()
    client = api_as(marketer)
    event = {"lead": lead.pk, "kind": "page_view"}

    post_batch(client, [event, event])
    post_batch(client, [event])

    assert lead.activities.count() == 3


def test_last_activity_is_the_newest_event_of_the_batch_per_lead(api_as, marketer):
    first, second = LeadFactory(), LeadFactory()
    now = timezone.now()
    times = {
        first.pk: [now - timedelta(hours=5), now - timedelta(minutes=2), now - timedelta(days=1)],
        second.pk: [now - timedelta(days=7)],
    }
    events = [
        {"lead": pk, "kind": "page_view", "occurred_at": when.isoformat()}
        for pk, whens in times.items()
        for when in whens
    ]

    response = post_batch(api_as(marketer), events)

    assert response.status_code == 201
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.last_activity.at == now - timedelta(minutes=2)
    assert second.last_activity.at == now - timedelta(days=7)


def test_one_unknown_email_used_twice_in_a_batch_makes_one_lead(api_as, marketer):
    events = [
        {"email": "twice@example.com", "kind": "page_view"},
        {"email": "Twice@Example.com", "kind": "download"},
    ]

    response = post_batch(api_as(marketer), events)

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert lead.email == "twice@example.com"
    assert lead.activities.count() == 2
