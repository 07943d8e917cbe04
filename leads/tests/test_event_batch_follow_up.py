"""POST /api/events/batch/ touching more leads than LEADAPP_INGEST_INLINE_LEADS: the events are
stored at once and a worker follows them up (last activity time, scores, campaigns) within
seconds; a smaller batch is followed up in the request, as before.

Scores are read as a user reads them: GET /api/leads/<id>/score/ (the score and its history,
newest first) and GET /api/leads/<id>/ (last activity)."""

import logging
import threading
import time

import pytest
from django.db import OperationalError, connection, transaction
from django.utils.dateparse import parse_datetime

from conftest import requires_postgres
from leads import services
from leads.models import Activity, Lead, PendingFollowUp
from scoring.tests.factories import engagement_rule, fit_group, fit_rule, published_rule_set

FIT = 20  # a director
VIEW, OPEN = 5, 2  # points of a page view and of an e-mail open


@pytest.fixture
def rules(db):
    # No decay: a lead's score is the same whenever it is computed.
    return published_rule_set(
        fit=[fit_group("Title", rules=[fit_rule("job_title", "contains", "director", FIT)])],
        engagement=[
            engagement_rule("Page views", "page_view", VIEW),
            engagement_rule("Opens", "email_open", OPEN),
        ],
    )


@pytest.fixture
def hand_overs(monkeypatch):
    """The tasks a committed batch sends, recorded instead of sent: these tests run the
    follow-up themselves, and a worker started by another test of the session (it consumes
    the test broker) must not run it first. The last test here checks the real hand-over."""
    from leads import tasks

    sent = []
    monkeypatch.setattr(tasks.follow_up_pending, "delay", lambda: sent.append("follow_up_pending"))
    return sent


def new_lead(name: str) -> Lead:
    """A lead as the app creates it: scored at once (its fit), with its first history line."""
    return services.create_lead(
        email=f"{name}@example.com", data={"job_title": "Director", "first_name": name}
    )


def new_leads(prefix: str, n: int) -> list[Lead]:
    return [new_lead(f"{prefix}{i}") for i in range(n)]


def events_for(leads: list[Lead]) -> list[dict]:
    """The n-th lead (from 0) views n + 1 pages and opens one e-mail."""
    events = []
    for n, lead in enumerate(leads):
        events += [
            {"lead": lead.pk, "kind": "page_view", "properties": {"url": f"/p{k}"}} for k in range(n + 1)
        ]
        events.append({"lead": lead.pk, "kind": "email_open"})
    return events


def expected_total(n: int) -> int:
    return FIT + VIEW * (n + 1) + OPEN


def post_batch(client, events):
    return client.post("/api/events/batch/", {"events": events}, format="json")


def score_of(client, lead: Lead) -> dict:
    """What GET /api/leads/<id>/score/ says: the score and the history (newest first)."""
    response = client.get(f"/api/leads/{lead.pk}/score/")
    assert response.status_code == 200, response.content
    return response.json()


def total(client, lead: Lead) -> int:
    return score_of(client, lead)["score"]["total"]


def lines(client, lead: Lead) -> list[tuple[int, str]]:
    """The score history as (delta, reason), newest first."""
    return [(line["delta"], line["reason"]) for line in score_of(client, lead)["history"]]


def last_activity(client, lead: Lead):
    response = client.get(f"/api/leads/{lead.pk}/")
    assert response.status_code == 200, response.content
    return response.json()["last_activity_at"]


# --- a batch over the threshold, followed up later ------------------------------------------------


@pytest.mark.django_db
def test_a_large_batch_is_stored_at_once_and_scored_by_the_follow_up_as_a_small_one_is(
    api_as, marketer, rules, settings
):
    client = api_as(marketer)
    queued, inline = new_leads("queued", 3), new_leads("inline", 3)
    settings.LEADAPP_INGEST_INLINE_LEADS = 2

    response = post_batch(client, events_for(queued))

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["created"], body["errors"], body["follow_up"]) == (9, 0, "queued")
    assert Activity.objects.filter(lead__in=queued).count() == 9  # stored in the request
    for lead in queued:  # but not followed up yet
        assert total(client, lead) == FIT
        assert lines(client, lead) == [(FIT, "Lead created")]
        assert last_activity(client, lead) is None
    assert PendingFollowUp.objects.count() == 1

    assert services.follow_up_pending() == 1

    settings.LEADAPP_INGEST_INLINE_LEADS = 50
    same = post_batch(client, events_for(inline)).json()
    assert same["follow_up"] == "done"
    assert not PendingFollowUp.objects.exists()
    for n, (late, now) in enumerate(zip(queued, inline, strict=True)):
        assert total(client, late) == total(client, now) == expected_total(n)
        assert score_of(client, late)["score"] == {
            **score_of(client, now)["score"],
            "scored_at": score_of(client, late)["score"]["scored_at"],
        }
        newest = Activity.objects.filter(lead=late).latest("occurred_at").occurred_at
        assert parse_datetime(last_activity(client, late)) == newest
        # One line for the batch, naming its kinds as the inline batch's line does.
        assert lines(client, late) == lines(client, now)
        assert lines(client, late)[0] == (expected_total(n) - FIT, "page view ×6, e-mail opened ×3 (API)")


