"""Read-side queries shared by the pages, the API and (later) the reports."""

from datetime import datetime, timedelta
from typing import NamedTuple

from django.db.models import Count, F, QuerySet
from django.utils import timezone
from django_filters.constants import EMPTY_VALUES

from . import filters
from .filters import SORTS, LeadFilter, id_in
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
    sort = list_sort(params)
    if sort == "score":
        queryset = queryset.filter(score__isnull=False)
    if sort == "recent_activity":
        # An inner join (every lead has the row): the sort walks the row's index, and the
        # time comes with it.
        queryset = queryset.filter(last_activity__isnull=False).annotate(
            last_activity_at=F("last_activity__at")
        )
    else:
        queryset = queryset.with_last_activity()
    return filterset, queryset.order_by(*SORTS[sort])


def list_sort(params) -> str:
    """The list's sort (one of ``SORTS``) from its GET parameters."""
    return params.get("sort") if params.get("sort") in SORTS else "newest"


def page_of(
    queryset: QuerySet[Lead], offset: int, size: int, *, ids_first: bool = False
) -> tuple[list[Lead], bool]:
    """``queryset[offset:offset + size]`` and whether more follow (one row more is read, no
    COUNT). With ``ids_first``, in two steps: the page's ids (sorted, without the joined rows),
    then those leads with their joins. Sorting the matches of a search, PostgreSQL would
    otherwise join every match's score and owner before sorting them: 759 joined rows for 50
    shown."""
    if not ids_first:
        rows = list(queryset[offset : offset + size + 1])
        return rows[:size], len(rows) > size
    ids = list(queryset.select_related(None).values_list("pk", flat=True)[offset : offset + size + 1])
    return rows_of(queryset, ids[:size]), len(ids) > size


def rows_of(queryset: QuerySet[Lead], ids: list[int]) -> list[Lead]:
    """The leads ``ids``, in that order, read with ``queryset``'s joins (``select_related``)
    and columns (``only``)."""
    if not ids:
        return []
    related = queryset.query.select_related  # False, True (all) or {"score": {"rule_set": {}}}
    rows = Lead.objects.using(queryset.db).filter(id_in(ids, queryset.db)).order_by().with_last_activity()
    if related:
        rows = rows.select_related(*([] if related is True else _related_paths(related)))
    rows.query.deferred_loading = queryset.query.deferred_loading  # its only() or defer()
    by_id = {lead.pk: lead for lead in rows}
    return [by_id[pk] for pk in ids if pk in by_id]


def _related_paths(tree: dict, prefix: str = "") -> list[str]:
    """``Query.select_related`` ({"score": {"rule_set": {}}}) as select_related() arguments."""
    paths = []
    for name, subtree in tree.items():
        path = f"{prefix}{name}"
        deeper = _related_paths(subtree, f"{path}__") if subtree else []
        paths += deeper or [path]
    return paths


def count_capped(queryset: QuerySet, cap: int = 1_000) -> tuple[int, bool]:
    """Count up to ``cap`` rows: an exact total of a million-row filter costs more than the
    page itself, and "1,000+" is all a person reads from it. Only the ids are read: the
    rows' annotations (a lead's last activity) would be computed for every row counted."""
    count = queryset.order_by().values("pk")[: cap + 1].count()
    return min(count, cap), count > cap


LIST_COUNT_CAP = 1_000  # "1,000+ leads"


def list_total(
    filterset: LeadFilter,
    queryset: QuerySet[Lead],
    *,
    user,
    sort: str,
    offset: int,
    shown: int,
    has_next: bool,
) -> tuple[int, bool] | None:
    """The "N leads" of the list page (a total and whether it is capped at
    ``LIST_COUNT_CAP``) when it costs next to nothing, else None: the page then shows "more
    than …" and loads the count in a request of its own (``count_capped``).

    Free: the last page (the rows shown and the pages before), a search alone (its matches
    were fetched already) and the whole list (the first 1,001 rows of the table). A filtered
    count is not always: with a stage, PostgreSQL counts from the stage index, which carries
    the other filters (2 ms for MQLs in Germany); without one, it reads every entry of two
    indexes to intersect them, which can take longer than the rest of the page."""
    if not has_next and (shown or not offset):
        return offset + shown, False
    if not filterset.is_valid():
        return 0, False
    narrowing = _narrowing(filterset)
    if narrowing - {"q"} or sort == "score" or Lead.objects.visible_to(user).query.where:
        return None  # other filters, the scored leads only (see lead_list) or not every lead
    if "q" not in narrowing:
        return count_capped(queryset, cap=LIST_COUNT_CAP)
    if filterset.searched_ids is not None:  # every match's id
        matched = len(filterset.searched_ids)
        return min(matched, LIST_COUNT_CAP), matched > LIST_COUNT_CAP
    if filters.SEARCH_ID_LIMIT >= LIST_COUNT_CAP:  # more matches than that
        return LIST_COUNT_CAP, True
    return None


def _narrowing(filterset: LeadFilter) -> set[str]:
    """The filters given a value (``q``, ``stage``, …) of a valid filterset."""
    return {name for name, value in filterset.form.cleaned_data.items() if value not in EMPTY_VALUES}


def searched_in_order(filterset: LeadFilter, *, user, sort: str = "newest") -> list[int] | None:
    """Every lead of the list, newest first, when the list is a search alone: its matches' ids
    (``filters.matching_ids`` has them in that order), so that a page of them needs no sort by
    the database (which reads every match's row for it: 2.5 ms for 759 of them). None when
    that does not apply: a common term (no ids), other filters, another sort, or a user who
    sees only some leads."""
    ids = filterset.searched_ids
    if ids is None or sort != "newest" or not filterset.is_valid() or _narrowing(filterset) != {"q"}:
        return None
    if Lead.objects.visible_to(user).query.where:
        return None
    return ids


def searched_page(
    filterset: LeadFilter, queryset: QuerySet[Lead], *, user, sort: str, offset: int, size: int
) -> tuple[list[Lead], bool] | None:
    """A page of a search alone (``searched_in_order``), or None."""
    ids = searched_in_order(filterset, user=user, sort=sort)
    if ids is None:
        return None
    page = ids[offset : offset + size + 1]
    return rows_of(queryset, page[:size]), len(page) > size


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
