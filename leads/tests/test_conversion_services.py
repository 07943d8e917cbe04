"""The conversion services: qualify, open an opportunity, mark it won or lost. Each moves the
lead through ``change_stage`` (history, rules, signals) and refuses, changing nothing, when
the lead is not where the step starts or what it was given is wrong."""

import datetime
from decimal import Decimal

import pytest
from django.test import override_settings

from leads import conversion
from leads.conversion import ConversionError
from leads.models import Lead, LostReason, Opportunity, Qualification, Stage, StageChange
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

CLOSE = datetime.date(2031, 3, 31)


def qualified(by) -> Lead:
    lead = LeadFactory(stage=Stage.SAL)
    conversion.qualify(lead, by=by, budget="20k", authority="CFO", need="Fewer lost leads", timeline="Q2")
    return lead


def with_opportunity(by, amount="12500.00") -> Lead:
    lead = LeadFactory(stage=Stage.SQL)
    conversion.open_opportunity(lead, by=by, amount=amount, expected_close_date=CLOSE)
    return lead


def moves(lead: Lead) -> list[tuple[str, str, str]]:
    return list(
        StageChange.objects.filter(lead=lead)
        .order_by("changed_at", "pk")
        .values_list("from_stage", "to_stage", "reason")
    )


def stage_of(lead: Lead) -> str:
    return Lead.objects.get(pk=lead.pk).stage


# --- Qualify ----------------------------------------------------------------------------------


def test_qualifying_records_the_bant_answers_and_moves_the_lead_to_sql(sdr):
    lead = LeadFactory(stage=Stage.SAL)

    conversion.qualify(
        lead, by=sdr, budget="20k", authority="CFO", need="Fewer lost leads", timeline="Q2", notes="Warm"
    )

    q = Qualification.objects.get(lead=lead)
    assert (q.budget, q.authority, q.need, q.timeline, q.notes, q.qualified_by) == (
        "20k",
        "CFO",
        "Fewer lost leads",
        "Q2",
        "Warm",
        sdr,
    )
    assert stage_of(lead) == Stage.SQL
    assert moves(lead) == [("sal", "sql", "Qualified")]
    assert StageChange.objects.get(lead=lead).changed_by == sdr


def test_budget_and_authority_are_optional(sdr):
    lead = LeadFactory(stage=Stage.SAL)

    conversion.qualify(lead, by=sdr, need="Routing", timeline="This year")

    assert stage_of(lead) == Stage.SQL


@pytest.mark.parametrize(
    "missing, field", [({"need": "  "}, "need"), ({"timeline": ""}, "timeline")], ids=["need", "timeline"]
)
def test_qualifying_needs_a_need_and_a_timeline(sdr, missing, field):
    lead = LeadFactory(stage=Stage.SAL)

    with pytest.raises(ConversionError) as refused:
        conversion.qualify(lead, by=sdr, **{"need": "Routing", "timeline": "Q2", **missing})

    assert refused.value.field == field
    assert stage_of(lead) == Stage.SAL
    assert not Qualification.objects.exists()


@pytest.mark.parametrize("stage", [Stage.MQL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER])
def test_only_a_sales_accepted_lead_is_qualified(sdr, stage):
    lead = LeadFactory(stage=stage)

    with pytest.raises(ConversionError, match="cannot qualify it now"):
        conversion.qualify(lead, by=sdr, need="Routing", timeline="Q2")

    assert stage_of(lead) == stage
    assert not Qualification.objects.exists()
    assert not StageChange.objects.filter(lead=lead).exists()


def test_qualifying_twice_records_one_qualification_and_says_why(sdr):
    lead = LeadFactory(stage=Stage.SAL)
    conversion.qualify(lead, by=sdr, need="Routing", timeline="Q2")

    # The second submit of the same form: the instance still says SAL, the database does not.
    stale = Lead.objects.get(pk=lead.pk)
    stale.stage = Stage.SAL
    with pytest.raises(ConversionError, match="The lead is in SQL, not SAL"):
        conversion.qualify(stale, by=sdr, need="Routing", timeline="Q2")

    assert Qualification.objects.filter(lead=lead).count() == 1
    assert moves(lead) == [("sal", "sql", "Qualified")]


# --- Open an opportunity ------------------------------------------------------------------------


