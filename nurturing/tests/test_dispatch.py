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
    # In opportunity, the one stage a lead converts (becomes a customer) from.
    lead, other = consenting(2, stage=Stage.OPPORTUNITY)
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


def test_a_step_that_fails_holds_back_only_its_own_leads_and_runs_when_it_can():
    target = campaign(steps=[send(template(name="There"))], name="Target", status=Campaign.Status.DRAFT)
    mover = campaign(steps=[{"kind": Step.Kind.MOVE_TO_CAMPAIGN, "target": target}], name="Mover")
    other = campaign(steps=[send(template(name="Other"))], name="Other")
    a, b = consenting(2)
    enroll(mover, [a])
    enroll(other, [b])

    services.dispatch()  # the target is a draft: the move cannot happen yet
    waiting = Enrollment.objects.get(campaign=mover)
    assert waiting.status == Enrollment.Status.ACTIVE and "draft" in waiting.error
    assert Message.objects.get().lead == b  # the other campaign went ahead

    services.activate(target)
    with time_machine.travel(timezone.now() + services.STEP_RETRY + timedelta(minutes=1)):
        services.dispatch()
    assert Enrollment.objects.get(campaign=mover).exit_reason == Enrollment.ExitReason.MOVED
    assert Message.objects.filter(lead=a, campaign=target).exists()


def test_moving_to_a_paused_campaign_enrolls_the_lead_there_to_wait():
    target = campaign(steps=[send(template(name="There"))], name="Target")
    services.pause(target)
    mover = campaign(steps=[{"kind": Step.Kind.MOVE_TO_CAMPAIGN, "target": target}], name="Mover")
    (lead,) = consenting(1)
    enroll(mover, [lead])
    services.dispatch()
    assert Enrollment.objects.get(campaign=target, lead=lead).status == Enrollment.Status.ACTIVE


def test_a_campaign_for_sales_stages_keeps_leads_that_were_there_when_they_entered():
    from leads.services import change_stage

    made = campaign(steps=[send(), wait(wait_days=1), send(template(name="Second"))])
    opportunity = consenting(1, stage=Stage.OPPORTUNITY)[0]
    customer = consenting(1, stage=Stage.CUSTOMER)[0]
    enroll(made, [opportunity, customer])
    services.dispatch()
    assert Message.objects.count() == 2  # nobody left for being in opportunity or a customer already
    change_stage(Lead.objects.get(pk=opportunity.pk), to_stage=Stage.CUSTOMER, reason="Won")
    assert Enrollment.objects.get(lead=opportunity).exit_reason == Enrollment.ExitReason.CONVERTED
    assert Enrollment.objects.get(lead=customer).status == Enrollment.Status.ACTIVE


def test_a_loop_with_no_wait_is_refused_and_one_with_a_wait_is_fine():
    made = campaign(steps=[send(), {"kind": Step.Kind.BRANCH, "branch_on": "stage", "value": "new"}, send()])
    first, fork, _ = steps_of(made)
    made.status = Campaign.Status.DRAFT
    made.save()
    fork.yes_step = first
    fork.save()
    with pytest.raises(services.CampaignError, match="no wait"):
        services.activate(made)
    Step.objects.create(campaign=made, kind=Step.Kind.WAIT, wait_days=7, position=first.position - 1)
    fork.yes_step = made.steps.get(kind=Step.Kind.WAIT)
    fork.save()
    services.activate(made)
    assert Campaign.objects.get(pk=made.pk).status == Campaign.Status.ACTIVE


def test_a_wait_window_across_midnight():
    made = campaign(steps=[wait(wait_from_hour=18, wait_to_hour=9), send()])
    (step,) = [s for s in steps_of(made) if s.kind == Step.Kind.WAIT]
    noon = timezone.make_aware(timezone.datetime(2026, 3, 4, 12, 0))
    two_am = timezone.make_aware(timezone.datetime(2026, 3, 4, 2, 0))
    assert services.wait_until(step, noon) == noon.replace(hour=18)
    assert services.wait_until(step, two_am) == two_am


def test_a_stage_trigger_enrolls_on_reaching_the_stage_and_again_only_on_reaching_it_again():
    from leads.services import change_stage

    campaign(steps=[send()], trigger=Campaign.Trigger.STAGE, trigger_stage=Stage.RECYCLED, reenroll=True)
    already, lead = consenting(1, stage=Stage.RECYCLED)[0], consenting(1, stage=Stage.MQL)[0]
    services.enroll_triggered()
    assert not Enrollment.objects.exists()  # "reaches": being there before the start is not it

    change_stage(Lead.objects.get(pk=lead.pk), to_stage=Stage.RECYCLED, reason="Not now")
    services.dispatch()
    for _ in range(3):  # beat, again and again: no new enrollment without a new transition
        services.enroll_triggered()
        services.dispatch()
    assert Enrollment.objects.filter(lead=lead).count() == 1

    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        change_stage(Lead.objects.get(pk=lead.pk), to_stage=Stage.MQL, reason="Back")
        change_stage(Lead.objects.get(pk=lead.pk), to_stage=Stage.RECYCLED, reason="Not now, again")
    assert Enrollment.objects.filter(lead=lead).count() == 2
    assert not Enrollment.objects.filter(lead=already).exists()


def test_a_grade_trigger_enrolls_a_lead_once_even_when_re_enrollment_is_allowed():
    from scoring.models import LeadScore

    made = campaign(steps=[send()], trigger=Campaign.Trigger.GRADE, trigger_grade="B", reenroll=True)
    (lead,) = consenting(1)
    LeadScore.objects.create(lead=lead, grade="A")
    for _ in range(3):
        services.enroll_triggered()
        services.dispatch()
    assert Enrollment.objects.filter(campaign=made).count() == 1
    assert Message.objects.count() == 1
