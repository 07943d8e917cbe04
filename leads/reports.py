"""The KPI dashboard's numbers: the funnel, conversion, velocity, engagement, sales cycle, ROI and
SLA compliance, for a period and the filters a manager picks.

Definitions (the dashboard says them too):

- **Cohort.** The funnel, conversion and grade tables count the leads *created* in the period
  and how far each got (ever, up to now). A lead "reached" a stage when its history shows that
  stage or a later one (a lead forced past a stage still counts for it).
- **Velocity.** Time in a stage: from reaching it to reaching the next, for the leads that
  reached the next one in the period; median and 90th percentile. The lead velocity rate is the
  month-over-month growth of new MQLs: (this month − last month) / last month.
- **Engagement.** Of the leads that existed at the end of the period, the share that did
  something (a page view, a form, an e-mail open or click, a download, a webinar, a demo
  request, a trial) in the period. E-mail open and click rates: of the campaign e-mails sent in
  the period, the share opened (clicked) at least once.
- **Sales cycle.** From the first touch (a logged call, e-mail or meeting, or qualifying) to
  won, for the leads won in the period.
- **ROI.** Revenue of the leads won in the period — credited in full to the lead's (first)
  source, and in full to each campaign it was enrolled in — against the costs entered for the
  months the period touches. ROI = (revenue − cost) / cost; none without a cost.
- **SLA.** Handoffs assigned in the period, by SDR and by team: accepted within the deadline,
  first touch within the deadline, median time to the first touch, breaches recorded.

Every rate is ``None`` (shown "—") when its denominator is zero.

How they are computed at a million leads (migration 0011 has the roll-ups and indexes):

- The funnel figures read ``LeadFunnel``, one narrow row per lead kept by ``refresh_funnel``
  (beat, every few minutes, for the leads changed since; ``manage.py refresh_funnel`` rebuilds
  all). On PostgreSQL, daily cubes of those rows, kept by triggers in the same transaction,
  give the cohort (funnel, conversion by source and by grade), the leads that existed at a
  date, new MQLs per month and the revenue per source: for a period cut at midnight in
  ``TIME_ZONE`` (the dashboard's), unfiltered or filtered by source. Any other case reads the
  rows: one grouped scan for the period and its comparison together.
- Velocity and the sales cycle: one statement each (``percentile_cont``; unfiltered, each
  stage's durations come from its index, index only); in Python on SQLite (the demo's).
- The engagement rate's active leads come, on PostgreSQL, from the engagement roll-up that
  ``refresh_funnel`` keeps with the funnel rows, set-based: each lead's engaged days, each with
  the day it was active before, so that *distinct* active leads over any run of days are a
  sum (per source; other filters join the lead's days to its funnel row). Periods not cut at
  midnight, SQLite, or a roll-up not (yet) built for the current ``TIME_ZONE`` and kinds count
  the activities instead, as do the tests' reference computations.
- The comparison period shows only the funnel, the conversion, the engagement rate and the
  median sales cycle, and only those are computed for it.

The roll-ups are as fresh as the funnel rows (the 5-minute refresh), except that deleting a
lead takes it out of them at once, as it does its funnel row.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import reduce
from operator import or_

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from .models import (
    Activity,
    ActivityKind,
    Handoff,
    LastActivity,
    Lead,
    LeadFunnel,
    MarketingCost,
    SlaBreach,
    Source,
    Stage,
    Submission,
    Team,
)

FUNNEL = [Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER]
MILESTONE = {
    Stage.MQL: "mql_at",
    Stage.SAL: "sal_at",
    Stage.SQL: "sql_at",
    Stage.OPPORTUNITY: "opportunity_at",
    Stage.CUSTOMER: "customer_at",
}
ENGAGED_KINDS = [
    ActivityKind.PAGE_VIEW,
    ActivityKind.FORM_SUBMITTED,
    ActivityKind.EMAIL_OPEN,
    ActivityKind.EMAIL_CLICK,
    ActivityKind.DOWNLOAD,
    ActivityKind.WEBINAR_REGISTERED,
    ActivityKind.WEBINAR_ATTENDED,
    ActivityKind.DEMO_REQUESTED,
    ActivityKind.TRIAL_STARTED,
]
CYCLE_BUCKETS = [(0, 7), (7, 14), (14, 30), (30, 60), (60, 90), (90, None)]


def rate(part, whole) -> float | None:
    """``part / whole``, or ``None`` when there is nothing to divide by."""
    return None if not whole else part / whole


def _postgres() -> bool:
    return connection.vendor == "postgresql"


# --- The funnel read model ---------------------------------------------------------------------

_REFRESH_SQL = """
INSERT INTO {funnel} (lead_id, created_at, source, country, industry, owner_id, mql_at, sal_at,
    sql_at, opportunity_at, customer_at, lost_at, disqualified_at, grade, first_touch_at, won_value)
SELECT l.id, l.created_at, l.source, l.country, l.industry, l.owner_id,
    m.mql_at, m.sal_at, m.sql_at, m.opportunity_at, m.customer_at, m.lost_at, m.disqualified_at,
    COALESCE((SELECT h.grade FROM {handoff} h WHERE h.lead_id = l.id ORDER BY h.handed_at, h.id LIMIT 1), ''),
    (SELECT MIN(h.first_touch_at) FROM {handoff} h WHERE h.lead_id = l.id),
    (SELECT o.won_value FROM {opportunity} o WHERE o.lead_id = l.id AND o.status = 'won')
FROM {lead} l
LEFT JOIN (
    SELECT lead_id,
        MIN(CASE WHEN to_stage = 'mql' THEN changed_at END) AS mql_at,
        MIN(CASE WHEN to_stage = 'sal' THEN changed_at END) AS sal_at,
        MIN(CASE WHEN to_stage = 'sql' THEN changed_at END) AS sql_at,
        MIN(CASE WHEN to_stage = 'opportunity' THEN changed_at END) AS opportunity_at,
        MIN(CASE WHEN to_stage = 'customer' THEN changed_at END) AS customer_at,
        MIN(CASE WHEN to_stage = 'lost' THEN changed_at END) AS lost_at,
        MIN(CASE WHEN to_stage = 'disqualified' THEN changed_at END) AS disqualified_at
    FROM {stagechange}
    WHERE {history_filter}
    GROUP BY lead_id
) m ON m.lead_id = l.id
WHERE {lead_filter}
ON CONFLICT (lead_id) DO UPDATE SET
    created_at = excluded.created_at, source = excluded.source, country = excluded.country,
    industry = excluded.industry, owner_id = excluded.owner_id, mql_at = excluded.mql_at,
    sal_at = excluded.sal_at, sql_at = excluded.sql_at, opportunity_at = excluded.opportunity_at,
    customer_at = excluded.customer_at, lost_at = excluded.lost_at,
    disqualified_at = excluded.disqualified_at, grade = excluded.grade,
    first_touch_at = excluded.first_touch_at, won_value = excluded.won_value
