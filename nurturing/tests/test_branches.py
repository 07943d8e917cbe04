"""Branch steps split the leads at them by a condition, with the clock frozen."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from leads.models import Lead, Stage
from leads.services import record_activity
from leads.tests.factories import LeadFactory
from nurturing import services
from nurturing.models import BranchOn, Enrollment, Message, Step
from scoring.models import LeadScore

from .factories import branch, campaign, send, steps_of, template, wait

pytestmark = pytest.mark.django_db

START = "2026-05-04 10:00 +00:00"  # a Monday


def yes_no_campaign(condition: dict, *, before=()):
    """before… → branch → (no) "No" e-mail, end; (yes) "Yes" e-mail."""
    made = campaign(
        steps=[
            *before,
            branch(**condition),
            send(template(name="No")),
            {"kind": Step.Kind.END},
            send(template(name="Yes")),
        ]
    )
    steps = steps_of(made)
    fork, yes = steps[len(before)], steps[-1]
    fork.yes_step = yes
    fork.save()
    return made


def answers(made, leads) -> dict[int, str]:
    """Which e-mail each lead got after the branch."""
    services.dispatch()
    got = dict(
        Message.objects.filter(step__template__name__in=["Yes", "No"]).values_list(
            "lead", "step__template__name"
        )
    )
    return {lead.pk: got.get(lead.pk, "-") for lead in leads}


def start(made, leads):
    services.enroll(made, Lead.objects.filter(pk__in=[lead.pk for lead in leads]))


@time_machine.travel(START, tick=False)
def test_score_at_least():
    made = yes_no_campaign({"branch_on": BranchOn.SCORE, "value": "50"})
    high, low, unscored = (LeadFactory(marketing_consent=True) for _ in range(3))
    LeadScore.objects.create(lead=high, total=50)
    LeadScore.objects.create(lead=low, total=49)
    start(made, [high, low, unscored])
    assert answers(made, [high, low, unscored]) == {high.pk: "Yes", low.pk: "No", unscored.pk: "No"}


@time_machine.travel(START, tick=False)
def test_grade_one_of():
    made = yes_no_campaign({"branch_on": BranchOn.GRADE, "value": "a, b"})
    a, c = LeadFactory(marketing_consent=True), LeadFactory(marketing_consent=True)
    LeadScore.objects.create(lead=a, grade="A")
    LeadScore.objects.create(lead=c, grade="C")
    start(made, [a, c])
    assert answers(made, [a, c]) == {a.pk: "Yes", c.pk: "No"}


@time_machine.travel(START, tick=False)
def test_stage_one_of():
    made = yes_no_campaign({"branch_on": BranchOn.STAGE, "value": "mql"})
    mql, new = LeadFactory(marketing_consent=True, stage=Stage.MQL), LeadFactory(marketing_consent=True)
    start(made, [mql, new])
    assert answers(made, [mql, new]) == {mql.pk: "Yes", new.pk: "No"}


@time_machine.travel(START, tick=False)
def test_attribute_conditions_on_columns_and_custom_attributes():
    made = yes_no_campaign(
        {"branch_on": BranchOn.ATTRIBUTE, "field": "industry", "operator": "equals", "value": "Software"}
    )
    saas, retail = (
        LeadFactory(marketing_consent=True, industry="software"),
        LeadFactory(marketing_consent=True),
    )
    start(made, [saas, retail])
    assert answers(made, [saas, retail]) == {saas.pk: "Yes", retail.pk: "No"}

    Message.objects.all().delete()
    Enrollment.objects.all().delete()
    made = yes_no_campaign(
        {"branch_on": BranchOn.ATTRIBUTE, "field": "custom.seats", "operator": "in_range", "value": "10"}
    )
    big = LeadFactory(marketing_consent=True, custom={"seats": "25"})
    small = LeadFactory(marketing_consent=True, custom={"seats": "3"})
    start(made, [big, small])
    assert answers(made, [big, small]) == {big.pk: "Yes", small.pk: "No"}


def test_opened_an_earlier_email_within_the_wait():
    with time_machine.travel(START, tick=False):
        made = campaign(
            steps=[
                send(template(name="First")),
                wait(wait_days=3),
                branch(BranchOn.OPENED),
                send(template(name="No")),
                {"kind": Step.Kind.END},
                send(template(name="Yes")),
            ]
        )
        first, _, fork, *_, yes = steps_of(made)
        fork.ref_step, fork.yes_step = first, yes
        fork.save()
        reader, ignorer = LeadFactory(marketing_consent=True), LeadFactory(marketing_consent=True)
        start(made, [reader, ignorer])
        services.dispatch()
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        Message.objects.filter(lead=reader).update(opened_at=timezone.now())
    with time_machine.travel(timezone.now() + timedelta(days=3, minutes=1), tick=False):
        assert answers(made, [reader, ignorer]) == {reader.pk: "Yes", ignorer.pk: "No"}


def test_did_an_activity_since_enrolling_counts_only_activities_after_enrollment():
    with time_machine.travel(START, tick=False):
        early = LeadFactory(marketing_consent=True)
        record_activity(early, kind="webinar_attended")  # before the campaign: does not count
    with time_machine.travel(timezone.now() + timedelta(days=1), tick=False):
        made = yes_no_campaign(
            {"branch_on": BranchOn.ACTIVITY, "activity_kind": "webinar_attended"}, before=[wait(wait_days=2)]
        )
        doer = LeadFactory(marketing_consent=True)
        start(made, [early, doer])
        services.dispatch()
    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):
        record_activity(doer, kind="webinar_attended")
    with time_machine.travel(timezone.now() + timedelta(days=3, minutes=1), tick=False):
        assert answers(made, [early, doer]) == {doer.pk: "Yes", early.pk: "No"}
