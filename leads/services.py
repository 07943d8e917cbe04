"""Everything that changes leads and their activities. One function per business action;
views, the API, imports and tasks call these and nothing else writes."""

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from leadapp import webhooks
from leadapp.db import in_values, insert_rows

from . import handoff, lifecycle
from .models import (
    Activity,
    ActivityKind,
    ActivitySource,
    CreatedVia,
    LastActivity,
    Lead,
    PendingFollowUp,
    Stage,
    StageChange,
    normalize_email,
)
from .signals import leads_changed


class DuplicateEmail(Exception):
    def __init__(self, lead: Lead):
        super().__init__(f"A lead with e-mail {lead.email} already exists.")
        self.lead = lead


def create_lead(
    *,
    email: str,
    data: Mapping[str, Any] | None = None,
    custom: Mapping[str, Any] | None = None,
    created_via: str = CreatedVia.MANUAL,
    by=None,
) -> Lead:
    """Create a new lead; raise ``DuplicateEmail`` if the address is taken, even when a
    concurrent request took it a moment ago (the unique constraint decides, not a lookup)."""
    lead = Lead(
        email=normalize_email(email), created_via=created_via, custom=dict(custom or {}), **(data or {})
    )
    try:
        with transaction.atomic():
            lead.save()
            _record_initial_stage(lead, by=by)
            leads_changed.send(sender=Lead, lead_ids={lead.pk}, reason="Lead created")
    except IntegrityError:
        existing = Lead.objects.filter(email=lead.email).first()
        if existing is None:
            raise
        raise DuplicateEmail(existing) from None
    return lead


def upsert_lead(
    *,
    email: str,
    data: Mapping[str, Any] | None = None,
    custom: Mapping[str, Any] | None = None,
    created_via: str = CreatedVia.MANUAL,
) -> tuple[Lead, bool]:
    """Create the lead for this e-mail or update the one there is: blanks never overwrite a
    known value and custom attributes merge. Safe under concurrent calls for one address."""
    data = {k: v for k, v in (data or {}).items() if v not in (None, "")}
    try:
        return create_lead(email=email, data=data, custom=custom, created_via=created_via), True
    except DuplicateEmail:
        pass
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(email=normalize_email(email))
        for name, value in data.items():
            setattr(lead, name, value)
        lead.custom = {**lead.custom, **(custom or {})}
        lead.save()
        leads_changed.send(sender=Lead, lead_ids={lead.pk}, reason="Lead updated")
    return lead, False


def update_lead(
    lead: Lead, *, data: Mapping[str, Any], by=None, reason: str = "", forced: bool = False
) -> Lead:
    """Edit a lead as a user or API client does: the given fields are set as given (blank
    included); a stage change goes through ``change_stage`` so that it is in the history and
    follows the lifecycle rules (``TransitionNotAllowed`` leaves the lead as it was)."""
    data = dict(data)
    new_stage = data.pop("stage", None)
    try:
        with transaction.atomic():
            # The stored stage, not the instance's: a bound form may have set it already.
            current_stage, current_owner = (
                Lead.objects.select_for_update().values_list("stage", "owner").get(pk=lead.pk)
            )
            for name, value in data.items():
                setattr(lead, name, value)
            lead.stage = current_stage
            # Only what was edited: a column another writer keeps current (last activity,
            # stage times) is not overwritten with what this instance read earlier.
            lead.save(update_fields=[*data, "updated_at"])
            if "owner" in data and lead.owner_id != current_owner:
                handoff.owner_changed(lead, by=by)  # the open handoff follows (SLA, notice, CRM)
            if new_stage and new_stage != current_stage:
                change_stage(lead, to_stage=new_stage, by=by, reason=reason, forced=forced)
            leads_changed.send(
                sender=Lead, lead_ids={lead.pk}, reason=f"Edited by {by}" if by else "Lead edited"
            )
    except IntegrityError:
        existing = Lead.objects.filter(email=normalize_email(lead.email)).exclude(pk=lead.pk).first()
        if existing is None:
            raise
        raise DuplicateEmail(existing) from None
    except lifecycle.TransitionNotAllowed:
        lead.refresh_from_db()
        raise
    return lead