def test_opening_an_opportunity_records_it_and_moves_the_lead(sdr):
    lead = qualified(sdr)

    opportunity = conversion.open_opportunity(lead, by=sdr, amount="12500", expected_close_date=CLOSE)

    opportunity.refresh_from_db()
    assert (opportunity.amount, opportunity.currency, opportunity.expected_close_date) == (
        Decimal("12500.00"),
        "EUR",
        CLOSE,
    )
    assert (opportunity.status, opportunity.opened_by) == (Opportunity.Status.OPEN, sdr)
    assert stage_of(lead) == Stage.OPPORTUNITY
    assert moves(lead)[-1] == ("sql", "opportunity", "Opportunity opened")


def test_the_currency_defaults_to_the_setting_and_may_be_given(sdr):
    with override_settings(LEADAPP_CURRENCY="CHF"):
        assert with_opportunity(sdr).opportunity.currency == "CHF"
    lead = LeadFactory(stage=Stage.SQL)
    assert (
        conversion.open_opportunity(
            lead, by=sdr, amount=1, expected_close_date=CLOSE, currency="usd"
        ).currency
        == "USD"
    )


@pytest.mark.parametrize(
    "amount, message",
    [("-1", "cannot be negative"), ("lots", "Enter an amount"), ("10000000000", "too large")],
)
def test_a_wrong_amount_is_refused(sdr, amount, message):
    lead = LeadFactory(stage=Stage.SQL)

    with pytest.raises(ConversionError, match=message) as refused:
        conversion.open_opportunity(lead, by=sdr, amount=amount, expected_close_date=CLOSE)

    assert refused.value.field == "amount"
    assert stage_of(lead) == Stage.SQL
    assert not Opportunity.objects.exists()


def test_a_wrong_currency_is_refused(sdr):
    lead = LeadFactory(stage=Stage.SQL)

    with pytest.raises(ConversionError, match="three-letter code"):
        conversion.open_opportunity(lead, by=sdr, amount=1, expected_close_date=CLOSE, currency="EURO")

    assert not Opportunity.objects.exists()


@pytest.mark.parametrize("stage", [Stage.SAL, Stage.MQL, Stage.LOST, Stage.CUSTOMER])
def test_only_a_qualified_lead_gets_an_opportunity(sdr, stage):
    lead = LeadFactory(stage=stage)

    with pytest.raises(ConversionError, match="cannot open an opportunity now"):
        conversion.open_opportunity(lead, by=sdr, amount=100, expected_close_date=CLOSE)

    assert stage_of(lead) == stage
    assert not Opportunity.objects.exists()


def test_opening_twice_keeps_one_opportunity(sdr):
    lead = with_opportunity(sdr, amount="100")

    with pytest.raises(ConversionError, match="open opportunity already"):
        conversion.open_opportunity(lead, by=sdr, amount="999", expected_close_date=CLOSE)

    assert Opportunity.objects.get(lead=lead).amount == Decimal("100.00")
    assert [m[1] for m in moves(lead)] == ["opportunity"]


def test_a_lead_forced_into_opportunity_gets_its_missing_record_without_moving(sdr, manager):
    from leads.services import change_stage

    lead = LeadFactory(stage=Stage.SAL)
    change_stage(lead, to_stage=Stage.OPPORTUNITY, by=manager, reason="Partner deal", forced=True)

    conversion.open_opportunity(lead, by=sdr, amount=50, expected_close_date=CLOSE)

    assert Opportunity.objects.get(lead=lead).status == Opportunity.Status.OPEN
    assert [m[1] for m in moves(lead)] == ["opportunity"]


# --- Won --------------------------------------------------------------------------------------


def test_marking_won_makes_a_customer_with_the_value_and_date(sdr):
    lead = with_opportunity(sdr)

    conversion.mark_won(lead, by=sdr, value="13000", won_date=datetime.date(2031, 3, 1))

    opportunity = Opportunity.objects.get(lead=lead)
    assert (opportunity.status, opportunity.won_value, opportunity.won_date, opportunity.closed_by) == (
        Opportunity.Status.WON,
        Decimal("13000.00"),
        datetime.date(2031, 3, 1),
        sdr,
    )
    assert opportunity.closed_at is not None
    assert stage_of(lead) == Stage.CUSTOMER
    assert moves(lead)[-1] == ("opportunity", "customer", "Won")


def test_the_won_value_defaults_to_the_amount(sdr):
    lead = with_opportunity(sdr, amount="12500.00")

    conversion.mark_won(lead, by=sdr, value=None, won_date=datetime.date(2031, 3, 1))

    assert Opportunity.objects.get(lead=lead).won_value == Decimal("12500.00")


def test_a_negative_won_value_is_refused(sdr):
    lead = with_opportunity(sdr)

    with pytest.raises(ConversionError, match="cannot be negative"):
        conversion.mark_won(lead, by=sdr, value="-5", won_date=datetime.date(2031, 3, 1))

    assert stage_of(lead) == Stage.OPPORTUNITY


def test_marking_won_twice_says_the_lead_is_a_customer_already(sdr):
    lead = with_opportunity(sdr)
    conversion.mark_won(lead, by=sdr, value=None, won_date=datetime.date(2031, 3, 1))

    with pytest.raises(ConversionError, match="The lead is in Customer"):
        conversion.mark_won(lead, by=sdr, value="1", won_date=datetime.date(2031, 3, 2))

    assert Opportunity.objects.get(lead=lead).won_date == datetime.date(2031, 3, 1)
    assert [m[1] for m in moves(lead)] == ["opportunity", "customer"]


def test_a_lead_without_an_open_opportunity_cannot_be_won(sdr, manager):
    from leads.services import change_stage

    lead = LeadFactory(stage=Stage.SQL)
    change_stage(lead, to_stage=Stage.OPPORTUNITY, by=sdr)

    with pytest.raises(ConversionError, match="no open opportunity"):
        conversion.mark_won(lead, by=sdr, value="1", won_date=CLOSE)

    assert stage_of(lead) == Stage.OPPORTUNITY


# --- Lost -------------------------------------------------------------------------------------


def test_the_migration_seeds_the_lost_reasons():
    assert list(LostReason.objects.values_list("name", flat=True)) == [
        "No budget",
        "Chose a competitor",
        "No decision / went dark",
        "Timing",
        "Not a fit",
        "Other",
    ]


def test_marking_lost_records_the_reason_and_moves_the_lead_with_it(sdr):
    lead = with_opportunity(sdr)
    reason = LostReason.objects.get(name="Chose a competitor")

    conversion.mark_lost(lead, by=sdr, reason=reason, note="Went with Acme")

    opportunity = Opportunity.objects.get(lead=lead)
    assert (opportunity.status, opportunity.lost_reason, opportunity.lost_note, opportunity.closed_by) == (
        Opportunity.Status.LOST,
        reason,
        "Went with Acme",
        sdr,
    )
    assert stage_of(lead) == Stage.LOST
    assert moves(lead)[-1] == ("opportunity", "lost", "Chose a competitor")


def test_an_inactive_lost_reason_is_refused(sdr):
    lead = with_opportunity(sdr)
    retired = LostReason.objects.create(name="Price (old)", active=False)

    with pytest.raises(ConversionError, match="no longer offered") as refused:
        conversion.mark_lost(lead, by=sdr, reason=retired)

    assert refused.value.field == "lost_reason"
    assert stage_of(lead) == Stage.OPPORTUNITY
    assert Opportunity.objects.get(lead=lead).status == Opportunity.Status.OPEN


def test_marking_lost_needs_a_reason(sdr):
    lead = with_opportunity(sdr)

    with pytest.raises(ConversionError, match="Choose why"):
        conversion.mark_lost(lead, by=sdr, reason=None)

    assert stage_of(lead) == Stage.OPPORTUNITY


def test_a_won_lead_cannot_be_marked_lost(sdr):
    lead = with_opportunity(sdr)
    conversion.mark_won(lead, by=sdr, value=None, won_date=CLOSE)

    with pytest.raises(ConversionError, match="cannot mark it lost"):
        conversion.mark_lost(lead, by=sdr, reason=LostReason.objects.first())

    assert Opportunity.objects.get(lead=lead).status == Opportunity.Status.WON


def test_a_lost_reason_in_use_cannot_be_deleted(sdr):
    from django.db.models import ProtectedError

    lead = with_opportunity(sdr)
    reason = LostReason.objects.get(name="Timing")
    conversion.mark_lost(lead, by=sdr, reason=reason)

    with pytest.raises(ProtectedError):
        reason.delete()


def test_a_lost_lead_recycled_and_qualified_again_reopens_its_opportunity(sdr):
    from leads.services import change_stage

    lead = with_opportunity(sdr, amount="100")
    conversion.mark_lost(lead, by=sdr, reason=LostReason.objects.get(name="Timing"))
    for stage in (Stage.RECYCLED, Stage.MQL, Stage.SAL, Stage.SQL):
        change_stage(lead, to_stage=stage, by=sdr, reason="Back next year")

    conversion.open_opportunity(lead, by=sdr, amount="200", expected_close_date=CLOSE)

    opportunity = Opportunity.objects.get(lead=lead)
    assert (opportunity.status, opportunity.amount, opportunity.lost_reason) == (
        Opportunity.Status.OPEN,
        Decimal("200.00"),
        None,
    )