@pytest.mark.django_db
def test_a_large_batch_creating_leads_by_email_scores_them_in_the_follow_up(
    api_as, marketer, rules, settings
):
    client = api_as(marketer)
    settings.LEADAPP_INGEST_INLINE_LEADS = 2
    events = [{"email": f"walk-in{i}@example.com", "kind": "page_view"} for i in range(3)]

    body = post_batch(client, events).json()

    assert (body["created"], body["follow_up"]) == (3, "queued")
    leads = list(Lead.objects.filter(email__startswith="walk-in"))
    assert len(leads) == 3  # the leads exist at once
    assert all(score_of(client, lead)["score"] is None for lead in leads)  # not scored yet

    services.follow_up_pending()

    for lead in leads:
        assert total(client, lead) == VIEW
        assert last_activity(client, lead) is not None
        assert lines(client, lead) == [(VIEW, "page view ×3 (API)")]


@pytest.mark.django_db
def test_a_batch_at_the_threshold_is_followed_up_in_the_request(api_as, marketer, rules, settings):
    client = api_as(marketer)
    leads = new_leads("lead", 3)
    settings.LEADAPP_INGEST_INLINE_LEADS = 3

    response = post_batch(client, events_for(leads))

    assert response.status_code == 201
    assert response.json()["follow_up"] == "done"
    assert not PendingFollowUp.objects.exists()
    for n, lead in enumerate(leads):
        assert total(client, lead) == expected_total(n)
        assert last_activity(client, lead) is not None
        assert lines(client, lead)[0] == (expected_total(n) - FIT, "page view ×6, e-mail opened ×3 (API)")


