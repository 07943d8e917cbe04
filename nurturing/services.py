"""What changes the state of campaigns and enrollments. Set-based throughout: a step due for
ten thousand leads is a handful of statements, not ten thousand saves.

The dispatcher (``dispatch``, run by beat every 15 s and after enrollments) takes the due
enrollments with ``FOR UPDATE SKIP LOCKED`` (so any number of dispatchers can run), groups
them by the step they are at, and runs each group in one go: an e-mail step writes outbox
rows (``Message``: one per enrollment step, by a unique key) and moves the enrollments on;
a wait sets their due time; a branch splits them with one query; and so on. Workers then
send the outbox rows (``nurturing.sending``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from leadapp.db import insert_rows
from leads import services as lead_services
from leads.models import Activity, Lead, Stage, StageChange, Submission
from leads.signals import leads_changed

from .models import BranchOn, Campaign, Enrollment, Message, Step, Suppression

log = logging.getLogger(__name__)

# Enrollments taken per round of the dispatcher, and rounds per run (a chain of steps with no
# wait between them takes one round per step).
DISPATCH_BATCH = 2_000
DISPATCH_ROUNDS = 25
# A step that fails (say, a move to a campaign that is not running) is tried again this much later.
STEP_RETRY = timedelta(minutes=15)

SALES_STAGES = [Stage.SAL, Stage.SQL, Stage.OPPORTUNITY]
# The reserved top-level domain .invalid (RFC 2606) can never receive mail: a history import
# gives it to the past leads it knows only by a record id. Never enrolled, never sent to.
NO_MAIL_SUFFIX = ".invalid"


class CampaignError(ValueError):
    """An action the campaign's state does not allow, with a message for the user."""


# --- Campaign life ---------------------------------------------------------------------


def live_steps(campaign: Campaign) -> list[Step]:
    return [step for step in campaign.steps.all() if not step.removed]


def check_flow(campaign: Campaign) -> None:
    """Refuse a flow in which a lead could go round a loop with no wait in it: the
    dispatcher would run it again and again."""
    steps = live_steps(campaign)
    index = {step.pk: i for i, step in enumerate(steps)}

    def after(step: Step) -> list[int]:
        if step.kind in (Step.Kind.END, Step.Kind.MOVE_TO_CAMPAIGN):
            return []
        following = steps[index[step.pk] + 1].pk if index[step.pk] + 1 < len(steps) else None
        if step.kind == Step.Kind.BRANCH:
            targets = [step.yes_step_id or following, step.no_step_id or following]
        else:
            targets = [following]
        return [t for t in targets if t in index]

    # Depth-first over the steps that are not waits: a cycle there has no wait in it.
    state: dict[int, int] = {}  # 1: on the current path, 2: done

    def visit(pk: int) -> bool:
        state[pk] = 1
        for target in after(steps[index[pk]]):
            if steps[index[target]].kind == Step.Kind.WAIT:
                continue
            if state.get(target) == 1 or (state.get(target) is None and visit(target)):
                return True
        state[pk] = 2
        return False

    for step in steps:
        if step.kind != Step.Kind.WAIT and step.pk not in state and visit(step.pk):
            raise CampaignError(
                "A branch leads back to an earlier step with no wait in between: leads would go round "
                "it for ever. Add a wait step to the loop, or point the branch elsewhere."
            )


def activate(campaign: Campaign) -> None:
    """Start (or resume) a campaign: due steps run again and held e-mails go out."""
    if campaign.status == Campaign.Status.ARCHIVED:
        raise CampaignError("An archived campaign cannot start again; copy it instead.")
    steps = live_steps(campaign)
    if not steps:
        raise CampaignError("Add at least one step before starting the campaign.")
    for number, step in enumerate(steps, start=1):
        try:
            step.full_clean()
        except Exception as error:
            raise CampaignError(f"Step {number} is not complete: {error}") from None
    check_flow(campaign)
    with transaction.atomic():
        was_paused = campaign.status == Campaign.Status.PAUSED
        campaign.status = Campaign.Status.ACTIVE
        if not campaign.activated_at:
            campaign.activated_at = timezone.now()
        campaign.save(update_fields=["status", "activated_at", "updated_at"])
        if was_paused:
            held = list(
                Message.objects.filter(campaign=campaign, status=Message.Status.QUEUED).values_list(
                    "pk", flat=True
                )
            )
            transaction.on_commit(lambda: enqueue(held), robust=True)
    transaction.on_commit(kick, robust=True)


