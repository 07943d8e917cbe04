"""The SLA clock: deadlines count business hours (the days, hours and holidays of the settings,
in TIME_ZONE); the beat's ``check_slas`` records each deadline that passed once, tells the
team's manager (or every manager) and, where the rule says so, gives a lead nobody accepted
to the next SDR or the pool. After acceptance the first-touch deadline runs until a call,
e-mail or meeting is logged. ``remind_due`` announces a next step once, when it is due."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from leadapp import roles
from leadapp.models import Notification
from leads import handoff
from leads.business_hours import add_business_hours, calendar
from leads.handoff import Touch
from leads.models import Handoff, Lead, Reminder, RoutingRule, SlaBreach, Stage, Team
from leads.services import change_stage
from leads.tests.factories import LeadFactory

H = timedelta(hours=1)
MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # 10:00, an hour after opening
FRIDAY = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
NEXT_MONDAY = datetime(2026, 3, 9, tzinfo=UTC)


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute)


# --- Business hours ---------------------------------------------------------------------------


def test_friday_afternoon_plus_four_business_hours_is_monday_noon():
    assert add_business_hours(FRIDAY, 4) == at(NEXT_MONDAY, 12)


@pytest.mark.parametrize(
    "start, hours, due",
    [
        (at(MONDAY, 7, 30), 2, at(MONDAY, 11)),  # before opening: the clock starts at 09:00
        (at(MONDAY, 18), 1, at(MONDAY + 24 * H, 10)),  # after closing: tomorrow
        (datetime(2026, 3, 7, 11, 0, tzinfo=UTC), 1, at(NEXT_MONDAY, 10)),  # on Saturday
        (at(MONDAY, 9), 20, at(MONDAY + 48 * H, 13)),  # 8 + 8 + 4 over three days
        (at(MONDAY, 13), 4, at(MONDAY, 17)),  # up to closing time, not the next morning
        (at(MONDAY, 16, 30), 1.5, at(MONDAY + 24 * H, 10)),  # half an hour today, an hour tomorrow
    ],
    ids=["before-opening", "after-closing", "weekend", "several-days", "to-closing", "fractions"],
)
def test_business_hours_skip_nights_and_weekends(start, hours, due):
    assert add_business_hours(start, hours) == due


@override_settings(LEADAPP_HOLIDAYS=["2026-03-09"])
def test_a_holiday_is_skipped():
    assert add_business_hours(FRIDAY, 4) == at(NEXT_MONDAY + 24 * H, 12)


@override_settings(LEADAPP_BUSINESS_DAYS=[0, 1, 2, 3, 4, 5], LEADAPP_BUSINESS_HOURS="08:00-12:00")
def test_the_days_and_hours_come_from_the_settings():
    assert add_business_hours(FRIDAY, 4) == datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # Saturday noon


@override_settings(TIME_ZONE="America/New_York")
def test_business_hours_are_read_in_the_time_zone():
    new_york = ZoneInfo("America/New_York")
    friday_4pm = datetime(2026, 3, 6, 16, 0, tzinfo=new_york)  # 21:00 UTC

    due = add_business_hours(friday_4pm, 4)

    assert due == datetime(2026, 3, 9, 12, 0, tzinfo=new_york)  # Monday noon in New York
    # 12:00 in New York, 16:00 UTC: summer time began on the Sunday between.
    assert due.astimezone(UTC) == datetime(2026, 3, 9, 16, 0, tzinfo=UTC)


def test_between_counts_only_business_time():
    cal = calendar()
    assert cal.between(FRIDAY, at(NEXT_MONDAY, 12)) == 4 * H
    assert cal.between(at(MONDAY, 10), at(MONDAY, 11, 30)) == 1.5 * H
    assert cal.between(at(MONDAY, 6), at(MONDAY, 20)) == 8 * H
    assert cal.between(datetime(2026, 3, 7, 9, tzinfo=UTC), datetime(2026, 3, 8, 17, tzinfo=UTC)) == 0 * H
    assert cal.between(at(MONDAY, 12), at(MONDAY, 10)) == 0 * H  # the end before the start


@override_settings(LEADAPP_HOLIDAYS=["2026-03-09"])
def test_between_skips_holidays():
    assert calendar().between(FRIDAY, at(NEXT_MONDAY + 24 * H, 12)) == 4 * H


@pytest.mark.parametrize("hours", ["9-17", "17:00-09:00", "nine to five"])
def test_business_hours_that_make_no_sense_are_refused_with_an_explanation(hours, settings):
    settings.LEADAPP_BUSINESS_HOURS = hours
    with pytest.raises(ValueError, match="LEADAPP_BUSINESS_HOURS"):
        add_business_hours(FRIDAY, 4)


@override_settings(LEADAPP_BUSINESS_DAYS=[])
def test_a_calendar_without_working_days_is_refused():
    with pytest.raises(ValueError, match="no working hours"):
        add_business_hours(FRIDAY, 4)


# --- The SLA sweep ----------------------------------------------------------------------------


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(MONDAY, tick=False)
    return time_machine


@pytest.fixture
def ana(make_user):
    return make_user("ana", roles.SALES, email="ana@example.com")


@pytest.fixture
def bob(make_user):
    return make_user("bob", roles.SALES, email="bob@example.com")


@pytest.fixture
def mona(make_user):
    return make_user("mona", roles.MANAGER, email="mona@example.com")


@pytest.fixture
def max_(make_user):
    return make_user("max", roles.MANAGER, email="max@example.com")


def team_rule(*members, manager=None, **options) -> RoutingRule:
    team = Team.objects.create(name="EMEA", manager=manager)
    team.members.set(members)
    return RoutingRule.objects.create(name="EMEA", team=team, accept_within=4, touch_within=8, **options)


def promote(**lead_fields) -> Handoff:
    lead = LeadFactory(**lead_fields)
    change_stage(lead, to_stage=Stage.MQL, reason="Score")
    return Handoff.objects.get(lead=lead)


def fresh(handoff_: Handoff) -> Handoff:
    return Handoff.objects.select_related("lead").get(pk=handoff_.pk)


def breach_notes(user) -> list[str]:
    return list(Notification.objects.filter(user=user, kind="sla_breach").values_list("text", flat=True))


CALL = Touch(kind="call", outcome="connected", notes="Interested in the Pro plan")


@pytest.mark.django_db
def test_a_routed_lead_gets_its_deadlines_in_business_hours(frozen, ana, mona):
    team_rule(ana, manager=mona)
    frozen.move_to(at(FRIDAY, 15), tick=False)

    handed = promote()

    assert handed.accept_due_at == at(NEXT_MONDAY, 11)  # 2 h on Friday, 2 h on Monday
    assert handed.touch_due_at == at(NEXT_MONDAY, 15)
    assert handed.due_at == handed.accept_due_at


@pytest.mark.django_db
def test_a_lead_not_accepted_in_time_is_a_breach_the_team_manager_hears_of_once(frozen, ana, mona, max_):
    team = team_rule(ana, manager=mona).team
    handed = promote(first_name="Grace", last_name="Hopper")
    due = at(MONDAY, 14)
    assert handed.accept_due_at == due

    frozen.move_to(due - timedelta(minutes=1), tick=False)
    assert handoff.check_slas() == 0
    frozen.move_to(due + timedelta(minutes=5), tick=False)
    assert handoff.check_slas() == 1

    breach = SlaBreach.objects.get()
    assert (breach.handoff, breach.kind, breach.owner, breach.team) == (handed, "accept", ana, team)
    assert (breach.due_at, breach.recorded_at) == (due, due + timedelta(minutes=5))
    assert breach.reassigned_to is None and not breach.to_pool
    assert breach_notes(mona) == ["SLA missed: Grace Hopper was not accepted in time by ana"]
    assert Notification.objects.get(user=mona, kind="sla_breach").url == f"/leads/{handed.lead_id}/"
    assert breach_notes(max_) == []  # another team's manager
    assert fresh(handed).owner == ana  # the rule does not reassign

    # The next runs of the beat record nothing more for the same deadline.
    frozen.move_to(due + timedelta(minutes=6), tick=False)
    assert handoff.check_slas() == 0
    assert handoff.check_slas(due + timedelta(hours=30)) == 0
    assert SlaBreach.objects.count() == 1
    assert len(breach_notes(mona)) == 1


@pytest.mark.django_db
def test_without_a_team_manager_every_manager_hears_of_a_breach(frozen, ana, bob, mona, max_):
    team_rule(ana)  # a team without a manager
    handed = promote()

    frozen.move_to(at(MONDAY, 15), tick=False)
    assert handoff.check_slas() == 1

    assert len(breach_notes(mona)) == 1 and len(breach_notes(max_)) == 1
    assert breach_notes(ana) == [] and breach_notes(bob) == []
    assert SlaBreach.objects.get().handoff == handed


@pytest.mark.django_db
def test_a_pool_lead_nobody_claimed_is_a_breach_without_an_owner(frozen, mona, settings):
    settings.LEADAPP_POOL_ACCEPT_WITHIN = 2
    handed = promote(first_name="Alan", last_name="Turing")
    assert handed.owner is None and handed.accept_due_at == at(MONDAY, 12)

    assert handoff.check_slas(at(MONDAY, 12)) == 1

    breach = SlaBreach.objects.get()
    assert (breach.kind, breach.owner, breach.to_pool, breach.reassigned_to) == ("accept", None, False, None)
    assert breach_notes(mona) == [
        "SLA missed: Alan Turing was not accepted in time by nobody (the lead is in the pool)"
    ]


@pytest.mark.django_db
def test_a_lead_accepted_in_time_is_no_breach(frozen, ana, mona):
    team_rule(ana, manager=mona)
    handed = promote()
    frozen.move_to(at(MONDAY, 13, 59), tick=False)
    handoff.accept(handed, by=ana)

    frozen.move_to(at(MONDAY, 16), tick=False)
    assert handoff.check_slas() == 0
    assert not SlaBreach.objects.exists()


@pytest.mark.django_db
def test_a_rejected_or_lost_lead_is_no_breach(frozen, ana, mona):
    team_rule(ana, manager=mona)
    handed = promote()
    handoff.reject(handed, by=ana, reason="A competitor")

    assert handoff.check_slas(at(MONDAY + 48 * H, 17)) == 0
    assert not SlaBreach.objects.exists() and breach_notes(mona) == []


@pytest.mark.django_db
def test_with_reassign_on_breach_the_lead_goes_to_the_next_sdr(frozen, ana, bob, mona):
    team_rule(ana, bob, manager=mona, reassign_on_breach=True)
    handed = promote(first_name="Grace", last_name="Hopper")
    assert handed.owner == ana
    late = at(MONDAY, 14, 30)
    frozen.move_to(late, tick=False)

    assert handoff.check_slas() == 1

    breach = SlaBreach.objects.get()
    assert (breach.owner, breach.reassigned_to, breach.to_pool) == (ana, bob, False)
    now_with = fresh(handed)
    assert (now_with.owner, now_with.status) == (bob, Handoff.Status.ASSIGNED)
    assert Lead.objects.get(pk=handed.lead_id).owner == bob
    # Bob's clock starts now: four business hours from the reassignment.
    assert now_with.accept_due_at == now_with.due_at == at(MONDAY + 24 * H, 10, 30)
    assert Notification.objects.filter(user=bob, kind="lead_assigned").values_list(
        "text", flat=True
    ).get() == ("New lead for you: Grace Hopper")
    assert breach_notes(mona) == [
        "SLA missed: Grace Hopper was not accepted in time by ana; reassigned to bob"
    ]
    # Bob's deadline is a new one: missed too, it is recorded (and the lead goes back to Ana).
    assert handoff.check_slas(at(MONDAY + 24 * H, 10, 30)) == 1
    assert list(SlaBreach.objects.order_by("id").values_list("owner", "reassigned_to")) == [
        (ana.pk, bob.pk),
        (bob.pk, ana.pk),
    ]


@pytest.mark.django_db
def test_with_reassign_on_breach_and_nobody_else_free_the_lead_goes_to_the_pool(frozen, ana, bob, mona):
    team_rule(ana, bob, manager=mona, reassign_on_breach=True, cap=1)
    # Bob works an accepted lead (no deadline of its own): he is at the cap.
    busy = LeadFactory(stage=Stage.SAL, owner=bob)
    Handoff.objects.create(
        lead=busy, owner=bob, status=Handoff.Status.ACCEPTED, handed_at=MONDAY, accepted_at=MONDAY
    )
    handed = promote()
    assert handed.owner == ana

    assert handoff.check_slas(at(MONDAY, 14)) == 1

    breach = SlaBreach.objects.get(handoff=handed)
    assert (breach.owner, breach.reassigned_to, breach.to_pool) == (ana, None, True)
    pooled = fresh(handed)
    assert (pooled.owner, pooled.status) == (None, Handoff.Status.POOL)
    assert Lead.objects.get(pk=handed.lead_id).owner is None
    assert any(text.endswith("reassigned to the pool") for text in breach_notes(mona))


@pytest.mark.django_db
def test_after_acceptance_the_first_touch_deadline_is_a_breach_of_its_own(frozen, ana, mona):
    team_rule(ana, manager=mona)
    handed = promote(first_name="Grace", last_name="Hopper")
    handoff.accept(handed, by=ana)
    touch_due = at(MONDAY + 24 * H, 10)
    assert fresh(handed).due_at == touch_due

    assert handoff.check_slas(touch_due - timedelta(minutes=1)) == 0
    assert handoff.check_slas(touch_due) == 1

    breach = SlaBreach.objects.get()
    assert (breach.kind, breach.owner, breach.due_at) == ("touch", ana, touch_due)
    assert breach_notes(mona) == ["SLA missed: Grace Hopper was not contacted in time by ana"]
    assert handoff.check_slas(touch_due + H) == 0


@pytest.mark.django_db
def test_a_touch_logged_after_acceptance_stops_the_clock(frozen, ana, mona):
    team_rule(ana, manager=mona)
    handed = promote()
    handoff.accept(handed, by=ana)
    frozen.move_to(at(MONDAY, 16), tick=False)
    handoff.log_touch(Lead.objects.get(pk=handed.lead_id), CALL, by=ana)

    assert fresh(handed).due_at is None
    assert handoff.check_slas(at(MONDAY + 72 * H, 12)) == 0
    assert not SlaBreach.objects.exists()


@pytest.mark.django_db
def test_a_touch_logged_before_acceptance_means_no_touch_deadline_after_it(frozen, ana, mona):
    team_rule(ana, manager=mona)
    handed = promote()
    handoff.log_touch(Lead.objects.get(pk=handed.lead_id), CALL, by=ana)
    assert fresh(handed).due_at == at(MONDAY, 14)  # acceptance is still due
    handoff.accept(handed, by=ana)

    assert fresh(handed).due_at is None
    assert handoff.check_slas(at(MONDAY + 72 * H, 12)) == 0
    assert not SlaBreach.objects.exists()


# --- Reminders --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_next_step_is_announced_once_when_it_is_due(frozen, ana):
    lead = LeadFactory(stage=Stage.MQL, owner=ana, first_name="Grace", last_name="Hopper")
    due = at(MONDAY + 24 * H, 9, 30)
    handoff.log_touch(
        lead,
        Touch(kind="call", outcome="voicemail", next_step="Call back", next_step_due=due),
        by=ana,
    )

    assert handoff.remind_due(due - timedelta(minutes=1)) == 0
    assert handoff.remind_due(due) == 1
    assert handoff.remind_due(due + H) == 0

    note = Notification.objects.get(user=ana, kind="reminder")
    assert (note.text, note.url) == ("Due: Call back (Grace Hopper)", f"/leads/{lead.pk}/")
    assert Reminder.objects.get().notified_at == due


@pytest.mark.django_db
def test_a_reminder_done_before_it_is_due_is_not_announced(frozen, ana, bob):
    lead = LeadFactory(stage=Stage.MQL, owner=ana)
    due = at(MONDAY, 15)
    handoff.log_touch(
        lead,
        Touch(kind="sales_email", outcome="replied", next_step="Send the quote", next_step_due=due),
        by=ana,
    )
    reminder = Reminder.objects.get()
    with pytest.raises(handoff.HandoffError, match="colleague"):
        handoff.complete_reminder(reminder, by=bob)
    handoff.complete_reminder(reminder, by=ana)

    assert handoff.remind_due(due + H) == 0
    assert not Notification.objects.filter(kind="reminder").exists()