def change_stage(lead: Lead, *, to_stage: str, by=None, reason: str = "", forced: bool = False) -> None:
    """Move a lead to another lifecycle stage and record who, when and why.

    The move must be allowed by ``lifecycle`` (raises ``TransitionNotAllowed``, changing
    nothing) unless ``forced``: a manager's override, recorded as forced. Forcing needs
    ``leads.force_stage`` when a user asks for it (``PermissionDenied`` otherwise)."""
    if forced and by is not None and not by.has_perm(lifecycle.FORCE_PERMISSION):
        raise PermissionDenied("Only a manager may force a stage change.")
    now = timezone.now()
    with transaction.atomic():
        # The stored stage under a row lock: the rules judge the move from where the lead is.
        from_stage = Lead.objects.select_for_update().values_list("stage", flat=True).get(pk=lead.pk)
        lifecycle.check(from_stage, to_stage, reason=reason, forced=forced)
        lead.stage = to_stage
        lead.stage_changed_at = now
        lead.save(update_fields=["stage", "stage_changed_at", "updated_at"])
        StageChange.objects.create(
            lead=lead,
            from_stage=from_stage,
            to_stage=to_stage,
            changed_at=now,
            changed_by=by,
            reason=reason,
            forced=forced,
        )
        Activity.objects.create(
            lead=lead,
            kind=ActivityKind.STAGE_CHANGED,
            occurred_at=now,
            source=ActivitySource.USER if by else ActivitySource.SYSTEM,
            created_by=by,
            properties={
                "from": from_stage,
                "to": to_stage,
                "reason": reason,
                **({"forced": True} if forced else {}),
            },
        )
        webhooks.stage_changed(
            [lead.pk], from_stage=from_stage, to_stage=to_stage, changed_at=now, reason=reason
        )
        handoff.on_stage_change([lead.pk], to_stage=to_stage, now=now, by=by, reason=reason)
        leads_changed.send(sender=Lead, lead_ids={lead.pk}, reason=f"Stage: {lead.get_stage_display()}")


def change_stages(
    lead_ids: Iterable[int], *, from_stage: str, to_stage: str, reason: str, by=None, hand_raise: bool = False
) -> list[int]:
    """Move the leads that are still in ``from_stage`` to ``to_stage``, set-based, with their
    history; returns the ids that moved (a lead moved meanwhile is left alone). The move is
    checked once for the batch: ``TransitionNotAllowed`` if the rules refuse it.
    ``hand_raise``: the leads asked for sales (their handoff goes first in the queue)."""
    lifecycle.check(from_stage, to_stage, reason=reason)
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Lead.objects.select_for_update(no_key=True)
            .filter(pk__in=list(lead_ids), stage=from_stage)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not ids:
            return []
        Lead.objects.filter(pk__in=ids).update(stage=to_stage, stage_changed_at=now, updated_at=now)
        by_id = by.pk if by is not None else None
        insert_rows(
            StageChange,
            ["lead", "from_stage", "to_stage", "changed_at", "changed_by", "reason", "forced"],
            [(pk, from_stage, to_stage, now, by_id, reason[:300], False) for pk in ids],
        )
        source = ActivitySource.USER if by else ActivitySource.SYSTEM
        properties = {"from": from_stage, "to": to_stage, "reason": reason}
        insert_rows(
            Activity,
            ACTIVITY_COLUMNS,
            [(pk, ActivityKind.STAGE_CHANGED, now, properties, source, "", by_id) for pk in ids],
        )
        webhooks.stage_changed(ids, from_stage=from_stage, to_stage=to_stage, changed_at=now, reason=reason)
        handoff.on_stage_change(ids, to_stage=to_stage, now=now, by=by, reason=reason, hand_raise=hand_raise)
    return ids


def _record_initial_stage(lead: Lead, *, by=None) -> None:
    lead.stage_changed_at = lead.created_at
    Lead.objects.filter(pk=lead.pk).update(stage_changed_at=lead.created_at)
    StageChange.objects.create(
        lead=lead, from_stage="", to_stage=lead.stage or Stage.NEW, changed_at=lead.created_at, changed_by=by
    )
    if lead.stage == Stage.MQL:  # created as an MQL (by hand, the API): handed to sales at once
        handoff.on_stage_change(
            [lead.pk], to_stage=Stage.MQL, now=lead.created_at, by=by, reason="Created as an MQL"
        )


@dataclass
class EventIn:
    """One validated event, addressed to a lead by id or by e-mail."""

    kind: str
    occurred_at: datetime
    lead_id: int | None = None
    email: str = ""
    properties: dict = field(default_factory=dict)
    external_id: str = ""


@dataclass
class EventResult:
    status: str  # "created", "duplicate" or "error"
    errors: dict | None = None


@dataclass
class Ingested:
    results: list[EventResult]
    # "done": each lead's last activity time, scores and campaigns were brought up to date in
    # the same transaction; "queued": a worker does it within seconds (a large batch).
    follow_up: str