WHERE ({columns}) {distinct} ({excluded})
"""
# Only rows that change are rewritten: the nightly rebuild of unchanged leads writes nothing
# (no dead rows, no index entries, nothing for the cubes' triggers).
_FUNNEL_COLUMNS = [
    "created_at",
    "source",
    "country",
    "industry",
    "owner_id",
    "mql_at",
    "sal_at",
    "sql_at",
    "opportunity_at",
    "customer_at",
    "lost_at",
    "disqualified_at",
    "grade",
    "first_touch_at",
    "won_value",
]

REFRESH_CHUNK = 50_000


def _tables() -> dict[str, str]:
    from .models import Opportunity, StageChange

    quote = connection.ops.quote_name
    funnel = quote(LeadFunnel._meta.db_table)
    return {
        "columns": ", ".join(f"{funnel}.{column}" for column in _FUNNEL_COLUMNS),
        "excluded": ", ".join(f"excluded.{column}" for column in _FUNNEL_COLUMNS),
        "distinct": "IS DISTINCT FROM" if _postgres() else "IS NOT",  # SQLite: row values, IS NOT
        "funnel": funnel,
        "handoff": quote(Handoff._meta.db_table),
        "opportunity": quote(Opportunity._meta.db_table),
        "lead": quote(Lead._meta.db_table),
        "stagechange": quote(StageChange._meta.db_table),
    }


def refresh_funnel_range(lo: int, hi: int, *, engaged: bool | None = None) -> None:
    """Rewrite the funnel rows of the leads with ids in [lo, hi): one statement; and their
    engagement roll-up rows (PostgreSQL; ``engaged``: whether to, by default when it is built)."""
    sql = _REFRESH_SQL.format(
        **_tables(), history_filter="lead_id >= %s AND lead_id < %s", lead_filter="l.id >= %s AND l.id < %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [lo, hi, lo, hi])
    if engaged is None:
        engaged = engaged_rollup_ready()
    if engaged:
        _refresh_engaged("{col} >= %s AND {col} < %s", [lo, hi])


def refresh_funnel(lead_ids: Iterable[int] | None = None, *, chunk: int = REFRESH_CHUNK) -> int:
    """Rewrite the funnel rows of ``lead_ids`` (or of every lead, a range of ids at a time, each
    in its own transaction), and with them the engagement roll-up (PostgreSQL; the funnel cubes
    follow the rows by trigger). Idempotent: a row is computed from the history, never added
    to. The full rebuild also sums the cubes and the roll-up's counts afresh and marks them
    built for the current time zone: the dashboard reads them from then on."""
    if lead_ids is not None:
        ids = sorted(set(lead_ids))
        engaged = engaged_rollup_ready()
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            placeholders = ", ".join(["%s"] * len(part))
            sql = _REFRESH_SQL.format(
                **_tables(),
                history_filter=f"lead_id IN ({placeholders})",
                lead_filter=f"l.id IN ({placeholders})",
            )
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [*part, *part])
                if engaged:
                    _refresh_engaged("{col} = ANY(%s)", [part])
        return len(ids)
    engaged = _postgres()
    if engaged and not engaged_rollup_ready():
        _reset_engaged()  # built for another time zone or other kinds, or never: from scratch
    top = Lead.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    for lo in range(1, top + 1, chunk):
        with transaction.atomic():
            refresh_funnel_range(lo, lo + chunk, engaged=engaged)
    if engaged:
        _recount()
    return Lead.objects.count()


def changed_leads(since: datetime.datetime) -> set[int]:
    """Leads whose funnel row may be stale: created, edited, moved or touched since ``since``;
    on PostgreSQL also those with activities stored since (even late ones: an event of last
    week delivered now), by the activity ids the refresh has seen (``refresh_changed``)."""
    from .models import StageChange

    ids = set(Lead.objects.filter(updated_at__gte=since).values_list("pk", flat=True))
    ids |= set(LastActivity.objects.filter(at__gte=since).values_list("lead_id", flat=True))
    ids |= set(StageChange.objects.filter(changed_at__gte=since).values_list("lead_id", flat=True))
    ids |= set(
        Handoff.objects.filter(Q(first_touch_at__gte=since) | Q(handed_at__gte=since)).values_list(
            "lead_id", flat=True
        )
    )
    seen = _activity_mark_at(since)
    if seen is not None:
        ids |= set(Activity.objects.filter(pk__gt=seen).values_list("lead_id", flat=True).distinct())
    return ids


def refresh_changed(minutes: int = 15) -> int:
    """The 5-minute refresh: the funnel rows (and roll-up) of the leads changed in the last
    ``minutes`` (the overlap covers a late or missed run; the nightly rebuild the rest)."""
    now = timezone.now()
    newest = Activity.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    count = refresh_funnel(changed_leads(now - datetime.timedelta(minutes=minutes)))
    if _postgres():
        _record_activity_mark(now, newest)
    return count


# --- The roll-ups: funnel cubes and engagement (PostgreSQL; tables in migration 0011) -------------

REPORTS_LOCK = 74210001  # pg_advisory_xact_lock: the refreshes and the triggers of migration 0011
ACTIVITY_MARKS = 12

_ENGAGED_NEW = """
CREATE TEMPORARY TABLE _engaged_new AS
SELECT s.lead_id, s.day,
    -- the day the lead was active before (0001-01-01: none)
    COALESCE(LAG(s.day) OVER (PARTITION BY s.lead_id ORDER BY s.day), DATE '0001-01-01') AS prev_day,
    s.created_at, s.source, s.day < (s.created_at AT TIME ZONE %s)::date AS early
FROM (
    SELECT DISTINCT a.lead_id, (a.occurred_at AT TIME ZONE %s)::date AS day, f.created_at, f.source
    FROM leads_activity a JOIN leads_leadfunnel f ON f.lead_id = a.lead_id
    WHERE a.kind = ANY(%s) AND {activity} AND {funnel}
) s
"""
_ENGAGED_GONE = """
WITH gone AS (
    DELETE FROM leads_engagedday d
    WHERE {day} AND NOT EXISTS (
        SELECT 1 FROM _engaged_new n
        WHERE n.lead_id = d.lead_id AND n.day = d.day AND n.prev_day = d.prev_day
            AND n.created_at = d.created_at AND n.source = d.source AND n.early = d.early
    )
    RETURNING d.day, d.prev_day, d.source
)
INSERT INTO _engaged_delta (day, prev_day, source, n)
SELECT day, prev_day, source, -count(*) FROM gone GROUP BY day, prev_day, source
"""
_ENGAGED_ADDED = """
WITH added AS (
    INSERT INTO leads_engagedday (lead_id, day, prev_day, created_at, source, early)
    SELECT n.lead_id, n.day, n.prev_day, n.created_at, n.source, n.early FROM _engaged_new n
    WHERE NOT EXISTS (SELECT 1 FROM leads_engagedday d WHERE d.lead_id = n.lead_id AND d.day = n.day)
    RETURNING day, prev_day, source
)
INSERT INTO _engaged_delta (day, prev_day, source, n)
SELECT day, prev_day, source, count(*) FROM added GROUP BY day, prev_day, source
"""
_ENGAGED_COUNT = """
INSERT INTO leads_engagedcell (day, prev_day, source, leads)
SELECT day, prev_day, source, SUM(n) FROM _engaged_delta
GROUP BY day, prev_day, source HAVING SUM(n) <> 0 ORDER BY day, prev_day, source
ON CONFLICT (day, prev_day, source) DO UPDATE SET leads = leads_engagedcell.leads + excluded.leads
"""
_ENGAGED_EMPTY = """
DELETE FROM leads_engagedcell c USING _engaged_delta x
WHERE c.day = x.day AND c.prev_day = x.prev_day AND c.source = x.source AND c.leads = 0
"""


def _engaged_definition() -> str:
    """What the roll-up's rows depend on besides the activities: the days' time zone, the kinds."""
    return json.dumps({"time_zone": settings.TIME_ZONE, "kinds": sorted(str(k) for k in ENGAGED_KINDS)})


def _state(cursor, name: str) -> str | None:
    cursor.execute("SELECT value FROM leads_reportstate WHERE name = %s", [name])
    row = cursor.fetchone()
    return row[0] if row else None


def _set_state(cursor, name: str, value: str) -> None:
    cursor.execute(
        "INSERT INTO leads_reportstate (name, value) VALUES (%s, %s) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [name, value],
    )


def engaged_rollup_ready() -> bool:
    """Whether the engagement roll-up is built, for the current time zone and kinds."""
    if not _postgres():
        return False
    with connection.cursor() as cursor:
        return _state(cursor, "engaged") == _engaged_definition()


def _reset_engaged() -> None:
    """Empty the roll-up (the dashboard counts the activities until the rebuild completes)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REPORTS_LOCK])
        cursor.execute("DELETE FROM leads_reportstate WHERE name = 'engaged'")
        cursor.execute("TRUNCATE leads_engagedday, leads_engagedcell")


