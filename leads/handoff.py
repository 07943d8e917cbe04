"""Handoff to sales: routing a new MQL to an SDR, the pool, claiming, accepting and rejecting,
reassigning, logging touches, reminders and the SLA clock. One function per business action.

The life of a handoff::

    lead becomes MQL ─► open: routed by the first matching rule ─► assigned (or pool)
    pool ─► claim (exactly one SDR wins) ─► assigned ─► accept (lead → SAL) ─► accepted
    assigned/accepted ─► reject (lead → recycled, back to nurturing) ─► closed
    lead leaves sales (customer, lost, disqualified, recycled) ─► closed

Stage moves and handoffs stay in step whichever way a lead moves (a page, the API, a CRM):
``services.change_stage(s)`` call ``on_stage_change`` in the mover's transaction.

Concurrency: routing locks its rule's row, so two handoffs routed at the same moment see each
other's assignments (round robin stays fair, caps hold). A claim is one conditional UPDATE
("… where it is still in the pool"): of two SDRs claiming at once exactly one changes the
row; the other is told who was faster.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, Count, Exists, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from leadapp import notifications, roles, webhooks
from leadapp.db import in_values, insert_rows

from . import lifecycle
from .business_hours import add_business_hours
from .models import (
    Activity,
    ActivityKind,
    ActivitySource,
    Handoff,
    Lead,
    Reminder,
    RoutingRule,
    SlaBreach,
    Stage,
    Team,
)

Status = Handoff.Status
OPEN = ~Q(status=Status.CLOSED)
# A lead leaving sales closes its handoff.
CLOSING_STAGES = {Stage.CUSTOMER, Stage.LOST, Stage.DISQUALIFIED, Stage.RECYCLED}
TOUCH_KINDS = {ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.SALES_EMAIL}


class HandoffError(ValueError):
    """An action on a handoff that cannot be taken; the message is meant for the user."""


# --- Opening and routing ---------------------------------------------------------------------


def on_stage_change(
    lead_ids: Sequence[int],
    *,
    to_stage: str,
    now: datetime,
    by=None,
    reason: str = "",
    hand_raise: bool = False,
) -> None:
    """Keep handoffs in step with a stage move (called by ``services.change_stage(s)`` in the
    mover's transaction): MQL opens and routes one, SAL accepts it, leaving sales closes it."""
    if not lead_ids:
        return
    if to_stage == Stage.MQL:
        open_handoffs(lead_ids, reason=reason, hand_raise=hand_raise, now=now)
    elif to_stage == Stage.SAL:
        for handoff in Handoff.objects.filter(OPEN, lead__in=lead_ids, accepted_at__isnull=True):
            _accepted(handoff, now, by)
    elif to_stage in (Stage.SQL, Stage.OPPORTUNITY):
        # Qualifying a lead means the SDR talked to it: that is a first touch too.
        Handoff.objects.filter(OPEN, lead__in=lead_ids, first_touch_at__isnull=True).update(
            first_touch_at=now, due_at=None
        )
    elif to_stage in CLOSING_STAGES:
        Handoff.objects.filter(OPEN, lead__in=lead_ids).update(
            status=Status.CLOSED, closed_at=now, outcome=to_stage, due_at=None
        )


def open_handoffs(
    lead_ids: Sequence[int], *, reason: str, hand_raise: bool = False, now: datetime
) -> list[int]:
    """Hand these leads to sales: one open handoff each (a lead that has one keeps it), routed
    at once. Returns the ids of the handoffs opened."""
    from scoring.models import LeadScore

    grades = dict(LeadScore.objects.filter(lead__in=lead_ids).values_list("lead", "grade"))
    insert_rows(
        Handoff,
        ["lead", "status", "hand_raise", "reason", "grade", "handed_at", "outcome"],
        [(pk, Status.POOL, hand_raise, reason[:300], grades.get(pk, ""), now, "") for pk in lead_ids],
        ignore_conflicts=True,  # the one open handoff per lead
    )
    reprioritize(lead_ids)
    opened = list(
        Handoff.objects.filter(lead__in=lead_ids, status=Status.POOL, handed_at=now, assigned_at__isnull=True)
        .select_related("lead")
        .order_by("id")
    )
    route(opened, now=now)
    return [handoff.pk for handoff in opened]


def priority_expression():
    """``Handoff.priority`` from the lead's current score (see the field)."""
    from scoring.models import LeadScore, Temperature

    score = LeadScore.objects.filter(lead=OuterRef("lead"))
    heat = Coalesce(Subquery(score.values("temperature")[:1]), Value(0))
    grade_points = Case(
        When(Exists(score.filter(grade="A")), then=Value(3)),
        When(Exists(score.filter(grade="B")), then=Value(2)),
        When(Exists(score.filter(grade="C")), then=Value(1)),
        default=Value(0),
    )
    hot_raise = Case(
        When(Q(hand_raise=True) & Q(Exists(score.filter(temperature=Temperature.HOT))), then=Value(1000)),
        default=Value(0),
    )
    return hot_raise + heat * Value(10) + grade_points


def reprioritize(lead_ids: Iterable[int] | None = None) -> int:
    """Recompute the queue order of the open handoffs of ``lead_ids`` (or of all): one UPDATE.
    Called where scores move: real-time scoring, the end of a bulk rescore, a new handoff."""
    handoffs = Handoff.objects.filter(OPEN)
    if lead_ids is not None:
        handoffs = handoffs.filter(in_values(Handoff, "lead", list(lead_ids)))
    return handoffs.update(priority=priority_expression())


def matches(rule: RoutingRule, lead: Lead, grade: str) -> bool:
    """Whether every condition of ``rule`` holds for ``lead`` (an empty one always does)."""
    return all(
        not wanted or value in wanted
        for wanted, value in (
            (rule.countries, str(lead.country or "")),
            (rule.industries, lead.industry),
            (rule.company_sizes, lead.company_size),
            (rule.sources, lead.source),
            (rule.grades, grade),
        )
    )


def route(handoffs: Sequence[Handoff], *, now: datetime) -> None:
    """Assign each handoff by the first active rule it matches; the rest go to the pool."""
    rules = list(RoutingRule.objects.filter(active=True).order_by("position", "id"))
    by_rule: dict[int | None, list[Handoff]] = defaultdict(list)
    for handoff in handoffs:
        rule = next((r for r in rules if matches(r, handoff.lead, handoff.grade)), None)
        by_rule[rule.pk if rule else None].append(handoff)
    for rule_id, group in by_rule.items():
        if rule_id is None:
            _assign(group, owner=None, rule=None, now=now, via="routing")
            continue
        with transaction.atomic():
            rule = RoutingRule.objects.select_for_update(of=("self",)).select_related("team").get(pk=rule_id)
            picks = pick_owners(rule, len(group))
            by_owner: dict[int | None, list[Handoff]] = defaultdict(list)
            for handoff, owner in zip(group, picks, strict=True):
                by_owner[owner].append(handoff)
            for owner, assigned in by_owner.items():
                _assign(assigned, owner=owner, rule=rule, now=now, via="routing")
            last = next((owner for owner in reversed(picks) if owner is not None), None)
            if last is not None:
                RoutingRule.objects.filter(pk=rule.pk).update(last_assigned=last)


def candidates(rule: RoutingRule) -> list[int]:
    """The SDRs a rule may give a lead to, in a stable order (by id)."""
    users = get_user_model().objects.filter(is_active=True)
    if rule.user_id:
        return list(users.filter(pk=rule.user_id).values_list("pk", flat=True))
    if rule.team_id:
        return list(users.filter(sales_teams=rule.team_id).order_by("pk").values_list("pk", flat=True))
    return []


def open_loads(user_ids: Iterable[int]) -> dict[int, int]:
    """Open handoffs per SDR."""
    rows = (
        Handoff.objects.filter(OPEN, owner__in=list(user_ids))
        .order_by()
        .values_list("owner")
        .annotate(n=Count("id"))
    )
    return dict(rows)


def pick_owners(rule: RoutingRule, count: int, *, excluding: int | None = None) -> list[int | None]:
    """Owners for ``count`` leads the rule takes, by its strategy, skipping SDRs at the cap
    (and ``excluding``); ``None`` (the pool) once everyone is at it. Call with the rule's row
    locked."""
    members = [pk for pk in candidates(rule) if pk != excluding]
    loads = open_loads(members)
    loads = {pk: loads.get(pk, 0) for pk in members}
    # Round-robin order: the member after the one who got the last lead comes first.
    after = [pk for pk in members if rule.last_assigned_id is not None and pk > rule.last_assigned_id]
    order = after + [pk for pk in members if pk not in after]
    picks: list[int | None] = []
    for _ in range(count):
        free = [pk for pk in order if rule.cap is None or loads[pk] < rule.cap]
        if not free:
            picks.append(None)
            continue
        if rule.strategy == RoutingRule.Strategy.LEAST_LOADED:
            owner = min(free, key=lambda pk: loads[pk])  # ties: round-robin order
        else:
            owner = free[0]
        picks.append(owner)
        loads[owner] += 1
        order.remove(owner)
        order.append(owner)
    return picks


def sla_hours(rule: RoutingRule | None) -> tuple[int, int]:
    if rule is None:
        return settings.LEADAPP_POOL_ACCEPT_WITHIN, settings.LEADAPP_POOL_TOUCH_WITHIN
    return rule.accept_within, rule.touch_within


def _assign(
    handoffs: Sequence[Handoff], *, owner: int | None, rule: RoutingRule | None, now: datetime, via: str
):
    """Give these (not yet accepted) handoffs to ``owner`` (``None``: the pool) and start their
    SLA clock; tell the owner, and the CRM."""
    if not handoffs:
        return
    accept_hours, touch_hours = sla_hours(rule)
    accept_due = add_business_hours(now, accept_hours)
    touch_due = add_business_hours(now, touch_hours)
    ids = [h.pk for h in handoffs]
    Handoff.objects.filter(pk__in=ids).update(
        owner=owner,
        status=Status.ASSIGNED if owner else Status.POOL,
        rule=rule,
        team=rule.team_id if rule else None,
        assigned_at=now,
        accept_due_at=accept_due,
        touch_due_at=touch_due,
        due_at=accept_due,
    )
    lead_ids = [h.lead_id for h in handoffs]
    Lead.objects.filter(pk__in=lead_ids).update(owner=owner, updated_at=now)
    if owner is not None:
        _tell_owner(owner, handoffs)
    _emit_assigned(lead_ids, owner=owner, rule=rule, via=via, at=now)


def _tell_owner(owner: int, handoffs: Sequence[Handoff]) -> None:
    if len(handoffs) == 1:
        lead = handoffs[0].lead
        text = f"New lead for you: {lead}" + (" (asked for sales)" if handoffs[0].hand_raise else "")
        url = reverse("leads:detail", args=[lead.pk])
    else:
        text = f"{len(handoffs)} new leads for you"
        url = reverse("leads:queue")
    notifications.notify([owner], kind="lead_assigned", text=text, url=url)


_EVENT_NAMESPACE = uuid.UUID("0b8f9e4c-6d0e-4c39-a3c5-5f4a7d2b9e11")


def _emit_assigned(lead_ids: Sequence[int], *, owner: int | None, rule, via: str, at: datetime) -> None:
    if not webhooks.subscribers("lead.assigned"):
        return
    user = (
        get_user_model().objects.filter(pk=owner).values("id", "username", "email").first() if owner else None
    )
    assignment = {
        "owner": user,
        "pool": owner is None,
        "rule": rule.name if rule else None,
        "team": rule.team.name if rule and rule.team_id else None,
        "via": via,
        "assigned_at": at.isoformat(),
    }
    payloads = webhooks.lead_payloads(lead_ids)
    event_ids = [
        uuid.uuid5(_EVENT_NAMESPACE, f"{p['lead']['id']}:{owner}:{at.isoformat()}") for p in payloads
    ]
    webhooks.emit("lead.assigned", [{**p, "assignment": assignment} for p in payloads], event_ids=event_ids)


# --- What SDRs and managers do ---------------------------------------------------------------


def open_handoff(lead: Lead | int) -> Handoff | None:
    return (
        Handoff.objects.filter(OPEN, lead=getattr(lead, "pk", lead)).select_related("owner", "rule").first()
    )


def _locked(handoff_id: int) -> Handoff:
    handoff = (
        Handoff.objects.select_for_update(of=("self",)).select_related("lead").filter(pk=handoff_id).first()
    )
    if handoff is None or handoff.status == Status.CLOSED:
        raise HandoffError("This lead is no longer with sales.")
    return handoff


def claim(handoff: Handoff | int, *, by) -> Handoff:
    """Take a lead from the pool. Of two SDRs claiming it at once, exactly one gets it; the
    other gets a ``HandoffError`` saying who did."""
    handoff_id = getattr(handoff, "pk", handoff)
    now = timezone.now()
    with transaction.atomic():
        # One conditional UPDATE decides: whoever changes the row has it.
        won = Handoff.objects.filter(pk=handoff_id, status=Status.POOL, owner__isnull=True).update(
            owner=by,
            # A lead a manager put back in the pool after it was accepted stays accepted.
            status=Case(
                When(accepted_at__isnull=False, then=Value(Status.ACCEPTED)), default=Value(Status.ASSIGNED)
            ),
        )
        if not won:
            current = Handoff.objects.filter(pk=handoff_id).select_related("owner").first()
            if current is None or current.status == Status.CLOSED:
                raise HandoffError("This lead is no longer with sales.")
            if current.owner_id == by.pk:
                return current
            who = (current.owner.get_full_name() or current.owner.username) if current.owner else "someone"
            raise HandoffError(f"Too late: {who} claimed this lead first.")
        handoff = Handoff.objects.select_related("lead", "rule").get(pk=handoff_id)
        Lead.objects.filter(pk=handoff.lead_id).update(owner=by, updated_at=now)
        _emit_assigned([handoff.lead_id], owner=by.pk, rule=handoff.rule, via="claim", at=now)
    return handoff


def accept(handoff: Handoff | int, *, by) -> Handoff:
    """The SDR takes the lead on: it becomes sales accepted (SAL). A pool lead is claimed
    first (and may be lost to a faster colleague: ``HandoffError``)."""
    from . import services

    with transaction.atomic():
        handoff = _taken(handoff, by)
        if handoff.status == Status.ACCEPTED:
            raise HandoffError("You have accepted this lead already.")
        if handoff.lead.stage != Stage.MQL:
            raise HandoffError(
                f"The lead is {handoff.lead.get_stage_display()}, not an MQL: it cannot be accepted."
            )
        services.change_stage(handoff.lead, to_stage=Stage.SAL, by=by, reason="Accepted by sales")
    handoff.refresh_from_db()
    return handoff


def reject(handoff: Handoff | int, *, by, reason: str) -> None:
    """The SDR sends the lead back to marketing: it is recycled (back to nurturing) with the
    reason, and its handoff closes."""
    from . import services

    reason = (reason or "").strip()
    if not reason:
        raise HandoffError("Say why you reject the lead: marketing reads it.")
    with transaction.atomic():
        handoff = _taken(handoff, by)
        if not lifecycle.allowed(handoff.lead.stage, Stage.RECYCLED):
            stage = lifecycle.stage_name(handoff.lead.stage)
            raise HandoffError(
                f"A lead in {stage} cannot be sent back to marketing: mark the opportunity lost."
            )
        services.change_stage(
            handoff.lead, to_stage=Stage.RECYCLED, by=by, reason=f"Rejected by sales: {reason}"
        )


def _taken(handoff: Handoff | int, by) -> Handoff:
    """The handoff, locked, once it is ``by``'s: a pool lead is claimed first (and may be lost
    to a faster colleague); a colleague's is refused unless ``by`` may reassign."""
    handoff_id = getattr(handoff, "pk", handoff)
    handoff = _locked(handoff_id)
    if handoff.status == Status.POOL:
        claim(handoff_id, by=by)
        handoff = _locked(handoff_id)
    _check_owner(handoff, by)
    return handoff


def _check_owner(handoff: Handoff, user) -> None:
    if handoff.owner_id != user.pk and not user.has_perm("leads.assign_handoff"):
        raise HandoffError("This lead belongs to a colleague.")


def reassign(handoff: Handoff | int, *, to, by, via: str = "reassign") -> Handoff:
    """A manager gives the lead to another SDR (``to``), or back to the pool (``to=None``).
    An accepted lead stays accepted; the new owner's SLA clock starts now."""
    handoff_id = getattr(handoff, "pk", handoff)
    now = timezone.now()
    with transaction.atomic():
        handoff = _locked(handoff_id)
        to_id = getattr(to, "pk", to)
        if to_id == handoff.owner_id:
            raise HandoffError("The lead is theirs already.")
        _move(handoff, to_id, now=now, via=via)
        if by is not None:
            Activity.objects.create(
                lead=handoff.lead,
                kind=ActivityKind.NOTE,
                occurred_at=now,
                source=ActivitySource.USER,
                created_by=by,
                properties={"text": f"Reassigned to {_name(to_id)}", "reassigned_to": to_id},
            )
    handoff.refresh_from_db()
    return handoff


def owner_changed(lead: Lead, *, by=None) -> None:
    """The lead's owner was edited (the lead form, the API): its open handoff follows, as
    when a manager reassigns it."""
    handoff = (
        Handoff.objects.select_for_update(of=("self",)).filter(OPEN, lead=lead).select_related("rule").first()
    )
    if handoff is not None and handoff.owner_id != lead.owner_id:
        _move(handoff, lead.owner_id, now=timezone.now(), via="edit")


def _move(handoff: Handoff, to_id: int | None, *, now: datetime, via: str) -> None:
    if handoff.accepted_at is None:
        _assign([handoff], owner=to_id, rule=handoff.rule, now=now, via=via)
        return
    # Accepted: the new owner inherits it accepted; the first-touch clock restarts if untouched.
    touch_due = None
    if handoff.first_touch_at is None:
        touch_due = add_business_hours(now, sla_hours(handoff.rule)[1])
    Handoff.objects.filter(pk=handoff.pk).update(
        owner=to_id,
        status=Status.ACCEPTED if to_id else Status.POOL,  # in the pool, anyone may claim it
        assigned_at=now,
        touch_due_at=touch_due or handoff.touch_due_at,
        due_at=touch_due,
    )
    Lead.objects.filter(pk=handoff.lead_id).update(owner=to_id, updated_at=now)
    if to_id is not None:
        _tell_owner(to_id, [handoff])
    _emit_assigned([handoff.lead_id], owner=to_id, rule=handoff.rule, via=via, at=now)


def _name(user_id: int | None) -> str:
    if user_id is None:
        return "the pool"
    user = get_user_model().objects.get(pk=user_id)
    return user.get_full_name() or user.username


def _accepted(handoff: Handoff, now: datetime, by) -> None:
    """The lead became SAL: its handoff is accepted (a pool lead, by whoever accepted it)."""
    owner = handoff.owner_id or getattr(by, "pk", None)
    Handoff.objects.filter(pk=handoff.pk).update(
        status=Status.ACCEPTED,
        owner=owner,
        accepted_at=now,
        due_at=handoff.touch_due_at if handoff.first_touch_at is None else None,
    )
    if owner != handoff.owner_id:
        Lead.objects.filter(pk=handoff.lead_id).update(owner=owner, updated_at=now)


# --- Touches and reminders --------------------------------------------------------------------

OUTCOMES = [
    ("connected", "Connected"),
    ("voicemail", "Left a voicemail"),
    ("no_answer", "No answer"),
    ("replied", "Replied"),
    ("meeting_booked", "Meeting booked"),
    ("not_interested", "Not interested"),
    ("wrong_contact", "Wrong contact"),
]


@dataclass
class Touch:
    kind: str  # call, sales_email, meeting
    outcome: str
    notes: str = ""
    next_step: str = ""
    next_step_due: datetime | None = None


def log_touch(lead: Lead, touch: Touch, *, by) -> Activity:
    """Record a call, e-mail or meeting with its outcome; the first one is the lead's first
    touch (its SLA stops). A next step with a date becomes a reminder."""
    if touch.kind not in TOUCH_KINDS:
        raise HandoffError("Log a call, an e-mail or a meeting.")
    if touch.outcome not in dict(OUTCOMES):
        raise HandoffError("Pick the outcome.")
    if touch.next_step_due and not touch.next_step.strip():
        raise HandoffError("Say what the next step is.")
    now = timezone.now()
    with transaction.atomic():
        activity = Activity.objects.create(
            lead=lead,
            kind=touch.kind,
            occurred_at=now,
            source=ActivitySource.USER,
            created_by=by,
            properties={
                "outcome": touch.outcome,
                "notes": touch.notes.strip(),
                **({"next_step": touch.next_step.strip()} if touch.next_step.strip() else {}),
            },
        )
        Handoff.objects.filter(OPEN, lead=lead, first_touch_at__isnull=True).update(first_touch_at=now)
        # The first touch stops the SLA clock once the lead is accepted; before that, the
        # accept deadline still runs.
        Handoff.objects.filter(OPEN, lead=lead, status=Status.ACCEPTED).update(due_at=None)
        if touch.next_step.strip() and touch.next_step_due:
            Reminder.objects.create(
                lead=lead, owner=by, text=touch.next_step.strip()[:300], due_at=touch.next_step_due
            )
        from .services import touch_last_activity  # services imports this module

        touch_last_activity([lead.pk], after=activity.pk - 1)
    return activity


def complete_reminder(reminder: Reminder, *, by) -> None:
    if reminder.owner_id != by.pk:
        raise HandoffError("This reminder is a colleague's.")
    Reminder.objects.filter(pk=reminder.pk, done_at__isnull=True).update(done_at=timezone.now())


# --- The SLA clock (beat, every minute) ----------------------------------------------------------


def managers_for(team_id: int | None) -> list[int]:
    """Who hears about a breach: the team's manager, or every manager."""
    if team_id:
        manager = Team.objects.filter(pk=team_id).values_list("manager", flat=True).first()
        if manager:
            return [manager]
    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name=roles.MANAGER)
        .values_list("pk", flat=True)
    )