def ingest_events(events: list[EventIn | None], *, source: str = ActivitySource.API, by=None) -> Ingested:
    """Store a batch of already-validated events in a few statements.

    ``None`` entries are items that failed validation: they keep their place so that the
    results line up with the request. Events for an unknown lead id are errors; an unknown
    e-mail creates the lead. An ``external_id`` seen before is reported as a duplicate; when
    two requests carry the same new one at the same moment, the unique constraint still keeps
    a single copy (both are then reported as created).

    A batch touching more than ``LEADAPP_INGEST_INLINE_LEADS`` leads stores its events and a
    ``PendingFollowUp``, and returns: rescoring a thousand leads in the request would hold the
    sender (and the leads' rows) for as long, where a worker merges the batches that arrive
    together and follows up their leads in one pass.
    """
    results: list[EventResult | None] = [None] * len(events)
    with transaction.atomic():
        rows = _activity_rows(events, results, source=source, by=by)
        marker = activity_marker()
        # Only an external_id can conflict; without one the rows stream straight in.
        insert_rows(Activity, ACTIVITY_COLUMNS, rows, ignore_conflicts=any(row[5] for row in rows))
        lead_ids = {row[0] for row in rows}
        kinds = Counter(row[1] for row in rows)
        if len(lead_ids) > settings.LEADAPP_INGEST_INLINE_LEADS:
            queue_follow_up(lead_ids, kinds=kinds, source=source, after=marker)
            return Ingested(results, follow_up="queued")
        activities_added(lead_ids, after=marker, reason=events_reason(kinds, {source}))
    return Ingested(results, follow_up="done")


def events_reason(kinds: Mapping[str, int], sources: Iterable[str]) -> str:
    """The score history's reason for new activities: "page view ×3, email click (API)"."""
    text = ", ".join(
        f"{ActivityKind(kind).label.lower()} ×{n}" if n > 1 else ActivityKind(kind).label.lower()
        for kind, n in Counter(kinds).most_common()
    )
    labels = ", ".join(sorted({ActivitySource(source).label for source in sources}))
    return f"{text} ({labels})"[:200]


def queue_follow_up(lead_ids: Iterable[int], *, kinds: Mapping[str, int], source: str, after: int) -> None:
    """Record, in the caller's transaction, that these leads' new activities (ids above
    ``after``) still need their follow-up, and ask a worker for it once committed."""
    from .tasks import follow_up_pending

    PendingFollowUp.objects.create(
        lead_ids=sorted(lead_ids), kinds=dict(kinds), source=source, new_activities_after=after
    )
    # robust: with the broker down the batch is still stored; beat runs it within a minute.
    transaction.on_commit(follow_up_pending.delay, robust=True)


def follow_up_pending(*, rows_at_once: int = 20, time_budget: float = 50.0) -> int:
    """Run the queued follow-ups, oldest first, ``rows_at_once`` batches merged into one pass
    (one ``leads_changed`` for their leads: a lead named by several batches is scored once).

    Safe in several workers at once: a pass locks the rows it takes and skips those another
    worker holds, and a pass that fails rolls back and leaves its rows for the next run.
    Returns how many batches were followed up."""
    done = 0
    deadline = time.monotonic() + time_budget
    while time.monotonic() < deadline:
        with transaction.atomic():
            pending = list(
                PendingFollowUp.objects.select_for_update(skip_locked=True).order_by("pk")[:rows_at_once]
            )
            if not pending:
                break
            lead_ids = {pk for row in pending for pk in row.lead_ids}
            kinds = sum((Counter(row.kinds) for row in pending), Counter())
            after = min(row.new_activities_after for row in pending)
            activities_added(
                lead_ids, after=after, reason=events_reason(kinds, {row.source for row in pending})
            )
            PendingFollowUp.objects.filter(pk__in=[row.pk for row in pending]).delete()
        done += len(pending)
    return done


ACTIVITY_COLUMNS = ["lead", "kind", "occurred_at", "properties", "source", "external_id", "created_by"]


def _activity_rows(events, results, *, source, by) -> list[tuple]:
    by_id = by.pk if by is not None else None
    ids = {e.lead_id for e in events if e and e.lead_id}
    emails = {normalize_email(e.email) for e in events if e and not e.lead_id}
    known_ids = (
        set(Lead.objects.filter(in_values(Lead, "pk", ids)).values_list("pk", flat=True)) if ids else set()
    )
    lead_by_email = _leads_for_emails(emails) if emails else {}
    external_ids = [e.external_id for e in events if e and e.external_id]
    seen_external = (
        # exclude(""): lets PostgreSQL use the partial unique index (WHERE external_id <> '').
        set(
            Activity.objects.filter(in_values(Activity, "external_id", external_ids))
            .exclude(external_id="")
            .order_by()
            .values_list("external_id", flat=True)
        )
        if external_ids
        else set()
    )

    rows = []
    for index, event in enumerate(events):
        if event is None:
            continue
        lead_id = event.lead_id or lead_by_email.get(normalize_email(event.email))
        if event.lead_id and event.lead_id not in known_ids:
            results[index] = EventResult("error", {"lead": [f"No lead with id {event.lead_id}."]})
            continue
        if event.external_id and event.external_id in seen_external:
            results[index] = EventResult("duplicate")
            continue
        if event.external_id:
            seen_external.add(event.external_id)
        rows.append(
            (lead_id, event.kind, event.occurred_at, event.properties, source, event.external_id, by_id)
        )
        results[index] = EventResult("created")
    return rows