def pause(campaign: Campaign) -> None:
    """Hold a campaign: no step runs and no e-mail of it is sent until it is resumed."""
    if campaign.status != Campaign.Status.ACTIVE:
        raise CampaignError("Only an active campaign can be paused.")
    campaign.status = Campaign.Status.PAUSED
    campaign.save(update_fields=["status", "updated_at"])


def archive(campaign: Campaign) -> int:
    """End a campaign for good: every lead still in it leaves; returns how many."""
    with transaction.atomic():
        campaign.status = Campaign.Status.ARCHIVED
        campaign.save(update_fields=["status", "updated_at"])
        return _finish(
            Enrollment.objects.filter(campaign=campaign, status=Enrollment.Status.ACTIVE),
            Enrollment.ExitReason.CAMPAIGN_ENDED,
            timezone.now(),
        )


def remove_step(step: Step) -> None:
    """Delete a step; in a live campaign it is only marked removed, and the leads waiting
    on it move on to the step after it."""
    if step.campaign.is_live or step.campaign.enrollments.exists():
        Step.objects.filter(pk=step.pk).update(removed=True)
    else:
        step.delete()


def move_step(campaign: Campaign, step_id: int, *, up: bool) -> bool:
    """Swap a step with the live step before (or after) it; False if it is not a live step of
    the campaign. Positions are made distinct first if two are equal (the order stays)."""
    with transaction.atomic():
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()  # one move at a time
        order = list(campaign.steps.filter(removed=False).order_by("position", "pk"))
        index = next((i for i, step in enumerate(order) if step.pk == step_id), None)
        if index is None:
            return False
        other = index - 1 if up else index + 1
        if not 0 <= other < len(order):
            return True
        positions = [step.position for step in order]
        if len(set(positions)) != len(positions):
            for offset, step in enumerate(order, start=1):
                step.position = max(positions) + offset
        order[index].position, order[other].position = order[other].position, order[index].position
        Step.objects.bulk_update(order, ["position"])
    return True


# --- Enrolling -------------------------------------------------------------------------


def enroll(campaign: Campaign, leads: QuerySet[Lead], *, via: str = "manual", by=None, now=None) -> int:
    """Enroll the leads of ``leads`` (a queryset) in ``campaign`` in one INSERT … SELECT;
    returns how many were enrolled. A lead already in the campaign is skipped (by the
    database's unique index, so concurrent enrollments are safe), and so is one that went
    through it before unless the campaign allows re-enrollment."""
    if campaign.status in (Campaign.Status.DRAFT, Campaign.Status.ARCHIVED):
        raise CampaignError(f"“{campaign}” is {campaign.get_status_display().lower()}: start it first.")
    steps = live_steps(campaign)
    if not steps:
        raise CampaignError(f"“{campaign}” has no steps.")
    now = now or timezone.now()
    before = Enrollment.objects.filter(campaign=campaign, lead=OuterRef("pk"))
    state_trigger = (
        campaign.trigger in (Campaign.Trigger.GRADE, Campaign.Trigger.SEGMENT) and via == campaign.trigger
    )
    if campaign.reenroll and not state_trigger:
        before = before.filter(status=Enrollment.Status.ACTIVE)
    ids = leads.order_by().filter(~Exists(before)).exclude(email__endswith=NO_MAIL_SUFFIX).values("pk")
    select_sql, params = ids.query.sql_with_params()
    table = connection.ops.quote_name(Enrollment._meta.db_table)
    sql = (
        f"INSERT INTO {table} (campaign_id, lead_id, status, step_id, due_at, enrolled_at, "  # noqa: S608
        "enrolled_via, enrolled_by_id, exit_reason, error) "
        f"SELECT %s, lead_ids.pk, %s, %s, %s, %s, %s, %s, '', '' FROM ({select_sql}) lead_ids WHERE 1 = 1 "
        "ON CONFLICT DO NOTHING"
    )
    by_id = by.pk if by is not None else None
    moment = connection.ops.adapt_datetimefield_value(now)  # raw SQL: as the ORM would store it
    head = [campaign.pk, Enrollment.Status.ACTIVE, steps[0].pk, moment, moment, via[:20], by_id]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [*head, *params])
        count = max(cursor.rowcount, 0)
    if count:
        transaction.on_commit(kick, robust=True)
    return count