def check_slas(now: datetime | None = None) -> int:
    """Record each deadline that passed (once), tell the manager and, where the rule says so,
    give a lead nobody accepted to the next SDR (or the pool). Returns the breaches recorded.
    Safe to run twice at once: a breach is unique per handoff, kind and deadline."""
    now = now or timezone.now()
    recorded = 0

    def unrecorded(kind):
        return ~Exists(SlaBreach.objects.filter(handoff=OuterRef("pk"), kind=kind, due_at=OuterRef("due_at")))

    overdue = (
        Handoff.objects.filter(OPEN, due_at__lte=now)
        .filter(
            Q(unrecorded(SlaBreach.Kind.ACCEPT), accepted_at__isnull=True)
            | Q(unrecorded(SlaBreach.Kind.TOUCH), accepted_at__isnull=False)
        )
        .order_by("due_at")
        .values_list("pk", flat=True)
    )
    for handoff_id in list(overdue[:1000]):
        with transaction.atomic():
            handoff = (
                Handoff.objects.select_for_update(of=("self",))
                .select_related("lead", "rule", "owner")
                .get(pk=handoff_id)
            )
            if handoff.status == Status.CLOSED or handoff.due_at is None or handoff.due_at > now:
                continue
            kind = SlaBreach.Kind.ACCEPT if handoff.accepted_at is None else SlaBreach.Kind.TOUCH
            if SlaBreach.objects.filter(handoff=handoff, kind=kind, due_at=handoff.due_at).exists():
                continue
            breach = SlaBreach.objects.create(
                handoff=handoff,
                kind=kind,
                owner=handoff.owner,
                team_id=handoff.team_id,
                due_at=handoff.due_at,
                recorded_at=now,
            )
            recorded += 1
            _escalate(handoff, breach, now)
    return recorded


