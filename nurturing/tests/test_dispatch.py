"""The dispatcher moves enrolled leads through a campaign's steps, set-based."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from leads.models import Lead, Stage
from leads.tests.factories import LeadFactory
from nurturing import services
from nurturing.models import Campaign, Enrollment, Message, Step, Suppression

from .factories import campaign, send, steps_of, template, wait

pytestmark = pytest.mark.django_db


def consenting(n: int = 1, **fields) -> list[Lead]:
    return [LeadFactory(marketing_consent=True, **fields) for _ in range(n)]


def enroll(made: Campaign, leads: list[Lead]) -> int:
    return services.enroll(made, Lead.objects.filter(pk__in=[lead.pk for lead in leads]))


def test_an_email_step_writes_one_outbox_row_per_lead_and_moves_them_to_the_wait():
    made = campaign(steps=[send(), wait(wait_days=2), send(template(name="Second"))])
    leads = consenting(3)
    with time_machine.travel("2026-03-02 09:00 +00:00", tick=False):
        assert enroll(made, leads) == 3
        services.dispatch()
        now = timezone.now()

    first, pause, second = steps_of(made)
    assert sorted(Message.objects.values_list("to_email", flat=True)) == sorted(lead.email for lead in leads)
    assert set(Message.objects.values_list("step", "status")) == {(first.pk, Message.Status.QUEUED)}
    assert set(Enrollment.objects.values_list("step", "due_at")) == {(second.pk, now + timedelta(days=2))}


def test_running_the_dispatcher_again_writes_no_second_message():
    made = campaign(steps=[send(), wait(wait_days=1)])
    enroll(made, consenting(2))
    services.dispatch()
    # The same step run again (say, a retried dispatcher after a crash) is a no-op per key.
    Enrollment.objects.update(step=steps_of(made)[0], due_at=timezone.now())
    services.dispatch()
    assert Message.objects.count() == 2


def test_the_next_email_waits_for_its_day_then_is_written():
    made = campaign(steps=[send(), wait(wait_days=2), send(template(name="Second"))])
    with time_machine.travel("2026-03-02 09:00 +00:00", tick=False):
        enroll(made, consenting(1))
        services.dispatch()
    with time_machine.travel("2026-03-03 09:00 +00:00", tick=False):
        services.dispatch()
        assert Message.objects.count() == 1
    with time_machine.travel("2026-03-04 09:01 +00:00", tick=False):
        services.dispatch()
    assert Message.objects.count() == 2
    assert Enrollment.objects.get().status == Enrollment.Status.COMPLETED


def test_a_wait_until_a_weekday_window_lands_inside_it():
    # Friday 17:30 in the site's time zone; "Mon-Fri 9-12" → Monday 09:00.
    made = campaign(steps=[wait(wait_weekdays="01234", wait_from_hour=9, wait_to_hour=12), send()])
    with time_machine.travel(timezone.make_aware(timezone.datetime(2026, 3, 6, 17, 30)), tick=False):
        enroll(made, consenting(1))
        services.dispatch()
    due = timezone.localtime(Enrollment.objects.get().due_at)
    assert (due.weekday(), due.hour, due.minute) == (0, 9, 0)
    assert due.date().isoformat() == "2026-03-09"


def test_leads_without_consent_or_suppressed_get_a_skipped_row_and_no_email():
    made = campaign(steps=[send()])
    (ok,) = consenting(1)
    no_consent = LeadFactory(marketing_consent=False)
    (suppressed,) = consenting(1)
    Suppression.objects.create(email=suppressed.email, reason=Suppression.Reason.BOUNCED)
    enroll(made, [ok, no_consent])
    services.enroll(made, Lead.objects.filter(pk=suppressed.pk))
    services.dispatch()
    statuses = dict(Message.objects.values_list("lead", "status"))
    assert statuses.get(ok.pk) == Message.Status.QUEUED
    assert statuses.get(no_consent.pk) == Message.Status.SKIPPED
    # The suppressed lead left the campaign before its step ran.
    assert suppressed.pk not in statuses
    assert Enrollment.objects.get(lead=suppressed).exit_reason == Enrollment.ExitReason.BOUNCED


def test_a_lead_is_never_in_the_same_campaign_twice_at_once():
    made = campaign(steps=[send(), wait(wait_days=3)])
    leads = consenting(2)
    assert enroll(made, leads) == 2
    assert enroll(made, leads) == 0
    assert Enrollment.objects.count() == 2


def test_re_enrollment_after_finishing_only_when_the_campaign_allows_it():
    once = campaign(steps=[send()])
    again = campaign(steps=[send()], reenroll=True, name="Again")
    leads = consenting(1)
    for made in (once, again):
        enroll(made, leads)
    services.dispatch()
    assert enroll(once, leads) == 0
    assert enroll(again, leads) == 1


def test_a_draft_campaign_refuses_enrollment():
    made = campaign(steps=[send()], status=Campaign.Status.DRAFT)
    with pytest.raises(services.CampaignError, match="start it first"):
        enroll(made, consenting(1))


def test_a_paused_campaign_holds_its_leads_until_resumed():
    made = campaign(steps=[send()])
    enroll(made, consenting(2))
    services.pause(made)
    services.dispatch()
    assert Message.objects.count() == 0
    services.activate(made)
    services.dispatch()
    assert Message.objects.count() == 2


def test_a_lead_that_converts_leaves_the_campaign_and_is_not_emailed_again():
    made = campaign(steps=[send(), wait(wait_days=1), send(template(name="Second"))])
    lead, other = consenting(2)
    enroll(made, [lead, other])
    services.dispatch()
    # Converting goes through the lead's services, which tell the campaigns at once.
    from leads.services import change_stage

    change_stage(Lead.objects.get(pk=lead.pk), to_stage=Stage.CUSTOMER, reason="Won")
    enrollment = Enrollment.objects.get(lead=lead)
    assert (enrollment.status, enrollment.exit_reason) == (
        Enrollment.Status.EXITED,
        Enrollment.ExitReason.CONVERTED,
    )
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        services.dispatch()
    assert Message.objects.filter(lead=lead).count() == 1
    assert Message.objects.filter(lead=other).count() == 2


def test_the_goal_activity_ends_the_campaign():
    from leads.services import record_activity

    made = campaign(
        steps=[send(), wait(wait_days=1), send(template(name="Second"))], goal_activity="demo_requested"
    )
    (lead,) = consenting(1)
    enroll(made, [lead])
    services.dispatch()
    record_activity(lead, kind="demo_requested")
    assert Enrollment.objects.get().exit_reason == Enrollment.ExitReason.GOAL


def test_a_step_removed_from_a_live_campaign_is_skipped_by_leads_waiting_on_it():
    made = campaign(steps=[wait(wait_days=1), send(), send(template(name="Second"))])
    enroll(made, consenting(1))
    services.dispatch()
    pause_step, first, second = steps_of(made)
    services.remove_step(first)
    assert Step.objects.filter(pk=first.pk, removed=True).exists()
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        services.dispatch()
    assert list(Message.objects.values_list("step", flat=True)) == [second.pk]


def test_moving_to_another_campaign_enrolls_the_lead_there():
    target = campaign(steps=[send(template(name="Other"))], name="Target")
    made = campaign(steps=[{"kind": Step.Kind.MOVE_TO_CAMPAIGN, "target": target}])
    (lead,) = consenting(1)
    enroll(made, [lead])
    services.dispatch()
    assert Enrollment.objects.get(campaign=made).exit_reason == Enrollment.ExitReason.MOVED
    assert Message.objects.get().campaign == target


def test_a_set_field_step_changes_the_stage_with_history():
    made = campaign(steps=[{"kind": Step.Kind.SET_FIELD, "field": "stage", "value": Stage.MQL}])
    (lead,) = consenting(1)
    enroll(made, [lead])
    services.dispatch()
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL
    assert lead.stage_changes.filter(to_stage=Stage.MQL, reason__contains="Nurture").exists()


def test_notify_owner_writes_an_email_to_the_owner(make_user):
    owner = make_user("owner", email="owner@example.com")
    made = campaign(steps=[{"kind": Step.Kind.NOTIFY_OWNER, "note": "Call them"}])
    (lead,) = consenting(1, owner=owner)
    enroll(made, [lead])
    services.dispatch()
    message = Message.objects.get()
    assert (message.kind, message.to_email) == (Message.Kind.NOTIFICATION, "owner@example.com")
    assert "Call them" in message.text


def test_the_demo_campaign_is_complete_and_runs(django_user_model):
    from django.core.management import call_command

    call_command("seed_demo_campaigns")
    made = Campaign.objects.get(name="Welcome series")
    for step in made.steps.all():
        step.full_clean()
    (lead,) = consenting(1)
    assert services.enroll(made, Lead.objects.filter(pk=lead.pk)) == 1
    services.dispatch()
    assert Message.objects.get().step.template.name == "Welcome"
    call_command("seed_demo_campaigns")  # a second run adds nothing
    assert Campaign.objects.count() == 1


def test_a_final_wait_keeps_the_lead_in_the_campaign_until_it_ends():
    made = campaign(steps=[send(), wait(wait_days=2)])
    enroll(made, consenting(1))
    services.dispatch()
    enrollment = Enrollment.objects.get()
    assert enrollment.status == Enrollment.Status.ACTIVE
    with time_machine.travel(timezone.now() + timedelta(days=2, minutes=1)):
        services.dispatch()
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED
