"""Conversion: qualifying a lead (SAL → SQL), opening its opportunity (SQL → opportunity) and
closing it won (→ customer) or lost. One function per business action, each in one
transaction; every stage move goes through ``services.change_stage`` so that the history,
the lifecycle rules and the signals (campaigns let a won lead go) apply as for any other move.

Each function locks the lead and checks its stage first: a form submitted twice finds the lead
moved on by the first submit and gets a ``ConversionError``, so nothing is recorded twice."""

import datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import lifecycle, services
from .models import Lead, LostReason, Opportunity, Qualification, Stage

MAX_AMOUNT = Decimal("9999999999.99")  # what Decimal(12, 2) holds


class ConversionError(ValueError):
    """A conversion step that cannot be taken; the message is meant for the user. ``field``
    names the form field it is about, when there is one."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


def qualify(
    lead: Lead,
    *,
    by,
    budget: str = "",
    authority: str = "",
    need: str,
    timeline: str,
    notes: str = "",
) -> Qualification:
    """Qualify a sales-accepted lead: record what the SDR learned and move it to SQL."""
    need, timeline = (need or "").strip(), (timeline or "").strip()
    if not need:
        raise ConversionError("Say what the lead needs.", field="need")
    if not timeline:
        raise ConversionError("Say when the lead means to buy.", field="timeline")
    with transaction.atomic():
        _lock(lead, Stage.SAL, "qualify it")
        _move(lead, to_stage=Stage.SQL, by=by, reason="Qualified")
        return Qualification.objects.create(
            lead=lead,
            budget=(budget or "").strip()[:200],
            authority=(authority or "").strip()[:200],
            need=need[:300],
            timeline=timeline[:200],
            notes=notes or "",
            qualified_by=by,
            qualified_at=timezone.now(),
        )


def open_opportunity(
    lead: Lead,
    *,
    by,
    amount: Decimal | int | str,
    expected_close_date: datetime.date,
    currency: str | None = None,
) -> Opportunity:
    """Open the opportunity of a qualified lead (SQL → opportunity). A lead that reached the
    opportunity stage another way (forced, or through the API) gets its missing record here."""
    amount = _money(amount, field="amount")
    if expected_close_date is None:
        raise ConversionError("Give the expected close date.", field="expected_close_date")
    currency = (currency or settings.LEADAPP_CURRENCY).strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ConversionError("A currency is a three-letter code such as EUR.", field="currency")
    with transaction.atomic():
        stage = _locked_stage(lead)
        existing = Opportunity.objects.filter(lead=lead).first()
        if stage == Stage.OPPORTUNITY and existing is not None and existing.status == Opportunity.Status.OPEN:
            raise ConversionError("This lead has an open opportunity already.")
        if stage != Stage.OPPORTUNITY:
            _expect(stage, Stage.SQL, "open an opportunity")
            _move(lead, to_stage=Stage.OPPORTUNITY, by=by, reason="Opportunity opened")
        # One opportunity per lead: a lead that was lost, recycled and qualified again
        # reopens it; the stage history keeps the earlier outcome.
        opportunity = existing or Opportunity(lead=lead)
        opportunity.amount = amount
        opportunity.currency = currency
        opportunity.expected_close_date = expected_close_date
        opportunity.status = Opportunity.Status.OPEN
        opportunity.opened_by = by
        opportunity.opened_at = timezone.now()
        opportunity.won_value = opportunity.won_date = opportunity.lost_reason = None
        opportunity.lost_note = ""
        opportunity.closed_by = opportunity.closed_at = None
        opportunity.save()
        return opportunity


def mark_won(
    lead: Lead,
    *,
    by,
    value: Decimal | int | str | None = None,
    won_date: datetime.date | None = None,
) -> Opportunity:
    """Close the opportunity won: the lead becomes a customer (and leaves its campaigns).
    ``value`` defaults to the opportunity's amount, ``won_date`` to today."""
    if value not in (None, ""):
        value = _money(value, field="value")
    with transaction.atomic():
        opportunity = _open_opportunity_of(lead, "mark it won")
        opportunity.status = Opportunity.Status.WON
        opportunity.won_value = opportunity.amount if value in (None, "") else value
        opportunity.won_date = won_date or timezone.localdate()
        _close(opportunity, by)
        _move(lead, to_stage=Stage.CUSTOMER, by=by, reason="Won")
        return opportunity


def mark_lost(lead: Lead, *, by, reason: LostReason | None, note: str = "") -> Opportunity:
    """Close the opportunity lost, for one of the reasons the admin keeps (an active one)."""
    if reason is None:
        raise ConversionError("Choose why the opportunity was lost.", field="lost_reason")
    with transaction.atomic():
        # Read again: an admin may have retired the reason since the form was shown.
        if not LostReason.objects.filter(pk=reason.pk, active=True).exists():
            raise ConversionError(
                f"“{reason}” is no longer offered: choose another reason.", field="lost_reason"
            )
        opportunity = _open_opportunity_of(lead, "mark it lost")
        opportunity.status = Opportunity.Status.LOST
        opportunity.lost_reason = reason
        opportunity.lost_note = note or ""
        _close(opportunity, by)
        _move(lead, to_stage=Stage.LOST, by=by, reason=reason.name)
        return opportunity


# --- helpers ----------------------------------------------------------------------------------


def _locked_stage(lead: Lead) -> str:
    """The lead's stored stage, its row locked until the transaction ends (the stage the
    instance was read with may be stale: a second submit, a colleague's move)."""
    stage = Lead.objects.select_for_update().values_list("stage", flat=True).get(pk=lead.pk)
    lead.stage = stage
    return stage


def _expect(stage: str, expected: str, action: str) -> None:
    if stage != expected:
        raise ConversionError(
            f"The lead is in {lifecycle.stage_name(stage)}, not {lifecycle.stage_name(expected)}: "
            f"it cannot {action} now."
        )


def _lock(lead: Lead, expected: str, action: str) -> None:
    _expect(_locked_stage(lead), expected, action)


def _open_opportunity_of(lead: Lead, action: str) -> Opportunity:
    _lock(lead, Stage.OPPORTUNITY, action)
    opportunity = Opportunity.objects.filter(lead=lead, status=Opportunity.Status.OPEN).first()
    if opportunity is None:
        raise ConversionError("This lead has no open opportunity: open one first.")
    return opportunity


def _close(opportunity: Opportunity, by) -> None:
    opportunity.closed_by = by
    opportunity.closed_at = timezone.now()
    opportunity.save()


def _move(lead: Lead, *, to_stage: str, by, reason: str) -> None:
    try:
        services.change_stage(lead, to_stage=to_stage, by=by, reason=reason)
    except lifecycle.TransitionNotAllowed as exc:
        raise ConversionError(str(exc)) from exc


def _money(raw, *, field: str) -> Decimal:
    try:
        amount = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ConversionError("Enter an amount such as 12500.00.", field=field) from None
    if not amount.is_finite():
        raise ConversionError("Enter an amount such as 12500.00.", field=field)
    if amount < 0:
        raise ConversionError("The amount cannot be negative.", field=field)
    if amount > MAX_AMOUNT:
        raise ConversionError("The amount is too large.", field=field)
    return amount.quantize(Decimal("0.01"))