def _escalate(handoff: Handoff, breach: SlaBreach, now: datetime) -> None:
    who = _name(handoff.owner_id) if handoff.owner_id else "nobody (the lead is in the pool)"
    what = "accepted" if breach.kind == SlaBreach.Kind.ACCEPT else "contacted"
    text = f"SLA missed: {handoff.lead} was not {what} in time by {who}"
    rule = handoff.rule
    if (
        breach.kind == SlaBreach.Kind.ACCEPT
        and rule is not None
        and rule.reassign_on_breach
        and handoff.owner_id
    ):
        with transaction.atomic():
            locked_rule = RoutingRule.objects.select_for_update().get(pk=rule.pk)
            [to_id] = pick_owners(locked_rule, 1, excluding=handoff.owner_id)
            _assign([handoff], owner=to_id, rule=rule, now=now, via="sla")
            if to_id is not None:
                RoutingRule.objects.filter(pk=rule.pk).update(last_assigned=to_id)
        SlaBreach.objects.filter(pk=breach.pk).update(reassigned_to=to_id, to_pool=to_id is None)
        text += f"; reassigned to {_name(to_id)}"
    notifications.notify(
        managers_for(handoff.team_id),
        kind="sla_breach",
        text=text,
        url=reverse("leads:detail", args=[handoff.lead_id]),
    )


