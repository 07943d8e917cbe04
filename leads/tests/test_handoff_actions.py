"""What SDRs and managers do with a handed-over lead: accept it (SAL), reject it back to
marketing with a reason (recycled), reassign it (a manager), log calls, e-mails and meetings
with a next step. A lead that leaves sales another way (won, lost, disqualified) closes its
handoff. A refused action says why and changes nothing."""

import datetime
from datetime import UTC, timedelta

import pytest

from leadapp import roles
from leadapp.models import Notification
from leads import conversion, handoff
from leads.handoff import HandoffError, Touch
from leads.models import (
    Activity,
    ActivityKind,
    Handoff,
    Lead,
    LostReason,
    Reminder,
    RoutingRule,
    Stage,
    StageChange,
)
from leads.services import change_stage
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

Status = Handoff.Status
MONDAY = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TUESDAY = MONDAY + timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(MONDAY, tick=False)
    return time_machine


@pytest.fixture
def ana(make_user):
    return make_user("ana", roles.SALES, email="ana@example.com")


@pytest.fixture
def bob(make_user):
    return make_user("bob", roles.SALES, email="bob@example.com")


def handed_to(user, **lead_fields) -> Handoff:
    """A lead that became an MQL and was routed to ``user`` (None: the pool)."""
    RoutingRule.objects.all().delete()
    if user is not None:
        RoutingRule.objects.create(name=f"All to {user}", user=user, accept_within=4, touch_within=8)
    lead = LeadFactory(**lead_fields)
    change_stage(lead, to_stage=Stage.MQL, reason="Score")
    return Handoff.objects.select_related("lead").get(lead=lead)


def fresh(h: Handoff) -> Handoff:
    return Handoff.objects.select_related("lead", "owner").get(pk=h.pk)


def lead_of(h: Handoff) -> Lead:
    return Lead.objects.get(pk=h.lead_id)


def moves(h: Handoff) -> list[tuple[str, str, str, str]]:
    return [
        (c.from_stage, c.to_stage, c.reason, c.changed_by.username if c.changed_by else "")
        for c in StageChange.objects.filter(lead_id=h.lead_id).order_by("changed_at", "id")
        if c.from_stage
    ]


# --- Accept -----------------------------------------------------------------------------------


def test_accepting_makes_the_lead_sales_accepted_and_starts_the_first_touch_clock(ana, frozen):
    mine = handed_to(ana)
    frozen.move_to(MONDAY + timedelta(minutes=30), tick=False)

    accepted = handoff.accept(mine, by=ana)

    assert lead_of(mine).stage == Stage.SAL
    assert moves(mine) == [("new", "mql", "Score", ""), ("mql", "sal", "Accepted by sales", "ana")]
    assert (accepted.status, accepted.owner, accepted.accepted_at) == (
        Status.ACCEPTED,
        ana,
        MONDAY + timedelta(minutes=30),
    )
    assert accepted.due_at == accepted.touch_due_at == TUESDAY  # 8 business hours after routing
    assert list(handoff.queue(ana)) == [accepted]  # still hers to work


def test_accepting_a_pool_lead_claims_it_first(ana):
    pooled = handed_to(None)

    accepted = handoff.accept(pooled, by=ana)

    assert (accepted.status, accepted.owner) == (Status.ACCEPTED, ana)
    assert lead_of(pooled).owner == ana and lead_of(pooled).stage == Stage.SAL


def test_a_colleagues_lead_cannot_be_accepted(ana, bob):
    hers = handed_to(ana)

    with pytest.raises(HandoffError, match="belongs to a colleague"):
        handoff.accept(hers, by=bob)

    assert lead_of(hers).stage == Stage.MQL
    assert (fresh(hers).status, fresh(hers).owner) == (Status.ASSIGNED, ana)
    assert moves(hers) == [("new", "mql", "Score", "")]