# How far a funnel row got (``_level``) and when it qualified (``mql_months``), as the cubes'
# triggers (migration 0011) compute them.
LEVEL_SQL = """CASE WHEN customer_at IS NOT NULL THEN 5 WHEN opportunity_at IS NOT NULL THEN 4
    WHEN sql_at IS NOT NULL THEN 3 WHEN sal_at IS NOT NULL THEN 2 WHEN mql_at IS NOT NULL THEN 1 ELSE 0 END"""
QUALIFIED_SQL = "COALESCE(mql_at, sal_at, sql_at, opportunity_at, customer_at)"


def _recount() -> None:
    """After a full rebuild: the funnel cubes and the engaged-day counts summed afresh from their
    rows (whatever a bug or a manual edit did to them), and the roll-ups marked as built for the
    current time zone and kinds. One transaction: the dashboard sees the old sums or the new."""
    tz = settings.TIME_ZONE
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REPORTS_LOCK])
        cursor.execute("DELETE FROM leads_funnelday")
        cursor.execute(
            "INSERT INTO leads_funnelday (day, source, grade, level, leads) "  # noqa: S608
            f"SELECT (created_at AT TIME ZONE %s)::date, source, grade, {LEVEL_SQL}, COUNT(*) "
            "FROM leads_leadfunnel GROUP BY 1, 2, 3, 4",
            [tz],
        )
        cursor.execute("DELETE FROM leads_qualifiedday")
        cursor.execute(
            "INSERT INTO leads_qualifiedday (day, source, leads) "  # noqa: S608
            f"SELECT ({QUALIFIED_SQL} AT TIME ZONE %s)::date, source, COUNT(*) FROM leads_leadfunnel "
            f"WHERE {QUALIFIED_SQL} IS NOT NULL GROUP BY 1, 2",
            [tz],
        )
        cursor.execute("DELETE FROM leads_wonday")
        cursor.execute(
            "INSERT INTO leads_wonday (day, source, leads, revenue) "
            "SELECT (customer_at AT TIME ZONE %s)::date, source, COUNT(*), SUM(COALESCE(won_value, 0)) "
            "FROM leads_leadfunnel WHERE customer_at IS NOT NULL GROUP BY 1, 2",
            [tz],
        )
        _set_state(cursor, "funnel_cubes", tz)
        cursor.execute("DELETE FROM leads_engagedcell")
        cursor.execute(
            "INSERT INTO leads_engagedcell (day, prev_day, source, leads) "
            "SELECT day, prev_day, source, COUNT(*) FROM leads_engagedday GROUP BY day, prev_day, source"
        )
        _set_state(cursor, "engaged", _engaged_definition())


def funnel_cubes_ready() -> bool:
    """Whether the funnel cubes are built, for the current time zone."""
    if not _postgres():
        return False
    with connection.cursor() as cursor:
        return _state(cursor, "funnel_cubes") == settings.TIME_ZONE


def _refresh_engaged(lead_filter: str, params: list) -> None:
    """Bring the roll-up rows of some leads (``lead_filter`` on ``{col}``, the lead id) in line
    with their activities and funnel rows, set-based: compute their rows, delete the rows that
    changed, insert the new ones, and add the difference to the counts. Only the changes are
    written, so the nightly rebuild rewrites little. Leads without a funnel row get no rows."""
    tz = settings.TIME_ZONE
    kinds = [str(kind) for kind in ENGAGED_KINDS]
    activity, funnel, day = (lead_filter.format(col=col) for col in ("a.lead_id", "f.lead_id", "d.lead_id"))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REPORTS_LOCK])
        cursor.execute("DROP TABLE IF EXISTS _engaged_new, _engaged_delta")
        cursor.execute(
            _ENGAGED_NEW.format(activity=activity, funnel=funnel), [tz, tz, kinds, *params, *params]
        )
        cursor.execute("ANALYZE _engaged_new")
        cursor.execute(
            "CREATE TEMPORARY TABLE _engaged_delta (day date, prev_day date, source varchar(20), n integer)"
        )
        cursor.execute(_ENGAGED_GONE.format(day=day), params)
        cursor.execute(_ENGAGED_ADDED)
        cursor.execute(_ENGAGED_COUNT)
        cursor.execute(_ENGAGED_EMPTY)
        cursor.execute("DROP TABLE _engaged_new, _engaged_delta")


def _activity_mark_at(since: datetime.datetime) -> int | None:
    """The newest activity id a refresh had seen at or before ``since`` (None: none recorded)."""
    if not _postgres():
        return None
    with connection.cursor() as cursor:
        marks = json.loads(_state(cursor, "activity_marks") or "[]")
    seen = [mark for at, mark in marks if datetime.datetime.fromisoformat(at) <= since]
    return seen[-1] if seen else None


def _record_activity_mark(at: datetime.datetime, mark: int) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REPORTS_LOCK])
        marks = json.loads(_state(cursor, "activity_marks") or "[]")
        marks = [*marks, [at.isoformat(), mark]][-ACTIVITY_MARKS:]
        _set_state(cursor, "activity_marks", json.dumps(marks))


def _rollup_days(period: Period) -> tuple[datetime.date, datetime.date] | None:
    """The period as [first day, day after the last) in ``TIME_ZONE``, when it is cut at the
    first instant of those days (then an activity is in it exactly when its local day is)."""
    tz = timezone.get_default_timezone()
    start, end = timezone.localtime(period.start, tz), timezone.localtime(period.end, tz)
    for moment in (start, end):
        if moment.time() != datetime.time() or moment.fold:
            return None
    return start.date(), end.date()


