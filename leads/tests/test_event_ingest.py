"""POST /api/events/: one event from another system."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import Activity, Lead, StageChange
from leads.tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db


def post_event(client, **payload):
    return client.post("/api/events/", payload, format="json")


def test_event_for_a_lead_id_is_stored_for_that_lead(api_as, marketer):
    lead = LeadFactory()
    when = timezone.now() - timedelta(minutes=10)

    response = post_event(
        api_as(marketer),
        lead=lead.pk,
        kind="download",
        occurred_at=when.isoformat(),
        properties={"asset": "whitepaper.pdf"},
    )

    assert response.status_code == 201
    assert response.json()["created"] == 1
    [activity] = Activity.objects.all()
    assert activity.lead == lead
    assert activity.kind == "download"
    assert activity.occurred_at == when
    assert activity.properties == {"asset": "whitepaper.pdf"}
    assert activity.source == "api"
    assert activity.created_by == marketer


def test_event_for_the_email_of_a_known_lead_goes_to_that_lead(api_as, marketer):
    lead = LeadFactory(email="known@example.com")

    response = post_event(api_as(marketer), email="Known@Example.com", kind="email_open")

    assert response.status_code == 201
    assert Lead.objects.count() == 1
    [activity] = Activity.objects.all()
    assert activity.lead == lead


def test_event_for_an_email_with_surrounding_blanks_goes_to_the_known_lead(api_as, marketer):
    """The one e-mail rule (blanks dropped, lower-cased) holds for events as for leads."""
    lead = LeadFactory(email="known@example.com")

    response = post_event(api_as(marketer), email="  Known@Example.com ", kind="email_open")

    assert response.status_code == 201
    assert Lead.objects.count() == 1
    assert Activity.objects.get().lead == lead


def test_events_are_json_only_and_a_form_encoded_post_is_refused_without_storing(api_as, marketer):
    lead = LeadFactory()

    response = api_as(marketer).post("/api/events/", {"lead": str(lead.pk), "kind": "download"})

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert not Activity.objects.exists()


def test_event_for_an_unknown_email_creates_the_lead(api_as, marketer):
    response = post_event(api_as(marketer), email="Stranger@Example.com", kind="page_view")

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert lead.email == "stranger@example.com"
    assert lead.created_via == "api"
    assert lead.stage == "new"
    assert [a.kind for a in lead.activities.all()] == ["page_view"]
    assert StageChange.objects.filter(lead=lead, to_stage="new").count() == 1


def test_event_without_a_time_is_dated_now(api_as, marketer):
    lead = LeadFactory()
    before = timezone.now()

    response = post_event(api_as(marketer), lead=lead.pk, kind="call")

    assert response.status_code == 201
    assert before <= Activity.objects.get().occurred_at <= timezone.now()


def test_event_updates_the_leads_last_activity(api_as, marketer):
    lead = LeadFactory()
    ActivityFactory(lead=lead, occurred_at=timezone.now() - timedelta(days=3))
    when = timezone.now() - timedelta(hours=1)

    response = post_event(api_as(marketer), lead=lead.pk, kind="meeting", occurred_at=when.isoformat())

    assert response.status_code == 201
    lead.refresh_from_db()
    assert lead.last_activity.at == when


def test_an_older_event_does_not_move_last_activity_back(api_as, marketer):
    lead = LeadFactory()
    client = api_as(marketer)
    newest = timezone.now() - timedelta(minutes=5)
    post_event(client, lead=lead.pk, kind="page_view", occurred_at=newest.isoformat())

    response = post_event(
        client, lead=lead.pk, kind="page_view", occurred_at=(newest - timedelta(days=2)).isoformat()
    )

    assert response.status_code == 201
    lead.refresh_from_db()
    assert lead.last_activity.at == newest


def assert_rejected(response, field):
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    assert error["fields"][field]
    assert not Activity.objects.exists()


def test_event_in_the_future_is_rejected(api_as, marketer):
    lead = LeadFactory()
    tomorrow = timezone.now() + timedelta(hours=1)

    response = post_event(api_as(marketer), lead=lead.pk, kind="page_view", occurred_at=tomorrow.isoformat())

    assert_rejected(response, "occurred_at")


def test_event_a_little_ahead_within_clock_skew_is_accepted(api_as, marketer):
    lead = LeadFactory()
    soon = timezone.now() + timedelta(minutes=1)

    response = post_event(api_as(marketer), lead=lead.pk, kind="page_view", occurred_at=soon.isoformat())

    assert response.status_code == 201
    assert Activity.objects.count() == 1


def test_event_of_an_unknown_kind_is_rejected(api_as, marketer):
    lead = LeadFactory()

    response = post_event(api_as(marketer), lead=lead.pk, kind="teleported")

    assert_rejected(response, "kind")


@pytest.mark.parametrize("kind", [["page_view"], {"name": "page_view"}, 7, None])
def test_event_whose_kind_is_not_a_text_is_rejected(api_as, marketer, kind):
    lead = LeadFactory()

    response = post_event(api_as(marketer), lead=lead.pk, kind=kind)

    assert_rejected(response, "kind")


def test_event_without_lead_or_email_is_rejected(api_as, marketer):
    response = post_event(api_as(marketer), kind="page_view")

    assert_rejected(response, "lead")
    assert not Lead.objects.exists()


def test_event_for_an_unknown_lead_id_is_rejected(api_as, marketer):
    lead = LeadFactory()

    response = post_event(api_as(marketer), lead=lead.pk + 1000, kind="page_view")

    assert_rejected(response, "lead")
    assert str(lead.pk + 1000) in response.json()["error"]["fields"]["lead"][0]


def test_event_with_a_bad_email_is_rejected_and_creates_no_lead(api_as, marketer):
    response = post_event(api_as(marketer), email="not-an-email", kind="page_view")

    assert_rejected(response, "email")
    assert not Lead.objects.exists()


def test_an_event_sent_again_with_its_external_id_is_stored_once(api_as, marketer):
    lead = LeadFactory()
    client = api_as(marketer)

    first = post_event(client, lead=lead.pk, kind="email_click", external_id="esp-42")
    again = post_event(client, lead=lead.pk, kind="email_click", external_id="esp-42")

    assert first.status_code == 201
    assert first.json()["results"] == [{"index": 0, "status": "created"}]
    assert again.status_code in (200, 201)
    assert again.json()["duplicates"] == 1
    assert again.json()["results"] == [{"index": 0, "status": "duplicate"}]
    assert Activity.objects.filter(external_id="esp-42").count() == 1


def test_manager_cannot_send_events(api_as, manager):
    lead = LeadFactory()

    response = post_event(api_as(manager), lead=lead.pk, kind="page_view")

    assert response.status_code == 403
    assert not Activity.objects.exists()