def trigger_leads(campaign: Campaign) -> QuerySet[Lead]:
    """The leads a campaign's trigger matches now."""
    from scoring.models import Grade

    leads = Lead.objects.all()
    if campaign.trigger == Campaign.Trigger.FORM:
        # A submission since the campaign started that no enrollment followed yet.
        later = Enrollment.objects.filter(
            campaign=campaign, lead=OuterRef("lead"), enrolled_at__gte=OuterRef("submitted_at")
        )
        submitted = Submission.objects.filter(
            lead=OuterRef("pk"), form_id=campaign.trigger_form_id, submitted_at__gte=campaign.activated_at
        ).filter(~Exists(later))
        return leads.filter(Exists(submitted))
    if campaign.trigger == Campaign.Trigger.STAGE:
        # Reaching the stage since the campaign started, and not enrolled since: a lead
        # recycled twice goes through a re-enrolling campaign twice.
        later = Enrollment.objects.filter(
            campaign=campaign, lead=OuterRef("lead"), enrolled_at__gte=OuterRef("changed_at")
        )
        reached = StageChange.objects.filter(
            lead=OuterRef("pk"), to_stage=campaign.trigger_stage, changed_at__gte=campaign.activated_at
        ).filter(~Exists(later))
        return leads.filter(stage=campaign.trigger_stage).filter(Exists(reached))
    # A grade or a segment is a state, not an event: a lead matching it enters once (see
    # ``enroll``), or it would start the campaign again every minute after finishing it.
    if campaign.trigger == Campaign.Trigger.GRADE:
        grades = [g for g in Grade.values if g <= campaign.trigger_grade]
        return leads.filter(score__grade__in=grades)
    if campaign.trigger == Campaign.Trigger.SEGMENT and campaign.trigger_segment_id:
        return campaign.trigger_segment.leads()
    return leads.none()


def enroll_triggered(lead_ids=None) -> int:
    """Enroll the leads that the triggers of the active campaigns match (only ``lead_ids``,
    when given: the leads that just changed)."""
    count = 0
    campaigns = Campaign.objects.filter(status=Campaign.Status.ACTIVE).exclude(
        trigger=Campaign.Trigger.MANUAL
    )
    if lead_ids is not None and not lead_ids:
        return 0
    for campaign in campaigns.select_related("trigger_segment"):
        leads = trigger_leads(campaign)
        if lead_ids is not None:
            leads = leads.filter(pk__in=list(lead_ids))
        count += enroll(campaign, leads, via=campaign.trigger)
    return count


def unenroll(enrollments: QuerySet[Enrollment]) -> int:
    return _finish(
        enrollments.filter(status=Enrollment.Status.ACTIVE), Enrollment.ExitReason.REMOVED, timezone.now()
    )


# --- Leaving ---------------------------------------------------------------------------


def exit_conditions() -> list[tuple[str, Q]]:
    """Why an active enrollment ends early, in order: the first that holds is recorded."""
    suppressed = Suppression.objects.filter(email=OuterRef("lead__email"))
    goal = Activity.objects.filter(
        lead=OuterRef("lead_id"),
        kind=OuterRef("campaign__goal_activity"),
        occurred_at__gte=OuterRef("enrolled_at"),
    )
    # Only a stage reached since enrolling ends it: a customer onboarding campaign, or one
    # started by reaching SQL, keeps the leads that were there when they entered.
    moved_since = Q(lead__stage_changed_at__gt=F("enrolled_at"))
    return [
        (Enrollment.ExitReason.CONVERTED, Q(lead__stage=Stage.CUSTOMER) & moved_since),
        (Enrollment.ExitReason.ACCEPTED, Q(lead__stage__in=SALES_STAGES) & moved_since),
        (
            Enrollment.ExitReason.UNSUBSCRIBED,
            Q(
                Exists(
                    suppressed.filter(reason__in=[Suppression.Reason.UNSUBSCRIBED, Suppression.Reason.MANUAL])
                )
            ),
        ),
        (
            Enrollment.ExitReason.BOUNCED,
            Q(
                Exists(
                    suppressed.filter(reason__in=[Suppression.Reason.BOUNCED, Suppression.Reason.COMPLAINED])
                )
            ),
        ),
        (Enrollment.ExitReason.GOAL, ~Q(campaign__goal_activity="") & Q(Exists(goal))),
    ]