def _active_from_rollup(periods: Sequence[Period], filters: Filters) -> list[int] | None:
    """Active leads in each period from the roll-up, or None when it cannot answer."""
    days = [_rollup_days(period) for period in periods]
    if any(d is None for d in days) or not engaged_rollup_ready():
        return None
    lo, hi, latest_first = min(a for a, _ in days), max(b for _, b in days), max(a for a, _ in days)
    # A lead active in [a, b) has one engaged day there with prev_day < a: its first.
    first_in = "day >= %s AND day < %s AND prev_day < %s"
    firsts = [x for a, b in days for x in (a, b, a)]
    with connection.cursor() as cursor:
        if not _other_than_source(filters):
            where, extra = ("AND source = %s", [filters.source]) if filters.source else ("", [])
            sums = ", ".join(f"COALESCE(SUM(leads) FILTER (WHERE {first_in}), 0)" for _ in days)
            cursor.execute(
                f"SELECT {sums} FROM leads_engagedcell "  # noqa: S608
                f"WHERE day >= %s AND day < %s AND prev_day < %s {where}",
                [*firsts, lo, hi, latest_first, *extra],
            )
            active = list(cursor.fetchone())
            # ... less the leads created after the period's end (their days there are before
            # their creation day: "early" rows, a few).
            late = ", ".join(f"COUNT(*) FILTER (WHERE {first_in} AND created_at >= %s)" for _ in days)
            cursor.execute(
                f"SELECT {late} FROM leads_engagedday WHERE early AND day >= %s AND day < %s {where}",  # noqa: S608
                [
                    *(x for (a, b), p in zip(days, periods, strict=True) for x in (a, b, a, p.end)),
                    lo,
                    hi,
                    *extra,
                ],
            )
            return [n - late for n, late in zip(active, cursor.fetchone(), strict=True)]
        rows_sql, rows_params = funnel_rows(filters).values("lead").order_by().query.sql_with_params()
        counts = ", ".join(f"COUNT(*) FILTER (WHERE {first_in} AND created_at < %s)" for _ in days)
        cursor.execute(
            f"SELECT {counts} FROM leads_engagedday "  # noqa: S608
            f"WHERE day >= %s AND day < %s AND prev_day < %s AND lead_id IN ({rows_sql})",
            [
                *(x for (a, b), p in zip(days, periods, strict=True) for x in (a, b, a, p.end)),
                lo,
                hi,
                latest_first,
                *rows_params,
            ],
        )
        return list(cursor.fetchone())


def _other_than_source(filters: Filters) -> bool:
    """Whether a filter other than the source is set (the roll-ups are per source)."""
    return any(getattr(filters, name) for name in filters.__dataclass_fields__ if name != "source")


# --- Period and filters ----------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """[start, end): aware datetimes."""

    start: datetime.datetime
    end: datetime.datetime

    @classmethod
    def of_days(cls, first: datetime.date, last: datetime.date) -> Period:
        tz = timezone.get_current_timezone()
        start = timezone.make_aware(datetime.datetime.combine(first, datetime.time()), tz)
        end = timezone.make_aware(
            datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time()), tz
        )
        return cls(start, end)

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.start - (self.end - self.start), self.start)

    @property
    def first_day(self) -> datetime.date:
        return timezone.localtime(self.start).date()

    @property
    def last_day(self) -> datetime.date:
        return timezone.localtime(self.end).date() - datetime.timedelta(days=1)

    def months(self) -> list[datetime.date]:
        """The first days of the months the period touches."""
        month = self.first_day.replace(day=1)
        months = []
        while month <= self.last_day:
            months.append(month)
            month = (month + datetime.timedelta(days=32)).replace(day=1)
        return months


@dataclass(frozen=True)
class Filters:
    source: str = ""
    country: str = ""
    industry: str = ""
    owner: int | None = None
    team: int | None = None
    campaign: int | None = None
    form: int | None = None

    def lead_q(self, prefix: str = "") -> Q:
        """The filters as a condition on a model with these lead attributes (``prefix``:
        the path to them, e.g. "lead__")."""
        from nurturing.models import Enrollment

        q = Q()
        if self.source:
            q &= Q(**{f"{prefix}source": self.source})
        if self.country:
            q &= Q(**{f"{prefix}country": self.country})
        if self.industry:
            q &= Q(**{f"{prefix}industry": self.industry})
        if self.owner:
            q &= Q(**{f"{prefix}owner": self.owner})
        if self.team:
            q &= Q(**{f"{prefix}owner__sales_teams": self.team})
        lead_ref = OuterRef("lead_id")  # the funnel row's key, or the handoff's lead
        if self.campaign:
            q &= Q(Exists(Enrollment.objects.filter(lead=lead_ref, campaign=self.campaign)))
        if self.form:
            q &= Q(Exists(Submission.objects.filter(lead=lead_ref, form=self.form)))
        return q

    @property
    def active(self) -> bool:
        return any(getattr(self, name) for name in self.__dataclass_fields__)


def funnel_rows(filters: Filters) -> QuerySet[LeadFunnel]:
    return LeadFunnel.objects.filter(filters.lead_q())


def reached(stage: str) -> Q:
    """The lead reached ``stage``: it or a later funnel stage is in its history."""
    q = Q()
    for later in FUNNEL[FUNNEL.index(stage) :]:
        q |= Q(**{f"{MILESTONE[later]}__isnull": False})
    return q


def cohort(period: Period, filters: Filters) -> QuerySet[LeadFunnel]:
    return funnel_rows(filters).filter(created_at__gte=period.start, created_at__lt=period.end)


def within(field_name: str, period: Period) -> Q:
    return Q(**{f"{field_name}__gte": period.start, f"{field_name}__lt": period.end})


def _within_any(field_name: str, periods: Sequence[Period]) -> Q:
    return reduce(or_, (within(field_name, period) for period in periods))


def _flag(q: Q) -> ExpressionWrapper:
    return ExpressionWrapper(q, output_field=BooleanField())


def _sql(queryset: QuerySet, *fields: str) -> tuple[str, list]:
    """The SELECT of ``fields`` of ``queryset`` (named as the fields: "lead" for ``lead_id``),
    to aggregate over in SQL."""
    sql, params = queryset.values(*fields).order_by().query.sql_with_params()
    return sql, list(params)


def _seconds(start: str, end: str) -> str:
    """``end - start`` in seconds (PostgreSQL; ``date_part`` is a double, as percentile_cont needs)."""
    return f"date_part('epoch', {end} - {start})"


def _percentiles_sql(seconds: str) -> str:
    """Median and 90th percentile of ``seconds``: one sort."""
    return f"percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {seconds})"


def _days(values: Sequence[float | None] | None) -> list[float | None]:
    values = values or [None, None]
    return [None if v is None else v / 86400 for v in values]


# --- The KPIs -------------------------------------------------------------------------------------


@dataclass
class FunnelStep:
    stage: str
    label: str
    count: int
    rate_from_previous: float | None


@dataclass
class Breakdown:
    key: str
    label: str
    leads: int
    customers: int

    @property
    def rate(self) -> float | None:
        return rate(self.customers, self.leads)


DIMENSIONS = [
    ("source", "Source"),
    ("country", "Country"),
    ("industry", "Industry"),
    ("owner", "Owner"),
    ("team", "Team"),
    ("campaign", "Campaign"),
    ("form", "Form"),
    ("grade", "Grade at handoff"),
]
# Dimensions that are a column of the funnel row: one grouped scan gives them with the funnel.
ROW_DIMENSIONS = ("source", "country", "industry", "owner", "grade")


