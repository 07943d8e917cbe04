"""The lifecycle rules: every move of the Stage × Stage grid against the table, reasons, and
who may force a move the rules refuse."""

import pytest
from django.core.exceptions import PermissionDenied

from leads import lifecycle, services
from leads.lifecycle import TransitionNotAllowed
from leads.models import Activity, Lead, Stage, StageChange
from leads.tests.factories import LeadFactory

# The table as the README states it, written out here so that a change to lifecycle.py
# that nobody meant shows up as a failing test.
LEGAL = {
    ("new", "mql"),
    ("new", "disqualified"),
    ("mql", "sal"),
    ("mql", "recycled"),
    ("mql", "disqualified"),
    ("sal", "sql"),
    ("sal", "recycled"),
    ("sal", "disqualified"),
    ("sql", "opportunity"),
    ("sql", "recycled"),
    ("sql", "disqualified"),
    ("opportunity", "customer"),
    ("opportunity", "lost"),
    ("lost", "recycled"),
    ("disqualified", "recycled"),
    ("recycled", "mql"),
    ("recycled", "disqualified"),
}
GRID = [(a, b) for a in Stage.values for b in Stage.values]


@pytest.mark.parametrize(("from_stage", "to_stage"), GRID)
def test_allowed_follows_the_table(from_stage, to_stage):
    assert lifecycle.allowed(from_stage, to_stage) == ((from_stage, to_stage) in LEGAL)


@pytest.mark.parametrize("stage", Stage.values)
def test_next_stages_lists_the_legal_moves(stage):
    assert set(lifecycle.next_stages(stage)) == {b for a, b in LEGAL if a == stage}


@pytest.mark.django_db
@pytest.mark.parametrize(("from_stage", "to_stage"), GRID)
def test_change_stage_makes_exactly_the_legal_moves(from_stage, to_stage, sdr):
    lead = LeadFactory(stage=from_stage)

    if (from_stage, to_stage) in LEGAL:
        services.change_stage(lead, to_stage=to_stage, by=sdr, reason="Because")
        lead.refresh_from_db()
        assert lead.stage == to_stage
        [change] = StageChange.objects.filter(lead=lead)
        assert (change.from_stage, change.to_stage, change.changed_by, change.forced) == (
            from_stage,
            to_stage,
            sdr,
            False,
        )
    else:
        with pytest.raises(TransitionNotAllowed):
            services.change_stage(lead, to_stage=to_stage, by=sdr, reason="Because")
        lead.refresh_from_db()
        assert lead.stage == from_stage
        assert not StageChange.objects.filter(lead=lead).exists()
        assert not Activity.objects.filter(lead=lead).exists()


def test_the_refusal_says_where_the_lead_may_go():
    with pytest.raises(TransitionNotAllowed) as refused:
        lifecycle.check("sal", "customer")
    assert str(refused.value) == "A lead in SAL can move to SQL, Recycled or Disqualified, not Customer."

    with pytest.raises(TransitionNotAllowed) as refused:
        lifecycle.check("lost", "mql")
    assert str(refused.value) == "A lead in Lost can move to Recycled, not MQL."

    with pytest.raises(TransitionNotAllowed) as refused:
        lifecycle.check("customer", "lost", reason="x")
    assert str(refused.value) == "A lead in Customer stays there: it cannot move to Lost."


def test_transition_not_allowed_is_a_value_error():
    assert issubclass(TransitionNotAllowed, ValueError)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("from_stage", "to_stage"),
    [("mql", "recycled"), ("sal", "disqualified"), ("opportunity", "lost"), ("new", "disqualified")],
)
def test_recycled_disqualified_and_lost_need_a_reason(from_stage, to_stage, sdr):
    lead = LeadFactory(stage=from_stage)

    for blank in ("", "   "):
        with pytest.raises(TransitionNotAllowed, match="Give a reason"):
            services.change_stage(lead, to_stage=to_stage, by=sdr, reason=blank)

    lead.refresh_from_db()
    assert lead.stage == from_stage
    assert not StageChange.objects.filter(lead=lead).exists()


@pytest.mark.django_db
def test_the_other_moves_need_no_reason(sdr):
    lead = LeadFactory(stage=Stage.MQL)

    services.change_stage(lead, to_stage=Stage.SAL, by=sdr)

    assert Lead.objects.get(pk=lead.pk).stage == Stage.SAL


