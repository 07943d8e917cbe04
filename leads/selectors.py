"""Read-side queries shared by the pages, the API and (later) the reports."""

from datetime import datetime, timedelta
from typing import NamedTuple

from django.db.models import Count, QuerySet
from django.utils import timezone

from .filters import SORTS, LeadFilter
from .lifecycle import stage_name
from .models import Activity, Lead, Stage


def lead_list(params, *, request=None) -> tuple[LeadFilter, QuerySet[Lead]]:
    """The filtered, sorted lead list for the list page (``sort`` is one of ``SORTS``)."""
    # The score is one LEFT JOIN on its primary key (the lead id): no query per row.
    leads = Lead.objects.select_related("owner", "score")
    if request is not None:
        leads = leads.visible_to(request.user)
    filterset = LeadFilter(params, queryset=leads, request=request)
    queryset = filterset.qs if filterset.is_valid() else Lead.objects.none()
    sort = params.get("sort") if params.get("sort") in SORTS else "newest"
    if sort == "score":
        queryset = queryset.filter(score__isnull=False)
    return filterset, queryset.order_by(*SORTS[sort])


def count_capped(queryset: QuerySet, cap: int = 1_000) -> tuple[int, bool]:
    """Count up to ``cap`` rows: an exact total of a million-row filter costs more than the
    page itself, and "1,000+" is all a person reads from it."""
    count = queryset.order_by()[: cap + 1].count()
    return min(count, cap), count > cap


def stage_counts(user) -> list[tuple[str, str, int]]:
    """Leads per stage, of the leads ``user`` may see."""
    counts = dict(Lead.objects.visible_to(user).order_by().values_list("stage").annotate(n=Count("id")))
    return [(value, label, counts.get(value, 0)) for value, label in Stage.choices]


def lead_timeline(lead: Lead, *, before_id: int | None = None, size: int = 25) -> tuple[list, bool]:
    """One page of a lead's activities, newest first; ``before_id`` continues after the last
    activity the page already shows. Returns the activities and whether there are more."""
    queryset = lead.activities.select_related("created_by")
    if before_id:
        anchor = Activity.objects.filter(pk=before_id, lead=lead).values("occurred_at").first()
        if anchor:
            queryset = queryset.filter(occurred_at__lte=anchor["occurred_at"]).exclude(
                occurred_at=anchor["occurred_at"], id__gte=before_id
            )
    rows = list(queryset.order_by("-occurred_at", "-id")[: size + 1])
    return rows[:size], len(rows) > size


class StageSpell(NamedTuple):
    """One stay of a lead in a stage; ``left_at`` is None for the stage it is in now."""

    stage: str
    entered_at: datetime
    left_at: datetime | None
    duration: timedelta

    @property
    def stage_name(self) -> str:
        return stage_name(self.stage)

    @property
    def duration_text(self) -> str:
        seconds = max(0, int(self.duration.total_seconds()))
        for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if seconds >= size:
                n = seconds // size
                return f"{n} {unit}{'s' if n != 1 else ''}"
        return "under a minute"


def stage_durations(lead: Lead, *, now: datetime | None = None) -> list[StageSpell]:
    """The time the lead spent in each stage, oldest first, from its stage history (the
    lead's velocity): each change starts a stay that the next change ends; the last stay
    lasts until ``now``."""
    now = now or timezone.now()
    changes = list(lead.stage_changes.order_by("changed_at", "id").values_list("to_stage", "changed_at"))
    spells = []
    for index, (stage, entered_at) in enumerate(changes):
        left_at = changes[index + 1][1] if index + 1 < len(changes) else None
        spells.append(StageSpell(stage, entered_at, left_at, (left_at or now) - entered_at))
    return spells