@pytest.mark.django_db
def test_a_single_event_answers_done_with_the_lead_scored(api_as, marketer, rules):
    client = api_as(marketer)
    lead = new_lead("single")

    response = client.post("/api/events/", {"lead": lead.pk, "kind": "page_view"}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["follow_up"] == "done"
    assert not PendingFollowUp.objects.exists()
    assert total(client, lead) == FIT + VIEW
    assert last_activity(client, lead) is not None


# --- merging and idempotence ------------------------------------------------------------------------


@pytest.mark.django_db
def test_two_queued_batches_naming_one_lead_are_followed_up_in_one_pass_and_one_line(
    api_as, marketer, rules, settings
):
    client = api_as(marketer)
    first_only, shared, second_only = new_lead("first"), new_lead("shared"), new_lead("second")
    others = new_leads("other", 2)
    settings.LEADAPP_INGEST_INLINE_LEADS = 2
    views = [{"lead": lead.pk, "kind": "page_view"} for lead in (first_only, shared, others[0])]
    opens = [{"lead": lead.pk, "kind": "email_open"} for lead in (shared, second_only, others[1])]

    assert post_batch(client, views).json()["follow_up"] == "queued"
    assert post_batch(client, opens).json()["follow_up"] == "queued"
    assert PendingFollowUp.objects.count() == 2

    assert services.follow_up_pending() == 2

    assert not PendingFollowUp.objects.exists()
    assert total(client, shared) == FIT + VIEW + OPEN
    assert (total(client, first_only), total(client, second_only)) == (FIT + VIEW, FIT + OPEN)
    # The shared lead was scored once: one line with both batches' points and kinds.
    [merged, created] = score_of(client, shared)["history"]
    assert created["reason"] == "Lead created"
    assert merged["delta"] == VIEW + OPEN
    assert merged["reason"] == "page view ×3, e-mail opened ×3 (API)"
    assert sorted(merged["details"], key=lambda d: d["rule"]) == [
        {"rule": "Opens", "delta": float(OPEN)},
        {"rule": "Page views", "delta": float(VIEW)},
    ]
    assert len(score_of(client, first_only)["history"]) == 2


@pytest.mark.django_db
def test_following_up_again_changes_nothing(api_as, marketer, rules, settings):
    client = api_as(marketer)
    leads = new_leads("lead", 3)
    settings.LEADAPP_INGEST_INLINE_LEADS = 2
    post_batch(client, events_for(leads))
    assert services.follow_up_pending() == 1
    before = [(score_of(client, lead), last_activity(client, lead)) for lead in leads]

    assert services.follow_up_pending() == 0

    assert [(score_of(client, lead), last_activity(client, lead)) for lead in leads] == before


@pytest.mark.django_db
def test_an_empty_queue_is_a_no_op(rules):
    lead = new_lead("idle")

    assert services.follow_up_pending() == 0

    assert lead.score_changes.count() == 1


@pytest.mark.django_db
def test_the_same_large_batch_sent_again_is_all_duplicates_and_queues_nothing(
    api_as, marketer, rules, settings
):
    client = api_as(marketer)
    leads = new_leads("lead", 3)
    settings.LEADAPP_INGEST_INLINE_LEADS = 2
    events = [{"lead": lead.pk, "kind": "page_view", "external_id": f"esp-{lead.pk}"} for lead in leads]
    assert post_batch(client, events).json()["follow_up"] == "queued"
    services.follow_up_pending()

    body = post_batch(client, events).json()  # the sender retries

    assert (body["created"], body["duplicates"]) == (0, 3)
    assert not PendingFollowUp.objects.exists()
    assert Activity.objects.filter(lead__in=leads).count() == 3
    for lead in leads:
        assert total(client, lead) == FIT + VIEW


@pytest.mark.django_db
def test_an_event_scored_while_a_batch_waits_counts_once(api_as, marketer, rules, settings):
    client = api_as(marketer)
    leads = new_leads("lead", 3)
    settings.LEADAPP_INGEST_INLINE_LEADS = 2
    post_batch(client, [{"lead": lead.pk, "kind": "page_view"} for lead in leads])
    # Before the worker runs, the lead opens an e-mail: that one event is scored at once, from
    # the lead's whole history (the waiting page view included).
    client.post("/api/events/", {"lead": leads[0].pk, "kind": "email_open"}, format="json")
    assert total(client, leads[0]) == FIT + VIEW + OPEN

    services.follow_up_pending()

    assert total(client, leads[0]) == FIT + VIEW + OPEN  # nothing counted twice
    history = score_of(client, leads[0])["history"]
    assert [line["reason"] for line in history] == ["e-mail opened (API)", "Lead created"]
    assert sum(line["delta"] for line in history) == FIT + VIEW + OPEN
    assert [total(client, lead) for lead in leads[1:]] == [FIT + VIEW] * 2


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_batch_of_only_bad_items_stores_and_queues_nothing(api_as, marketer, rules, settings):
    client = api_as(marketer)
    leads = new_leads("lead", 3)
    settings.LEADAPP_INGEST_INLINE_LEADS = 1
    events = [
        {"lead": leads[0].pk, "kind": "teleported"},
        {"lead": leads[1].pk, "kind": "page_view", "occurred_at": "2999-01-01T00:00:00Z"},
        {"lead": leads[2].pk, "kind": "page_view", "properties": "not an object"},
        {"lead": 999_999, "kind": "page_view"},
        {"email": "broken", "kind": "page_view"},
    ]

    response = post_batch(client, events)

    assert response.status_code == 207
    body = response.json()
    assert (body["created"], body["errors"]) == (0, 5)
    assert not PendingFollowUp.objects.exists()
    assert not Activity.objects.filter(kind="page_view").exists()
    assert Lead.objects.count() == 3
    for lead in leads:
        assert total(client, lead) == FIT


@pytest.mark.django_db
def test_a_partly_bad_large_batch_queues_only_its_good_events(api_as, marketer, rules, settings):
    client = api_as(marketer)
    leads = new_leads("lead", 4)
    settings.LEADAPP_INGEST_INLINE_LEADS = 2
    good = [{"lead": lead.pk, "kind": "page_view"} for lead in leads[:3]]
    bad = [{"lead": leads[3].pk, "kind": "teleported"}]

    response = post_batch(client, good + bad)

    assert response.status_code == 207
    body = response.json()
    assert (body["created"], body["errors"], body["follow_up"]) == (3, 1, "queued")
    [pending] = PendingFollowUp.objects.all()
    assert sorted(pending.lead_ids) == sorted(lead.pk for lead in leads[:3])
    services.follow_up_pending()
    assert [total(client, lead) for lead in leads] == [FIT + VIEW] * 3 + [FIT]
    assert last_activity(client, leads[3]) is None


# --- the broker down, a failing pass, real workers ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_the_batch_is_stored_and_the_next_run_follows_it_up(
    api_as, marketer, rules, settings, caplog, broker_down
):
    client = api_as(marketer)
    leads = new_leads("lead", 3)
    settings.LEADAPP_INGEST_INLINE_LEADS = 2

    with broker_down(), caplog.at_level(logging.ERROR, logger="django.db.backends.base"):
        response = post_batch(client, events_for(leads))

    assert response.status_code == 201, response.content
    assert response.json()["follow_up"] == "queued"
    # The task could not be sent (logged), yet the events and the follow-up are stored.
    assert any("on_commit" in record.getMessage() for record in caplog.records)
    assert Activity.objects.filter(lead__in=leads).count() == 9
    assert PendingFollowUp.objects.count() == 1
    assert [total(client, lead) for lead in leads] == [FIT] * 3

    assert services.follow_up_pending() == 1  # what beat runs every minute

    assert [total(client, lead) for lead in leads] == [expected_total(n) for n in range(3)]
    assert not PendingFollowUp.objects.exists()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_pass_that_fails_leaves_its_batches_for_the_next_run(api_as, marketer, rules, settings, hand_overs):
    """A real failure: another transaction holds a lead's row longer than the lock timeout."""
    client = api_as(marketer)
    leads = new_leads("lead", 3)
    settings.LEADAPP_INGEST_INLINE_LEADS = 2
    assert post_batch(client, events_for(leads)).json()["follow_up"] == "queued"
    assert hand_overs == ["follow_up_pending"]

    locked, release = threading.Event(), threading.Event()

    def hold_the_row():
        try:
            with transaction.atomic():
                Lead.objects.select_for_update().get(pk=leads[1].pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        try:
            with pytest.raises(OperationalError):
                services.follow_up_pending()
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
    finally:
        release.set()
        holder.join(timeout=30)

    assert PendingFollowUp.objects.count() == 1
    assert [total(client, lead) for lead in leads] == [FIT] * 3  # rolled back: nothing half done
    assert [last_activity(client, lead) for lead in leads] == [None] * 3

    assert services.follow_up_pending() == 1

    assert [total(client, lead) for lead in leads] == [expected_total(n) for n in range(3)]
    assert not PendingFollowUp.objects.exists()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_draining_at_once_follow_up_each_batch_once(
    api_as, marketer, rules, settings, hand_overs
):
    client = api_as(marketer)
    settings.LEADAPP_INGEST_INLINE_LEADS = 1
    batches = [new_leads(f"b{b}-", 2) for b in range(30)]  # more than one pass of 20
    for leads in batches:
        assert (
            post_batch(client, [{"lead": lead.pk, "kind": "page_view"} for lead in leads]).status_code == 201
        )
    assert PendingFollowUp.objects.count() == 30

    done, errors = [], []
    barrier = threading.Barrier(2)

    def drain():
        try:
            barrier.wait(timeout=10)
            done.append(services.follow_up_pending())
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    assert sum(done) == 30
    assert not PendingFollowUp.objects.exists()
    for leads in batches:
        for lead in leads:
            assert total(client, lead) == FIT + VIEW
            assert len(score_of(client, lead)["history"]) == 2  # created, then the batch: once


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_follows_up_a_queued_batch_within_seconds(
    celery_worker_process, api_as, marketer, rules, settings
):
    client = api_as(marketer)
    leads = new_leads("lead", 3)
    settings.LEADAPP_INGEST_INLINE_LEADS = 2

    response = post_batch(client, events_for(leads))  # the task is sent on commit, through the broker

    assert response.json()["follow_up"] == "queued"
    wanted = [expected_total(n) for n in range(3)]
    deadline = time.monotonic() + 30
    while [total(client, lead) for lead in leads] != wanted:
        assert time.monotonic() < deadline, "the worker did not follow the batch up within 30 s"
        time.sleep(0.2)
    assert not PendingFollowUp.objects.exists()
    assert all(last_activity(client, lead) is not None for lead in leads)