@dataclass
class Cohort:
    """The leads created in a period: how far they got, and by a dimension and by grade."""

    leads: int
    steps: list[FunnelStep]
    by: list[Breakdown] | None  # None: a dimension that is not a column (team, campaign, form)
    grades: list[Breakdown]


def _level() -> Case:
    """How far the lead got: 1 (MQL) … 5 (customer), 0 for none; it reached a stage when
    that stage or a later one is in its history, i.e. when its level is that stage's or more."""
    whens = [
        When(**{f"{MILESTONE[stage]}__isnull": False}, then=Value(index))
        for index, stage in reversed(list(enumerate(FUNNEL, start=1)))
    ]
    return Case(*whens, default=Value(0), output_field=IntegerField())


def cohorts(periods: Sequence[Period], filters: Filters, by: str = "grade") -> list[Cohort]:
    """The cohort figures of several periods at once: from the funnel cube (PostgreSQL; no
    filter or a source, by source or grade), else from one grouped scan of the funnel rows."""
    groups = _cohort_groups_from_cube(periods, filters, by)
    if groups is None:
        groups = _cohort_groups_from_rows(periods, filters, by)
    owner_names = {}
    if by == "owner":
        owner_names = _owner_names({key for group in groups for key, *_ in group if key})
    out = []
    for group in groups:
        at_level = [0] * (len(FUNNEL) + 1)
        by_value: dict = {}
        by_grade: dict = {}
        for key, grade, level, n in group:
            at_level[level] += n
            won = n if level == len(FUNNEL) else 0
            for totals, value in ((by_value, key), (by_grade, grade)):
                leads, customers = totals.get(value, (0, 0))
                totals[value] = (leads + n, customers + won)
        leads = sum(at_level)
        steps, previous = [], leads
        for position, stage in enumerate(FUNNEL, start=1):
            reached_it = sum(at_level[position:])
            label = Stage(stage).label.split(" (")[0]
            steps.append(FunnelStep(stage, label, reached_it, rate(reached_it, previous)))
            previous = reached_it
        grades = _breakdowns("grade", by_grade)
        if by == "grade":
            by_rows = grades
        elif by == "owner":
            by_rows = _biggest_first(
                Breakdown(str(pk or ""), owner_names.get(pk, "?") if pk else "Unassigned", n, c)
                for pk, (n, c) in by_value.items()
            )
        elif by in ROW_DIMENSIONS:
            by_rows = _breakdowns(by, by_value)
        else:
            by_rows = None
        out.append(Cohort(leads, steps, by_rows, grades))
    return out


# A group of a cohort: (value of the dimension, grade, level reached, leads).
Group = tuple[object, str, int, int]


def _cohort_groups_from_rows(periods: Sequence[Period], filters: Filters, by: str) -> list[list[Group]]:
    """One grouped scan of the funnel rows created in any of the periods: a group per value of
    ``by``, grade, level and the periods the rows were created in (periods may overlap)."""
    dims = [by, "grade"] if by in ROW_DIMENSIONS and by != "grade" else ["grade"]
    flags = {f"in_{index}": _flag(within("created_at", period)) for index, period in enumerate(periods)}
    grouped = list(
        funnel_rows(filters)
        .filter(_within_any("created_at", periods))
        .annotate(level=_level(), **flags)
        .values_list(*dims, *flags, "level")
        .annotate(n=Count("pk"))
        .order_by()
    )
    count = len(dims)
    return [
        [(row[0], row[count - 1], row[-2], row[-1]) for row in grouped if row[count + index]]
        for index in range(len(periods))
    ]


def _cube_days(
    periods: Sequence[Period], filters: Filters
) -> list[tuple[datetime.date, datetime.date]] | None:
    """The periods as days of the funnel cubes, when the cubes can answer for them: PostgreSQL,
    cubes built for this time zone, periods cut at midnight, no filter but the source."""
    if not _postgres() or _other_than_source(filters):
        return None
    days = [_rollup_days(period) for period in periods]
    if any(d is None for d in days) or not funnel_cubes_ready():
        return None
    return days


def _cohort_groups_from_cube(
    periods: Sequence[Period], filters: Filters, by: str
) -> list[list[Group]] | None:
    if by in ROW_DIMENSIONS and by not in ("source", "grade"):
        return None
    days = _cube_days(periods, filters)
    if days is None:
        return None
    sums = ", ".join("SUM(leads) FILTER (WHERE day >= %s AND day < %s)" for _ in days)
    params = [x for pair in days for x in pair]
    where, extra = ("AND source = %s", [filters.source]) if filters.source else ("", [])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT source, grade, level, {sums} FROM leads_funnelday "  # noqa: S608
            f"WHERE day >= %s AND day < %s {where} GROUP BY source, grade, level",
            [*params, min(a for a, _ in days), max(b for _, b in days), *extra],
        )
        rows = cursor.fetchall()
    return [
        [
            (source if by == "source" else grade, grade, level, row[3 + index])
            for row in rows
            for source, grade, level in [row[:3]]
            if row[3 + index]
        ]
        for index in range(len(days))
    ]


def _breakdowns(dimension: str, totals: dict) -> list[Breakdown]:
    labels = _labels(dimension)
    return _biggest_first(
        Breakdown(str(key), labels.get(key, key) or "—", n, c) for key, (n, c) in totals.items()
    )


def _biggest_first(rows: Iterable[Breakdown]) -> list[Breakdown]:
    return sorted(rows, key=lambda b: (-b.leads, b.label))


def funnel(period: Period, filters: Filters) -> tuple[int, list[FunnelStep]]:
    """Leads created in the period, and how many of them reached each stage."""
    figures = cohorts([period], filters)[0]
    return figures.leads, figures.steps


def conversion_by(dimension: str, period: Period, filters: Filters) -> list[Breakdown]:
    """Leads created in the period and customers among them, per value of ``dimension``."""
    from nurturing.models import Campaign, Enrollment

    from .models import CaptureForm

    if dimension in ROW_DIMENSIONS:
        return cohorts([period], filters, by=dimension)[0].by
    rows = cohort(period, filters)
    won = Q(customer_at__isnull=False)
    if dimension == "team":
        teams = Team.objects.order_by("name")
        out = []
        for team in teams:
            counts = rows.filter(owner__sales_teams=team).aggregate(
                n=Count("pk", distinct=True), c=Count("pk", filter=won, distinct=True)
            )
            out.append(Breakdown(str(team.pk), team.name, counts["n"], counts["c"]))
        return out
    if dimension == "campaign":
        members = Enrollment.objects.filter(lead__funnel__in=rows)
        grouped = members.values_list("campaign").annotate(
            n=Count("lead", distinct=True),
            c=Count("lead", filter=Q(lead__funnel__customer_at__isnull=False), distinct=True),
        )
        names = dict(Campaign.objects.values_list("pk", "name"))
        return sorted(
            (Breakdown(str(k), names.get(k, "?"), n, c) for k, n, c in grouped), key=lambda b: -b.leads
        )
    if dimension == "form":
        members = Submission.objects.filter(lead__funnel__in=rows)
        grouped = members.values_list("form").annotate(
            n=Count("lead", distinct=True),
            c=Count("lead", filter=Q(lead__funnel__customer_at__isnull=False), distinct=True),
        )
        names = dict(CaptureForm.objects.values_list("pk", "name"))
        return sorted(
            (Breakdown(str(k), names.get(k, "?"), n, c) for k, n, c in grouped), key=lambda b: -b.leads
        )
    raise ValueError(f"Unknown dimension {dimension!r}")