def exit_finished(enrollments: QuerySet[Enrollment], now: datetime | None = None) -> int:
    """End the active enrollments of ``enrollments`` whose lead converted, was accepted by
    sales, unsubscribed, bounced or reached the campaign's goal."""
    now = now or timezone.now()
    count = 0
    for reason, condition in exit_conditions():
        ids = enrollments.filter(status=Enrollment.Status.ACTIVE).filter(condition).values("pk")
        count += _finish(Enrollment.objects.filter(pk__in=ids), reason, now)
    return count


def exit_leads(lead_ids) -> int:
    return exit_finished(Enrollment.objects.filter(lead_id__in=list(lead_ids)))


def _finish(enrollments: QuerySet[Enrollment], reason: str, now: datetime) -> int:
    status = Enrollment.Status.EXITED
    if reason in ("", Enrollment.ExitReason.MOVED):
        status = Enrollment.Status.COMPLETED
    return enrollments.update(status=status, exit_reason=reason, finished_at=now, step=None, due_at=None)


# --- The dispatcher --------------------------------------------------------------------


@dataclass
class DispatchResult:
    steps_run: int = 0
    messages: list[int] = field(default_factory=list)


def kick() -> None:
    """Run the dispatcher soon (on a worker), instead of at the next beat."""
    from .tasks import dispatch as dispatch_task

    dispatch_task.delay()


def dispatch(
    now: datetime | None = None, *, batch: int = DISPATCH_BATCH, hand_over: bool = True
) -> DispatchResult:
    """Run every step that is due, round after round, until none is (or the round limit is
    reached: a chain of steps with no wait between them moves one step per round). The
    outbox rows written are handed to workers, unless ``hand_over`` is false: then they are
    returned in ``messages`` for the caller to send."""
    now = now or timezone.now()
    result = DispatchResult()
    for _ in range(DISPATCH_ROUNDS):
        with transaction.atomic():
            ids = list(
                Enrollment.objects.filter(
                    status=Enrollment.Status.ACTIVE, due_at__lte=now, campaign__status=Campaign.Status.ACTIVE
                )
                .order_by("due_at", "pk")
                .select_for_update(skip_locked=True, of=("self",))
                .values_list("pk", flat=True)[:batch]
            )
            if not ids:
                break
            taken = Enrollment.objects.filter(pk__in=ids)
            exit_finished(taken, now)
            groups: dict[int | None, list[tuple[int, int]]] = defaultdict(list)
            for pk, step_id, lead_id in taken.filter(status=Enrollment.Status.ACTIVE).values_list(
                "pk", "step_id", "lead_id"
            ):
                groups[step_id].append((pk, lead_id))
            steps = Step.objects.in_bulk([s for s in groups if s is not None])
            plans = _Plans()
            for step_id, members in groups.items():
                step = steps.get(step_id)
                if step is None:  # past the last step (after a final wait), or its step was deleted
                    _finish(Enrollment.objects.filter(pk__in=[m[0] for m in members]), "", now)
                    continue
                try:
                    with transaction.atomic():  # one step that fails holds back only its own leads
                        result.messages += _run_step(step, members, now, plans)
                except Exception as error:  # noqa: BLE001 - recorded on the enrollments, retried
                    log.exception(
                        "Campaign %s, step %s failed for %d lead(s)", step.campaign_id, step.pk, len(members)
                    )
                    Enrollment.objects.filter(pk__in=[m[0] for m in members]).update(
                        due_at=now + STEP_RETRY, error=f"{step.describe_step()}: {error}"[:500]
                    )
                    continue
                result.steps_run += len(members)
        if hand_over:
            transaction.on_commit(lambda ids=list(result.messages): enqueue(ids), robust=True)
            result.messages = []
    return result