@pytest.mark.django_db
def test_staying_in_the_same_stage_is_not_a_move(manager):
    lead = LeadFactory(stage=Stage.MQL)

    with pytest.raises(TransitionNotAllowed, match="in MQL already"):
        services.change_stage(lead, to_stage=Stage.MQL)
    with pytest.raises(TransitionNotAllowed, match="in MQL already"):
        services.change_stage(lead, to_stage=Stage.MQL, by=manager, reason="x", forced=True)


@pytest.mark.django_db
def test_the_rules_judge_the_stored_stage_not_a_stale_instance(sdr):
    lead = LeadFactory(stage=Stage.NEW)
    stale = Lead.objects.get(pk=lead.pk)
    services.change_stage(lead, to_stage=Stage.MQL, by=sdr)

    # The stale copy still says "new"; from MQL, SAL is legal.
    services.change_stage(stale, to_stage=Stage.SAL, by=sdr)

    assert list(
        StageChange.objects.filter(lead=lead).order_by("id").values_list("from_stage", "to_stage")
    ) == [
        ("new", "mql"),
        ("mql", "sal"),
    ]


@pytest.mark.django_db
def test_a_manager_may_force_a_move_the_rules_refuse_and_it_is_recorded_as_forced(manager):
    lead = LeadFactory(stage=Stage.NEW)

    services.change_stage(lead, to_stage=Stage.CUSTOMER, by=manager, reason="Signed offline", forced=True)

    lead.refresh_from_db()
    assert lead.stage == Stage.CUSTOMER
    [change] = StageChange.objects.filter(lead=lead)
    assert (change.from_stage, change.to_stage, change.changed_by, change.forced, change.reason) == (
        "new",
        "customer",
        manager,
        True,
        "Signed offline",
    )
    [activity] = Activity.objects.filter(lead=lead, kind="stage_changed")
    assert activity.properties["forced"] is True


@pytest.mark.django_db
def test_an_admin_may_force_too(admin_user):
    lead = LeadFactory(stage=Stage.CUSTOMER)

    services.change_stage(lead, to_stage=Stage.SQL, by=admin_user, reason="Entered by mistake", forced=True)

    assert StageChange.objects.get(lead=lead).forced


@pytest.mark.django_db
def test_a_forced_move_needs_a_reason(manager):
    lead = LeadFactory(stage=Stage.NEW)

    with pytest.raises(TransitionNotAllowed, match="reason for forcing"):
        services.change_stage(lead, to_stage=Stage.CUSTOMER, by=manager, forced=True)

    assert Lead.objects.get(pk=lead.pk).stage == Stage.NEW


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["sdr", "marketer"])
def test_sales_and_marketing_may_not_force(role, request):
    user = request.getfixturevalue(role)
    lead = LeadFactory(stage=Stage.NEW)

    with pytest.raises(PermissionDenied):
        services.change_stage(lead, to_stage=Stage.CUSTOMER, by=user, reason="Please", forced=True)

    assert Lead.objects.get(pk=lead.pk).stage == Stage.NEW
    assert not StageChange.objects.filter(lead=lead).exists()


@pytest.mark.django_db
def test_the_bulk_move_checks_the_move_once_for_the_batch():
    leads = LeadFactory.create_batch(3, stage=Stage.NEW)
    ids = [lead.pk for lead in leads]

    with pytest.raises(TransitionNotAllowed, match="not SQL"):
        services.change_stages(ids, from_stage=Stage.NEW, to_stage=Stage.SQL, reason="Bulk")
    with pytest.raises(TransitionNotAllowed, match="Give a reason"):
        services.change_stages(ids, from_stage=Stage.NEW, to_stage=Stage.DISQUALIFIED, reason="")
    assert set(Lead.objects.values_list("stage", flat=True)) == {Stage.NEW}
    assert not StageChange.objects.exists()

    moved = services.change_stages(ids, from_stage=Stage.NEW, to_stage=Stage.MQL, reason="Bulk")

    assert sorted(moved) == sorted(ids)
    assert set(Lead.objects.values_list("stage", flat=True)) == {Stage.MQL}
