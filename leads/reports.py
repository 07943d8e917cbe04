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

The funnel figures read ``LeadFunnel``, one narrow row per lead kept by ``refresh_funnel``
(beat, every few minutes, for the leads changed since; ``manage.py refresh_funnel`` rebuilds
all), so that a million leads aggregate in a fraction of a second.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from .models import (
    Activity,
    ActivityKind,
    Handoff,
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
"""

REFRESH_CHUNK = 50_000


def _tables() -> dict[str, str]:
    from .models import Opportunity, StageChange

    quote = connection.ops.quote_name
    return {
        "funnel": quote(LeadFunnel._meta.db_table),
        "handoff": quote(Handoff._meta.db_table),
        "opportunity": quote(Opportunity._meta.db_table),
        "lead": quote(Lead._meta.db_table),
        "stagechange": quote(StageChange._meta.db_table),
    }


def refresh_funnel_range(lo: int, hi: int) -> None:
    """Rewrite the funnel rows of the leads with ids in [lo, hi): one statement."""
    sql = _REFRESH_SQL.format(
        **_tables(), history_filter="lead_id >= %s AND lead_id < %s", lead_filter="l.id >= %s AND l.id < %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [lo, hi, lo, hi])


def refresh_funnel(lead_ids: Iterable[int] | None = None, *, chunk: int = REFRESH_CHUNK) -> int:
    """Rewrite the funnel rows of ``lead_ids`` (or of every lead, a range of ids at a time, each
    in its own transaction). Idempotent: a row is computed from the history, never added to."""
    if lead_ids is not None:
        ids = sorted(set(lead_ids))
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
        return len(ids)
    top = Lead.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    for lo in range(1, top + 1, chunk):
        with transaction.atomic():
            refresh_funnel_range(lo, lo + chunk)
    return Lead.objects.count()


def changed_leads(since: datetime.datetime) -> set[int]:
    """Leads whose funnel row may be stale: created, edited, moved or touched since ``since``."""
    from .models import StageChange

    ids = set(
        Lead.objects.filter(Q(updated_at__gte=since) | Q(last_activity_at__gte=since)).values_list(
            "pk", flat=True
        )
    )
    ids |= set(StageChange.objects.filter(changed_at__gte=since).values_list("lead_id", flat=True))
    ids |= set(
        Handoff.objects.filter(Q(first_touch_at__gte=since) | Q(handed_at__gte=since)).values_list(
            "lead_id", flat=True
        )
    )
    return ids


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


# --- The KPIs -------------------------------------------------------------------------------------


@dataclass
class FunnelStep:
    stage: str
    label: str
    count: int
    rate_from_previous: float | None


def funnel(period: Period, filters: Filters) -> tuple[int, list[FunnelStep]]:
    """Leads created in the period, and how many of them reached each stage."""
    counts = cohort(period, filters).aggregate(
        leads=Count("pk"), **{stage: Count("pk", filter=reached(stage)) for stage in FUNNEL}
    )
    steps, previous = [], counts["leads"]
    for stage in FUNNEL:
        label = Stage(stage).label.split(" (")[0]
        steps.append(FunnelStep(stage, label, counts[stage], rate(counts[stage], previous)))
        previous = counts[stage]
    return counts["leads"], steps


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


def conversion_by(dimension: str, period: Period, filters: Filters) -> list[Breakdown]:
    """Leads created in the period and customers among them, per value of ``dimension``."""
    from nurturing.models import Campaign, Enrollment

    from .models import CaptureForm

    rows = cohort(period, filters)
    won = Q(customer_at__isnull=False)
    if dimension in ("source", "country", "industry", "grade"):
        grouped = (
            rows.values_list(dimension).annotate(n=Count("pk"), c=Count("pk", filter=won)).order_by("-n")
        )
        labels = _labels(dimension)
        return [Breakdown(str(k), labels.get(k, k) or "—", n, c) for k, n, c in grouped]
    if dimension == "owner":
        grouped = rows.values_list("owner", "owner__username", "owner__first_name", "owner__last_name")
        grouped = grouped.annotate(n=Count("pk"), c=Count("pk", filter=won)).order_by("-n")
        return [
            Breakdown(str(pk or ""), (f"{first} {last}".strip() or user) if pk else "Unassigned", n, c)
            for pk, user, first, last, n, c in grouped
        ]
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
    if connection.vendor == "postgresql":
        sql, params = rows.values("pk").query.sql_with_params()
        table = connection.ops.quote_name(rows.model._meta.db_table)
        quote = connection.ops.quote_name
        seconds = f"EXTRACT(EPOCH FROM ({quote(end)} - {quote(start)}))"
        parts = ", ".join(f"percentile_cont({float(p)}) WITHIN GROUP (ORDER BY {seconds})" for p in points)
        pk = quote(rows.model._meta.pk.column)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {parts} FROM {table} WHERE {pk} IN ({sql})", params)  # noqa: S608
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


def velocity(period: Period, filters: Filters) -> list[StageTime]:
    """Time spent in each stage by the leads that left it (reached the next) in the period."""
    out = []
    for stage, after in zip(FUNNEL, FUNNEL[1:], strict=False):
        start, end = MILESTONE[stage], MILESTONE[after]
        rows = funnel_rows(filters).filter(**{f"{end}__gte": period.start, f"{end}__lt": period.end})
        count = rows.filter(**{f"{start}__isnull": False}).count()
        median, p90 = percentiles(rows, start, end)
        out.append(StageTime(stage, Stage(stage).label.split(" (")[0], count, median, p90))
    return out


def mql_months(period: Period, filters: Filters, months: int = 13) -> list[tuple[datetime.date, int]]:
    """New MQLs per month (leads qualified: reaching MQL or, forced past it, a later stage), for
    the ``months`` months ending with the period's last month."""
    last = period.last_day.replace(day=1)
    first = last
    for _ in range(months - 1):
        first = (first - datetime.timedelta(days=1)).replace(day=1)
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.datetime.combine(first, datetime.time()), tz)
    end = timezone.make_aware(
        datetime.datetime.combine((last + datetime.timedelta(days=32)).replace(day=1), datetime.time()), tz
    )
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
    out, month = [], first
    while month <= last:
        out.append((month, counts.get(month, 0)))
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return out


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
    from nurturing.models import Message

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
    active = active_ids.aggregate(n=Count("lead", distinct=True))["n"]
    messages = Message.objects.filter(sent_at__gte=period.start, sent_at__lt=period.end, kind="marketing")
    if filters.active:
        messages = messages.filter(lead__funnel__in=leads)
    if filters.campaign:
        messages = messages.filter(campaign=filters.campaign)
    mail = messages.aggregate(
        sent=Count("pk"),
        opened=Count("pk", filter=Q(opened_at__isnull=False) | Q(clicked_at__isnull=False)),
        clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
    )
    return Engagement(leads.count(), active, mail["sent"], mail["opened"], mail["clicked"])


