"""The scoring engine: turns a rule set into one SQL query that scores a set of leads.

Every score, whether for one lead after an event, for a batch of events, for every lead after
publishing, or for a draft in a preview, comes out of ``ScoreQuery``: the rule conditions are
Django expressions (so the same rules run on PostgreSQL and SQLite), compiled into

    fit        one row per lead:      CASE per fit rule, summed and capped per group
    engagement one row per activity:  CASE per engagement rule, a running count per rule
                                      (for occurrence caps) and a decay factor,
                                      then summed per lead and rule, capped per rule
    scores     fit LEFT JOIN engagement: totals, grade, temperature

A score is a pure function of (rule set, lead, activities, moment): the real-time path
recomputes the touched leads from their whole history rather than adding deltas, so it cannot
drift from the bulk result and concurrent events cannot lose points.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import add

from django.db import connection
from django.db.models import Case, F, FloatField, Func, IntegerField, Q, Sum, Value, When, Window
from django.db.models.fields.json import KT
from django.db.models.functions import Least, Length, Lower, Power
from django.db.models.lookups import (
    Contains as ContainsLookup,
)
from django.db.models.lookups import (
    EndsWith,
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    LessThanOrEqual,
    StartsWith,
)

from leads.models import Activity, Lead

from .models import EngagementRule, FitRule, Operator, RuleSet

SECONDS_PER_DAY = 86400.0


class Epoch(Func):
    """Seconds since 1970 of a datetime column, as a float, on both databases."""

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::float8", **extra
        )

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)", **extra
        )


class NumberOrNull(Func):
    """The number a text holds, or NULL when it holds none (never an error)."""

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        template = (
            "(CASE WHEN %(expressions)s ~ '^\\s*-?[0-9]+(\\.[0-9]+)?\\s*$' "
            "THEN (%(expressions)s)::float8 END)"
        )
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        template = (
            "(CASE WHEN trim(%(expressions)s) <> '' AND trim(%(expressions)s) NOT GLOB '*[^0-9.-]*' "
            "THEN CAST(%(expressions)s AS REAL) END)"
        )
        return self.as_sql(compiler, connection, template=template, **extra)


PATTERN_LOOKUPS = {
    Operator.CONTAINS: ContainsLookup,
    Operator.STARTS_WITH: StartsWith,
    Operator.ENDS_WITH: EndsWith,
}


def condition(rule, text, raw):
    """The boolean expression for a rule's operator on ``text`` (the lower-cased value) or,
    for ranges, ``raw`` (the value as stored)."""
    op = rule.operator
    value = rule.value.strip().lower()
    if op == Operator.EQUALS:
        return Exact(text, value)
    if op == Operator.ONE_OF:
        return In(text, rule.values or [""])
    if op in PATTERN_LOOKUPS:
        # A comma-separated value lists alternatives: any of them matches.
        lookup = PATTERN_LOOKUPS[op]
        return reduce(lambda a, b: Q(a) | Q(b), [lookup(text, v) for v in rule.values or [""]])
    if op == Operator.IS_SET:
        return GreaterThan(Length(text), 0)
    if op == Operator.IN_RANGE:
        number = NumberOrNull(raw)
        parts = []
        if rule.value.strip():
            parts.append(GreaterThanOrEqual(number, float(rule.value)))
        if rule.value_max.strip():
            parts.append(LessThanOrEqual(number, float(rule.value_max)))
        return reduce(lambda a, b: Q(a) & Q(b), parts)
    raise ValueError(f"Unknown operator {op!r}")


def fit_condition(rule: FitRule):
    if rule.field.startswith("custom."):
        raw = KT(f"custom__{rule.field.removeprefix('custom.')}")
    else:
        raw = F(rule.field)
    return condition(rule, Lower(raw), raw)


def engagement_condition(rule: EngagementRule, as_of: datetime) -> Q:
    q = Q(kind=rule.activity_kind)
    if rule.property_name:
        raw = KT(f"properties__{rule.property_name}")
        q &= Q(condition(rule, Lower(raw), raw))
    if rule.window_days:
        q &= Q(occurred_at__gt=as_of - timedelta(days=rule.window_days))
    return q


def _vendor_min(a: str, b: str) -> str:
    return f"MIN({a}, {b})" if connection.vendor == "sqlite" else f"LEAST({a}, {b})"


def _vendor_max(a: str, b: str) -> str:
    return f"MAX({a}, {b})" if connection.vendor == "sqlite" else f"GREATEST({a}, {b})"


@dataclass(frozen=True)
class LeadSet:
    """Which leads to score: ``ids``, an id range ``lo <= id <= hi``, or all of them."""

    ids: tuple[int, ...] | None = None
    lo: int | None = None
    hi: int | None = None

    def q(self, prefix: str = "") -> Q:
        if self.ids is not None:
            return Q(**{f"{prefix}id__in": self.ids})
        q = Q()
        if self.lo is not None:
            q &= Q(**{f"{prefix}id__gte": self.lo})
        if self.hi is not None:
            q &= Q(**{f"{prefix}id__lte": self.hi})
        return q


ALL_LEADS = LeadSet()


class ScoreQuery:
    """A rule set compiled for one moment. ``sql(leads)`` gives the query with the columns
    lead_id, fit, engagement, total, grade, temperature (and, with ``breakdown``, one column
    per rule: ``f<id>`` fit points, ``e<id>`` engagement points, ``c<id>`` occurrences)."""

    def __init__(self, rule_set: RuleSet, *, as_of: datetime):
        self.rule_set = rule_set
        self.as_of = as_of
        self.groups = list(rule_set.fit_groups.prefetch_related("rules"))
        self.fit_rules = [rule for group in self.groups for rule in group.rules.all()]
        self.engagement_rules = list(rule_set.engagement_rules.all())

    # --- fit: one row per lead -------------------------------------------------------------

    def _fit_queryset(self, leads: LeadSet, breakdown: bool):
        rs = self.rule_set
        annotations = {}
        for rule in self.fit_rules:
            annotations[f"f{rule.pk}"] = Case(
                When(fit_condition(rule), then=Value(rule.points)),
                default=Value(0),
                output_field=IntegerField(),
            )
        group_totals = []
        for group in self.groups:
            parts = [F(f"f{rule.pk}") for rule in group.rules.all()]
            if not parts:
                continue
            total = reduce(add, parts)
            if group.max_points is not None:
                total = Least(total, Value(group.max_points))
            annotations[f"g{group.pk}"] = total
            group_totals.append(F(f"g{group.pk}"))
        annotations["fit"] = reduce(add, group_totals) if group_totals else Value(0)
        inactivity = Value(0)
        if rs.inactivity_days and rs.inactivity_points:
            cutoff = self.as_of - timedelta(days=rs.inactivity_days)
            inactivity = Case(
                When(
                    Q(last_activity_at__lt=cutoff) | Q(last_activity_at__isnull=True, created_at__lt=cutoff),
                    then=Value(rs.inactivity_points),
                ),
                default=Value(0),
                output_field=IntegerField(),
            )
        annotations["inactivity"] = inactivity
        columns = ["id", "fit", "inactivity"]
        if breakdown:
            columns += [f"f{rule.pk}" for rule in self.fit_rules] + [
                f"g{g.pk}" for g in self.groups if f"g{g.pk}" in annotations
            ]
        return Lead.objects.filter(leads.q()).order_by().annotate(**annotations).values(*columns)

    # --- engagement: one row per activity, then per lead -----------------------------------

    def _activity_queryset(self, leads: LeadSet, exclude_activities):
        rules = self.engagement_rules
        qs = Activity.objects.filter(
            leads.q("lead_"), occurred_at__lte=self.as_of, kind__in={r.activity_kind for r in rules}
        )
        if all(rule.window_days for rule in rules):
            widest = max(rule.window_days for rule in rules)
            qs = qs.filter(occurred_at__gt=self.as_of - timedelta(days=widest))
        if exclude_activities is not None:
            qs = qs.exclude(exclude_activities)
        annotations = {}
        for rule in rules:
            annotations[f"m{rule.pk}"] = Case(
                When(engagement_condition(rule, self.as_of), then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        qs = qs.order_by().annotate(**annotations)
        windows = {}
        for rule in rules:
            if rule.max_occurrences:
                # The running count of matches, newest first: the N most recent count.
                windows[f"n{rule.pk}"] = Window(
                    Sum(f"m{rule.pk}"),
                    partition_by=[F("lead_id")],
                    order_by=[F("occurred_at").desc(), F("id").desc()],
                )
        half_life = self.rule_set.half_life_days
        if half_life:
            age = Value(self.as_of.timestamp()) - Epoch("occurred_at")
            windows["decay"] = Power(Value(0.5), age / Value(half_life * SECONDS_PER_DAY))
        qs = qs.annotate(**windows)
        return qs.values("lead_id", *annotations, *windows)

    def _engagement_sql(self, leads: LeadSet, exclude_activities, breakdown: bool) -> tuple[str, tuple]:
        inner, params = self._activity_queryset(leads, exclude_activities).query.sql_with_params()
        has_decay = bool(self.rule_set.half_life_days)
        columns = []
        for rule in self.engagement_rules:
            counted = f"a.m{rule.pk} = 1"
            if rule.max_occurrences:
                counted += f" AND a.n{rule.pk} <= {int(rule.max_occurrences)}"
            worth = "a.decay" if has_decay and rule.decays else "1.0"
            columns.append(
                f"SUM(CASE WHEN {counted} THEN {worth} ELSE 0 END) * {int(rule.points)} AS e{rule.pk}"
            )
            if breakdown:
                columns.append(f"SUM(CASE WHEN {counted} THEN 1 ELSE 0 END) AS c{rule.pk}")
        select = ", ".join(["a.lead_id AS lead_id", *columns])
        return f"SELECT {select} FROM ({inner}) a GROUP BY a.lead_id", params  # noqa: S608

    def _capped(self, rule: EngagementRule) -> str:
        value = f"COALESCE(e.e{rule.pk}, 0)"
        if rule.max_points is None:
            return value
        cap = int(rule.max_points)
        return _vendor_max(_vendor_min(value, str(cap)), str(-cap))

    # --- together ---------------------------------------------------------------------------

    def sql(
        self, leads: LeadSet = ALL_LEADS, *, exclude_activities: Q | None = None, breakdown: bool = False
    ) -> tuple[str, tuple]:
        rs = self.rule_set
        fit_sql, fit_params = self._fit_queryset(leads, breakdown).query.sql_with_params()
        extra = []
        if breakdown:
            extra += [f"f.f{rule.pk} AS f{rule.pk}" for rule in self.fit_rules]
            extra += [f"f.g{group.pk} AS g{group.pk}" for group in self.groups if group.rules.all()]
        if self.engagement_rules:
            eng_sql, eng_params = self._engagement_sql(leads, exclude_activities, breakdown)
            engagement = " + ".join(["f.inactivity", *(self._capped(rule) for rule in self.engagement_rules)])
            join = f"LEFT JOIN ({eng_sql}) e ON e.lead_id = f.id"
            if breakdown:
                for rule in self.engagement_rules:
                    extra += [
                        f"{self._capped(rule)} AS e{rule.pk}",
                        f"COALESCE(e.c{rule.pk}, 0) AS c{rule.pk}",
                    ]
        else:
            eng_params, engagement, join = (), "f.inactivity", ""
        extra_sql = "".join(f", {column}" for column in extra)
        inner = (
            f"SELECT f.id AS lead_id, f.fit AS fit, CAST(ROUND({engagement}) AS INTEGER) AS engagement, "  # noqa: S608
            f"f.inactivity AS inactivity{extra_sql} FROM ({fit_sql}) f {join}"
        )
        grade = (
            f"CASE WHEN s.fit >= {int(rs.grade_a_threshold)} THEN 'A' "
            f"WHEN s.fit >= {int(rs.grade_b_threshold)} THEN 'B' "
            f"WHEN s.fit >= {int(rs.grade_c_threshold)} THEN 'C' ELSE 'D' END"
        )
        temperature = (
            f"CASE WHEN s.engagement >= {int(rs.hot_threshold)} THEN 3 "
            f"WHEN s.engagement >= {int(rs.warm_threshold)} THEN 2 ELSE 1 END"
        )
        outer = (
            f"SELECT s.*, s.fit + s.engagement AS total, {grade} AS grade, {temperature} AS temperature "  # noqa: S608
            f"FROM ({inner}) s"
        )
        return outer, (*fit_params, *eng_params)

    def rule_labels(self) -> dict[str, str]:
        """Breakdown columns that make up a score, by what the marketer calls them."""
        labels = {f"g{group.pk}": f"Fit: {group.name}" for group in self.groups if group.rules.all()}
        labels |= {f"e{rule.pk}": rule.name for rule in self.engagement_rules}
        return labels

    def rows(
        self, leads: LeadSet, *, exclude_activities: Q | None = None, breakdown: bool = False
    ) -> dict[int, dict]:
        sql, params = self.sql(leads, exclude_activities=exclude_activities, breakdown=breakdown)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            names = [column[0] for column in cursor.description]
            return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