def _labels(dimension: str) -> dict:
    from django_countries import countries

    from .models import Industry

    return {
        "source": dict(Source.choices),
        "country": dict(countries),
        "industry": dict(Industry.choices),
        "grade": {"": "Not handed off"},
    }.get(dimension, {})


@dataclass
class StageTime:
    stage: str
    label: str
    leads: int
    median_days: float | None
    p90_days: float | None


def percentiles(
    rows: QuerySet, start: str, end: str, points: Sequence[float] = (0.5, 0.9)
) -> list[float | None]:
    """Percentiles of ``end - start`` in days over ``rows`` (``None`` for no rows): in the
    database on PostgreSQL (percentile_cont), in Python elsewhere (the demo's SQLite)."""
    rows = rows.filter(**{f"{start}__isnull": False, f"{end}__isnull": False})
    if _postgres():
        sql, params = _sql(rows, start, end)
        parts = ", ".join(
            f"percentile_cont({float(p)}) WITHIN GROUP (ORDER BY {_seconds('t.' + start, 't.' + end)})"
            for p in points
        )
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {parts} FROM ({sql}) t", params)  # noqa: S608
            values = cursor.fetchone()
        return [None if v is None else v / 86400 for v in values]
    durations = sorted((b - a).total_seconds() / 86400 for a, b in rows.values_list(start, end))
    return [_quantile(durations, p) for p in points]


def _quantile(values: list[float], p: float) -> float | None:
    """Linear interpolation, as PostgreSQL's percentile_cont."""
    if not values:
        return None
    position = (len(values) - 1) * p
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


STAGE_PAIRS = list(zip(FUNNEL, FUNNEL[1:], strict=False))


def velocity(period: Period, filters: Filters) -> list[StageTime]:
    """Time spent in each stage by the leads that left it (reached the next) in the period:
    one statement on PostgreSQL. Unfiltered, each stage's durations are read from its index
    (migration 0011), index only; filtered, one scan of the funnel rows serves the four."""
    columns = [MILESTONE[stage] for stage in FUNNEL]
    if not _postgres():
        return _stage_times(_velocity_in_python(period, filters))
    parts, params = [], []
    if not filters.active:
        for index, (stage, after) in enumerate(STAGE_PAIRS):
            start, end = MILESTONE[stage], MILESTONE[after]
            left = funnel_rows(filters).filter(within(end, period), **{f"{start}__isnull": False})
            sql, args = _sql(left, start, end)
            parts.append(
                f"(SELECT COUNT(*), {_percentiles_sql(_seconds('t.' + start, 't.' + end))} "  # noqa: S608
                f"FROM ({sql}) t) s{index}"
            )
            params += args
        statement = f"SELECT * FROM {' CROSS JOIN '.join(parts)}"  # noqa: S608
    else:
        rows = funnel_rows(filters).filter(
            reduce(or_, (within(MILESTONE[after], period) for _, after in STAGE_PAIRS))
        )
        sql, args = _sql(rows, *columns)
        for stage, after in STAGE_PAIRS:
            start, end = f"t.{MILESTONE[stage]}", f"t.{MILESTONE[after]}"
            left = f"{end} >= %s AND {end} < %s AND {start} IS NOT NULL"
            parts += [
                f"COUNT(*) FILTER (WHERE {left})",
                f"{_percentiles_sql(_seconds(start, end))} FILTER (WHERE {left})",
            ]
            params += [period.start, period.end] * 2
        statement, params = f"SELECT {', '.join(parts)} FROM ({sql}) t", [*params, *args]  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        values = cursor.fetchone()
    return _stage_times(
        [(values[2 * position], *_days(values[2 * position + 1])) for position in range(len(STAGE_PAIRS))]
    )


def _velocity_in_python(period: Period, filters: Filters) -> list[tuple]:
    columns = [MILESTONE[stage] for stage in FUNNEL]
    rows = funnel_rows(filters).filter(
        reduce(or_, (within(MILESTONE[after], period) for _, after in STAGE_PAIRS))
    )
    data = list(rows.values_list(*columns))
    figures = []
    for stage, after in STAGE_PAIRS:
        i, j = columns.index(MILESTONE[stage]), columns.index(MILESTONE[after])
        durations = sorted(
            (row[j] - row[i]).total_seconds() / 86400
            for row in data
            if row[i] is not None and row[j] is not None and period.start <= row[j] < period.end
        )
        figures.append((len(durations), _quantile(durations, 0.5), _quantile(durations, 0.9)))
    return figures


def _stage_times(figures: list[tuple]) -> list[StageTime]:
    return [
        StageTime(stage, Stage(stage).label.split(" (")[0], count, median, p90)
        for (stage, _), (count, median, p90) in zip(STAGE_PAIRS, figures, strict=True)
    ]


def _month_window(
    period: Period, months: int
) -> tuple[datetime.date, datetime.date, datetime.datetime, datetime.datetime]:
    last = period.last_day.replace(day=1)
    first = last
    for _ in range(months - 1):
        first = (first - datetime.timedelta(days=1)).replace(day=1)
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.datetime.combine(first, datetime.time()), tz)
    end = timezone.make_aware(
        datetime.datetime.combine((last + datetime.timedelta(days=32)).replace(day=1), datetime.time()), tz
    )
    return first, last, start, end


def mql_months(period: Period, filters: Filters, months: int = 13) -> list[tuple[datetime.date, int]]:
    """New MQLs per month (leads qualified: reaching MQL or, forced past it, a later stage), for
    the ``months`` months ending with the period's last month."""
    first, last, start, end = _month_window(period, months)
    month_starts, month = [], first
    while month <= last:
        month_starts.append(month)
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    counts = _mql_months_from_cube(month_starts, filters)
    if counts is None:
        tz = timezone.get_current_timezone()
        # A lead forced past MQL qualified when it reached the first later stage.
        qualified_at = Coalesce(*(MILESTONE[stage] for stage in FUNNEL))
        counts = dict(
            funnel_rows(filters)
            .annotate(qualified_at=qualified_at)
            .filter(qualified_at__gte=start, qualified_at__lt=end)
            .annotate(month=TruncMonth("qualified_at", tzinfo=tz))
            .values_list("month")
            .annotate(n=Count("pk"))
            .order_by()
        )
        counts = {(k.date() if isinstance(k, datetime.datetime) else k): n for k, n in counts.items()}
    return [(month, counts.get(month, 0)) for month in month_starts]


def _mql_months_from_cube(month_starts: list[datetime.date], filters: Filters) -> dict | None:
    """New MQLs per month from the qualified-day cube, when each month (in the current time
    zone) is a run of the cube's days."""
    ends = [*month_starts[1:], (month_starts[-1] + datetime.timedelta(days=32)).replace(day=1)]
    months = [
        Period.of_days(first, end - datetime.timedelta(days=1))
        for first, end in zip(month_starts, ends, strict=True)
    ]
    days = _cube_days(months, filters)
    if days is None:
        return None
    where, extra = ("AND source = %s", [filters.source]) if filters.source else ("", [])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT day, SUM(leads) FROM leads_qualifiedday "  # noqa: S608
            f"WHERE day >= %s AND day < %s {where} GROUP BY day",
            [days[0][0], days[-1][1], *extra],
        )
        per_day = cursor.fetchall()
    counts = dict.fromkeys(month_starts, 0)
    for day, n in per_day:
        for month, (a, b) in zip(month_starts, days, strict=True):
            if a <= day < b:
                counts[month] += n
                break
    return counts


