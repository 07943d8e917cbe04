"""A lead's last activity time lives in a row of its own (LastActivity), which the database adds
for every lead inserted, whichever way: so no lead is ever missing from the "recent activity"
sort (an inner join on that row), and the time shown is its newest activity's.

If a migration makes SQLite rebuild the lead table, the rebuild drops the trigger: these tests
then fail on SQLite until the migration creates it again (see migration 0014)."""

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from conftest import requires_postgres
from leads import imports, services
from leads.models import Activity, ActivityKind, LastActivity, Lead
from leads.tests.factories import ActivityFactory, LeadFactory
from leads.tests.test_lead_list_filters import emails_in_order

pytestmark = pytest.mark.django_db


def sorted_by_recent_activity(client) -> list[str]:
    return emails_in_order(client.get("/leads/", {"sort": "recent_activity"}))


def test_every_way_of_inserting_a_lead_gives_it_its_row_and_a_place_in_the_recent_activity_sort(page_as, sdr):
    LeadFactory(email="saved@example.com")
    Lead.objects.bulk_create([Lead(email="bulk@example.com")])
    # A CSV import COPYs its new leads on PostgreSQL.
    lead_import = imports.create_import(content=b"email\ncopied@example.com\n", filename="leads.csv")
    imports.start_import(
        lead_import, mapping={"email": "email"}, on_existing="skip", source="event", enqueue=False
    )
    imports.run_import(lead_import.pk)
    # An event for an unknown e-mail creates its lead (INSERT ... ON CONFLICT DO NOTHING).
    services.ingest_events(
        [services.EventIn(kind=ActivityKind.PAGE_VIEW, occurred_at=timezone.now(), email="new@example.com")]
    )

    assert LastActivity.objects.count() == Lead.objects.count() == 4
    assert set(LastActivity.objects.filter(at=None).values_list("lead__email", flat=True)) == {
        "saved@example.com",
        "bulk@example.com",
        "copied@example.com",
    }
    order = sorted_by_recent_activity(page_as(sdr))
    assert order[0] == "new@example.com"  # the only one that did something
    assert sorted(order[1:]) == ["bulk@example.com", "copied@example.com", "saved@example.com"]


def test_deleting_a_lead_deletes_its_row():
    lead = LeadFactory()
    lead.delete()
    assert not LastActivity.objects.exists()


def test_the_lead_page_and_the_api_show_the_newest_activity_and_stage_changes_do_not_count(
    page_as, api_as, marketer
):
    lead = LeadFactory(email="ada@example.com")
    newest = timezone.now() - timedelta(hours=2)
    ActivityFactory(lead=lead, occurred_at=newest - timedelta(days=3))
    ActivityFactory(lead=lead, occurred_at=newest)
    ActivityFactory(lead=lead, kind=ActivityKind.STAGE_CHANGED, occurred_at=timezone.now())
    services.touch_last_activity([lead.pk])

    body = api_as(marketer).get(f"/api/leads/{lead.pk}/").json()
    assert datetime.fromisoformat(body["last_activity_at"]) == newest
    html = page_as(marketer).get(f"/leads/{lead.pk}/").content.decode()
    assert "2\xa0hours ago" in html


def test_a_late_event_never_moves_the_time_back_and_a_lead_missing_its_row_gets_one(api_as, marketer):
    """A batch carries events of last week as well as of today: the time is the newest. A lead
    whose row is gone (data restored with the trigger off) gets it back with its first event."""
    recent, lost = LeadFactory(email="recent@example.com"), LeadFactory(email="lost@example.com")
    LastActivity.objects.filter(lead=lost).delete()
    today = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    post = api_as(marketer).post
    event = {"kind": "page_view", "occurred_at": today.isoformat()}
    assert post("/api/events/", {**event, "lead": recent.pk}, format="json").status_code == 201
    last_week = {**event, "occurred_at": (today - timedelta(days=7)).isoformat()}
    assert post("/api/events/", {**last_week, "lead": recent.pk}, format="json").status_code == 201
    assert post("/api/events/", {**last_week, "lead": lost.pk}, format="json").status_code == 201

    assert LastActivity.objects.get(lead=recent).at == today
    assert LastActivity.objects.get(lead=lost).at == today - timedelta(days=7)


def test_seed_demo_gives_each_lead_the_time_of_its_newest_activity():
    call_command("seed_demo", leads=120, now=datetime(2026, 6, 1, tzinfo=UTC), stdout=StringIO())

    newest = dict(
        Activity.objects.exclude(kind=ActivityKind.STAGE_CHANGED)
        .values("lead")
        .annotate(at=Max("occurred_at"))
        .values_list("lead", "at")
    )
    rows = dict(LastActivity.objects.values_list("lead", "at"))
    assert len(rows) == Lead.objects.count() == 120
    assert rows == {lead: newest.get(lead) for lead in rows}
    assert sum(at is not None for at in rows.values()) > 100


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_touching_locks_the_rows_in_lead_order_so_two_batches_sharing_leads_cannot_deadlock():
    """Another connection holds the row of the highest lead. While the touch waits for it,
    every other row must already be locked by the touch: it went in lead order, as any other
    batch does, so no two can each hold a row the other waits for (the benchmark's worker
    once deadlocked so). The plan of a large table is forced (an index walk over the hashed
    ids); the few rows of a test table would be read in order anyway."""
    leads = LeadFactory.create_batch(40)
    for lead in leads:
        ActivityFactory(lead=lead)
    ids = [lead.pk for lead in leads]
    top, others = max(ids), sorted(set(ids) - {max(ids)})
    held, release = threading.Event(), threading.Event()

    def hold_the_top_row():
        try:
            with transaction.atomic():
                LastActivity.objects.select_for_update().get(lead_id=top)
                held.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    def touch():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    for setting in ("enable_seqscan", "enable_hashjoin", "enable_mergejoin"):
                        cursor.execute(f"SET LOCAL {setting} = off")
                services.touch_last_activity(random.Random(1).sample(ids, len(ids)))
        finally:
            connection.close()

    def unlocked_others() -> int:
        with connection.cursor() as cursor:  # waits for no one: skips the rows the touch locked
            cursor.execute(
                "SELECT count(*) FROM (SELECT 1 FROM leads_lastactivity WHERE lead_id = ANY(%s) "
                "FOR SHARE SKIP LOCKED) s",
                [others],
            )
            return cursor.fetchone()[0]

    holder = threading.Thread(target=hold_the_top_row)
    holder.start()
    assert held.wait(timeout=10)
    toucher = threading.Thread(target=touch)
    toucher.start()
    try:
        deadline = time.monotonic() + 10
        while unlocked_others() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert unlocked_others() == 0
    finally:
        release.set()
        holder.join(timeout=30)
        toucher.join(timeout=30)

    assert LastActivity.objects.filter(lead__in=leads, at__isnull=False).count() == 40