def test_accepting_twice_says_so(ana):
    mine = handed_to(ana)
    handoff.accept(mine, by=ana)

    with pytest.raises(HandoffError, match="accepted this lead already"):
        handoff.accept(mine, by=ana)

    assert [to for _, to, _, _ in moves(mine)] == ["mql", "sal"]


def test_a_lead_that_left_sales_cannot_be_accepted(ana, manager):
    mine = handed_to(ana)
    change_stage(lead_of(mine), to_stage=Stage.DISQUALIFIED, by=manager, reason="Competitor")

    with pytest.raises(HandoffError, match="no longer with sales"):
        handoff.accept(mine, by=ana)

    assert lead_of(mine).stage == Stage.DISQUALIFIED


# --- Reject -----------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_rejecting_needs_a_reason_and_without_one_changes_nothing(ana, reason):
    mine = handed_to(ana)

    with pytest.raises(HandoffError, match="Say why you reject"):
        handoff.reject(mine, by=ana, reason=reason)

    assert lead_of(mine).stage == Stage.MQL
    assert fresh(mine).status == Status.ASSIGNED


def test_rejecting_recycles_the_lead_with_the_reason_and_closes_the_handoff(ana, frozen):
    mine = handed_to(ana)
    frozen.move_to(MONDAY + timedelta(hours=1), tick=False)

    handoff.reject(mine, by=ana, reason="  No budget this year ")

    lead = lead_of(mine)
    assert lead.stage == Stage.RECYCLED
    assert moves(mine)[-1] == ("mql", "recycled", "Rejected by sales: No budget this year", "ana")
    closed = fresh(mine)
    assert (closed.status, closed.outcome, closed.closed_at, closed.due_at) == (
        Status.CLOSED,
        Stage.RECYCLED,
        MONDAY + timedelta(hours=1),
        None,
    )
    assert list(handoff.queue(ana)) == []


def test_an_accepted_lead_can_still_be_rejected(ana):
    mine = handed_to(ana)
    handoff.accept(mine, by=ana)

    handoff.reject(mine, by=ana, reason="Wrong contact, no successor")

    assert lead_of(mine).stage == Stage.RECYCLED
    assert (fresh(mine).status, fresh(mine).outcome) == (Status.CLOSED, Stage.RECYCLED)


def test_a_colleagues_lead_cannot_be_rejected(ana, bob):
    hers = handed_to(ana)

    with pytest.raises(HandoffError, match="belongs to a colleague"):
        handoff.reject(hers, by=bob, reason="Looks weak")

    assert lead_of(hers).stage == Stage.MQL and fresh(hers).status == Status.ASSIGNED


# --- Leaving sales another way ----------------------------------------------------------------


def test_a_won_deal_closes_the_handoff_as_a_customer(ana):
    mine = handed_to(ana)
    handoff.accept(mine, by=ana)
    conversion.qualify(lead_of(mine), by=ana, need="Routing", timeline="Q2")
    conversion.open_opportunity(
        lead_of(mine), by=ana, amount="12000", expected_close_date=datetime.date(2026, 6, 30)
    )
    assert fresh(mine).status == Status.ACCEPTED  # still worked by sales meanwhile

    conversion.mark_won(lead_of(mine), by=ana)

    assert (fresh(mine).status, fresh(mine).outcome, fresh(mine).closed_at) == (
        Status.CLOSED,
        "customer",
        MONDAY,
    )
    assert list(handoff.queue(ana)) == []


def test_a_lost_deal_closes_the_handoff_as_lost(ana):
    mine = handed_to(ana)
    handoff.accept(mine, by=ana)
    conversion.qualify(lead_of(mine), by=ana, need="Routing", timeline="Q2")
    conversion.open_opportunity(
        lead_of(mine), by=ana, amount="5000", expected_close_date=datetime.date(2026, 6, 30)
    )

    conversion.mark_lost(lead_of(mine), by=ana, reason=LostReason.objects.create(name="Price"))

    assert (fresh(mine).status, fresh(mine).outcome) == (Status.CLOSED, "lost")