def lead_velocity_rate(months: list[tuple[datetime.date, int]]) -> float | None:
    """Growth of new MQLs in the last month over the month before."""
    if len(months) < 2:
        return None
    (_, before), (_, last) = months[-2], months[-1]
    return rate(last - before, before)


@dataclass
class Engagement:
    leads: int
    active: int
    sent: int
    opened: int
    clicked: int

    @property
    def rate(self) -> float | None:
        return rate(self.active, self.leads)

    @property
    def open_rate(self) -> float | None:
        return rate(self.opened, self.sent)

    @property
    def click_rate(self) -> float | None:
        return rate(self.clicked, self.sent)


def engagement(period: Period, filters: Filters) -> Engagement:
    return engagements([period], filters)[0]


def engagements(periods: Sequence[Period], filters: Filters) -> list[Engagement]:
    """The engagement figures of several periods: the leads that existed at each end in one
    count, the active ones from the roll-up (or the activities), the e-mails in one count."""
    from nurturing.models import Message

    leads = _existed_from_cube(periods, filters)
    if leads is None:
        existed = funnel_rows(filters).filter(created_at__lt=max(p.end for p in periods))
        counts = existed.aggregate(
            **{f"n{i}": Count("pk", filter=Q(created_at__lt=p.end)) for i, p in enumerate(periods)}
        )
        leads = [counts[f"n{i}"] for i in range(len(periods))]
    active = _active_from_rollup(periods, filters)
    if active is None:
        active = [_active_from_activities(period, filters) for period in periods]
    messages = Message.objects.filter(_within_any("sent_at", periods), kind="marketing")
    conditions = [within("sent_at", period) for period in periods]
    if filters.active:
        messages = messages.filter(lead__funnel__in=funnel_rows(filters))
        # Of the leads that existed at the period's end (as the figure's denominator).
        conditions = [
            q & Q(lead__funnel__created_at__lt=p.end) for q, p in zip(conditions, periods, strict=True)
        ]
    if filters.campaign:
        messages = messages.filter(campaign=filters.campaign)
    opened = Q(opened_at__isnull=False) | Q(clicked_at__isnull=False)
    clicked = Q(clicked_at__isnull=False)
    mail = messages.aggregate(
        **{
            name: Count("pk", filter=q & extra)
            for i, q in enumerate(conditions)
            for name, extra in ((f"s{i}", Q()), (f"o{i}", opened), (f"c{i}", clicked))
        }
    )
    return [
        Engagement(leads[i], active[i], mail[f"s{i}"], mail[f"o{i}"], mail[f"c{i}"])
        for i in range(len(periods))
    ]


def _existed_from_cube(periods: Sequence[Period], filters: Filters) -> list[int] | None:
    """Funnel rows created before each period's end, from the funnel cube (when it can answer)."""
    days = _cube_days(periods, filters)
    if days is None:
        return None
    sums = ", ".join("COALESCE(SUM(leads) FILTER (WHERE day < %s), 0)" for _ in days)
    where, extra = ("AND source = %s", [filters.source]) if filters.source else ("", [])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {sums} FROM leads_funnelday WHERE day < %s {where}",  # noqa: S608
            [*(b for _, b in days), max(b for _, b in days), *extra],
        )
        return list(cursor.fetchone())


def _active_from_activities(period: Period, filters: Filters) -> int:
    """Distinct leads active in the period, counted from the activities (the reference)."""
    leads = funnel_rows(filters).filter(created_at__lt=period.end)
    # Of the leads that existed at the end (a stitched page view can be older than its lead).
    active_ids = Activity.objects.filter(
        kind__in=ENGAGED_KINDS,
        occurred_at__gte=period.start,
        occurred_at__lt=period.end,
        lead__created_at__lt=period.end,
    )
    if filters.active:
        active_ids = active_ids.filter(lead__funnel__in=leads)
    return active_ids.aggregate(n=Count("lead", distinct=True))["n"]


@dataclass
class Cycle:
    won: int
    median_days: float | None
    p90_days: float | None
    buckets: list[tuple[str, int]] = field(default_factory=list)


def sales_cycle(period: Period, filters: Filters) -> Cycle:
    return sales_cycles([period], filters)[0]


def sales_cycles(periods: Sequence[Period], filters: Filters) -> list[Cycle]:
    """First touch to won, for the leads won in each period: one statement on PostgreSQL."""
    touched = funnel_rows(filters).filter(_within_any("customer_at", periods), first_touch_at__isnull=False)
    labels = [f"{low}–{high} days" if high is not None else f"{low}+ days" for low, high in CYCLE_BUCKETS]
    out = []
    if _postgres():
        parts, params = [], []
        for index, period in enumerate(periods):
            won = funnel_rows(filters).filter(within("customer_at", period), first_touch_at__isnull=False)
            sql, args = _sql(won, "first_touch_at", "customer_at")
            buckets = []
            for low, high in CYCLE_BUCKETS:
                bucket = "t.customer_at >= t.first_touch_at + %s"
                params.append(datetime.timedelta(days=low))
                if high is not None:
                    bucket += " AND t.customer_at < t.first_touch_at + %s"
                    params.append(datetime.timedelta(days=high))
                buckets.append(f"COUNT(*) FILTER (WHERE {bucket})")
            parts.append(
                f"(SELECT COUNT(*), {_percentiles_sql(_seconds('t.first_touch_at', 't.customer_at'))}, "  # noqa: S608
                f"{', '.join(buckets)} FROM ({sql}) t) s{index}"
            )
            params += args
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {' CROSS JOIN '.join(parts)}", params)  # noqa: S608
            values = list(cursor.fetchone())
        width = 2 + len(CYCLE_BUCKETS)
        for index in range(len(periods)):
            won, points, *buckets = values[index * width : (index + 1) * width]
            out.append(Cycle(won, *_days(points), list(zip(labels, buckets, strict=True))))
        return out
    data = list(touched.values_list("first_touch_at", "customer_at"))
    for period in periods:
        pairs = [(touch, won) for touch, won in data if period.start <= won < period.end]
        durations = sorted((won - touch).total_seconds() / 86400 for touch, won in pairs)
        buckets = []
        for label, (low, high) in zip(labels, CYCLE_BUCKETS, strict=True):
            buckets.append(
                (
                    label,
                    sum(
                        1
                        for touch, won in pairs
                        if won >= touch + datetime.timedelta(days=low)
                        and (high is None or won < touch + datetime.timedelta(days=high))
                    ),
                )
            )
        out.append(Cycle(len(pairs), _quantile(durations, 0.5), _quantile(durations, 0.9), buckets))
    return out


@dataclass
class Roi:
    key: str
    label: str
    cost: Decimal
    revenue: Decimal
    won: int

    @property
    def roi(self) -> float | None:
        return None if not self.cost else float((self.revenue - self.cost) / self.cost)


CENT = Decimal("0.01")


def _money(value) -> Decimal:
    """A sum of won values as the ORM gives it (SQLite's raw sums are floats)."""
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value)).quantize(CENT)