class _Plans:
    """Each campaign's live steps in order, loaded once per round."""

    def __init__(self):
        self._steps: dict[int, list[Step]] = {}

    def following(self, step: Step) -> Step | None:
        if step.campaign_id not in self._steps:
            self._steps[step.campaign_id] = list(
                Step.objects.filter(campaign_id=step.campaign_id, removed=False).order_by("position", "pk")
            )
        for candidate in self._steps[step.campaign_id]:
            if (candidate.position, candidate.pk) > (step.position, step.pk):
                return candidate
        return None


def _move(enrollment_ids: list[int], to: Step | None, due: datetime, now: datetime) -> None:
    """Point enrollments at their next step, due at ``due``. Past the last step they are
    done: at once, or, after a final wait, when it ends (the dispatcher then finds them due
    with no step left)."""
    enrollments = Enrollment.objects.filter(pk__in=enrollment_ids)
    if to is None and due <= now:
        _finish(enrollments, "", now)
    else:
        enrollments.update(step=to, due_at=due, error="")


def _run_step(step: Step, members: list[tuple[int, int]], now: datetime, plans: _Plans) -> list[int]:
    """Run ``step`` for its enrollments ``members`` ((enrollment id, lead id) pairs); returns
    the ids of the outbox rows to send."""
    enrollment_ids = [m[0] for m in members]
    lead_ids = [m[1] for m in members]
    following = plans.following(step)
    if step.removed:
        _move(enrollment_ids, following, now, now)
        return []
    kind = Step.Kind
    messages: list[int] = []
    if step.kind == kind.SEND_EMAIL:
        messages = _write_messages(step, members)
    elif step.kind == kind.WAIT:
        _move(enrollment_ids, following, wait_until(step, now), now)
        return []
    elif step.kind == kind.BRANCH:
        yes = set(
            Enrollment.objects.filter(pk__in=enrollment_ids)
            .filter(branch_condition(step))
            .values_list("pk", flat=True)
        )
        _move(sorted(yes), step.yes_step or following, now, now)
        _move(sorted(set(enrollment_ids) - yes), step.no_step or following, now, now)
        return []
    elif step.kind == kind.SET_FIELD:
        _set_field(step, lead_ids)
    elif step.kind == kind.NOTIFY_OWNER:
        messages = _notify_owners(step, members)
    elif step.kind == kind.MOVE_TO_CAMPAIGN:
        if step.target is None:
            raise CampaignError("The campaign to move to was deleted.")
        _finish(Enrollment.objects.filter(pk__in=enrollment_ids), Enrollment.ExitReason.MOVED, now)
        # A draft or archived target raises: the leads wait at this step until it runs.
        enroll(step.target, Lead.objects.filter(pk__in=lead_ids), via="campaign", now=now)
        return []
    elif step.kind == kind.END:
        following = None
    _move(enrollment_ids, following, now, now)
    return messages