def remind_due(now: datetime | None = None) -> int:
    """Tell SDRs about the next steps that are due (each once)."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Reminder.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("lead")
            .filter(done_at__isnull=True, notified_at__isnull=True, due_at__lte=now)
            .order_by("due_at")[:1000]
        )
        for reminder in due:
            notifications.notify(
                [reminder.owner_id],
                kind="reminder",
                text=f"Due: {reminder.text} ({reminder.lead})",
                url=reverse("leads:detail", args=[reminder.lead_id]),
            )
        Reminder.objects.filter(pk__in=[r.pk for r in due]).update(notified_at=now)
    return len(due)


# --- The queue (read side) -------------------------------------------------------------------


def queue(user, *, scope: str = "", owner: int | None = None):
    """Open handoffs the user may work, in priority order: hot hand-raisers first, then by
    temperature and grade (A-hot, B-hot, … A-warm …), then the SLA deadline nearest first.
    A narrow query on handoffs alone (``Handoff.priority`` is stored); ``with_leads`` loads
    the leads of the rows a page shows.

    ``scope``: "mine", "pool", or "" (both). A manager (``leads.view_all_leads``) sees every
    SDR's; ``owner`` narrows to one of them."""
    handoffs = Handoff.objects.filter(OPEN)
    if not user.has_perm("leads.view_all_leads"):
        handoffs = handoffs.filter(Q(owner=user) | Q(owner__isnull=True))
    if scope == "mine":
        handoffs = handoffs.filter(owner=user)
    elif scope == "pool":
        handoffs = handoffs.filter(owner__isnull=True)
    if owner is not None and user.has_perm("leads.view_all_leads"):
        handoffs = handoffs.filter(owner=owner)
    return handoffs.order_by("-priority", F("due_at").asc(nulls_last=True), "handed_at", "id")


def with_leads(handoffs) -> list[Handoff]:
    """These handoffs (or their ids), in the given order, with lead, score and owner loaded."""
    ids = [getattr(h, "pk", h) for h in handoffs]
    # What a queue row shows, and no more: the lead row is wide, and every datetime costs.
    shown = (
        *("id", "lead", "status", "owner", "rule", "hand_raise", "priority", "reason"),
        *("handed_at", "accepted_at", "first_touch_at", "due_at"),
        *(
            f"lead__{name}"
            for name in ("first_name", "last_name", "email", "job_title", "company_name", "stage")
        ),
        *(f"lead__score__{name}" for name in ("total", "grade", "temperature")),
        *(f"owner__{name}" for name in ("username", "first_name", "last_name")),
    )
    loaded = Handoff.objects.select_related("lead", "lead__score", "owner").only(*shown).in_bulk(ids)
    return [loaded[pk] for pk in ids if pk in loaded]