@dataclass
class Cycle:
    won: int
    median_days: float | None
    p90_days: float | None
    buckets: list[tuple[str, int]] = field(default_factory=list)


def sales_cycle(period: Period, filters: Filters) -> Cycle:
    """First touch to won, for the leads won in the period."""
    rows = funnel_rows(filters).filter(customer_at__gte=period.start, customer_at__lt=period.end)
    touched = rows.filter(first_touch_at__isnull=False)
    median, p90 = percentiles(rows, "first_touch_at", "customer_at")
    buckets = []
    for low, high in CYCLE_BUCKETS:
        q = Q(customer_at__gte=F("first_touch_at") + datetime.timedelta(days=low))
        if high is not None:
            q &= Q(customer_at__lt=F("first_touch_at") + datetime.timedelta(days=high))
        label = f"{low}–{high} days" if high is not None else f"{low}+ days"
        buckets.append((label, touched.filter(q).count()))
    return Cycle(touched.count(), median, p90, buckets)


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
    # A lead enrolled in a campaign twice is one customer of it: its revenue counts once.
    values = dict(won.values_list("pk", "won_value"))
    pairs = set(Enrollment.objects.filter(lead__in=list(values)).values_list("campaign", "lead"))
    by_campaign: dict[int, tuple[Decimal, int]] = {}
    for campaign, lead in pairs:
        revenue, count = by_campaign.get(campaign, (Decimal(0), 0))
        by_campaign[campaign] = (revenue + (values[lead] or Decimal(0)), count + 1)
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
    out = []
    for k, n, a_on, a, t_on, t, b in stats:
        if k is None:
            continue
        group = handoffs.filter(**{key: k})
        hours = percentiles(group, "assigned_at", "first_touch_at", (0.5,))[0]
        out.append(
            Sla(str(k), names.get(k, "?"), n, a_on, a, t_on, t, b, None if hours is None else hours * 24)
        )
    return sorted(out, key=lambda s: s.label)


def _owner_names() -> dict[int, str]:
    from django.contrib.auth import get_user_model

    return {
        pk: (f"{first} {last}".strip() or user)
        for pk, user, first, last in get_user_model().objects.values_list(
            "pk", "username", "first_name", "last_name"
        )
    }


def breaches_in(period: Period) -> int:
    return SlaBreach.objects.filter(recorded_at__gte=period.start, recorded_at__lt=period.end).count()