def record_activity(
    lead: Lead,
    *,
    kind: str,
    occurred_at: datetime | None = None,
    properties: Mapping[str, Any] | None = None,
    source: str = ActivitySource.USER,
    by=None,
) -> Activity:
    with transaction.atomic():
        marker = activity_marker()
        activity = Activity.objects.create(
            lead=lead,
            kind=kind,
            occurred_at=occurred_at or timezone.now(),
            properties=dict(properties or {}),
            source=source,
            created_by=by,
        )
        activities_added(
            [lead.pk], after=marker, reason=f"{activity.get_kind_display()} ({activity.get_source_display()})"
        )
    return activity


def activity_marker() -> int:
    """The newest activity id now: what a writer adds next has a greater one (the scoring
    history uses it to tell the new activities from the ones already scored)."""
    return Activity.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def activities_added(lead_ids: Iterable[int], *, after: int, reason: str) -> None:
    """Call after inserting activities (ids greater than ``after``) for these leads, in the
    same transaction: keeps the last activity times right and lets scoring see them."""
    lead_ids = set(lead_ids)
    if not lead_ids:
        return
    touch_last_activity(lead_ids, after=after)
    leads_changed.send(sender=Activity, lead_ids=lead_ids, reason=reason, new_activities_after=after)


def touch_last_activity(lead_ids: Iterable[int] | None = None, *, after: int = 0) -> None:
    """Move the leads' last activity times (every lead's: None) up to their newest activity
    with an id above ``after``: the ones just added, since the times already cover the rest.
    Events can arrive late: a time is never moved back. Stage changes do not count as the
    lead doing something.

    One ``INSERT ... ON CONFLICT DO UPDATE`` fed in lead order, so the rows are locked in
    lead order: two batches sharing leads cannot each hold a row the other waits for (an
    ``UPDATE`` locks them in its plan's order, and the benchmark's worker once deadlocked so).
    A lead that has no row (data restored with the trigger off) gets one."""
    newest = Activity.objects.exclude(kind=ActivityKind.STAGE_CHANGED)
    if lead_ids is not None:
        lead_ids = list(lead_ids)
        if not lead_ids:
            return
        newest = newest.filter(in_values(Activity, "lead", lead_ids))
    if after:
        newest = newest.filter(pk__gt=after)
    newest = newest.order_by().values("lead").annotate(at=Max("occurred_at")).values_list("lead", "at")
    sql, params = newest.query.sql_with_params()
    table = connection.ops.quote_name(LastActivity._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            # "WHERE true": SQLite would read "ON CONFLICT" as the start of a join constraint.
            f"WITH newest (lead_id, at) AS ({sql}) "  # noqa: S608
            f"INSERT INTO {table} (lead_id, at) SELECT lead_id, at FROM newest WHERE true ORDER BY lead_id "
            f"ON CONFLICT (lead_id) DO UPDATE SET at = excluded.at "
            f"WHERE {table}.at IS NULL OR {table}.at < excluded.at",
            params,
        )


def _leads_for_emails(emails: set[str]) -> dict[str, int]:
    """Map e-mails to lead ids, creating leads for the unknown ones (set-based and safe
    when another request creates the same lead at the same time)."""
    found = dict(Lead.objects.filter(in_values(Lead, "email", emails)).values_list("email", "pk"))
    missing = emails - found.keys()
    if missing:
        now = timezone.now()
        Lead.objects.bulk_create(
            [Lead(email=email, created_via=CreatedVia.API, stage_changed_at=now) for email in missing],
            ignore_conflicts=True,
        )
        # Leads inserted by this call carry its timestamp; one a concurrent request created
        # a moment earlier does not, and already has its initial stage recorded.
        created = []
        for email, pk, stage_changed_at in Lead.objects.filter(email__in=missing).values_list(
            "email", "pk", "stage_changed_at"
        ):
            found[email] = pk
            if stage_changed_at == now:
                created.append(pk)
        StageChange.objects.bulk_create(
            [StageChange(lead_id=pk, to_stage=Stage.NEW, changed_at=now) for pk in created]
        )
    return found