def roi(period: Period, filters: Filters) -> tuple[list[Roi], list[Roi]]:
    """ROI by source and by campaign: revenue of the leads won in the period, costs of the
    months the period touches. Costs are kept per source or campaign and month, so a source
    (campaign) filter narrows them; other filters cannot split a cost: then the costs (and
    ROI) are left out and only the revenue of the filtered leads is shown."""
    from nurturing.models import Campaign, Enrollment

    won = funnel_rows(filters).filter(customer_at__gte=period.start, customer_at__lt=period.end)
    costs = MarketingCost.objects.filter(month__in=period.months())
    splittable = costs_apply(filters)
    if filters.source:
        costs = costs.filter(Q(source=filters.source) | Q(campaign__isnull=False))
    if filters.campaign:
        costs = costs.filter(Q(campaign=filters.campaign) | Q(campaign__isnull=True))
    if not splittable:
        costs = costs.none()
    source_costs = dict(costs.filter(campaign__isnull=True).values_list("source").annotate(s=Sum("amount")))
    by_source = _won_by_source_from_cube(period, filters)
    if by_source is None:
        by_source = {
            k: (r or Decimal(0), n)
            for k, r, n in won.values_list("source").annotate(r=Sum("won_value"), n=Count("pk")).order_by()
        }
    labels = dict(Source.choices)
    sources = [
        Roi(
            key, labels.get(key, key), source_costs.get(key, Decimal(0)), *by_source.get(key, (Decimal(0), 0))
        )
        for key in sorted(set(source_costs) | set(by_source), key=lambda k: labels.get(k, k))
    ]
    # A lead enrolled in a campaign twice is one customer of it: its revenue counts once. One
    # grouped statement over the (campaign, lead) pairs of the won leads.
    quote = connection.ops.quote_name
    won_sql, won_params = _sql(won, "lead", "won_value")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT e.campaign_id, SUM(w.won_value), COUNT(*) "  # noqa: S608
            f"FROM (SELECT DISTINCT campaign_id, lead_id FROM {quote(Enrollment._meta.db_table)}) e "
            f'JOIN ({won_sql}) w ON w."lead" = e.lead_id GROUP BY e.campaign_id',
            won_params,
        )
        by_campaign = {key: (_money(revenue), count) for key, revenue, count in cursor.fetchall()}
    campaign_costs = dict(
        costs.filter(campaign__isnull=False).values_list("campaign").annotate(s=Sum("amount"))
    )
    names = dict(Campaign.objects.values_list("pk", "name"))
    campaigns = [
        Roi(
            str(key),
            names.get(key, "?"),
            campaign_costs.get(key, Decimal(0)),
            *by_campaign.get(key, (Decimal(0), 0)),
        )
        for key in sorted(set(campaign_costs) | set(by_campaign), key=lambda k: names.get(k, ""))
    ]
    return sources, campaigns


def _won_by_source_from_cube(period: Period, filters: Filters) -> dict | None:
    """Revenue and customers per source from the won-day cube (when it can answer)."""
    days = _cube_days([period], filters)
    if days is None:
        return None
    (a, b), (where, extra) = days[0], ("AND source = %s", [filters.source]) if filters.source else ("", [])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT source, SUM(revenue), SUM(leads) FROM leads_wonday "  # noqa: S608
            f"WHERE day >= %s AND day < %s {where} GROUP BY source HAVING SUM(leads) > 0",
            [a, b, *extra],
        )
        return {source: (revenue, count) for source, revenue, count in cursor.fetchall()}


def costs_apply(filters: Filters) -> bool:
    """Whether ROI can show costs under these filters (see ``roi``)."""
    return not any(getattr(filters, name) for name in ("country", "industry", "owner", "team", "form"))


@dataclass
class Sla:
    key: str
    label: str
    handoffs: int
    accepted_on_time: int
    accepted: int
    touched_on_time: int
    touched: int
    breaches: int
    median_hours_to_touch: float | None

    @property
    def accept_rate(self) -> float | None:
        return rate(self.accepted_on_time, self.handoffs)

    @property
    def touch_rate(self) -> float | None:
        return rate(self.touched_on_time, self.handoffs)


def sla(period: Period, filters: Filters, *, by: str = "owner") -> list[Sla]:
    """SLA compliance of the handoffs assigned in the period, per SDR (``by="owner"``) or team."""
    handoffs = Handoff.objects.filter(
        assigned_at__gte=period.start, assigned_at__lt=period.end, owner__isnull=False
    ).filter(filters.lead_q("lead__"))
    key = "owner" if by == "owner" else "team"
    # distinct: the breaches join repeats a handoff once per breach
    stats = (
        handoffs.values_list(key)
        .annotate(
            n=Count("pk", distinct=True),
            a_on=Count(
                "pk", distinct=True, filter=Q(accepted_at__isnull=False, accepted_at__lte=F("accept_due_at"))
            ),
            a=Count("pk", distinct=True, filter=Q(accepted_at__isnull=False)),
            t_on=Count(
                "pk",
                distinct=True,
                filter=Q(first_touch_at__isnull=False, first_touch_at__lte=F("touch_due_at")),
            ),
            t=Count("pk", distinct=True, filter=Q(first_touch_at__isnull=False)),
            b=Count("breaches", distinct=True),
        )
        .order_by()
    )
    names = _owner_names() if by == "owner" else dict(Team.objects.values_list("pk", "name"))
    medians = _median_hours_to_touch(handoffs, key)
    out = []
    for k, n, a_on, a, t_on, t, b in stats:
        if k is None:
            continue
        out.append(Sla(str(k), names.get(k, "?"), n, a_on, a, t_on, t, b, medians.get(k)))
    return sorted(out, key=lambda s: s.label)


def _median_hours_to_touch(handoffs: QuerySet, key: str) -> dict:
    """Median hours from assignment to first touch per ``key`` value, in one statement."""
    touched = handoffs.filter(assigned_at__isnull=False, first_touch_at__isnull=False)
    if _postgres():
        sql, params = (
            touched.annotate(group_key=F(key))
            .values("group_key", "assigned_at", "first_touch_at")
            .order_by()
            .query.sql_with_params()
        )
        seconds = _seconds("t.assigned_at", "t.first_touch_at")
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT t.group_key, percentile_cont(0.5) WITHIN GROUP (ORDER BY {seconds}) "  # noqa: S608
                f"FROM ({sql}) t GROUP BY t.group_key",
                params,
            )
            return {k: None if v is None else v / 3600 for k, v in cursor.fetchall()}
    durations: dict = {}
    for k, assigned, touch in touched.values_list(key, "assigned_at", "first_touch_at"):
        durations.setdefault(k, []).append((touch - assigned).total_seconds() / 3600)
    return {k: _quantile(sorted(values), 0.5) for k, values in durations.items()}


def _owner_names(pks: Iterable[int] | None = None) -> dict[int, str]:
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.all()
    if pks is not None:
        users = users.filter(pk__in=list(pks))
    return {
        pk: (f"{first} {last}".strip() or user)
        for pk, user, first, last in users.values_list("pk", "username", "first_name", "last_name")
    }


def breaches_in(period: Period) -> int:
    return SlaBreach.objects.filter(recorded_at__gte=period.start, recorded_at__lt=period.end).count()