def test_disqualifying_closes_the_handoff(ana, manager):
    mine = handed_to(ana)

    change_stage(lead_of(mine), to_stage=Stage.DISQUALIFIED, by=manager, reason="A student")

    assert (fresh(mine).status, fresh(mine).outcome, fresh(mine).due_at) == (
        Status.CLOSED,
        "disqualified",
        None,
    )
    assert handoff.open_handoff(mine.lead_id) is None


def test_a_lead_moved_to_sal_on_its_page_accepts_its_handoff(ana):
    mine = handed_to(ana)

    change_stage(lead_of(mine), to_stage=Stage.SAL, by=ana, reason="Talked already")

    assert (fresh(mine).status, fresh(mine).accepted_at, fresh(mine).owner) == (Status.ACCEPTED, MONDAY, ana)


# --- Reassign ---------------------------------------------------------------------------------


def test_a_manager_reassigns_a_lead_the_new_owner_is_told_and_the_clock_restarts(ana, bob, manager, frozen):
    hers = handed_to(ana, first_name="Grace", last_name="Hopper")
    assert hers.accept_due_at == MONDAY + timedelta(hours=4)
    later = MONDAY + timedelta(hours=3, minutes=30)  # 13:30
    frozen.move_to(later, tick=False)

    moved = handoff.reassign(hers, to=bob, by=manager)

    assert (moved.owner, moved.status, moved.assigned_at) == (bob, Status.ASSIGNED, later)
    assert moved.accept_due_at == moved.due_at == TUESDAY - timedelta(minutes=30)  # 3.5 h today, 0.5 tomorrow
    assert lead_of(hers).owner == bob
    assert list(Notification.objects.filter(user=bob, kind="lead_assigned").values_list("text", "url")) == [
        ("New lead for you: Grace Hopper", f"/leads/{hers.lead_id}/")
    ]
    note = Activity.objects.get(lead_id=hers.lead_id, kind=ActivityKind.NOTE)
    assert (note.created_by, note.properties["text"]) == (manager, "Reassigned to bob")
    assert list(handoff.queue(ana, scope="mine")) == []
    assert list(handoff.queue(bob, scope="mine")) == [moved]


def test_an_accepted_lead_reassigned_stays_accepted_with_a_new_first_touch_deadline(
    ana, bob, manager, frozen
):
    hers = handed_to(ana)
    handoff.accept(hers, by=ana)
    frozen.move_to(MONDAY + timedelta(hours=6), tick=False)  # 16:00

    moved = handoff.reassign(hers, to=bob, by=manager)

    assert (moved.status, moved.owner, lead_of(hers).stage) == (Status.ACCEPTED, bob, Stage.SAL)
    assert moved.touch_due_at == moved.due_at == TUESDAY + timedelta(hours=6)  # 1 h today, 7 tomorrow


def test_reassigning_to_the_pool_frees_the_lead_for_anyone(ana, bob, manager):
    hers = handed_to(ana)

    pooled = handoff.reassign(hers, to=None, by=manager)

    assert (pooled.owner, pooled.status) == (None, Status.POOL)
    assert lead_of(hers).owner is None
    assert list(handoff.queue(bob, scope="pool")) == [pooled]


def test_reassigning_to_the_current_owner_is_refused(ana, manager):
    hers = handed_to(ana)

    with pytest.raises(HandoffError, match="theirs already"):
        handoff.reassign(hers, to=ana, by=manager)

    assert not Activity.objects.filter(lead_id=hers.lead_id, kind=ActivityKind.NOTE).exists()


