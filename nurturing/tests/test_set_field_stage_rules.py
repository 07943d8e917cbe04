"""A campaign's "set field: stage" step follows the lifecycle rules: it moves the leads whose
stage may go there and skips the others, without failing the step for the whole group."""

import pytest

from leads.models import Lead, Stage, StageChange
from leads.tests.factories import LeadFactory
from nurturing import services
from nurturing.models import Enrollment, Step

from .factories import campaign

pytestmark = pytest.mark.django_db


def test_a_set_stage_step_skips_the_leads_it_may_not_move():
    made = campaign(steps=[{"kind": Step.Kind.SET_FIELD, "field": "stage", "value": Stage.RECYCLED}])
    stages = [Stage.MQL, Stage.SAL, Stage.NEW, Stage.CUSTOMER, Stage.LOST]
    leads = {stage: LeadFactory(marketing_consent=True, stage=stage) for stage in stages}
    services.enroll(made, Lead.objects.filter(pk__in=[lead.pk for lead in leads.values()]))

    services.dispatch()

    now = dict(Lead.objects.values_list("pk", "stage"))
    assert {stage: now[lead.pk] for stage, lead in leads.items()} == {
        Stage.MQL: Stage.RECYCLED,
        Stage.SAL: Stage.RECYCLED,
        Stage.NEW: Stage.NEW,  # new → recycled is not a move the rules allow
        Stage.CUSTOMER: Stage.CUSTOMER,
        Stage.LOST: Stage.RECYCLED,
    }
    moved = StageChange.objects.filter(to_stage=Stage.RECYCLED)
    assert set(moved.values_list("from_stage", flat=True)) == {"mql", "sal", "lost"}
    assert all("Nurture" in reason for reason in moved.values_list("reason", flat=True))
    # The skipped leads went on through the campaign like the others.
    assert set(Enrollment.objects.values_list("status", flat=True)) == {Enrollment.Status.COMPLETED}