def wait_until(step: Step, now: datetime) -> datetime:
    """When a wait step ends: after its delay, at the first moment inside its weekday and
    hour window (in the site's time zone), if it has one."""
    moment = now + timedelta(days=step.wait_days, hours=step.wait_hours)
    if not step.wait_weekdays and step.wait_from_hour is None and step.wait_to_hour is None:
        return moment
    days = {int(d) for d in step.wait_weekdays} or set(range(7))
    start, end = step.wait_from_hour or 0, step.wait_to_hour or 24
    # From 18 to 9 spans the night: the evening belongs to the day it starts on.
    hours = set(range(start, end)) if start < end else set(range(start, 24)) | set(range(end))
    local = timezone.localtime(moment)
    for _ in range(8 * 24 + 1):
        day = local.weekday() if start < end or local.hour >= start else (local.weekday() - 1) % 7
        if day in days and local.hour in hours:
            return local
        local = (local + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return moment  # unreachable for a valid step (Step.clean refuses an empty window)


def branch_condition(step: Step) -> Q:
    """The condition of a branch step, as a filter on enrollments."""
    from scoring.engine import fit_condition

    if step.branch_on == BranchOn.SCORE:
        return Q(lead__score__total__gte=int(step.value))
    if step.branch_on == BranchOn.GRADE:
        return Q(lead__score__grade__in=[v.upper() for v in step.values])
    if step.branch_on == BranchOn.STAGE:
        return Q(lead__stage__in=step.values)
    if step.branch_on == BranchOn.ATTRIBUTE:
        return Q(lead__in=Lead.objects.filter(fit_condition(step)).values("pk"))
    if step.branch_on in (BranchOn.OPENED, BranchOn.CLICKED):
        column = "opened_at" if step.branch_on == BranchOn.OPENED else "clicked_at"
        done = Message.objects.filter(
            enrollment=OuterRef("pk"), step_id=step.ref_step_id, **{f"{column}__isnull": False}
        )
        return Q(Exists(done))
    if step.branch_on == BranchOn.ACTIVITY:
        did = Activity.objects.filter(
            lead=OuterRef("lead_id"), kind=step.activity_kind, occurred_at__gte=OuterRef("enrolled_at")
        )
        return Q(Exists(did))
    raise ValueError(f"Unknown branch condition {step.branch_on!r}")


def mail_refusal(*, email: str, consent: bool, suppression: str | None) -> str:
    """Why a lead may not get marketing e-mail (blank: it may). Asked when the outbox row is
    written and again just before it is sent."""
    if email.strip().rstrip(".").lower().endswith(NO_MAIL_SUFFIX):
        return "A placeholder address (.invalid): it cannot receive e-mail."
    if suppression:
        return f"Suppressed ({suppression})."
    return "" if consent else "No marketing consent."


def message_key(enrollment_id: int, step_id: int) -> str:
    return f"e{enrollment_id}:s{step_id}"


def message_id_for(token) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "leadapp.local"
    return f"<{token}@{domain}>"


def _write_messages(step: Step, members: list[tuple[int, int]]) -> list[int]:
    """One outbox row per enrollment (the key makes a second run of the same step a no-op).
    Leads without consent or on the suppression list get a row marked skipped, saying why."""
    import uuid

    lead_ids = [m[1] for m in members]
    leads = {
        pk: (email, consent)
        for pk, email, consent in Lead.objects.filter(pk__in=lead_ids).values_list(
            "pk", "email", "marketing_consent"
        )
    }
    suppressed = dict(
        Suppression.objects.filter(email__in=[e for e, _ in leads.values()]).values_list("email", "reason")
    )
    now = timezone.now()
    rows, keys = [], []
    for enrollment_id, lead_id in members:
        email, consent = leads[lead_id]
        error = mail_refusal(email=email, consent=consent, suppression=suppressed.get(email))
        status = Message.Status.SKIPPED if error else Message.Status.QUEUED
        token = uuid.uuid4()
        key = message_key(enrollment_id, step.pk)
        keys.append(key)
        rows.append(
            (key, Message.Kind.MARKETING, token, step.campaign_id, step.pk, enrollment_id, lead_id, email)
            + ("", "", "", message_id_for(token), status, 0, error, now)
        )
    insert_rows(Message, MESSAGE_COLUMNS, rows, ignore_conflicts=True)
    return list(
        Message.objects.filter(key__in=keys, status=Message.Status.QUEUED, enqueued_at=None).values_list(
            "pk", flat=True
        )
    )


MESSAGE_COLUMNS = [
    "key",
    "kind",
    "token",
    "campaign",
    "step",
    "enrollment",
    "lead",
    "to_email",
    "subject",
    "html",
    "text",
    "message_id",
    "status",
    "attempts",
    "error",
    "created_at",
]


def _notify_owners(step: Step, members: list[tuple[int, int]]) -> list[int]:
    """An e-mail to each lead's owner (leads without one are skipped)."""
    import uuid

    from .links import absolute

    leads = Lead.objects.filter(pk__in=[m[1] for m in members], owner__isnull=False).select_related("owner")
    by_lead = {lead.pk: lead for lead in leads if lead.owner.email}
    now = timezone.now()
    rows, keys = [], []
    for enrollment_id, lead_id in members:
        lead = by_lead.get(lead_id)
        if lead is None:
            continue
        token = uuid.uuid4()
        key = "n" + message_key(enrollment_id, step.pk)
        keys.append(key)
        subject = f"{lead.full_name or lead.email}: {step.campaign.name}"[:500]
        text = (
            f"{step.note or 'A lead of yours reached a step of a campaign.'}\n\n"
            f"Lead: {lead.full_name} <{lead.email}>\n"
            f"Campaign: {step.campaign.name}\n"
            f"{absolute(lead.get_absolute_url())}\n"
        )
        rows.append(
            (key, Message.Kind.NOTIFICATION, token, step.campaign_id, step.pk, enrollment_id, lead_id)
            + (lead.owner.email, subject, "", text, message_id_for(token), Message.Status.QUEUED, 0, "", now)
        )
    insert_rows(Message, MESSAGE_COLUMNS, rows, ignore_conflicts=True)
    return list(
        Message.objects.filter(key__in=keys, status=Message.Status.QUEUED).values_list("pk", flat=True)
    )


def _set_field(step: Step, lead_ids: list[int]) -> None:
    reason = f"Campaign “{step.campaign.name}”"
    if step.field == "stage":
        by_stage = defaultdict(list)
        for pk, stage in (
            Lead.objects.filter(pk__in=lead_ids).exclude(stage=step.value).values_list("pk", "stage")
        ):
            by_stage[stage].append(pk)
        from leads.lifecycle import allowed

        # Leads whose stage may not move there (by the lifecycle rules) are skipped, not failed.
        changed = []
        for from_stage, ids in by_stage.items():
            if allowed(from_stage, step.value):
                changed += lead_services.change_stages(
                    ids, from_stage=from_stage, to_stage=step.value, reason=reason
                )
    else:
        Lead.objects.filter(pk__in=lead_ids).update(**{step.field: step.value, "updated_at": timezone.now()})
        changed = lead_ids
    if changed:
        leads_changed.send(sender=Lead, lead_ids=set(changed), reason=reason)


# --- Handing e-mails to workers ----------------------------------------------------------

SEND_CHUNK = 50


def enqueue(message_ids: list[int]) -> None:
    """Hand outbox rows to workers in chunks. If the broker is down this fails, the rows stay
    queued with no ``enqueued_at``, and the sweeper hands them over later."""
    from .tasks import send_messages

    for start in range(0, len(message_ids), SEND_CHUNK):
        chunk = message_ids[start : start + SEND_CHUNK]
        send_messages.delay(chunk)
        Message.objects.filter(pk__in=chunk, status=Message.Status.QUEUED).update(enqueued_at=timezone.now())


# A row "sending" for longer than this lost its worker (``sending.RECHECK_AFTER`` is shorter).
STUCK_SENDING = timedelta(minutes=10)
LOST_IN_QUEUE = timedelta(minutes=10)


def sweep_outbox(now: datetime | None = None) -> int:
    """Put back what a dead worker left "sending" (SMTP had not accepted it, or the row
    would say sent) and hand again to workers the rows no worker took; returns how many."""
    from .sending import MAX_ATTEMPTS

    now = now or timezone.now()
    stuck = Message.objects.filter(status=Message.Status.SENDING, claimed_at__lt=now - STUCK_SENDING)
    stuck.filter(attempts__gte=MAX_ATTEMPTS).update(
        status=Message.Status.FAILED, error=f"Gave up: {MAX_ATTEMPTS} attempts stopped while sending."
    )
    stuck.update(status=Message.Status.QUEUED, error="The worker stopped while sending; sent again.")
    lost = (
        Message.objects.filter(status=Message.Status.QUEUED)
        .filter(
            Q(enqueued_at=None, created_at__lt=now - timedelta(minutes=1))
            | Q(enqueued_at__lt=now - LOST_IN_QUEUE)
        )
        .exclude(campaign__status=Campaign.Status.PAUSED)
    )
    ids = list(lost.order_by("pk").values_list("pk", flat=True)[:20_000])
    enqueue(ids)
    return len(ids)