# --- Touches ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "touch, message",
    [
        (Touch(kind="page_view", outcome="connected"), "Log a call, an e-mail or a meeting"),
        (Touch(kind="note", outcome="connected"), "Log a call, an e-mail or a meeting"),
        (Touch(kind="call", outcome="had a chat"), "Pick the outcome"),
        (Touch(kind="call", outcome=""), "Pick the outcome"),
        (
            Touch(kind="call", outcome="voicemail", next_step="  ", next_step_due=TUESDAY),
            "Say what the next step is",
        ),
    ],
    ids=["page-view", "note", "unknown-outcome", "no-outcome", "due-without-step"],
)
def test_a_touch_that_does_not_make_sense_is_refused_and_changes_nothing(ana, touch, message):
    mine = handed_to(ana)
    activities = Activity.objects.filter(lead_id=mine.lead_id).count()

    with pytest.raises(HandoffError, match=message):
        handoff.log_touch(lead_of(mine), touch, by=ana)

    assert Activity.objects.filter(lead_id=mine.lead_id).count() == activities
    assert fresh(mine).first_touch_at is None
    assert fresh(mine).due_at == mine.due_at
    assert not Reminder.objects.exists()
    assert lead_of(mine).last_activity.at is None


def test_a_call_is_the_first_touch_and_its_next_step_becomes_a_reminder(ana, frozen):
    mine = handed_to(ana)
    handoff.accept(mine, by=ana)
    frozen.move_to(MONDAY + timedelta(hours=1), tick=False)

    activity = handoff.log_touch(
        lead_of(mine),
        Touch(
            kind="call",
            outcome="meeting_booked",
            notes=" Wants a demo for 5 people ",
            next_step=" Send the agenda ",
            next_step_due=TUESDAY,
        ),
        by=ana,
    )

    assert (activity.kind, activity.created_by, activity.occurred_at) == (
        "call",
        ana,
        MONDAY + timedelta(hours=1),
    )
    assert activity.properties == {
        "outcome": "meeting_booked",
        "notes": "Wants a demo for 5 people",
        "next_step": "Send the agenda",
    }
    touched = fresh(mine)
    assert touched.first_touch_at == MONDAY + timedelta(hours=1)
    assert touched.due_at is None  # nothing is due any more
    assert lead_of(mine).last_activity.at == MONDAY + timedelta(hours=1)
    reminder = Reminder.objects.get()
    assert (reminder.lead_id, reminder.owner, reminder.text, reminder.due_at) == (
        mine.lead_id,
        ana,
        "Send the agenda",
        TUESDAY,
    )

    # A second touch is not the first one.
    frozen.move_to(MONDAY + timedelta(hours=2), tick=False)
    handoff.log_touch(lead_of(mine), Touch(kind="sales_email", outcome="replied"), by=ana)
    assert fresh(mine).first_touch_at == MONDAY + timedelta(hours=1)
    assert Reminder.objects.count() == 1  # no next step: no reminder


def test_a_next_step_without_a_date_is_noted_but_not_a_reminder(ana):
    mine = handed_to(ana)

    activity = handoff.log_touch(
        lead_of(mine), Touch(kind="meeting", outcome="connected", next_step="Think about it"), by=ana
    )

    assert activity.properties["next_step"] == "Think about it"
    assert not Reminder.objects.exists()


# --- Known bugs -------------------------------------------------------------------------------


def test_rejecting_a_lead_that_reached_the_opportunity_stage_is_refused_with_a_reason(ana):
    mine = handed_to(ana)
    handoff.accept(mine, by=ana)
    conversion.qualify(lead_of(mine), by=ana, need="Routing", timeline="Q2")
    conversion.open_opportunity(
        lead_of(mine), by=ana, amount="5000", expected_close_date=datetime.date(2026, 6, 30)
    )

    with pytest.raises(HandoffError):
        handoff.reject(mine, by=ana, reason="Changed their mind")

    assert lead_of(mine).stage == Stage.OPPORTUNITY
    assert fresh(mine).status == Status.ACCEPTED


def test_an_accepted_lead_a_manager_sends_back_to_the_pool_can_be_claimed(ana, bob, manager):
    hers = handed_to(ana)
    handoff.accept(hers, by=ana)
    handoff.reassign(hers, to=None, by=manager)
    assert list(handoff.queue(bob, scope="pool")) == [fresh(hers)]  # offered to Bob...

    handoff.claim(hers, by=bob)  # ... who takes it

    assert (fresh(hers).owner, lead_of(hers).owner) == (bob, bob)
